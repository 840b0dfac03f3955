#pragma once
// Training checkpoints: everything a run needs to continue as if never stopped (model,
// optimizer, loader position, RNG state, step, best dev score), written atomically to
// RUN/checkpoints/step-<step>.pt; the newest K are kept.
#include <torch/torch.h>

#include <cstdint>
#include <optional>
#include <string>

#include "data_pipeline/loader.h"

namespace hrere::train {

struct TrainingState {
  std::int64_t step = 0;
  data::LoaderState loader;
  double best_dev = -1;     // best dev score so far (-1: none yet)
  std::int64_t best_epoch = -1;
  // The metrics.jsonl interval in progress, so a resumed run logs what an uninterrupted one
  // would have: sums of the loss terms over its steps, its steps and bags.
  double interval_loss = 0;
  double interval_l2 = 0;
  std::int64_t interval_steps = 0;
  std::int64_t interval_bags = 0;
};

void save_checkpoint(const std::string& path, const TrainingState& state, torch::nn::Module& model,
                     torch::optim::Optimizer& optimizer);
// Restores model, optimizer and the global CPU generator; returns the rest.
TrainingState load_checkpoint(const std::string& path, torch::nn::Module& model,
                              torch::optim::Optimizer& optimizer);

// Model parameters and buffers alone (RUN/model.pt, RUN/best.pt), written atomically.
void save_model(const std::string& path, torch::nn::Module& model);
void load_model(const std::string& path, torch::nn::Module& model);

// Checkpoints of a run folder.
std::string checkpoint_path(const std::string& run_dir, std::int64_t step);
std::optional<std::string> newest_checkpoint(const std::string& run_dir);
// Deletes all but the newest `keep` checkpoints.
void prune_checkpoints(const std::string& run_dir, int keep);

}  // namespace hrere::train
