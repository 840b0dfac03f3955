#pragma once
// One optimisation step of HRERE on this rank's share of a global batch (docs/ARCHITECTURE.md,
// Model; docs/DISTRIBUTED.md, Data-parallel training). Each rank runs the language model on
// its bags and the knowledge model on their entity pairs (entity rows fetched from their
// owners), then backpropagates
//
//   (b / B) * (J_L + J_G + J_D) + lambda/2 ||Theta_L||^2 / P
//
// (b bags here, B over all P ranks), whose sum over the ranks is the objective of one
// process on the whole batch. Summing the replicated gradients over the ranks (bucketed
// all-reduce) and the entity-row gradients at their owners therefore gives every rank the
// one-process gradient, and identical Adam updates keep the replicas identical.
#include <torch/torch.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "comm/communicator.h"
#include "data_pipeline/loader.h"
#include "trainer/config.h"
#include "trainer/model/knowledge_model.h"
#include "trainer/model/language_model.h"
#include "trainer/model/variants.h"
#include "trainer/replication/replicas.h"

namespace hrere::train {

// Batch means over the global batch, left where they were computed: reading them is a host
// synchronisation on a GPU, which the training loop does once per log interval.
struct StepLosses {
  // float64 [5]: J_L, J_G, J_D, lambda/2 ||Theta_L||^2, global batch (bags)
  torch::Tensor values;
  enum Index { kLanguage, kKnowledge, kAgreement, kL2, kBags };
  double read(Index index) const { return values[index].item<double>(); }
  // With train.on_nonfinite skip: the step was not applied, for this reason (values are
  // undefined then).
  std::string skipped;
};

// A step's loss or summed gradient was not finite (train.on_nonfinite stop); thrown on every
// rank alike, since every rank sees the same global sums.
class NonFiniteStep : public std::runtime_error {
 public:
  explicit NonFiniteStep(const std::string& message) : std::runtime_error(message) {}
};

// Seconds spent so far in each part of a step. Batch-norm statistics are summed over the
// ranks inside forward and backward (tiny messages), and counted there.
struct StepTimes {
  double forward = 0;  // language model and knowledge scores, entity rows already local
  double backward = 0;
  double all_reduce = 0;  // replicated gradients (and the loss statistics)
  double exchange = 0;    // entity rows to the batch, row gradients back to their owners
  double optimizer = 0;   // Adam on the replicas, row-wise Adam on the local entity rows
  double total() const { return forward + backward + all_reduce + exchange + optimizer; }
};

class TrainStep {
 public:
  // Synchronises the language model's batch norm and starts every replica from rank 0's
  // parameters (collective). The models are already on their device. The gradient
  // all-reduce overlaps backward when `dist.overlap` is set and the communicator can be
  // called from the thread that runs backward on that device (see Communicator).
  TrainStep(comm::Communicator& comm, LanguageModel model, KnowledgeModel* knowledge,
            const TrainConfig& train, const DistConfig& dist);

  // Collective. One step on this rank's `batch`; `step` is the number of the step (from 1)
  // and decides when the replica checksum runs (dist.checksum_every).
  StepLosses run(const data::Batch& batch, std::int64_t step);

  torch::optim::Adam& optimizer() { return optimizer_; }
  Replicas& replicas() { return replicas_; }
  const StepTimes& times() const { return times_; }
  // Whether the gradient all-reduce overlaps backward (dist.overlap, where possible).
  bool overlaps() const { return overlap_; }

 private:
  comm::Communicator& comm_;
  LanguageModel model_;
  KnowledgeModel* knowledge_;
  // The first non-finite loss term (of the global sums) or summed replicated gradient, in
  // words; empty when all are finite. The same on every rank.
  std::string nonfinite(const torch::Tensor& sums, const torch::Tensor& l2);

  Variant variant_;
  double agreement_weight_;
  OnNonFinite on_nonfinite_;
  double l2_;
  std::int64_t checksum_every_;
  bool overlap_;
  torch::optim::Adam optimizer_;
  Replicas replicas_;
  StepTimes times_;
};

}  // namespace hrere::train
