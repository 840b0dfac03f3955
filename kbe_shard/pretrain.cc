#include "kbe_shard/pretrain.h"

#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>

#include "core/checkpoint_folder.h"
#include "core/errors.h"
#include "core/random.h"
#include "core/schedule.h"
#include "core/stopwatch.h"
#include "data_pipeline/hdf5_file.h"
#include "data_pipeline/kb_store.h"
#include "kbe_shard/embeddings_file.h"
#include "kbe_shard/tensor_io.h"

namespace hrere::kbe {
namespace {

namespace fs = std::filesystem;

const std::string kCheckpointFormat = "hrere-kbe-checkpoint";
constexpr std::int64_t kCheckpointVersion = 3;  // 2: mid-epoch position; 3: checksums
const std::string kStateFile = "state.h5";
const std::string kEntityShards = "entities";
// Streams of the seed (the model uses 1 and 2 for its tables).
constexpr std::uint64_t kNegativeStream = 3;
constexpr std::uint64_t kPermutationStream = 4;
constexpr std::uint64_t kSubsetStream = 6;  // 5: sampled evaluation candidates

// A permutation of [0, size) drawn from std::mt19937_64 seeded with `key`.
torch::Tensor shuffled_indices(std::int64_t size, std::uint64_t key) {
  std::mt19937_64 generator(key);
  torch::Tensor order = torch::arange(size, torch::kInt64);
  std::int64_t* data = order.data_ptr<std::int64_t>();
  core::shuffle(data, data + size, generator);
  return order;
}

std::string exact_text(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", value);
  return text;
}

// Checkpoint attributes that must match the model it is loaded into.
struct ModelShape {
  std::string name;
  std::int64_t value;
};

std::vector<ModelShape> shape_of(const ShardedComplEx& model) {
  const ComplExOptions& o = model.options();
  return {{"num_entities", o.num_entities},
          {"num_relations", o.num_relations},
          {"dim", o.dim},
          {"reciprocal", o.reciprocal},
          {"entity_tanh", o.entity_tanh},
          {"seed", static_cast<std::int64_t>(o.seed)}};
}

ComplExOptions model_options(const PretrainOptions& options, std::int64_t entities,
                             std::int64_t relations) {
  ComplExOptions model;
  model.num_entities = entities;
  model.num_relations = relations;
  model.dim = options.dim;
  model.entity_tanh = options.entity_tanh;
  model.reciprocal = options.mode == LossMode::kOneVsAll;
  model.init_std = options.init_std;
  model.seed = options.seed;
  model.optimizer = options.optimizer;
  model.regularizer = options.regularizer;
  model.regularization_weight = options.regularization_weight;
  model.device = options.device;
  return model;
}

// The store's triples of every split, checked against its name tables.
struct KbData {
  std::vector<std::string> entities;
  std::vector<std::string> relations;
  std::map<std::string, std::vector<std::int32_t>> splits;
  torch::Tensor candidates;  // int64 ids of the entities in any split's triples, ascending

  const std::vector<std::int32_t>& split(const std::string& name) const {
    static const std::vector<std::int32_t> kNone;
    const auto found = splits.find(name);
    return found == splits.end() ? kNone : found->second;
  }
};

KbData read_kb(const std::string& path) {
  const data::KbStore store = data::KbStore::open(path);
  KbData kb;
  kb.entities = store.entities();
  kb.relations = store.relations();
  if (kb.entities.empty() || kb.relations.empty()) {
    throw InputError(path + ": the KB has " + std::to_string(kb.entities.size()) +
                     " entities and " + std::to_string(kb.relations.size()) +
                     " relations; KB embeddings need at least one of each");
  }
  for (const std::string& split : store.splits()) {
    std::vector<std::int32_t> triples = store.triples(split);
    check_triples(triples, static_cast<std::int64_t>(kb.entities.size()),
                  static_cast<std::int64_t>(kb.relations.size()), path + ":/triples/" + split);
    kb.splits[split] = std::move(triples);
  }
  if (kb.split("train").empty()) throw InputError(path + ": no train triples");
  std::vector<bool> in_kb(kb.entities.size(), false);
  for (const auto& [split, triples] : kb.splits) {
    for (std::size_t i = 0; i + 2 < triples.size(); i += 3)
      in_kb[triples[i]] = in_kb[triples[i + 2]] = true;
  }
  std::vector<std::int64_t> ids;
  for (std::size_t e = 0; e < in_kb.size(); ++e) {
    if (in_kb[e]) ids.push_back(static_cast<std::int64_t>(e));
  }
  kb.candidates = torch::tensor(ids, torch::kInt64);
  return kb;
}

// The known triples of every split, built only where a run evaluates (24 B per triple).
FilterIndex filter_of(const KbData& kb) {
  FilterIndex filter;
  for (const auto& [split, triples] : kb.splits) filter.add(triples);
  return filter;
}

}  // namespace

void check_triples(const std::vector<std::int32_t>& triples, std::int64_t entities,
                   std::int64_t relations, const std::string& where) {
  for (std::size_t i = 0; i + 2 < triples.size(); i += 3) {
    for (int column = 0; column < 3; ++column) {
      const std::int64_t id = triples[i + column];
      const std::int64_t limit = column == 1 ? relations : entities;
      if (id < 0 || id >= limit) {
        throw InputError(where + ": row " + std::to_string(i / 3) + ": " +
                         (column == 0   ? "head"
                          : column == 1 ? "relation"
                                        : "tail") +
                         " id " + std::to_string(id) + " out of range [0, " +
                         std::to_string(limit) + ")");
      }
    }
  }
}

bool checkpoint_exists(const std::string& dir) { return core::committed_folder(dir).has_value(); }

void save_checkpoint(ShardedComplEx& model, const std::string& dir,
                     const TrainingPosition& position) {
  comm::Communicator& comm = model.comm();
  const core::CheckpointFolder folder(dir);
  if (comm.rank() == 0) folder.stage();
  comm.barrier();
  model.entities().save(folder.staging(), kEntityShards);
  comm.barrier();  // every shard is complete before the folder is committed
  if (comm.rank() == 0) {
    {
      data::Hdf5File file = data::Hdf5File::create(folder.staging() + "/" + kStateFile);
      data::write_schema(file, kCheckpointFormat, kCheckpointVersion);
      for (const ModelShape& attribute : shape_of(model)) {
        file.set_attribute(attribute.name, attribute.value);
      }
      file.set_attribute("optimizer", std::string(core::name_of(model.options().optimizer.kind)));
      file.set_attribute("epoch", static_cast<std::int64_t>(position.epoch));
      file.set_attribute("epoch_step", position.epoch_step);
      file.set_attribute("step", position.step);
      file.set_attribute("unreported_loss", exact_text(position.unreported_loss));
      file.set_attribute("unreported_steps", position.unreported_steps);
      file.set_attribute("unreported_triples", position.unreported_triples);
      file.set_attribute("best_epoch", static_cast<std::int64_t>(position.best_epoch));
      file.set_attribute("best_mrr", exact_text(position.best_mrr));
      file.set_attribute("shards", static_cast<std::int64_t>(comm.size()));
      write_tensor(file, "relations", model.relations().detach());
      for (const auto& [name, tensor] : model.relation_optimizer().state()) {
        write_tensor(file, "relation_state/" + name, tensor);
      }
      file.close();
    }
    folder.commit();
  }
  comm.barrier();
}

TrainingPosition load_checkpoint(ShardedComplEx& model, const std::string& dir) {
  const std::string from = core::committed_folder(dir).value_or(dir);
  const std::string state_path = from + "/" + kStateFile;
  if (!fs::exists(state_path))
    throw InputError(dir + ": no checkpoint (" + kStateFile + " missing)");
  const data::Hdf5File file = data::Hdf5File::open(state_path);
  data::require_schema(file, kCheckpointFormat, kCheckpointVersion);
  for (const ModelShape& expected : shape_of(model)) {
    const std::int64_t found = require_int_attribute(file, expected.name);
    if (found != expected.value) {
      throw InputError(state_path + ": checkpoint has " + expected.name + " = " +
                       std::to_string(found) + ", this run has " + std::to_string(expected.value));
    }
  }
  const std::string optimizer = file.string_attribute("optimizer").value_or("");
  if (optimizer != core::name_of(model.options().optimizer.kind)) {
    throw InputError(state_path + ": checkpoint optimizer is '" + optimizer + "', this run uses '" +
                     core::name_of(model.options().optimizer.kind) + "'");
  }
  TrainingPosition position;
  position.epoch = static_cast<int>(require_int_attribute(file, "epoch"));
  position.epoch_step = require_int_attribute(file, "epoch_step");
  position.step = require_int_attribute(file, "step");
  position.unreported_loss = std::stod(file.string_attribute("unreported_loss").value_or("0"));
  position.unreported_steps = require_int_attribute(file, "unreported_steps");
  position.unreported_triples = require_int_attribute(file, "unreported_triples");
  position.best_epoch = static_cast<int>(require_int_attribute(file, "best_epoch"));
  position.best_mrr = std::stod(file.string_attribute("best_mrr").value_or("-1"));
  {
    torch::NoGradGuard no_grad;
    model.relations().copy_(
        read_tensor(file, "relations", torch::kFloat, model.relations().sizes()));
    for (const auto& [name, tensor] : model.relation_optimizer().state()) {
      tensor.copy_(
          read_tensor(file, "relation_state/" + name, tensor.scalar_type(), tensor.sizes()));
    }
  }
  model.entities().load(from, kEntityShards);
  return position;
}

void export_embeddings(ShardedComplEx& model, const std::vector<std::string>& entities,
                       const std::vector<std::string>& relations, const std::string& path) {
  KbeEmbeddings embeddings;
  embeddings.entity = model.entities().shard().table().detach();
  const std::int64_t r = model.options().num_relations;
  const torch::Tensor table = model.relations().detach();
  embeddings.entities = entities;
  embeddings.relations = relations;
  embeddings.relation = table.narrow(0, 0, r);
  if (model.options().reciprocal) embeddings.inverse_relation = table.narrow(0, r, r);
  embeddings.entity_tanh = model.options().entity_tanh;
  write_kbe_embeddings(model.comm(), path, embeddings);
}

std::vector<std::int32_t> evaluation_subset(const std::vector<std::int32_t>& split,
                                            std::int64_t max_triples, std::uint64_t seed) {
  const std::int64_t m = static_cast<std::int64_t>(split.size() / 3);
  if (max_triples <= 0 || max_triples >= m) return split;
  torch::Tensor chosen = std::get<0>(
      shuffled_indices(m, core::mix(seed, kSubsetStream)).narrow(0, 0, max_triples).sort());
  std::vector<std::int32_t> subset;
  subset.reserve(static_cast<std::size_t>(3 * max_triples));
  for (std::int64_t i = 0; i < max_triples; ++i) {
    const std::int64_t row = chosen[i].item<std::int64_t>();
    subset.insert(subset.end(), split.begin() + 3 * row, split.begin() + 3 * row + 3);
  }
  return subset;
}

namespace {

// One pretraining call: the state of the loop and its parts (docs/ARCHITECTURE.md, kbe_shard).
class PretrainLoop {
 public:
  PretrainLoop(comm::Communicator& comm, const std::string& kb_store_path,
               const std::string& run_dir, const PretrainOptions& options,
               const PretrainCallback& progress)
      : comm_(comm),
        options_(options),
        progress_(progress),
        kb_(read_kb(kb_store_path)),
        model_(comm, model_options(options, static_cast<std::int64_t>(kb_.entities.size()),
                                   static_cast<std::int64_t>(kb_.relations.size()))),
        checkpoint_dir_(run_dir + "/" + kCheckpointDir),
        best_dir_(run_dir + "/" + kBestDir),
        embeddings_path_(run_dir + "/" + kEmbeddingsFile),
        valid_(evaluation_subset(kb_.split("valid"), options.eval_max_triples, options.seed)),
        validating_(options.eval_every > 0 && !valid_.empty()),
        filter_(validating_ ? filter_of(kb_) : FilterIndex()),
        triples_(static_cast<std::int64_t>(kb_.split("train").size() / 3)),
        // A view of the int32 triples (a batch is widened when it is drawn), not a copy.
        train_(torch::from_blob(const_cast<std::int32_t*>(kb_.split("train").data()), {triples_, 3},
                                torch::kInt)),
        steps_per_epoch_((triples_ + options.batch_size - 1) / options.batch_size),
        schedule_(schedule_options(options),
                  [&comm](std::int64_t bits) { return comm::rank0_value(comm, bits); }) {
    model_.set_candidates(kb_.candidates);
    if (comm.rank() == 0) fs::create_directories(run_dir);
    comm.barrier();
    if (options.resume && checkpoint_exists(checkpoint_dir_)) {
      position_ = load_checkpoint(model_, checkpoint_dir_);
    }
    validation_ = options.eval;
    validation_.seed = options.seed;
    report_.steps_per_epoch = steps_per_epoch_;
  }

  PretrainResult run() {
    since_report_.restart();  // the first report's rate counts training, not the set-up
    for (int epoch = position_.epoch + 1; epoch <= options_.epochs; ++epoch) {
      if (!train_epoch(epoch)) break;
      if (!end_epoch(epoch)) break;
    }
    PretrainResult result;
    result.completed = stop_ == core::StopReason::kNone;
    result.stopped_by = core::option_name(stop_);
    result.steps = position_.step;
    result.epochs = position_.epoch;
    result.best_epoch = position_.best_epoch;
    result.best_valid_mrr = std::max(0.0, position_.best_mrr);
    result.embeddings_path = embeddings_path_;
    if (position_.best_epoch > 0) load_checkpoint(model_, best_dir_);
    export_embeddings(model_, kb_.entities, kb_.relations, result.embeddings_path);
    return result;
  }

 private:
  static core::ScheduleOptions schedule_options(const PretrainOptions& o) {
    return {o.log_every, o.checkpoint_every_steps, o.checkpoint_every_minutes, o.limits};
  }

  // The rest of epoch `epoch` from position_.epoch_step; false when the schedule stopped it
  // (checkpointed). The epoch's last step is left to end_epoch, which reports and
  // checkpoints.
  bool train_epoch(int epoch) {
    const torch::Tensor order = shuffled_indices(
        triples_,
        core::mix(core::mix(options_.seed, kPermutationStream), static_cast<std::uint64_t>(epoch)));
    const std::uint64_t negative_key = core::mix(core::mix(options_.seed, kNegativeStream), epoch);
    for (std::int64_t batch = position_.epoch_step; batch < steps_per_epoch_; ++batch) {
      train_step(order, negative_key, batch);
      if (batch + 1 == steps_per_epoch_) break;
      if (schedule_.log_due(position_.step)) emit(epoch, false);
      stop_ = schedule_.stop();
      if (schedule_.checkpoint_due(position_.step) || stop_ != core::StopReason::kNone) {
        checkpoint();
      }
      if (stop_ != core::StopReason::kNone) return false;
    }
    return true;
  }

  // Global batch `batch` of the epoch's `order`, this rank's contiguous slice of it.
  void train_step(const torch::Tensor& order, std::uint64_t negative_key, std::int64_t batch) {
    const int rank = comm_.rank(), size = comm_.size();
    const std::int64_t begin = batch * options_.batch_size;
    const std::int64_t n = std::min(options_.batch_size, triples_ - begin);
    const std::int64_t mine = begin + n * rank / size;
    const std::int64_t count = begin + n * (rank + 1) / size - mine;
    const torch::Tensor triples =
        train_.index_select(0, order.narrow(0, mine, count)).to(torch::kInt64);
    double loss = 0;
    if (options_.mode == LossMode::kOneVsAll) {
      loss = model_.one_vs_all_backward(triples, n);
    } else {
      std::vector<std::uint64_t> keys(count);
      for (std::int64_t i = 0; i < count; ++i) keys[i] = core::mix(negative_key, mine + i);
      loss =
          model_.negative_backward(triples,
                                   sample_negatives(triples, keys, options_.negatives,
                                                    model_.options().num_entities, kb_.candidates),
                                   n);
    }
    model_.step();
    ++position_.step;
    position_.epoch_step = batch + 1;
    position_.unreported_loss += loss;
    ++position_.unreported_steps;
    position_.unreported_triples += n;
    schedule_.step_done();
  }

  // Validation, the best epoch, the epoch's report and checkpoint; false when the schedule
  // stops the run before the next epoch.
  bool end_epoch(int epoch) {
    position_.epoch = epoch;
    position_.epoch_step = 0;
    if (validating_ && epoch % options_.eval_every == 0) {
      report_.valid = evaluate_link_prediction(model_, valid_, filter_, validation_);
      if (report_.valid->both.mrr > position_.best_mrr) {
        position_.best_mrr = report_.valid->both.mrr;
        position_.best_epoch = epoch;
        report_.best = true;
        save_checkpoint(model_, best_dir_, position_);
      }
    }
    emit(epoch, true);
    if (epoch < options_.epochs) stop_ = schedule_.stop();
    const bool stopped = stop_ != core::StopReason::kNone;
    if (epoch == options_.epochs || stopped || schedule_.checkpoint_due(position_.step) ||
        (options_.checkpoint_every > 0 && epoch % options_.checkpoint_every == 0)) {
      checkpoint();
    }
    return !stopped;
  }

  void emit(int epoch, bool epoch_end) {
    report_.epoch = epoch;
    report_.step = position_.step;
    report_.loss = position_.unreported_steps > 0
                       ? position_.unreported_loss / static_cast<double>(position_.unreported_steps)
                       : 0;
    report_.triples_per_second =
        static_cast<double>(position_.unreported_triples) / std::max(1e-9, since_report_.seconds());
    report_.seconds = since_start_.seconds();
    report_.comm_seconds = model_.comm_seconds();
    report_.epoch_end = epoch_end;
    if (progress_) progress_(report_);
    report_.valid.reset();
    report_.best = false;
    position_.unreported_loss = 0;
    position_.unreported_steps = 0;
    position_.unreported_triples = 0;
    since_report_.restart();
  }

  void checkpoint() {
    save_checkpoint(model_, checkpoint_dir_, position_);
    schedule_.checkpointed();
  }

  comm::Communicator& comm_;
  const PretrainOptions& options_;
  const PretrainCallback& progress_;
  const core::Stopwatch since_start_;
  core::Stopwatch since_report_;
  const KbData kb_;
  ShardedComplEx model_;
  const std::string checkpoint_dir_, best_dir_, embeddings_path_;
  TrainingPosition position_;
  RankingProtocol validation_;
  const std::vector<std::int32_t> valid_;
  const bool validating_;
  const FilterIndex filter_;
  const std::int64_t triples_;
  const torch::Tensor train_;
  const std::int64_t steps_per_epoch_;
  core::Schedule schedule_;
  core::StopReason stop_ = core::StopReason::kNone;
  PretrainProgress report_;
};

}  // namespace

PretrainResult pretrain_kbe(comm::Communicator& comm, const std::string& kb_store_path,
                            const std::string& run_dir, const PretrainOptions& options,
                            const PretrainCallback& progress) {
  if (options.batch_size <= 0 || options.epochs < 0 || options.negatives <= 0 ||
      options.checkpoint_every_steps < 0 || options.checkpoint_every_minutes < 0 ||
      options.limits.max_steps < 0 || options.limits.max_minutes < 0) {
    throw InputError(
        "KBE pretraining: batch_size and negatives must be positive; epochs, "
        "checkpoint intervals, max_steps and max_minutes not negative");
  }
  if (options.threads > 0) torch::set_num_threads(options.threads);
  return PretrainLoop(comm, kb_store_path, run_dir, options, progress).run();
}

LinkPredictionMetrics evaluate_kbe(comm::Communicator& comm, const std::string& kb_store_path,
                                   const std::string& embeddings_path, const std::string& split,
                                   const RankingProtocol& protocol, std::int64_t max_triples,
                                   torch::Device device) {
  const KbData kb = read_kb(kb_store_path);
  if (kb.split(split).empty()) {
    throw InputError(kb_store_path + ": no '" + split + "' triples to evaluate");
  }
  const KbeEmbeddings embeddings = read_kbe_embeddings_shard(
      embeddings_path, comm.rank(), comm.size(), kb.entities, kb.relations);
  ComplExOptions options;
  options.num_entities = static_cast<std::int64_t>(kb.entities.size());
  options.num_relations = static_cast<std::int64_t>(kb.relations.size());
  options.dim = embeddings.entity.size(1);
  options.entity_tanh = embeddings.entity_tanh;
  options.reciprocal = embeddings.inverse_relation.defined();
  options.device = device;
  options.trainable = false;  // the export's rows replace the table; no optimizer state
  ShardedComplEx model(comm, options);
  model.set_candidates(kb.candidates);
  model.assign(embeddings.entity,
               options.reciprocal ? torch::cat({embeddings.relation, embeddings.inverse_relation})
                                  : embeddings.relation);
  return evaluate_link_prediction(model,
                                  evaluation_subset(kb.split(split), max_triples, protocol.seed),
                                  filter_of(kb), protocol);
}

}  // namespace hrere::kbe
