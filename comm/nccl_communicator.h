#pragma once
// Communicator for CUDA tensors over NCCL. Exists only where the build found CUDA and NCCL
// (HRERE_HAVE_NCCL is then defined for every target linking hrere_comm).
#include <memory>

#include "comm/mpi_communicator.h"

namespace hrere::comm {

// Each operation is enqueued on a private stream created as a blocking stream, so it is
// ordered after earlier work on the legacy default stream (where LibTorch puts kernels
// unless told otherwise), and returns once the stream has finished: the same synchronous
// contract as MpiCommunicator.
class NcclCommunicator : public Communicator {
 public:
  // Collective over `comm` (MPI must be initialised): rank 0 creates the NCCL unique id and
  // broadcasts it over MPI. `device` -1 picks the GPU numbered by the rank's index among the
  // ranks on its node; every rank throws if any rank has no GPU to use.
  explicit NcclCommunicator(MPI_Comm comm = MPI_COMM_WORLD, int device = -1);
  ~NcclCommunicator() override;

  int rank() const override { return control_.rank(); }
  int size() const override { return control_.size(); }
  const char* backend() const override { return "NCCL"; }
  int device() const { return device_; }

 protected:
  std::string device_error(const torch::Tensor& tensor) const override;
  std::vector<int64_t> exchange_host(const std::vector<int64_t>& values) override;
  void do_all_reduce(torch::Tensor& tensor, ReduceOp op) override;
  void do_broadcast(torch::Tensor& tensor, int root) override;
  void do_all_gather(const torch::Tensor& input, torch::Tensor& output) override;
  void do_all_to_all(const torch::Tensor& send, const std::vector<int64_t>& send_counts,
                     const std::vector<int64_t>& recv_counts, torch::Tensor& output) override;
  void do_barrier() override;

 private:
  struct Handles;  // NCCL communicator and CUDA stream; keeps CUDA headers out of this one

  // Throw CommError naming `call` and this rank on failure.
  void check_cuda(int rc, const char* call) const;
  void check_nccl(int rc, const char* call) const;
  // Waits for the stream and surfaces errors NCCL reported asynchronously.
  void synchronize(const char* op) const;

  MpiCommunicator control_;  // host-side control plane: unique id, counts, barrier
  int device_ = -1;
  std::unique_ptr<Handles> handles_;
};

}  // namespace hrere::comm
