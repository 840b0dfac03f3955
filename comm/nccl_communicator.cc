#include "comm/nccl_communicator.h"

#include <cuda_runtime_api.h>
#include <nccl.h>

#include <cstring>
#include <string>

namespace hrere::comm {
namespace {

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

// Makes `device` current for a scope: the caller may have another GPU selected.
class DeviceGuard {
 public:
  DeviceGuard(int device, int rank) {
    cudaError_t rc = cudaGetDevice(&previous_);
    if (rc == cudaSuccess && previous_ != device) rc = cudaSetDevice(device);
    if (rc != cudaSuccess) throw CommError(where("cudaSetDevice", rank) + cudaGetErrorString(rc));
  }
  ~DeviceGuard() { cudaSetDevice(previous_); }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = 0;
};

char* bytes(const torch::Tensor& tensor) { return static_cast<char*>(tensor.data_ptr()); }

}  // namespace

struct NcclCommunicator::Handles {
  ncclComm_t comm = nullptr;
  cudaStream_t stream = nullptr;

  ~Handles() {
    if (comm) ncclCommDestroy(comm);
    if (stream) cudaStreamDestroy(stream);
  }
};

NcclCommunicator::NcclCommunicator(MPI_Comm comm, int device)
    : control_(comm), device_(device), handles_(std::make_unique<Handles>()) {
  if (device_ < 0) {
    MPI_Comm local = MPI_COMM_NULL;
    int local_rank = 0;
    if (MPI_Comm_split_type(control_.mpi_comm(), MPI_COMM_TYPE_SHARED, rank(), MPI_INFO_NULL,
                            &local) != MPI_SUCCESS ||
        MPI_Comm_rank(local, &local_rank) != MPI_SUCCESS) {
      throw CommError(where("MPI_Comm_split_type", rank()) + "cannot tell the ranks on this node");
    }
    MPI_Comm_free(&local);
    device_ = local_rank;
  }
  // Agree on whether every rank has its GPU before any rank waits in NCCL's init for peers.
  const int visible = cuda_device_count();
  std::string problem;
  if (device_ >= visible) {
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
  check_cuda(cudaSetDevice(device_), "cudaSetDevice");

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

  // A blocking (not cudaStreamNonBlocking) stream: see the class comment.
  check_cuda(cudaStreamCreate(&handles_->stream), "cudaStreamCreate");
  check_nccl(ncclCommInitRank(&handles_->comm, size(), id, rank()), "ncclCommInitRank");
}

NcclCommunicator::~NcclCommunicator() = default;

void NcclCommunicator::check_cuda(int rc, const char* call) const {
  if (rc != cudaSuccess) {
    throw CommError(where(call, rank()) + cudaGetErrorString(static_cast<cudaError_t>(rc)));
  }
}

void NcclCommunicator::check_nccl(int rc, const char* call) const {
  if (rc == ncclSuccess) return;
  std::string message = where(call, rank()) + ncclGetErrorString(static_cast<ncclResult_t>(rc));
  if (handles_->comm) {
    const char* detail = ncclGetLastError(handles_->comm);
    if (detail && *detail) message += std::string(" (") + detail + ")";
  }
  throw CommError(message);
}

void NcclCommunicator::synchronize(const char* op) const {
  check_cuda(cudaStreamSynchronize(handles_->stream), op);
  ncclResult_t async = ncclSuccess;
  check_nccl(ncclCommGetAsyncError(handles_->comm, &async), "ncclCommGetAsyncError");
  check_nccl(async, op);
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
  DeviceGuard guard(device_, rank());
  check_nccl(
      ncclAllReduce(tensor.data_ptr(), tensor.data_ptr(), tensor.numel(),
                    nccl_type(tensor.scalar_type()), nccl_op(op), handles_->comm, handles_->stream),
      "ncclAllReduce");
  synchronize("ncclAllReduce");
}

void NcclCommunicator::do_broadcast(torch::Tensor& tensor, int root) {
  DeviceGuard guard(device_, rank());
  check_nccl(ncclBroadcast(tensor.data_ptr(), tensor.data_ptr(), tensor.numel(),
                           nccl_type(tensor.scalar_type()), root, handles_->comm, handles_->stream),
             "ncclBroadcast");
  synchronize("ncclBroadcast");
}

void NcclCommunicator::do_all_gather(const torch::Tensor& input, torch::Tensor& output) {
  DeviceGuard guard(device_, rank());
  // NCCL lays rank r's buffer at output + r * count: exactly the stacked layout.
  check_nccl(ncclAllGather(input.data_ptr(), output.data_ptr(), input.numel(),
                           nccl_type(input.scalar_type()), handles_->comm, handles_->stream),
             "ncclAllGather");
  synchronize("ncclAllGather");
}

void NcclCommunicator::do_all_to_all(const torch::Tensor& send,
                                     const std::vector<int64_t>& send_counts,
                                     const std::vector<int64_t>& recv_counts,
                                     torch::Tensor& output) {
  int64_t row = 1;
  for (int64_t d = 1; d < send.dim(); ++d) row *= send.size(d);
  const int64_t row_bytes = row * send.element_size();
  const ncclDataType_t type = nccl_type(send.scalar_type());

  DeviceGuard guard(device_, rank());
  // Grouped so NCCL schedules all sends and receives together instead of deadlocking on
  // the first blocking pair; zero-row peers get no call on either side. The group is closed
  // even when enqueueing fails, so the communicator stays usable for the error report.
  check_nccl(ncclGroupStart(), "ncclGroupStart");
  ncclResult_t first_error = ncclSuccess;
  const char* failed_call = nullptr;
  auto enqueue = [&](ncclResult_t rc, const char* call) {
    if (rc != ncclSuccess && !failed_call) {
      first_error = rc;
      failed_call = call;
    }
  };
  int64_t send_offset = 0;
  int64_t recv_offset = 0;
  for (int q = 0; q < size(); ++q) {
    if (recv_counts[q] * row > 0) {
      enqueue(ncclRecv(bytes(output) + recv_offset * row_bytes, recv_counts[q] * row, type, q,
                       handles_->comm, handles_->stream),
              "ncclRecv");
    }
    if (send_counts[q] * row > 0) {
      enqueue(ncclSend(bytes(send) + send_offset * row_bytes, send_counts[q] * row, type, q,
                       handles_->comm, handles_->stream),
              "ncclSend");
    }
    send_offset += send_counts[q];
    recv_offset += recv_counts[q];
  }
  const ncclResult_t end = ncclGroupEnd();
  if (failed_call) check_nccl(first_error, failed_call);
  check_nccl(end, "ncclGroupEnd");
  synchronize("ncclSend/ncclRecv");
}

void NcclCommunicator::do_barrier() {
  // Operations are synchronous, so once the stream is idle a host barrier is a full one.
  DeviceGuard guard(device_, rank());
  synchronize("barrier");
  control_.barrier();
}

}  // namespace hrere::comm
