#pragma once
// Data-parallel replicas (DESIGN.md section 4): every rank holds the same dense parameters
// (the language model, the knowledge side's relation vectors) and applies the same update,
// computed from gradients summed over all ranks. This class starts the replicas equal,
// sums their gradients in flat buckets, and proves that they stayed equal.
#include <torch/torch.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "comm/communicator.h"

namespace hrere::train {

struct NamedTensor {
  std::string name;
  torch::Tensor tensor;
};

// The replicas are no longer bit-identical: continuing would train P different models.
class ReplicaDivergence : public std::runtime_error {
 public:
  explicit ReplicaDivergence(const std::string& message) : std::runtime_error(message) {}
};

class Replicas {
 public:
  // `state`: every replicated parameter and buffer; those that require grad are the ones
  // whose gradients sum_gradients() reduces. Buckets hold at most `bucket_bytes` each (one
  // tensor larger than that is a bucket of its own).
  Replicas(comm::Communicator& comm, std::vector<NamedTensor> state, std::int64_t bucket_bytes);

  // Collective. Copies rank 0's state to every rank.
  void broadcast_from_rank0();

  // Collective. Replaces each gradient by its sum over the ranks (an undefined gradient
  // counts as zero). Gradients are flattened into buckets, in reverse registration order
  // (the order backward produces them), one all-reduce per bucket.
  void sum_gradients();

  // Collective. Compares a 64-bit hash of every state tensor across ranks; throws
  // ReplicaDivergence on every rank, naming the ranks and tensors that differ from rank 0.
  void verify_identical(std::int64_t step);

  int buckets() const { return static_cast<int>(buckets_.size()); }
  // Seconds spent in sum_gradients so far.
  double all_reduce_seconds() const { return all_reduce_seconds_; }

 private:
  comm::Communicator& comm_;
  std::vector<NamedTensor> state_;
  struct Bucket {
    std::vector<torch::Tensor> parameters;  // whose gradients travel together
    torch::Tensor flat;                     // their gradients end to end, reused every step
  };
  std::vector<Bucket> buckets_;
  double all_reduce_seconds_ = 0;
};

// The hash verify_identical compares: FNV-1a over the tensor's bytes (contiguous copy).
std::uint64_t tensor_hash(const torch::Tensor& tensor);

}  // namespace hrere::train
