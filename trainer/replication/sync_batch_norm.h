#pragma once
// Batch norm whose training statistics span the global batch of all data-parallel ranks, so
// P ranks with B/P bags each normalise exactly as one rank with B bags (docs/DISTRIBUTED.md, Batch
// norm: replicas must compute what one process would). Without a communicator, or with one rank, it
// computes what torch::nn::BatchNorm1d does, with the same kernel; parameter and buffer names are
// BatchNorm1d's, so checkpoints do not depend on the number of ranks.
//
// Across ranks the per-feature sum, sum of squares and count (in float64) are summed in the
// forward pass by an all-reduce whose backward all-reduces the gradients of those sums: each
// rank's loss depends on every rank's activations through the shared statistics.
#include <torch/torch.h>

#include <cstdint>

#include "comm/communicator.h"

namespace hrere::train {

class SyncBatchNorm1dImpl : public torch::nn::Module {
 public:
  explicit SyncBatchNorm1dImpl(std::int64_t features, double momentum = 0.1, double eps = 1e-5);

  // From now on training statistics are those of every rank of `comm` (nullptr: local).
  void synchronize(comm::Communicator* comm) { comm_ = comm; }

  torch::Tensor forward(const torch::Tensor& input);

 private:
  double momentum_;
  double eps_;
  torch::Tensor weight_, bias_, running_mean_, running_var_, num_batches_tracked_;
  comm::Communicator* comm_ = nullptr;
};
TORCH_MODULE(SyncBatchNorm1d);

}  // namespace hrere::train
