#include "comm/nccl_communicator.h"

#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>
#include <nccl.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <string>

namespace hrere::comm {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kPollInterval = std::chrono::milliseconds(50);

ncclDataType_t nccl_type(torch::ScalarType type) {
  switch (type) {
    case torch::kFloat: return ncclFloat32;
    case torch::kDouble: return ncclFloat64;
    case torch::kInt: return ncclInt32;
    case torch::kLong: return ncclInt64;
    case torch::kByte: return ncclUint8;
    case torch::kChar: return ncclInt8;
    default: break;
  }
  // Communicator::check_tensor admits only the types above.
  throw std::logic_error(std::string("no NCCL datatype for ") + c10::toString(type));
}

ncclRedOp_t nccl_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum: return ncclSum;
    case ReduceOp::Max: return ncclMax;
    case ReduceOp::Min: return ncclMin;
  }
  throw std::invalid_argument("unknown ReduceOp " + std::to_string(static_cast<int>(op)));
}

std::string where(const char* call, int rank) {
  return std::string(call) + " failed on rank " + std::to_string(rank) + ": ";
}

char* bytes(const torch::Tensor& tensor) { return static_cast<char*>(tensor.data_ptr()); }

}  // namespace

struct NcclCommunicator::Handles {
  ncclComm_t comm = nullptr;
  std::optional<c10::cuda::CUDAStream> side;  // start_all_reduce's stream

  cudaStream_t current(int device) const {
    return c10::cuda::getCurrentCUDAStream(static_cast<c10::DeviceIndex>(device)).stream();
  }
};

NcclCommunicator::NcclCommunicator(MpiCommunicator& control, int device, double timeout_s)
    : control_(control),
      device_(device),
      timeout_s_(timeout_s),
      handles_(std::make_unique<Handles>()) {
  // Agree on whether every rank has its GPU before any rank enters NCCL's set-up.
  int visible = 0;
  if (cudaGetDeviceCount(&visible) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error
    visible = 0;
  }
  std::string problem;
  if (device_ < 0 || device_ >= visible) {
    problem = "rank " + std::to_string(rank()) + " needs CUDA device " + std::to_string(device_) +
              " but sees " + std::to_string(visible) + " device(s)";
  }
  const auto usable = control_.exchange_host(std::vector<int64_t>(size(), problem.empty()));
  if (!problem.empty()) throw CommError("NcclCommunicator: " + problem);
  for (size_t r = 0; r < usable.size(); ++r) {
    if (!usable[r]) {
      throw CommError("NcclCommunicator: rank " + std::to_string(r) +
                      " has no usable CUDA device (its own exception says why)");
    }
  }
  const c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(device_));

  // The unique id travels with a trailing status byte, so a failure on rank 0 reaches all.
  std::vector<uint8_t> message(sizeof(ncclUniqueId) + 1, 0);
  std::string id_error;
  if (rank() == 0) {
    ncclUniqueId id;
    const ncclResult_t rc = ncclGetUniqueId(&id);
    if (rc == ncclSuccess) {
      std::memcpy(message.data(), &id, sizeof(id));
      message.back() = 1;
    } else {
      id_error = where("ncclGetUniqueId", 0) + ncclGetErrorString(rc);
    }
  }
  torch::Tensor wire =
      torch::from_blob(message.data(), {static_cast<int64_t>(message.size())}, torch::kUInt8);
  control_.broadcast(wire, 0);
  if (!message.back()) {
    throw CommError(id_error.empty() ? "NcclCommunicator: ncclGetUniqueId failed on rank 0"
                                     : id_error);
  }
  ncclUniqueId id;
  std::memcpy(&id, message.data(), sizeof(id));

  // Non-blocking set-up, polled against a deadline: a rank whose peer failed or never came
  // gives up after timeout_s instead of waiting inside ncclCommInitRank forever.
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  std::string init_error;
  ncclResult_t state = ncclCommInitRankConfig(&handles_->comm, size(), id, rank(), &config);
  const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s_);
  while (state == ncclInProgress && handles_->comm) {
    if (Clock::now() > deadline) {
      init_error = "ncclCommInitRankConfig did not finish within " + std::to_string(timeout_s_) +
                   " s (dist.lost_after_s): a peer failed or never started";
      break;
    }
    std::this_thread::sleep_for(kPollInterval);
    if (ncclCommGetAsyncError(handles_->comm, &state) != ncclSuccess) state = ncclInternalError;
  }
  if (init_error.empty() && state != ncclSuccess) {
    init_error = where("ncclCommInitRankConfig", rank()) + ncclGetErrorString(state);
  }
  const auto initialised = control_.exchange_host(std::vector<int64_t>(size(), init_error.empty()));
  std::string failed;
  for (size_t r = 0; r < initialised.size(); ++r) {
    if (!initialised[r]) failed += (failed.empty() ? "" : ", ") + std::to_string(r);
  }
  if (!failed.empty()) {
    if (handles_->comm) ncclCommAbort(handles_->comm);
    handles_->comm = nullptr;
    throw CommError("NcclCommunicator: set-up failed on rank(s) " + failed +
                    (init_error.empty() ? std::string() : "; here: " + init_error));
  }
  handles_->side = c10::cuda::getStreamFromPool(/*isHighPriority=*/false,
                                                static_cast<c10::DeviceIndex>(device_));
  watchdog_ = std::thread([this] { watch(); });
}

NcclCommunicator::~NcclCommunicator() {
  stopping_ = true;
  if (watchdog_.joinable()) watchdog_.join();
  const std::lock_guard<std::mutex> lock(abort_mutex_);
  if (handles_->comm && !aborted_) {
    const c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(device_));
    ncclCommDestroy(handles_->comm);
  }
}

void NcclCommunicator::watch() {
  while (!stopping_ && !aborted_) {
    std::this_thread::sleep_for(kPollInterval);
    ncclResult_t state = ncclSuccess;
    {
      const std::lock_guard<std::mutex> lock(abort_mutex_);
      if (aborted_) return;
      if (ncclCommGetAsyncError(handles_->comm, &state) != ncclSuccess) state = ncclInternalError;
    }
    if (state != ncclSuccess && state != ncclInProgress) {
      std::string reason = std::string("NCCL reported an asynchronous error on rank ") +
                           std::to_string(rank()) + ": " + ncclGetErrorString(state);
      const char* detail = ncclGetLastError(handles_->comm);
      if (detail && *detail) reason += std::string(" (") + detail + ")";
      const std::lock_guard<std::mutex> lock(abort_mutex_);
      abort_reason_ = reason;
      aborted_ = true;
      ncclCommAbort(handles_->comm);
      return;
    }
  }
}

void NcclCommunicator::abort() {
  const std::lock_guard<std::mutex> lock(abort_mutex_);
  if (aborted_ || !handles_->comm) return;
  abort_reason_ = "the communicator was aborted: a peer rank was lost";
  aborted_ = true;
  ncclCommAbort(handles_->comm);
}

void NcclCommunicator::check_cuda(int rc, const char* call) const {
  if (rc != cudaSuccess) {
    throw CommError(where(call, rank()) + cudaGetErrorString(static_cast<cudaError_t>(rc)));
  }
}

void NcclCommunicator::check_nccl(int rc, const char* call) const {
  if (rc == ncclSuccess) return;
  std::string message = where(call, rank()) + ncclGetErrorString(static_cast<ncclResult_t>(rc));
  if (handles_->comm && !aborted_) {
    const char* detail = ncclGetLastError(handles_->comm);
    if (detail && *detail) message += std::string(" (") + detail + ")";
  }
  throw CommError(message);
}

void NcclCommunicator::settle(int rc, const char* call) const {
  auto state = static_cast<ncclResult_t>(rc);
  while (state == ncclInProgress && !aborted_) {
    std::this_thread::yield();
    if (ncclCommGetAsyncError(handles_->comm, &state) != ncclSuccess) state = ncclInternalError;
  }
  if (aborted_) {
    const std::lock_guard<std::mutex> lock(abort_mutex_);
    throw CommError(where(call, rank()) + abort_reason_);
  }
  check_nccl(state, call);
}

std::string NcclCommunicator::device_error(const torch::Tensor& tensor) const {
  const std::string mine = "cuda:" + std::to_string(device_);
  if (!tensor.device().is_cuda()) {
    return "expects a CUDA tensor on " + mine + ", got one on " + tensor.device().str();
  }
  if (tensor.device().index() != device_) {
    return "expects a tensor on " + mine + " (this communicator's device), got one on " +
           tensor.device().str();
  }
  return "";
}

std::vector<int64_t> NcclCommunicator::exchange_host(const std::vector<int64_t>& values) {
  return control_.exchange_host(values);
}

void NcclCommunicator::do_all_reduce(torch::Tensor& tensor, ReduceOp op) {
  const c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(device_));
  settle(ncclAllReduce(tensor.data_ptr(), tensor.data_ptr(), tensor.numel(),
                       nccl_type(tensor.scalar_type()), nccl_op(op), handles_->comm,
                       handles_->current(device_)),
         "ncclAllReduce");
}

void NcclCommunicator::do_broadcast(torch::Tensor& tensor, int root) {
  const c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(device_));
  settle(ncclBroadcast(tensor.data_ptr(), tensor.data_ptr(), tensor.numel(),
                       nccl_type(tensor.scalar_type()), root, handles_->comm,
                       handles_->current(device_)),
         "ncclBroadcast");
}

void NcclCommunicator::do_all_gather(const torch::Tensor& input, torch::Tensor& output) {
  const c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(device_));
  // NCCL lays rank r's buffer at output + r * count: exactly the stacked layout.
  settle(ncclAllGather(input.data_ptr(), output.data_ptr(), input.numel(),
                       nccl_type(input.scalar_type()), handles_->comm, handles_->current(device_)),
         "ncclAllGather");
}

void NcclCommunicator::do_all_to_all(const torch::Tensor& send,
                                     const std::vector<int64_t>& send_counts,
                                     const std::vector<int64_t>& recv_counts,
                                     torch::Tensor& output) {
  int64_t row = 1;
  for (int64_t d = 1; d < send.dim(); ++d) row *= send.size(d);
  const int64_t row_bytes = row * send.element_size();
  const ncclDataType_t type = nccl_type(send.scalar_type());
  const c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(device_));
  const cudaStream_t stream = handles_->current(device_);
  // Grouped so NCCL schedules all sends and receives together instead of deadlocking on
  // the first blocking pair; zero-row peers get no call on either side. The group is closed
  // even when enqueueing fails, so the communicator stays usable for the error report.
  check_nccl(ncclGroupStart(), "ncclGroupStart");
  ncclResult_t first_error = ncclSuccess;
  const char* failed_call = nullptr;
  auto enqueue = [&](ncclResult_t rc, const char* call) {
    if (rc != ncclSuccess && rc != ncclInProgress && !failed_call) {
      first_error = rc;
      failed_call = call;
    }
  };
  int64_t send_offset = 0;
  int64_t recv_offset = 0;
  for (int q = 0; q < size(); ++q) {
    if (recv_counts[q] * row > 0) {
      enqueue(ncclRecv(bytes(output) + recv_offset * row_bytes, recv_counts[q] * row, type, q,
                       handles_->comm, stream),
              "ncclRecv");
    }
    if (send_counts[q] * row > 0) {
      enqueue(ncclSend(bytes(send) + send_offset * row_bytes, send_counts[q] * row, type, q,
                       handles_->comm, stream),
              "ncclSend");
    }
    send_offset += send_counts[q];
    recv_offset += recv_counts[q];
  }
  const ncclResult_t end = ncclGroupEnd();
  if (failed_call) check_nccl(first_error, failed_call);
  settle(end, "ncclGroupEnd (ncclSend/ncclRecv)");
}

void NcclCommunicator::do_barrier() {
  // Drains this rank's stream (polling, so abort() can end the wait), then a host barrier.
  const c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(device_));
  const cudaStream_t stream = handles_->current(device_);
  cudaError_t rc = cudaStreamQuery(stream);
  while (rc == cudaErrorNotReady && !aborted_) {
    std::this_thread::sleep_for(std::chrono::microseconds(100));
    rc = cudaStreamQuery(stream);
  }
  settle(ncclSuccess, "barrier");
  check_cuda(rc, "cudaStreamQuery (barrier)");
  control_.barrier();
}

namespace {
// A bucket reduced on the side stream; wait() orders the current stream after it.
class NcclPendingReduce : public PendingReduce {
 public:
  NcclPendingReduce(cudaEvent_t done, int device) : done_(done), device_(device) {}
  ~NcclPendingReduce() override { wait(); }
  void wait() override {
    if (!done_) return;
    const c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(device_));
    cudaStreamWaitEvent(
        c10::cuda::getCurrentCUDAStream(static_cast<c10::DeviceIndex>(device_)).stream(), done_, 0);
    cudaEventDestroy(done_);
    done_ = nullptr;
  }

 private:
  cudaEvent_t done_;
  int device_;
};
}  // namespace

std::unique_ptr<PendingReduce> NcclCommunicator::do_start_all_reduce(torch::Tensor& tensor,
                                                                     ReduceOp op) {
  const c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(device_));
  const cudaStream_t side = handles_->side->stream();
  cudaEvent_t ready = nullptr, done = nullptr;
  check_cuda(cudaEventCreateWithFlags(&ready, cudaEventDisableTiming), "cudaEventCreate");
  check_cuda(cudaEventCreateWithFlags(&done, cudaEventDisableTiming), "cudaEventCreate");
  // The side stream starts once the gradients copied into `tensor` are there, and the
  // allocator must not reuse `tensor`'s memory before the side stream is done with it.
  check_cuda(cudaEventRecord(ready, handles_->current(device_)), "cudaEventRecord");
  check_cuda(cudaStreamWaitEvent(side, ready, 0), "cudaStreamWaitEvent");
  cudaEventDestroy(ready);
  c10::cuda::CUDACachingAllocator::recordStream(tensor.storage().data_ptr(), *handles_->side);
  settle(ncclAllReduce(tensor.data_ptr(), tensor.data_ptr(), tensor.numel(),
                       nccl_type(tensor.scalar_type()), nccl_op(op), handles_->comm, side),
         "ncclAllReduce (bucket)");
  check_cuda(cudaEventRecord(done, side), "cudaEventRecord");
  return std::make_unique<NcclPendingReduce>(done, device_);
}

}  // namespace hrere::comm
