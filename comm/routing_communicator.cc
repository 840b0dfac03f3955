#include "comm/routing_communicator.h"

#ifdef HRERE_HAVE_NCCL
#include "comm/nccl_communicator.h"
#endif

namespace hrere::comm {

bool nccl_built() {
#ifdef HRERE_HAVE_NCCL
  return true;
#else
  return false;
#endif
}

RoutingCommunicator::RoutingCommunicator(MPI_Comm comm) : host_(comm) {}

RoutingCommunicator::~RoutingCommunicator() = default;

void RoutingCommunicator::use_device(const torch::Device& device, Backend backend,
                                     double timeout_s) {
  if (backend == Backend::kNccl && !nccl_built()) {
    throw std::invalid_argument(
        "dist.backend nccl: this build has no NCCL communicator (it is "
        "built where CMake finds a CUDA LibTorch and NCCL)");
  }
  if (device == device_ && backend == backend_) return;
  release_device();
  device_ = device;
  backend_ = backend;
  if (!device.is_cuda() || backend == Backend::kMpi || !nccl_built()) return;
#ifdef HRERE_HAVE_NCCL
  gpu_ = std::make_unique<NcclCommunicator>(host_, device.index(), timeout_s);
#endif
}

void RoutingCommunicator::release_device() {
  gpu_.reset();
  device_ = torch::kCPU;
}

const char* RoutingCommunicator::backend() const { return gpu_ ? "MPI+NCCL" : "MPI"; }

void RoutingCommunicator::abort() {
  if (gpu_) gpu_->abort();
}

std::string RoutingCommunicator::device_error(const torch::Tensor& tensor) const {
  if (tensor.is_cpu()) return "";
  if (tensor.is_cuda() && tensor.device() == device_) return "";
  return "got a tensor on " + tensor.device().str() + ", but this communicator serves the host" +
         (device_.is_cuda() ? " and " + device_.str() : std::string()) +
         " (a command's device is set with use_device)";
}

std::vector<int64_t> RoutingCommunicator::exchange_host(const std::vector<int64_t>& values) {
  return host_.exchange_host(values);
}

Communicator& RoutingCommunicator::transport(const torch::Tensor& tensor) {
  if (tensor.is_cuda() && gpu_) return *gpu_;
  return mpi();
}

// Staging (GPU tensors over MPI): Debian's Open MPI cannot read device memory, so each
// operation copies to the host, runs there, and copies the result back.

void RoutingCommunicator::do_all_reduce(torch::Tensor& tensor, ReduceOp op) {
  if (!staged(tensor)) return transport(tensor).do_all_reduce(tensor, op);
  torch::Tensor host = tensor.cpu();
  mpi().do_all_reduce(host, op);
  tensor.copy_(host);
}

void RoutingCommunicator::do_broadcast(torch::Tensor& tensor, int root) {
  if (!staged(tensor)) return transport(tensor).do_broadcast(tensor, root);
  torch::Tensor host = tensor.cpu();
  mpi().do_broadcast(host, root);
  tensor.copy_(host);
}

void RoutingCommunicator::do_all_gather(const torch::Tensor& input, torch::Tensor& output) {
  if (!staged(input)) return transport(input).do_all_gather(input, output);
  torch::Tensor host_output = torch::empty(output.sizes(), output.options().device(torch::kCPU));
  mpi().do_all_gather(input.cpu(), host_output);
  output.copy_(host_output);
}

void RoutingCommunicator::do_all_to_all(const torch::Tensor& send,
                                        const std::vector<int64_t>& send_counts,
                                        const std::vector<int64_t>& recv_counts,
                                        torch::Tensor& output) {
  if (!staged(send)) return transport(send).do_all_to_all(send, send_counts, recv_counts, output);
  torch::Tensor host_output = torch::empty(output.sizes(), output.options().device(torch::kCPU));
  mpi().do_all_to_all(send.cpu(), send_counts, recv_counts, host_output);
  output.copy_(host_output);
}

void RoutingCommunicator::do_barrier() {
  if (gpu_)
    gpu_->do_barrier();  // drains the GPU transport, then a host barrier
  else
    mpi().do_barrier();
}

std::unique_ptr<PendingReduce> RoutingCommunicator::do_start_all_reduce(torch::Tensor& tensor,
                                                                        ReduceOp op) {
  // Staged copies would block anyway: complete it now.
  if (staged(tensor)) return Communicator::do_start_all_reduce(tensor, op);
  return transport(tensor).do_start_all_reduce(tensor, op);
}

namespace {
RoutingCommunicator* created_world = nullptr;
}  // namespace

RoutingCommunicator& world() {
  // Construction order makes destruction order right: the communicator is freed before
  // the runtime finalises MPI.
  static MpiRuntime runtime;
  static RoutingCommunicator communicator(MPI_COMM_WORLD);
  created_world = &communicator;
  return communicator;
}

void release_world_device() {
  if (created_world) created_world->release_device();
}

}  // namespace hrere::comm
