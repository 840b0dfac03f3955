#pragma once
// The collective operations hrere needs from a group of ranks, on torch tensors. One
// interface so the trainer and kbe_shard run unchanged over MPI (CPU) or NCCL (CUDA).
//
// Contract shared by all implementations:
// - Every rank calls the same operations in the same order (they are collectives).
// - Tensors are dense and contiguous, of dtype float32, float64, int32, int64, uint8 or int8,
//   on the implementation's device; anything else throws std::invalid_argument.
// - all_reduce and broadcast need the same shape and dtype on every rank (not checked: they
//   are on the gradient hot path). all_gather and all_to_all check their arguments on all
//   ranks together, so a bad argument on one rank throws on every rank instead of hanging.
// - Operations are synchronous as far as their caller can tell: when they return, the result
//   is in place for the host (MPI) or for all later work on LibTorch's current CUDA stream
//   (NCCL; a host read through LibTorch waits for that stream, so it sees the result too).
// - start_all_reduce is the one asynchronous operation (gradient buckets overlapping the
//   backward pass): the result is in place after wait(). Collectives started this way still
//   count in the rank's sequence of collectives: every rank starts them in the same order.
// - Failures of the transport throw CommError naming the failed library call.
// - Every call that waits for other ranks holds a BlockedInCollective (comm/liveness.h), so
//   the heartbeats can tell a job whose ranks all wait forever from one that computes.
#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace hrere::comm {

// Reductions for all_reduce. Averaging is the caller's job (divide the sum by size()), so
// integer tensors never meet a division they cannot represent.
enum class ReduceOp { Sum, Max, Min };

const char* to_string(ReduceOp op);

// "float32", "int64", ... for the dtypes the collectives accept; nullptr for any other.
const char* dtype_name(torch::ScalarType type);

// The transport (MPI, NCCL, CUDA) reported an error.
class CommError : public std::runtime_error {
 public:
  explicit CommError(const std::string& message) : std::runtime_error(message) {}
};

// An all-reduce started by Communicator::start_all_reduce.
class PendingReduce {
 public:
  virtual ~PendingReduce() = default;
  // Lets the transport progress without blocking (MPI advances non-blocking collectives
  // only inside MPI calls); cheap, call it whenever the host has a moment.
  virtual void poll() {}
  // Returns once the result is in place (see the contract above); a second call is a no-op.
  virtual void wait() = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  Communicator() = default;
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  // "MPI" or "NCCL", for messages.
  virtual const char* backend() const = 0;

  // Element-wise reduction over all ranks, result written back into `tensor` on every rank.
  void all_reduce(torch::Tensor& tensor, ReduceOp op = ReduceOp::Sum);

  // Starts the same element-wise reduction and returns before it completes; `tensor` must
  // stay alive and untouched until wait(). Transports without a non-blocking form complete
  // it here.
  std::unique_ptr<PendingReduce> start_all_reduce(torch::Tensor& tensor,
                                                  ReduceOp op = ReduceOp::Sum);

  // Copies `tensor` of rank `root` into `tensor` on every other rank.
  void broadcast(torch::Tensor& tensor, int root);

  // Every rank passes a tensor of the same shape S; returns shape [size(), S...] where row r
  // is rank r's tensor (stacked along a new dim 0; use flatten(0, 1) to concatenate).
  torch::Tensor all_gather(const torch::Tensor& input);

  // Personalised exchange of rows. `send` has shape [N, R...]; its first send_counts[0] rows
  // go to rank 0, the next send_counts[1] rows to rank 1, and so on (counts may be zero, sum
  // to N). Returns [M, R...]: the rows every rank sent to this one, ordered by source rank.
  // The trailing shape R and dtype must agree on all ranks. If `recv_counts` is given it
  // receives how many rows came from each rank (sums to M).
  torch::Tensor all_to_all(const torch::Tensor& send, const std::vector<int64_t>& send_counts,
                           std::vector<int64_t>* recv_counts = nullptr);

  void barrier();

  // Called when a peer is known to be lost (another thread may be blocked in a collective):
  // makes the transport give up its operations instead of waiting forever. The communicator
  // is unusable afterwards.
  virtual void abort() {}

  // Whether start_all_reduce of tensors on `device` may be called from autograd's threads
  // (LibTorch runs a GPU backward on a worker thread; a CPU backward runs on the caller's
  // thread, which is always fine). MPI is initialised for one calling thread only.
  virtual bool callable_from_backward_threads(const torch::Device& device) const {
    return device.is_cpu();
  }

 protected:
  friend class RoutingCommunicator;  // forwards to the transports' operations proper

  // Why `tensor` is on the wrong device for this backend, or "" when it is fine.
  virtual std::string device_error(const torch::Tensor& tensor) const = 0;

  // Host-side exchange of small control data: `values` holds k entries per rank (k =
  // values.size() / size()), the j-th group goes to rank j; returns the k entries from each
  // rank in rank order.
  virtual std::vector<int64_t> exchange_host(const std::vector<int64_t>& values) = 0;

  // The operations proper; arguments are already validated.
  virtual void do_all_reduce(torch::Tensor& tensor, ReduceOp op) = 0;
  virtual void do_broadcast(torch::Tensor& tensor, int root) = 0;
  virtual void do_all_gather(const torch::Tensor& input, torch::Tensor& output) = 0;
  // `output` is allocated with sum(recv_counts) rows.
  virtual void do_all_to_all(const torch::Tensor& send, const std::vector<int64_t>& send_counts,
                             const std::vector<int64_t>& recv_counts, torch::Tensor& output) = 0;
  virtual void do_barrier() = 0;
  // Default: do_all_reduce, complete on return.
  virtual std::unique_ptr<PendingReduce> do_start_all_reduce(torch::Tensor& tensor, ReduceOp op);

 private:
  // Throws std::invalid_argument for a tensor no backend operation accepts.
  void check_tensor(const torch::Tensor& tensor, const char* op) const;
  // Same checks, returned as a message ("" when fine) so collectives can share the verdict.
  std::string tensor_error(const torch::Tensor& tensor) const;
  std::string context(const char* op) const;
};

// Collective. Rank 0's `value` on every rank (a broadcast; `value` itself on one rank): how
// ranks share a decision taken on rank 0's clock.
std::int64_t rank0_value(Communicator& comm, std::int64_t value);

// Collective. Each entry's smallest value over the ranks (an all-reduce Min): how ranks that
// each scanned their own block agree on the first bad row, so every rank raises one error.
std::vector<std::int64_t> min_over_ranks(Communicator& comm,
                                         const std::vector<std::int64_t>& values);

}  // namespace hrere::comm
