#include "comm/communicator.h"

#include <limits>
#include <numeric>
#include <sstream>

#include "comm/liveness.h"
#include "core/hash.h"

namespace hrere::comm {
namespace {

// Stands in for a shape signature when a rank's own arguments are invalid, so its peers throw
// too instead of waiting for data that never comes.
constexpr int64_t kInvalidSignature = std::numeric_limits<int64_t>::min();

std::string describe(const torch::Tensor& tensor) {
  std::ostringstream out;
  const char* name = dtype_name(tensor.scalar_type());
  out << (name ? name : c10::toString(tensor.scalar_type())) << " " << tensor.sizes();
  return out.str();
}

// FNV-1a over dtype and sizes[first_dim:], so ranks can compare shapes with one integer each.
int64_t shape_signature(const torch::Tensor& tensor, int64_t first_dim) {
  core::Fnv1a hash;
  hash.add(static_cast<uint64_t>(tensor.scalar_type()));
  hash.add(static_cast<uint64_t>(tensor.dim() - first_dim));
  for (int64_t d = first_dim; d < tensor.dim(); ++d)
    hash.add(static_cast<uint64_t>(tensor.size(d)));
  const auto signature = static_cast<int64_t>(hash.value());
  return signature == kInvalidSignature ? signature + 1 : signature;
}

std::string counts_error(const torch::Tensor& send, const std::vector<int64_t>& counts, int size) {
  if (send.dim() < 1) return "send tensor must have at least one dimension (rows)";
  if (static_cast<int64_t>(counts.size()) != size) {
    return "send_counts has " + std::to_string(counts.size()) +
           " entries, expected one per rank (" + std::to_string(size) + ")";
  }
  int64_t total = 0;
  for (size_t q = 0; q < counts.size(); ++q) {
    if (counts[q] < 0) {
      return "send_counts[" + std::to_string(q) + "] is negative (" + std::to_string(counts[q]) +
             ")";
    }
    total += counts[q];
  }
  if (total != send.size(0)) {
    return "send_counts sum to " + std::to_string(total) + " but the send tensor has " +
           std::to_string(send.size(0)) + " rows";
  }
  return "";
}

// After a signature exchange: every rank throws if any rank was invalid or shapes disagree.
void raise_disagreement(const std::string& context, const std::string& own_error,
                        const std::vector<int64_t>& signatures, int64_t own_signature,
                        const std::string& what, const std::string& own_description) {
  if (!own_error.empty()) throw std::invalid_argument(context + own_error);
  for (size_t r = 0; r < signatures.size(); ++r) {
    if (signatures[r] == kInvalidSignature) {
      throw std::invalid_argument(context + "rank " + std::to_string(r) +
                                  " passed invalid arguments (its own exception says which)");
    }
  }
  for (size_t r = 0; r < signatures.size(); ++r) {
    if (signatures[r] != own_signature) {
      throw std::invalid_argument(context + "ranks disagree on " + what + ": this rank passed " +
                                  own_description + ", rank " + std::to_string(r) +
                                  " passed something else");
    }
  }
}

}  // namespace

const char* dtype_name(torch::ScalarType type) {
  switch (type) {
    case torch::kFloat: return "float32";
    case torch::kDouble: return "float64";
    case torch::kInt: return "int32";
    case torch::kLong: return "int64";
    case torch::kByte: return "uint8";
    case torch::kChar: return "int8";
    default: return nullptr;
  }
}

const char* to_string(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum: return "sum";
    case ReduceOp::Max: return "max";
    case ReduceOp::Min: return "min";
  }
  return "unknown";
}

std::string Communicator::context(const char* op) const {
  return std::string("hrere::comm ") + backend() + " " + op + ": ";
}

std::string Communicator::tensor_error(const torch::Tensor& tensor) const {
  if (!tensor.defined()) return "tensor is undefined";
  if (tensor.layout() != torch::kStrided) return "expects a dense (strided) tensor";
  if (!dtype_name(tensor.scalar_type())) {
    return std::string("dtype ") + c10::toString(tensor.scalar_type()) +
           " is not supported (float32, float64, int32, int64, uint8, int8)";
  }
  std::string device = device_error(tensor);
  if (!device.empty()) return device;
  if (!tensor.is_contiguous()) {
    std::ostringstream out;
    out << "tensor must be contiguous (call .contiguous() first); got sizes " << tensor.sizes()
        << " strides " << tensor.strides();
    return out.str();
  }
  return "";
}

void Communicator::check_tensor(const torch::Tensor& tensor, const char* op) const {
  std::string error = tensor_error(tensor);
  if (!error.empty()) throw std::invalid_argument(context(op) + error);
}

void Communicator::all_reduce(torch::Tensor& tensor, ReduceOp op) {
  const BlockedInCollective blocked;
  check_tensor(tensor, "all_reduce");
  if (tensor.numel() > 0) do_all_reduce(tensor, op);
}

namespace {
struct CompletedReduce : PendingReduce {
  void wait() override {}
};
}  // namespace

std::unique_ptr<PendingReduce> Communicator::start_all_reduce(torch::Tensor& tensor, ReduceOp op) {
  check_tensor(tensor, "all_reduce");
  if (tensor.numel() == 0) return std::make_unique<CompletedReduce>();
  return do_start_all_reduce(tensor, op);
}

std::unique_ptr<PendingReduce> Communicator::do_start_all_reduce(torch::Tensor& tensor,
                                                                 ReduceOp op) {
  do_all_reduce(tensor, op);
  return std::make_unique<CompletedReduce>();
}

void Communicator::broadcast(torch::Tensor& tensor, int root) {
  const BlockedInCollective blocked;
  check_tensor(tensor, "broadcast");
  if (root < 0 || root >= size()) {
    throw std::invalid_argument(context("broadcast") + "root " + std::to_string(root) +
                                " is not a rank (size " + std::to_string(size()) + ")");
  }
  if (tensor.numel() > 0) do_broadcast(tensor, root);
}

torch::Tensor Communicator::all_gather(const torch::Tensor& input) {
  const BlockedInCollective blocked;
  const std::string error = tensor_error(input);
  const int64_t signature = error.empty() ? shape_signature(input, 0) : kInvalidSignature;
  const auto signatures = exchange_host(std::vector<int64_t>(size(), signature));
  raise_disagreement(context("all_gather"), error, signatures, signature, "shape or dtype",
                     error.empty() ? describe(input) : "");

  std::vector<int64_t> sizes = input.sizes().vec();
  sizes.insert(sizes.begin(), size());
  torch::Tensor output = torch::empty(sizes, input.options());
  if (input.numel() > 0) do_all_gather(input, output);
  return output;
}

torch::Tensor Communicator::all_to_all(const torch::Tensor& send,
                                       const std::vector<int64_t>& send_counts,
                                       std::vector<int64_t>* recv_counts) {
  const BlockedInCollective blocked;
  const int p = size();
  std::string error = tensor_error(send);
  if (error.empty()) error = counts_error(send, send_counts, p);
  const int64_t signature = error.empty() ? shape_signature(send, 1) : kInvalidSignature;

  // One round trip carries both the counts and the row signature for every pair of ranks.
  std::vector<int64_t> values(2 * p);
  for (int q = 0; q < p; ++q) {
    values[2 * q] = error.empty() ? send_counts[q] : 0;
    values[2 * q + 1] = signature;
  }
  const auto received = exchange_host(values);
  std::vector<int64_t> counts(p), signatures(p);
  for (int q = 0; q < p; ++q) {
    counts[q] = received[2 * q];
    signatures[q] = received[2 * q + 1];
  }
  raise_disagreement(context("all_to_all"), error, signatures, signature, "row shape or dtype",
                     error.empty() ? describe(send) : "");

  std::vector<int64_t> sizes = send.sizes().vec();
  sizes[0] = std::accumulate(counts.begin(), counts.end(), int64_t{0});
  torch::Tensor output = torch::empty(sizes, send.options());
  do_all_to_all(send, send_counts, counts, output);
  if (recv_counts) *recv_counts = std::move(counts);
  return output;
}

void Communicator::barrier() {
  const BlockedInCollective blocked;
  do_barrier();
}

std::int64_t rank0_value(Communicator& comm, std::int64_t value) {
  if (comm.size() == 1) return value;
  torch::Tensor shared = torch::full({1}, value, torch::kInt64);
  comm.broadcast(shared, 0);
  return shared.item<std::int64_t>();
}

std::vector<std::int64_t> min_over_ranks(Communicator& comm,
                                         const std::vector<std::int64_t>& values) {
  torch::Tensor reduced = torch::tensor(values, torch::kInt64);
  comm.all_reduce(reduced, ReduceOp::Min);
  return {reduced.data_ptr<std::int64_t>(), reduced.data_ptr<std::int64_t>() + reduced.numel()};
}

}  // namespace hrere::comm
