#pragma once
// Communicator for CPU tensors over MPI, and the RAII owner of MPI's lifetime.
#include <mpi.h>

#include <climits>
#include <cstdint>
#include <vector>

#include "comm/communicator.h"

namespace hrere::comm {

// Initialises MPI (MPI_THREAD_FUNNELED: only the thread that created it calls MPI) unless
// someone already did, and finalises it on destruction if it was the one to initialise it.
// Without mpirun, Open MPI's singleton init makes this process a world of size 1.
class MpiRuntime {
 public:
  MpiRuntime();
  ~MpiRuntime();
  MpiRuntime(const MpiRuntime&) = delete;
  MpiRuntime& operator=(const MpiRuntime&) = delete;

 private:
  bool owns_mpi_ = false;
};

class MpiCommunicator : public Communicator {
 public:
  // MPI counts are `int`: larger tensors are moved in messages of at most this many elements.
  static constexpr int64_t kMaxMessageElements = INT_MAX;

  // Works on a private duplicate of `comm` (so its messages never match other code's) with
  // MPI_ERRORS_RETURN, turning MPI errors into CommError. MPI must be initialised.
  // `max_message_elements` (1..INT_MAX) caps each MPI call's count; lowering it lets tests
  // exercise the chunked paths with small tensors.
  explicit MpiCommunicator(MPI_Comm comm = MPI_COMM_WORLD,
                           int64_t max_message_elements = kMaxMessageElements);
  ~MpiCommunicator() override;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const char* backend() const override { return "MPI"; }
  MPI_Comm mpi_comm() const { return comm_; }

  // Public so that NcclCommunicator can run its host-side control exchanges over MPI.
  std::vector<int64_t> exchange_host(const std::vector<int64_t>& values) override;

 protected:
  std::string device_error(const torch::Tensor& tensor) const override;
  void do_all_reduce(torch::Tensor& tensor, ReduceOp op) override;
  void do_broadcast(torch::Tensor& tensor, int root) override;
  void do_all_gather(const torch::Tensor& input, torch::Tensor& output) override;
  void do_all_to_all(const torch::Tensor& send, const std::vector<int64_t>& send_counts,
                     const std::vector<int64_t>& recv_counts, torch::Tensor& output) override;
  void do_barrier() override;
  // MPI_Iallreduce, one request per message of at most max_message_elements.
  std::unique_ptr<PendingReduce> do_start_all_reduce(torch::Tensor& tensor, ReduceOp op) override;

 private:
  // Throws CommError naming `call` and this rank unless `rc` is MPI_SUCCESS.
  void check(int rc, const char* call) const;

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 1;
  int64_t max_elements_;
};

}  // namespace hrere::comm
