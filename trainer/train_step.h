#pragma once
// One optimisation step of HRERE on this rank's share of a global batch (DESIGN.md sections
// 2 and 4). Each rank runs the language model on its bags and the knowledge model on their
// entity pairs (entity rows fetched from their owners), then backpropagates
//
//   (b / B) * (J_L + J_G + J_D) + lambda/2 ||Theta_L||^2 / P
//
// (b bags here, B over all P ranks), whose sum over the ranks is the objective of one
// process on the whole batch. Summing the replicated gradients over the ranks (bucketed
// all-reduce) and the entity-row gradients at their owners therefore gives every rank the
// one-process gradient, and identical Adam updates keep the replicas identical.
#include <torch/torch.h>

#include <cstdint>

#include "comm/communicator.h"
#include "data_pipeline/loader.h"
#include "trainer/config.h"
#include "trainer/knowledge_model.h"
#include "trainer/language_model.h"
#include "trainer/replicas.h"
#include "trainer/variants.h"

namespace hrere::train {

// Batch means over the global batch.
struct StepLosses {
  double language = 0;   // J_L
  double knowledge = 0;  // J_G
  double agreement = 0;  // J_D
  double l2 = 0;         // lambda/2 ||Theta_L||^2
  std::int64_t bags = 0;  // global batch
  double total() const { return language + knowledge + agreement + l2; }
};

// Seconds spent so far in each part of a step. Batch-norm statistics are summed over the
// ranks inside forward and backward (tiny messages), and counted there.
struct StepTimes {
  double forward = 0;     // language model and knowledge scores, entity rows already local
  double backward = 0;
  double all_reduce = 0;  // replicated gradients (and the loss statistics)
  double exchange = 0;    // entity rows to the batch, row gradients back to their owners
  double optimizer = 0;   // Adam on the replicas, row-wise Adam on the local entity rows
  double total() const { return forward + backward + all_reduce + exchange + optimizer; }
};

class TrainStep {
 public:
  // Synchronises the language model's batch norm and starts every replica from rank 0's
  // parameters (collective).
  TrainStep(comm::Communicator& comm, LanguageModel model, KnowledgeModel* knowledge,
            const TrainConfig& train, const DistConfig& dist);

  // Collective. One step on this rank's `batch`; `step` is the number of the step (from 1)
  // and decides when the replica checksum runs (dist.checksum_every).
  StepLosses run(const data::Batch& batch, std::int64_t step);

  torch::optim::Adam& optimizer() { return optimizer_; }
  Replicas& replicas() { return replicas_; }
  const StepTimes& times() const { return times_; }

 private:
  comm::Communicator& comm_;
  LanguageModel model_;
  KnowledgeModel* knowledge_;
  Variant variant_;
  double l2_;
  std::int64_t checksum_every_;
  torch::optim::Adam optimizer_;
  Replicas replicas_;
  StepTimes times_;
};

}  // namespace hrere::train
