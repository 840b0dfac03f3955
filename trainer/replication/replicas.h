#pragma once
// Data-parallel replicas (docs/DISTRIBUTED.md, Data-parallel training): every rank holds the same
// dense parameters (the language model, the knowledge side's relation vectors) and applies the same
// update, computed from gradients summed over all ranks. This class starts the replicas equal, sums
// their gradients in flat buckets, and proves that they stayed equal.
#include <torch/torch.h>

#include <cstdint>
#include <memory>
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
  ~Replicas();
  Replicas(const Replicas&) = delete;  // the gradient hooks point here
  Replicas& operator=(const Replicas&) = delete;

  // Collective. Copies rank 0's state to every rank.
  void broadcast_from_rank0();

  // Collective. Replaces each gradient by its sum over the ranks (an undefined gradient
  // counts as zero). Gradients are flattened into buckets, in reverse registration order
  // (the order backward produces them), one all-reduce per bucket.
  //
  // With overlap (start_overlap() before backward), each bucket's all-reduce starts from a
  // gradient hook as soon as backward has produced the last gradient of that bucket, and
  // sum_gradients() only completes what is left. Buckets start strictly in bucket order
  // (a ready bucket waits for the ones before it), so every rank issues the same sequence
  // of collectives however its backward happens to order the gradients. The sums are the
  // same bytes either way.
  void sum_gradients();
  // Arms the gradient hooks for the next backward (collective only through what the hooks
  // start). Only where the hooks' thread may call the communicator: see TrainStep.
  void start_overlap();

  // Collective. Compares a 64-bit hash of every state tensor across ranks; throws
  // ReplicaDivergence on every rank, naming the ranks and tensors that differ from rank 0.
  void verify_identical(std::int64_t step);

  const std::vector<NamedTensor>& state() const { return state_; }
  int buckets() const { return static_cast<int>(buckets_.size()); }
  // Buckets whose all-reduce a gradient hook started during backward, so far (overlap).
  std::int64_t buckets_started_in_backward() const { return started_in_backward_; }
  // Seconds spent in sum_gradients so far.
  double all_reduce_seconds() const { return all_reduce_seconds_; }

 private:
  comm::Communicator& comm_;
  std::vector<NamedTensor> state_;
  struct Bucket {
    std::vector<torch::Tensor> parameters;  // whose gradients travel together
    std::vector<std::int64_t> offsets;      // of each parameter's gradient in `flat`
    torch::Tensor flat;                     // their gradients end to end, reused every step
    std::vector<bool> filled;               // this backward: gradient copied in (overlap)
    std::size_t missing = 0;                // parameters still to come (overlap)
    std::unique_ptr<comm::PendingReduce> pending;
  };
  // Called by parameter (bucket, index)'s hook with its gradient.
  void on_gradient(std::size_t bucket, std::size_t index, const torch::Tensor& grad);
  // Starts the all-reduce of every complete bucket from next_bucket_ on, in order.
  void start_ready_buckets();
  void start_bucket(Bucket& bucket);

  std::vector<Bucket> buckets_;
  std::vector<std::pair<torch::Tensor, unsigned>> hooks_;  // (parameter, hook handle)
  bool overlapping_ = false;     // between start_overlap() and sum_gradients()
  std::size_t next_bucket_ = 0;  // the first bucket whose all-reduce has not started
  std::int64_t started_in_backward_ = 0;
  double all_reduce_seconds_ = 0;
};

// The hash verify_identical compares: FNV-1a over the tensor's bytes (contiguous copy).
std::uint64_t tensor_hash(const torch::Tensor& tensor);

}  // namespace hrere::train
