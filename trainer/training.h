#pragma once
// `hrere train`: the language model with Adam at lr1 and, for the joint variants
// (variants.h), the knowledge model started from a `hrere pretrain` export at lr2; epochs
// over the bag store, an optional dev split choosing the best epoch, checkpoints with exact
// resume, metrics.jsonl and the held-out evaluation at the end. Under mpirun or srun every
// rank trains a replica on its share of each global batch (train_step.h), entity rows
// sharded over the ranks; rank 0 writes the run folder.
//
// A run folder holds: config.yaml (resolved), metrics.jsonl, checkpoints/step-*/, model/ (last
// weights), best/ (best dev epoch, with a dev split), each a folder of checkpoint.h, eval/
// (hrere eval), .ranks/ (heartbeats of the ranks).
#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "core/schedule.h"
#include "data_pipeline/bag_store.h"
#include "trainer/config.h"
#include "trainer/evaluation/evaluation.h"
#include "trainer/model/knowledge_model.h"
#include "trainer/model/language_model.h"

namespace hrere::train {

struct TrainRunOptions {
  bool resume = false;      // continue from the newest checkpoint of the run folder
  core::CallLimits limits;  // then stop, checkpointed
  bool evaluate = true;     // run the held-out evaluation when training completes
  bool progress = true;     // progress bar on stderr
};

struct TrainOutcome {
  std::int64_t steps = 0;  // steps of the run so far
  bool completed = false;  // all epochs done (false when --max-steps or --max-minutes stopped it)
  nlohmann::json evaluation;  // eval summary when evaluated
};

TrainOutcome train_run(const Config& config, const std::string& run_dir,
                       const TrainRunOptions& options);

// The language model for a store's vocabulary, relations and L, with its word vectors, on
// `device` (initialised on the host first, so every device starts from the same values).
LanguageModel make_language_model(const Config& config, const data::BagStore& store,
                                  const torch::Device& device = torch::kCPU);
// The knowledge model of a joint variant, started from train.kbe_embeddings, on `device`;
// null for base.
std::unique_ptr<KnowledgeModel> make_knowledge_model(const Config& config,
                                                     const data::BagStore& store,
                                                     const torch::Device& device = torch::kCPU);

// Saved models of a run folder.
inline const char* const kLastModel = "model";
inline const char* const kBestModel = "best";

// The run's config, its model with the weights eval uses (best/ if a dev split chose one,
// else model/) and its store.
struct TrainedRun {
  Config config;
  std::shared_ptr<data::BagStore> store;
  LanguageModel model{nullptr};
  std::unique_ptr<KnowledgeModel> knowledge;  // joint variants only
  std::string weights;                        // file the weights came from
  Scorer scorer() { return {model, knowledge.get(), config.train.alpha}; }
};
TrainedRun load_trained_run(const std::string& run_dir);

// What `hrere eval` scores beyond the run's own setting.
struct EvalScope {
  // Only these entity pairs count (see restrict_to_pairs); empty: all.
  std::string pairs_file;
  // Inference weight α of p_L instead of the run's train.alpha (joint variants only): the
  // mixture is applied at inference, so α can be studied without training again.
  std::optional<double> alpha;
};

// Scores the held-out test set with the run's model and writes RUN/eval; returns the summary.
// A scope's report goes below it: RUN/eval/<stem of pairs_file>/, then alpha-<α>/.
nlohmann::json evaluate_run(const std::string& run_dir, const EvalScope& scope = {});
// Where evaluate_run writes.
std::string eval_dir(const std::string& run_dir, const EvalScope& scope = {});

}  // namespace hrere::train
