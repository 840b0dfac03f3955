#include "trainer/evaluation/evaluation.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <set>
#include <sstream>

#include "comm/device.h"
#include "core/atomic_output.h"
#include "core/errors.h"
#include "core/log.h"
#include "data_pipeline/text_file.h"
#include "trainer/model/variants.h"

namespace hrere::train {
namespace {

// Runs `fn` on consecutive blocks [start, start + count) of `total` rows.
template <typename Fn>
void for_blocks(std::int64_t total, std::int64_t block, Fn fn) {
  for (std::int64_t start = 0; start < total; start += block)
    fn(start, std::min(block, total - start));
}

data::Batch read_batch(const data::BagStore& store, const std::string& split, std::int64_t start,
                       std::int64_t count, data::BagArrays& arrays) {
  arrays = store.read(split, start, count);
  std::vector<data::BagRef> refs;
  refs.reserve(count);
  for (std::int64_t r = 0; r < count; ++r) refs.push_back({&arrays, r, start + r});
  return data::make_batch(refs);
}

// Switches a model to evaluation mode for a scope and back to what it was.
class EvalMode {
 public:
  explicit EvalMode(LanguageModel& model) : model_(model), was_training_(model->is_training()) {
    model_->eval();
  }
  ~EvalMode() { model_->train(was_training_); }

 private:
  LanguageModel& model_;
  bool was_training_;
  torch::NoGradGuard no_grad_;
};

nlohmann::json per_relation_json(const std::vector<ClassScores>& scores,
                                 const std::vector<std::string>& relations) {
  nlohmann::json out = nlohmann::json::array();
  for (std::size_t r = 1; r < scores.size(); ++r) {
    const ClassScores& s = scores[r];
    out.push_back({{"relation", relations.at(r)},
                   {"support", s.support},
                   {"predicted", s.predicted},
                   {"correct", s.correct},
                   {"precision", s.precision},
                   {"recall", s.recall},
                   {"f1", s.f1}});
  }
  return out;
}

nlohmann::json precision_at_k_json(const std::vector<Prediction>& ranked) {
  nlohmann::json out;
  for (int k : {100, 200, 300}) out[std::to_string(k)] = precision_at(ranked, k);
  return out;
}

void write_curve(const std::string& path, const std::vector<PrPoint>& curve,
                 std::size_t max_points) {
  std::ostringstream csv;
  csv << "rank,recall,precision\n";
  const std::size_t n = curve.size();
  const std::size_t points = std::min(n, max_points);
  for (std::size_t i = 0; i < points; ++i) {
    // Evenly spaced ranks, always including the first and the last.
    const std::size_t k = points == 1 ? n - 1 : i * (n - 1) / (points - 1);
    csv << k + 1 << ',' << curve[k].recall << ',' << curve[k].precision << '\n';
  }
  core::write_text_atomically(path, csv.str());
}

}  // namespace

torch::Tensor encode_test_sentences(LanguageModel& model, const data::BagStore& store,
                                    std::int64_t batch_size, comm::Communicator& comm) {
  EvalMode eval(model);
  const std::int64_t N = store.size("test"), P = comm.size(), H = model->sentence_dim();
  auto share_begin = [&](std::int64_t rank) { return N * rank / P; };
  const std::int64_t first = share_begin(comm.rank()), mine = share_begin(comm.rank() + 1) - first;
  std::vector<torch::Tensor> parts{torch::zeros({0, H}, torch::TensorOptions(model->device()))};
  data::BagArrays arrays;
  for_blocks(mine, batch_size, [&](std::int64_t start, std::int64_t count) {
    const DistinctSentences distinct =
        distinct_sentences(read_batch(store, "test", first + start, count, arrays));
    const torch::Tensor z = model->encode(distinct.sentences);
    parts.push_back(z.index_select(0, comm::to_device(distinct.bags.slots.flatten(), z.device())));
  });
  torch::Tensor z = torch::cat(parts);
  if (P == 1 || N == 0) return z;
  // Shares differ by at most one sentence: pad to the largest for the all-gather, then trim.
  const std::int64_t largest = (N + P - 1) / P;
  const torch::Tensor gathered = comm.all_gather(
      torch::cat({z, torch::zeros({largest - mine, H}, z.options())}));  // [P, largest, H]
  std::vector<torch::Tensor> shares;
  for (std::int64_t r = 0; r < P; ++r) {
    shares.push_back(gathered[r].narrow(0, 0, share_begin(r + 1) - share_begin(r)));
  }
  return torch::cat(shares);
}

BagSlots contiguous_bags(const std::vector<std::int64_t>& offsets, std::int64_t first_bag,
                         std::int64_t num_bags) {
  std::int64_t width = 1;
  for (std::int64_t p = first_bag; p < first_bag + num_bags; ++p) {
    width = std::max(width, offsets[p + 1] - offsets[p]);
  }
  BagSlots bags;
  bags.slots = torch::zeros({num_bags, width}, torch::kInt64);
  bags.mask = torch::zeros({num_bags, width}, torch::kBool);
  auto slots = bags.slots.accessor<std::int64_t, 2>();
  auto mask = bags.mask.accessor<bool, 2>();
  for (std::int64_t b = 0; b < num_bags; ++b) {
    const std::int64_t begin = offsets[first_bag + b], end = offsets[first_bag + b + 1];
    for (std::int64_t j = 0; j < end - begin; ++j) {
      slots[b][j] = begin + j;
      mask[b][j] = true;
    }
  }
  return bags;
}

torch::Tensor Scorer::probabilities(const torch::Tensor& language_logits,
                                    const torch::Tensor& heads, const torch::Tensor& tails) const {
  torch::NoGradGuard no_grad;
  return combined_probabilities(
      language_logits, knowledge ? knowledge->logits(heads, tails) : torch::Tensor(), alpha);
}

TestScores score_test_set(const Scorer& scorer, const data::BagStore& store,
                          std::int64_t batch_size, comm::Communicator& comm) {
  LanguageModel& model = scorer.language;
  const torch::Tensor z = encode_test_sentences(model, store, batch_size, comm);
  EvalMode eval(model);
  const std::int64_t num_sentences = z.size(0);
  std::vector<torch::Tensor> labels, heads, tails;
  for_blocks(num_sentences, 1 << 16, [&](std::int64_t start, std::int64_t count) {
    const data::BagArrays arrays = store.read("test", start, count);
    labels.push_back(torch::tensor(arrays.labels, torch::kInt64));
    heads.push_back(torch::tensor(arrays.heads, torch::kInt64));
    tails.push_back(torch::tensor(arrays.tails, torch::kInt64));
  });
  TestScores scores;
  scores.sentence_labels = torch::cat(labels);
  scores.sentence_entities = torch::stack({torch::cat(heads), torch::cat(tails)}, 1);
  const BagSlots single{torch::arange(num_sentences, torch::kInt64).unsqueeze(1),
                        torch::ones({num_sentences, 1}, torch::kBool)};
  scores.sentence_probs =
      scorer.probabilities(model->classify(z, single), torch::cat(heads), torch::cat(tails)).cpu();

  const data::TestPairs pairs = store.read_test_pairs();
  const std::int64_t R = scores.sentence_probs.size(1);
  const torch::Tensor pair_heads = torch::tensor(pairs.heads, torch::kInt64);
  const torch::Tensor pair_tails = torch::tensor(pairs.tails, torch::kInt64);
  std::vector<torch::Tensor> pair_probs;
  for_blocks(pairs.size(), batch_size, [&](std::int64_t start, std::int64_t count) {
    pair_probs.push_back(
        scorer
            .probabilities(model->classify(z, contiguous_bags(pairs.offsets, start, count)),
                           pair_heads.narrow(0, start, count), pair_tails.narrow(0, start, count))
            .cpu());
  });
  scores.pair_probs = pair_probs.empty() ? torch::zeros({0, R}) : torch::cat(pair_probs);
  scores.pair_labels = torch::tensor(pairs.labels, torch::kUInt8).view({pairs.size(), R});
  scores.pair_entities = torch::stack({pair_heads, pair_tails}, 1);
  return scores;
}

EntityIndex::EntityIndex(const std::vector<std::string>& entities) {
  for (std::size_t i = 0; i < entities.size(); ++i) ids_.emplace(entities[i], i);
}

std::optional<std::int64_t> EntityIndex::find(std::string_view name) const {
  const auto it = ids_.find(data::normalize_entity_id(name));
  if (it == ids_.end()) return std::nullopt;
  return it->second;
}

TestScores restrict_to_pairs(const TestScores& scores, const std::vector<std::string>& entities,
                             const std::string& path) {
  const EntityIndex index(entities);
  std::set<std::pair<std::int64_t, std::int64_t>> wanted;
  data::LineReader reader(path);
  std::string line;
  while (reader.next(line)) {
    const auto fields = data::split_fields(line, '\t');
    if (fields.size() < 2) {
      throw InputError(path + ":" + std::to_string(reader.line_number()) +
                       ": expected head<TAB>tail");
    }
    std::int64_t pair[2];
    for (int k = 0; k < 2; ++k) {
      const std::optional<std::int64_t> id = index.find(fields[k]);
      if (!id) {
        throw InputError(path + ":" + std::to_string(reader.line_number()) + ": unknown entity '" +
                         std::string(fields[k]) + "'");
      }
      pair[k] = *id;
    }
    wanted.emplace(pair[0], pair[1]);
  }
  auto rows_of = [&wanted](const torch::Tensor& entity_pairs) {
    std::vector<std::int64_t> rows;
    const auto e = entity_pairs.accessor<std::int64_t, 2>();
    for (std::int64_t i = 0; i < e.size(0); ++i) {
      if (wanted.count({e[i][0], e[i][1]})) rows.push_back(i);
    }
    return torch::tensor(rows, torch::kInt64);
  };
  const torch::Tensor sentences = rows_of(scores.sentence_entities);
  const torch::Tensor pairs = rows_of(scores.pair_entities);
  return {scores.sentence_probs.index_select(0, sentences),
          scores.sentence_labels.index_select(0, sentences),
          scores.sentence_entities.index_select(0, sentences),
          scores.pair_probs.index_select(0, pairs),
          scores.pair_labels.index_select(0, pairs),
          scores.pair_entities.index_select(0, pairs)};
}

std::pair<torch::Tensor, torch::Tensor> score_bags(const Scorer& scorer,
                                                   const data::BagStore& store,
                                                   const std::string& split,
                                                   const std::vector<std::int64_t>& chunks,
                                                   std::int64_t batch_size) {
  LanguageModel& model = scorer.language;
  EvalMode eval(model);
  const std::int64_t total = store.size(split), chunk = store.chunk_bags(split);
  std::vector<std::pair<std::int64_t, std::int64_t>> ranges;  // (first bag, bags)
  if (chunks.empty()) {
    ranges.emplace_back(0, total);
  } else {
    for (std::int64_t k : chunks)
      ranges.emplace_back(k * chunk, std::min(chunk, total - k * chunk));
  }
  std::vector<torch::Tensor> probs, labels;
  data::BagArrays arrays;
  for (const auto& range : ranges) {
    const std::int64_t first = range.first;  // a name: lambdas cannot capture bindings (C++17)
    for_blocks(range.second, batch_size, [&](std::int64_t start, std::int64_t n) {
      const data::Batch batch = read_batch(store, split, first + start, n, arrays);
      probs.push_back(scorer.probabilities(model->forward(batch), batch.heads, batch.tails).cpu());
      labels.push_back(batch.labels);
    });
  }
  return {torch::cat(probs), torch::cat(labels)};
}

torch::Tensor one_hot_labels(const torch::Tensor& labels, std::int64_t num_relations) {
  return torch::one_hot(labels, num_relations).to(torch::kUInt8);
}

std::vector<Prediction> predictions_of(const torch::Tensor& probs, const torch::Tensor& multi_hot) {
  const torch::Tensor p = probs.to(torch::kFloat).contiguous();
  const torch::Tensor y = multi_hot.to(torch::kUInt8).contiguous();
  const std::int64_t N = p.size(0), R = p.size(1);
  const float* pp = p.data_ptr<float>();
  const std::uint8_t* yy = y.data_ptr<std::uint8_t>();
  std::vector<Prediction> out;
  out.reserve(N * (R - 1));
  for (std::int64_t i = 0; i < N; ++i) {
    for (std::int64_t r = 1; r < R; ++r) out.push_back({pp[i * R + r], yy[i * R + r] != 0});
  }
  return out;
}

HeldOutReport held_out_report(const TestScores& scores, const std::vector<std::string>& relations) {
  const std::int64_t R = scores.sentence_probs.size(1);
  HeldOutReport report;
  nlohmann::json& s = report.summary;

  const auto sentence_ranked = rank_predictions(
      predictions_of(scores.sentence_probs, one_hot_labels(scores.sentence_labels, R)));
  report.sentence_curve = pr_curve(sentence_ranked);
  nlohmann::json sentence;
  sentence["samples"] = scores.sentence_probs.size(0);
  sentence["positive_predictions"] = std::count_if(sentence_ranked.begin(), sentence_ranked.end(),
                                                   [](const Prediction& p) { return p.positive; });
  sentence["average_precision"] = average_precision(sentence_ranked);
  sentence["auc"] = trapezoid_auc(report.sentence_curve);
  for (int n = 10; n <= 50; n += 10) {
    sentence["p_at_percent"][std::to_string(n)] = precision_at_percent(sentence_ranked, n);
    sentence["precision_at_recall"][std::to_string(n)] =
        precision_at_recall(report.sentence_curve, n / 100.0);
  }
  sentence["p_at"] = precision_at_k_json(sentence_ranked);
  const torch::Tensor argmax = scores.sentence_probs.argmax(1).contiguous();
  const torch::Tensor labels = scores.sentence_labels.contiguous();
  sentence["per_relation"] = per_relation_json(
      per_class_scores(std::vector<std::int64_t>(labels.data_ptr<std::int64_t>(),
                                                 labels.data_ptr<std::int64_t>() + labels.numel()),
                       std::vector<std::int64_t>(argmax.data_ptr<std::int64_t>(),
                                                 argmax.data_ptr<std::int64_t>() + argmax.numel()),
                       R),
      relations);
  s["sentence"] = sentence;

  const auto pair_ranked = rank_predictions(predictions_of(scores.pair_probs, scores.pair_labels));
  report.pair_curve = pr_curve(pair_ranked);
  s["pair"] = {{"pairs", scores.pair_probs.size(0)},
               {"auc", trapezoid_auc(report.pair_curve)},
               {"average_precision", average_precision(pair_ranked)},
               {"max_f1", max_f1(report.pair_curve)},
               {"p_at", precision_at_k_json(pair_ranked)}};
  return report;
}

void write_held_out_report(const std::string& dir, const HeldOutReport& report,
                           std::size_t max_points) {
  std::filesystem::create_directories(dir);
  const std::filesystem::path d(dir);
  write_curve((d / "pr_sentence.csv").string(), report.sentence_curve, max_points);
  write_curve((d / "pr_pair.csv").string(), report.pair_curve, max_points);
  core::write_text_atomically((d / "summary.json").string(), report.summary.dump(2) + "\n");
}

std::string plot_script_path(const std::string& executable) {
  if (const char* chosen = std::getenv("HRERE_PLOT_SCRIPT")) return chosen;
  const std::filesystem::path bin = std::filesystem::path(executable).parent_path();
  const std::filesystem::path installed = bin / ".." / "share" / "hrere" / "plot_pr.py";
  if (std::filesystem::exists(installed)) return installed.lexically_normal().string();
  return (bin / "share" / "hrere" / "plot_pr.py").string();
}

bool plot_pr_curve(const std::string& run_dir) {
  auto quoted = [](const std::string& text) {
    std::string out = "'";
    for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
  };
  std::error_code no_proc;
  const std::string script =
      plot_script_path(std::filesystem::read_symlink("/proc/self/exe", no_proc).string());
  // $HRERE_PYTHON alone when set; else python3 on PATH, then the system interpreter, which
  // has Debian's python3-matplotlib where a pyenv or venv python3 comes first on PATH.
  // Only the last attempt may print its error.
  const char* chosen = std::getenv("HRERE_PYTHON");
  const std::vector<std::string> pythons =
      chosen ? std::vector<std::string>{chosen}
             : std::vector<std::string>{"python3", "/usr/bin/python3"};
  const std::string png = (std::filesystem::path(run_dir) / "eval" / "pr.png").string();
  for (std::size_t i = 0; i < pythons.size(); ++i) {
    const std::string command = quoted(pythons[i]) + " " + quoted(script) + " " + quoted(run_dir) +
                                " --out " + quoted(png) +
                                (i + 1 < pythons.size() ? " 2>/dev/null" : "");
    if (std::system(command.c_str()) == 0) return true;
  }
  log::warn("no PR-curve plot ({} needs python3 with matplotlib: run tools/setup.sh)", script);
  return false;
}

}  // namespace hrere::train
