#pragma once
// The communicator every command uses (comm::world()): host tensors travel over MPI, GPU
// tensors over NCCL or, staged through host memory, over MPI (`dist.backend`;
// docs/DISTRIBUTED.md). The trainer and kbe_shard call one Communicator whatever device
// their tensors are on; this class picks the transport per tensor.
#include <mpi.h>

#include <memory>
#include <string>

#include "comm/mpi_communicator.h"
#include "core/choice.h"

namespace hrere::comm {

enum class Backend {
  kAuto,  // NCCL for GPU tensors where the build has it, else staged MPI
  kMpi,   // GPU tensors copied to the host, reduced over MPI, copied back
  kNccl,  // GPU tensors over NCCL; an error where the build has no NCCL
};
constexpr core::Choices<Backend, 3> choices(Backend) {
  return {{{Backend::kAuto, "auto"}, {Backend::kMpi, "mpi"}, {Backend::kNccl, "nccl"}}};
}
// Whether this build has the NCCL communicator (CUDA LibTorch and NCCL found by CMake).
bool nccl_built();

class RoutingCommunicator : public Communicator {
 public:
  // Over a private duplicate of `comm`; MPI must be initialised.
  explicit RoutingCommunicator(MPI_Comm comm = MPI_COMM_WORLD);
  ~RoutingCommunicator() override;

  // Collective. GPU tensors from now on live on `device` and travel as `backend` says;
  // `timeout_s` bounds NCCL's set-up and how long a lost peer can stall an operation.
  // A CPU device (or the same settings again) changes nothing. std::invalid_argument for
  // kNccl without NCCL in the build.
  void use_device(const torch::Device& device, Backend backend, double timeout_s);
  // Tears the GPU transport down. Call it before the program returns from main: left to
  // static destruction it could run after the CUDA runtime is gone.
  void release_device();

  int rank() const override { return host_.rank(); }
  int size() const override { return host_.size(); }
  // "MPI", or "MPI+NCCL" once GPU tensors go through NCCL.
  const char* backend() const override;
  void abort() override;
  bool callable_from_backward_threads(const torch::Device& device) const override {
    return device.is_cpu() || (device.is_cuda() && gpu_ != nullptr);
  }

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
  // The transport for `tensor`: NCCL for GPU tensors when it is on, else MPI (which the
  // caller must stage GPU tensors for: see staged()).
  Communicator& transport(const torch::Tensor& tensor);
  bool staged(const torch::Tensor& tensor) const { return tensor.is_cuda() && !gpu_; }
  // The MPI transport as a Communicator, whose operations proper this class may call.
  Communicator& mpi() { return host_; }

  MpiCommunicator host_;
  std::unique_ptr<Communicator> gpu_;  // NCCL on device_, when chosen
  torch::Device device_ = torch::kCPU;
  Backend backend_ = Backend::kAuto;
};

// The process-wide communicator over MPI_COMM_WORLD: initialises MPI on first use and
// finalises it at exit (Open MPI's singleton init makes a process started alone a world of
// one).
RoutingCommunicator& world();
// world().release_device() if world() was ever created (without creating it).
void release_world_device();

}  // namespace hrere::comm
