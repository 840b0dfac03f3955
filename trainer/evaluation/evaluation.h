#pragma once
// Held-out evaluation of relation probabilities (`hrere eval`; docs/ARCHITECTURE.md, Evaluation).
//
// Sentence protocol (the paper's): every test sentence is a sample, scored as a bag of T
// copies of itself, which equals scoring it once; every (sample, relation != NA) is one
// prediction, NA's probability is ignored. Pair protocol (Lin et al. / OpenNRE): one bag of
// all its sentences per test entity pair, multi-label.
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "comm/routing_communicator.h"
#include "data_pipeline/bag_store.h"
#include "trainer/evaluation/metrics.h"
#include "trainer/model/knowledge_model.h"
#include "trainer/model/language_model.h"

namespace hrere::train {

// z for every test sentence, in store order: [Ns, H]. Runs in evaluation mode. Collective:
// each rank of `comm` encodes a contiguous 1/P of the sentences, and every rank returns all.
torch::Tensor encode_test_sentences(LanguageModel& model, const data::BagStore& store,
                                    std::int64_t batch_size,
                                    comm::Communicator& comm = comm::world());

// Bags [B, S] over sentences: bag p holds sentences [offsets[p], offsets[p+1]).
BagSlots contiguous_bags(const std::vector<std::int64_t>& offsets, std::int64_t first_bag,
                         std::int64_t num_bags);

struct TestScores {
  torch::Tensor sentence_probs;     // float [Ns, R]
  torch::Tensor sentence_labels;    // int64 [Ns]
  torch::Tensor sentence_entities;  // int64 [Ns, 2]: head, tail
  torch::Tensor pair_probs;         // float [P, R]
  torch::Tensor pair_labels;        // uint8 [P, R], multi-hot
  torch::Tensor pair_entities;      // int64 [P, 2]
};

// A bag store's entity ids by name; find() takes a mid in either spelling ("m.x", "/m/x").
class EntityIndex {
 public:
  explicit EntityIndex(const std::vector<std::string>& entities);
  std::optional<std::int64_t> find(std::string_view name) const;

 private:
  std::unordered_map<std::string, std::int64_t> ids_;
};

// The scores of the test sentences and pairs whose (head, tail) is listed in `path`: lines
// "head<TAB>tail[<TAB>anything]" of entity ids as the corpus spells them (e.g. the
// uninformative pairs `hrere synth` writes). Unknown ids are an InputError naming the line.
TestScores restrict_to_pairs(const TestScores& scores, const std::vector<std::string>& entities,
                             const std::string& path);

// The relation probabilities of a trained run: p(r | S) of the language model, combined with
// p(r | h, t) of the knowledge model when there is one (variants/combined_probabilities).
struct Scorer {
  LanguageModel& language;
  KnowledgeModel* knowledge = nullptr;
  double alpha = 1.0;
  // Probabilities [B, R] from language logits [B, R] of the pairs (heads, tails).
  torch::Tensor probabilities(const torch::Tensor& language_logits, const torch::Tensor& heads,
                              const torch::Tensor& tails) const;
};

// Both protocols on the test set. Collective (see encode_test_sentences; the knowledge
// side's lookups use its own communicator, normally the same world).
TestScores score_test_set(const Scorer& scorer, const data::BagStore& store,
                          std::int64_t batch_size, comm::Communicator& comm = comm::world());

// Probabilities and labels of the bags of `split` in `chunks` (all when empty), in order.
std::pair<torch::Tensor, torch::Tensor> score_bags(const Scorer& scorer,
                                                   const data::BagStore& store,
                                                   const std::string& split,
                                                   const std::vector<std::int64_t>& chunks,
                                                   std::int64_t batch_size);

// One prediction per (row, relation != NA) of probabilities [N, R] and multi-hot labels [N, R].
std::vector<Prediction> predictions_of(const torch::Tensor& probs, const torch::Tensor& multi_hot);
torch::Tensor one_hot_labels(const torch::Tensor& labels, std::int64_t num_relations);

struct HeldOutReport {
  nlohmann::json summary;
  std::vector<PrPoint> sentence_curve;
  std::vector<PrPoint> pair_curve;
};
HeldOutReport held_out_report(const TestScores& scores, const std::vector<std::string>& relations);

// RUN/eval/: summary.json, pr_sentence.csv, pr_pair.csv (at most `max_points` points each).
void write_held_out_report(const std::string& dir, const HeldOutReport& report,
                           std::size_t max_points = 1000);

// Where the PR-curve helper (tools/plot_pr.py) lies beside the binary `executable`:
// PREFIX/share/hrere/plot_pr.py for an installed PREFIX/bin/hrere, BUILD/share/hrere/ in a
// build folder (CMake copies it there). The environment variable HRERE_PLOT_SCRIPT overrides.
std::string plot_script_path(const std::string& executable);

// Draws RUN/eval/pr.png with the helper under a python3 with matplotlib ($HRERE_PYTHON, else
// the first of python3 on PATH and the system one that can), as tools/setup.sh installs it;
// returns false, having said why on stderr, when it cannot.
bool plot_pr_curve(const std::string& run_dir);

}  // namespace hrere::train
