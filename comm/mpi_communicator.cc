#include "comm/mpi_communicator.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "comm/liveness.h"

namespace hrere::comm {
namespace {

std::string mpi_error_text(int rc) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(rc, text, &length) != MPI_SUCCESS) return "MPI error " + std::to_string(rc);
  return std::string(text, length);
}

void check_mpi(int rc, const char* call) {
  if (rc != MPI_SUCCESS) throw CommError(std::string(call) + " failed: " + mpi_error_text(rc));
}

MPI_Datatype mpi_type(torch::ScalarType type) {
  switch (type) {
    case torch::kFloat: return MPI_FLOAT;
    case torch::kDouble: return MPI_DOUBLE;
    case torch::kInt: return MPI_INT32_T;
    case torch::kLong: return MPI_INT64_T;
    case torch::kByte: return MPI_UINT8_T;
    case torch::kChar: return MPI_INT8_T;
    default: break;
  }
  // Communicator::check_tensor admits only the types above.
  throw std::logic_error(std::string("no MPI datatype for ") + c10::toString(type));
}

MPI_Op mpi_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum: return MPI_SUM;
    case ReduceOp::Max: return MPI_MAX;
    case ReduceOp::Min: return MPI_MIN;
  }
  throw std::invalid_argument("unknown ReduceOp " + std::to_string(static_cast<int>(op)));
}

// Frees a derived datatype however the scope is left.
struct TypeGuard {
  MPI_Datatype type = MPI_DATATYPE_NULL;
  ~TypeGuard() {
    if (type != MPI_DATATYPE_NULL) MPI_Type_free(&type);
  }
};

char* bytes(const torch::Tensor& tensor) { return static_cast<char*>(tensor.data_ptr()); }

// Calls `send(offset, count)` over [0, n) in pieces of at most `max` elements: MPI counts are
// int.
template <typename Send>
void in_pieces(int64_t n, int64_t max, Send send) {
  for (int64_t offset = 0; offset < n; offset += max) {
    send(offset, static_cast<int>(std::min(max, n - offset)));
  }
}

}  // namespace

MpiRuntime::MpiRuntime() {
  int initialized = 0;
  check_mpi(MPI_Initialized(&initialized), "MPI_Initialized");
  if (initialized) return;
  int provided = 0;
  check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  owns_mpi_ = true;
  if (provided < MPI_THREAD_FUNNELED) {
    MPI_Finalize();
    throw CommError("MPI_Init_thread: the MPI library offers no MPI_THREAD_FUNNELED support");
  }
}

MpiRuntime::~MpiRuntime() {
  if (!owns_mpi_) return;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

MpiCommunicator::MpiCommunicator(MPI_Comm comm, int64_t max_message_elements)
    : max_elements_(max_message_elements) {
  if (max_message_elements < 1 || max_message_elements > kMaxMessageElements) {
    throw std::invalid_argument("MpiCommunicator: max_message_elements must be in 1.." +
                                std::to_string(kMaxMessageElements) + ", got " +
                                std::to_string(max_message_elements));
  }
  int initialized = 0;
  check_mpi(MPI_Initialized(&initialized), "MPI_Initialized");
  if (!initialized) {
    throw std::logic_error("MpiCommunicator: MPI is not initialised (create an MpiRuntime first)");
  }
  check_mpi(MPI_Comm_dup(comm, &comm_), "MPI_Comm_dup");
  check(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  check(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
  check(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
}

MpiCommunicator::~MpiCommunicator() {
  // After MPI_Finalize the handle is gone with everything else; freeing it would be an error.
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized && comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
}

void MpiCommunicator::check(int rc, const char* call) const {
  if (rc != MPI_SUCCESS) {
    throw CommError(std::string(call) + " failed on rank " + std::to_string(rank_) + " of " +
                    std::to_string(size_) + ": " + mpi_error_text(rc));
  }
}

std::string MpiCommunicator::device_error(const torch::Tensor& tensor) const {
  if (tensor.device().is_cpu()) return "";
  return "expects a CPU tensor, got one on " + tensor.device().str();
}

std::vector<int64_t> MpiCommunicator::exchange_host(const std::vector<int64_t>& values) {
  if (values.empty() || values.size() % size_ != 0) {
    throw std::logic_error("MpiCommunicator::exchange_host: " + std::to_string(values.size()) +
                           " values do not split evenly over " + std::to_string(size_) + " ranks");
  }
  const int per_rank = static_cast<int>(values.size() / size_);
  std::vector<int64_t> received(values.size());
  check(MPI_Alltoall(values.data(), per_rank, MPI_INT64_T, received.data(), per_rank, MPI_INT64_T,
                     comm_),
        "MPI_Alltoall");
  return received;
}

void MpiCommunicator::do_all_reduce(torch::Tensor& tensor, ReduceOp op) {
  const MPI_Datatype type = mpi_type(tensor.scalar_type());
  const int64_t element = tensor.element_size();
  in_pieces(tensor.numel(), max_elements_, [&](int64_t offset, int count) {
    check(MPI_Allreduce(MPI_IN_PLACE, bytes(tensor) + offset * element, count, type, mpi_op(op),
                        comm_),
          "MPI_Allreduce");
  });
}

namespace {
// Requests of one non-blocking all-reduce. MPI_Test drives Open MPI's progress engine, so
// poll() between backward operations moves the reduction along while gradients are computed.
class MpiPendingReduce : public PendingReduce {
 public:
  explicit MpiPendingReduce(std::vector<MPI_Request> requests) : requests_(std::move(requests)) {}
  ~MpiPendingReduce() override {
    // Unwinding before wait(): the buffer is about to go away, so finish the transfer first.
    if (!requests_.empty())
      MPI_Waitall(static_cast<int>(requests_.size()), requests_.data(), MPI_STATUSES_IGNORE);
  }
  void poll() override {
    if (requests_.empty()) return;
    int done = 0;
    check_mpi(MPI_Testall(static_cast<int>(requests_.size()), requests_.data(), &done,
                          MPI_STATUSES_IGNORE),
              "MPI_Testall (MPI_Iallreduce)");
    if (done) requests_.clear();
  }
  void wait() override {
    if (requests_.empty()) return;
    const BlockedInCollective blocked;
    const int rc =
        MPI_Waitall(static_cast<int>(requests_.size()), requests_.data(), MPI_STATUSES_IGNORE);
    requests_.clear();
    check_mpi(rc, "MPI_Waitall (MPI_Iallreduce)");
  }

 private:
  std::vector<MPI_Request> requests_;
};
}  // namespace

std::unique_ptr<PendingReduce> MpiCommunicator::do_start_all_reduce(torch::Tensor& tensor,
                                                                    ReduceOp op) {
  const MPI_Datatype type = mpi_type(tensor.scalar_type());
  const int64_t n = tensor.numel();
  const int64_t element = tensor.element_size();
  std::vector<MPI_Request> requests;
  for (int64_t offset = 0; offset < n; offset += max_elements_) {
    const int count = static_cast<int>(std::min(max_elements_, n - offset));
    requests.push_back(MPI_REQUEST_NULL);
    const int rc = MPI_Iallreduce(MPI_IN_PLACE, bytes(tensor) + offset * element, count, type,
                                  mpi_op(op), comm_, &requests.back());
    if (rc != MPI_SUCCESS) {
      requests.pop_back();
      MpiPendingReduce started(std::move(requests));  // completes what did start
      check(rc, "MPI_Iallreduce");
    }
  }
  return std::make_unique<MpiPendingReduce>(std::move(requests));
}

void MpiCommunicator::do_broadcast(torch::Tensor& tensor, int root) {
  const MPI_Datatype type = mpi_type(tensor.scalar_type());
  const int64_t element = tensor.element_size();
  in_pieces(tensor.numel(), max_elements_, [&](int64_t offset, int count) {
    check(MPI_Bcast(bytes(tensor) + offset * element, count, type, root, comm_), "MPI_Bcast");
  });
}

void MpiCommunicator::do_all_gather(const torch::Tensor& input, torch::Tensor& output) {
  const MPI_Datatype type = mpi_type(input.scalar_type());
  const int64_t n = input.numel();
  const int64_t element = input.element_size();
  for (int64_t offset = 0; offset < n; offset += max_elements_) {
    const int count = static_cast<int>(std::min(max_elements_, n - offset));
    // One received "slot" is this chunk, with an extent of a whole rank's row of the output,
    // so rank r's chunk lands at output[r][offset:] without a staging buffer.
    TypeGuard chunk, slot;
    check(MPI_Type_contiguous(count, type, &chunk.type), "MPI_Type_contiguous");
    check(MPI_Type_create_resized(chunk.type, 0, static_cast<MPI_Aint>(n * element), &slot.type),
          "MPI_Type_create_resized");
    check(MPI_Type_commit(&slot.type), "MPI_Type_commit");
    check(MPI_Allgather(bytes(input) + offset * element, count, type,
                        bytes(output) + offset * element, 1, slot.type, comm_),
          "MPI_Allgather");
  }
}

void MpiCommunicator::do_all_to_all(const torch::Tensor& send,
                                    const std::vector<int64_t>& send_counts,
                                    const std::vector<int64_t>& recv_counts,
                                    torch::Tensor& output) {
  // Point-to-point rather than MPI_Alltoallv, whose int counts and displacements would cap the
  // whole buffer at INT_MAX elements; here only each message is capped, by chunking.
  const MPI_Datatype type = mpi_type(send.scalar_type());
  int64_t row = 1;
  for (int64_t d = 1; d < send.dim(); ++d) row *= send.size(d);
  const int64_t row_bytes = row * send.element_size();

  std::vector<MPI_Request> requests;
  auto post = [&](bool is_send, char* data, int64_t rows, int peer) {
    const int64_t n = rows * row;
    for (int64_t offset = 0; offset < n; offset += max_elements_) {
      const int count = static_cast<int>(std::min(max_elements_, n - offset));
      char* chunk = data + offset * send.element_size();
      requests.emplace_back();
      if (is_send) {
        check(MPI_Isend(chunk, count, type, peer, 0, comm_, &requests.back()), "MPI_Isend");
      } else {
        check(MPI_Irecv(chunk, count, type, peer, 0, comm_, &requests.back()), "MPI_Irecv");
      }
    }
  };

  // One transfer per peer over `base`'s consecutive blocks of counts[q] rows; returns where
  // this rank's own block starts (those rows are copied locally, not sent).
  auto post_all = [&](bool is_send, char* base, const std::vector<int64_t>& counts) {
    int64_t offset = 0, own = 0;
    for (int q = 0; q < size_; ++q) {
      if (q == rank_) {
        own = offset;
      } else {
        post(is_send, base + offset * row_bytes, counts[q], q);
      }
      offset += counts[q];
    }
    return own;
  };
  // Receives first, so arriving data finds its buffer instead of queueing as unexpected.
  const int64_t own_target = post_all(false, bytes(output), recv_counts);
  const int64_t own_source = post_all(true, bytes(send), send_counts);
  const int64_t own_bytes = send_counts[rank_] * row_bytes;
  if (own_bytes > 0) {
    std::memcpy(bytes(output) + own_target * row_bytes, bytes(send) + own_source * row_bytes,
                own_bytes);
  }
  check(MPI_Waitall(static_cast<int>(requests.size()), requests.data(), MPI_STATUSES_IGNORE),
        "MPI_Waitall");
}

void MpiCommunicator::do_barrier() { check(MPI_Barrier(comm_), "MPI_Barrier"); }

}  // namespace hrere::comm
