#pragma once
// Training checkpoints: everything a run needs to continue as if never stopped (model,
// optimizer, loader position, RNG state, step, best dev score), in RUN/checkpoints/step-<step>/;
// the newest K are kept. Saved models (RUN/model/, RUN/best/) hold the weights alone. Each is
// a folder published by core::CheckpointFolder's protocol, as pretraining's are: state.pt,
// rank 0's archive (with its checksum, state.pt.fnv1a64, verified on load), and for the joint
// variants knowledge/, every rank's entity shard.
//
// With P data-parallel ranks the replicated state is written once, by rank 0, with every
// rank's dropout generator; entity shards are written by their ranks. A checkpoint of P
// ranks resumes on any P': the same P continues exactly, another P re-seeds the dropout
// generators from (seed, step, rank) and draws the rest of the interrupted epoch from the
// new ranks' shares of it.
#include <torch/torch.h>

#include <cstdint>
#include <optional>
#include <string>

#include "comm/communicator.h"
#include "data_pipeline/loader.h"
#include "trainer/model/knowledge_model.h"

namespace hrere::train {

struct TrainingState {
  std::int64_t step = 0;
  data::LoaderState loader;
  double best_dev = -1;  // best dev score so far (-1: none yet)
  std::int64_t best_epoch = -1;
  // The metrics.jsonl interval in progress, so a resumed run logs what an uninterrupted one
  // would have: sums of the loss terms over its steps, its steps and bags.
  double interval_loss = 0;       // J_L
  double interval_knowledge = 0;  // J_G
  double interval_agreement = 0;  // J_D
  double interval_l2 = 0;
  std::int64_t interval_steps = 0;
  std::int64_t interval_bags = 0;
  std::int64_t skipped_nonfinite = 0;  // steps skipped by train.on_nonfinite: skip
};

// With a knowledge model, its relation vectors and their optimizer state go into the archive
// and its entity shards into knowledge/. Collective.
void save_checkpoint(comm::Communicator& comm, const std::string& path, const TrainingState& state,
                     torch::nn::Module& model, torch::optim::Optimizer& optimizer,
                     const KnowledgeModel* knowledge = nullptr);
// Restores model, optimizer, knowledge model and the global CPU generator; returns the rest.
// Collective; `seed` re-seeds the generators when the number of ranks changed.
TrainingState load_checkpoint(comm::Communicator& comm, const std::string& path,
                              torch::nn::Module& model, torch::optim::Optimizer& optimizer,
                              std::uint64_t seed, KnowledgeModel* knowledge = nullptr);

// Model weights alone (RUN/model/, RUN/best/). Collective.
void save_model(comm::Communicator& comm, const std::string& path, torch::nn::Module& model,
                const KnowledgeModel* knowledge = nullptr);
void load_model(const std::string& path, torch::nn::Module& model,
                KnowledgeModel* knowledge = nullptr);

// The generator seed of `rank` when a run continues at `step` with another number of ranks.
std::uint64_t dropout_seed(std::uint64_t seed, std::int64_t step, int rank);

// Checkpoints of a run folder; the newest is the newest committed one.
std::string checkpoint_path(const std::string& run_dir, std::int64_t step);
std::optional<std::string> newest_checkpoint(const std::string& run_dir);
// Deletes all but the newest `keep` checkpoints (one rank does it).
void prune_checkpoints(const std::string& run_dir, int keep);

}  // namespace hrere::train
