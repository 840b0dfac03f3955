#pragma once
// Communicator for CUDA tensors over NCCL. Exists only where the build found a CUDA LibTorch
// and NCCL (HRERE_HAVE_NCCL is then defined for every target linking hrere_comm).
//
// Operations are enqueued on LibTorch's current stream of this communicator's device, so they
// are ordered after the kernels that produced their inputs and before the ones that read
// their results, with no host synchronisation (start_all_reduce uses a side stream instead,
// so a gradient bucket travels while backward goes on). The communicator is non-blocking
// (NCCL's `blocking = 0`): no NCCL call can hold the host, and a watchdog thread polls
// NCCL's asynchronous error state; on an error, a stalled set-up past `timeout_s`, or
// abort() (a lost peer), it calls ncclCommAbort, which ends the NCCL kernels waiting for the
// lost peer, and the next operation throws CommError.
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "comm/mpi_communicator.h"

namespace hrere::comm {

class NcclCommunicator : public Communicator {
 public:
  // Collective over `control`'s ranks, which stays the host-side control plane (unique id,
  // counts, barrier) and must outlive this object. `device` is the CUDA device index this
  // rank uses. Every rank throws CommError if any rank cannot use its device or NCCL's
  // set-up fails or stalls for `timeout_s` on any rank; none is left waiting in it.
  NcclCommunicator(MpiCommunicator& control, int device, double timeout_s);
  ~NcclCommunicator() override;

  int rank() const override { return control_.rank(); }
  int size() const override { return control_.size(); }
  const char* backend() const override { return "NCCL"; }
  int device() const { return device_; }
  void abort() override;
  bool callable_from_backward_threads(const torch::Device& device) const override { return true; }

 protected:
  std::string device_error(const torch::Tensor& tensor) const override;
  std::vector<int64_t> exchange_host(const std::vector<int64_t>& values) override;
  void do_all_reduce(torch::Tensor& tensor, ReduceOp op) override;
  void do_broadcast(torch::Tensor& tensor, int root) override;
  void do_all_gather(const torch::Tensor& input, torch::Tensor& output) override;
  void do_all_to_all(const torch::Tensor& send, const std::vector<int64_t>& send_counts,
                     const std::vector<int64_t>& recv_counts, torch::Tensor& output) override;
  void do_barrier() override;
  std::unique_ptr<PendingReduce> do_start_all_reduce(torch::Tensor& tensor, ReduceOp op) override;

 private:
  struct Handles;  // NCCL communicator, side stream; keeps CUDA headers out of this one

  // Throw CommError naming `call` and this rank on failure.
  void check_cuda(int rc, const char* call) const;
  void check_nccl(int rc, const char* call) const;
  // A non-blocking communicator may return ncclInProgress: waits (polling, bounded by the
  // watchdog's abort) until the call has been taken, and throws on an error.
  void settle(int rc, const char* call) const;
  void watch();  // the watchdog thread's loop

  MpiCommunicator& control_;
  int device_ = -1;
  double timeout_s_;
  std::unique_ptr<Handles> handles_;
  mutable std::mutex abort_mutex_;
  std::atomic<bool> aborted_{false};
  std::atomic<bool> stopping_{false};
  std::string abort_reason_;  // under abort_mutex_
  std::thread watchdog_;
};

}  // namespace hrere::comm
