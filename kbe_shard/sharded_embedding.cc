#include "kbe_shard/sharded_embedding.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <chrono>
#include <filesystem>

#include "comm/device.h"
#include "core/atomic_output.h"
#include "core/errors.h"
#include "core/random.h"
#include "core/stopwatch.h"
#include "kbe_shard/tensor_io.h"

namespace hrere::kbe {
namespace {

const std::string kShardFormat = "hrere-kbe-shard";
constexpr std::int64_t kShardVersion = 2;  // 2: checksummed, as the stores
// Rows read per HDF5 call when loading shards, bounding the staging memory.
constexpr std::int64_t kLoadBlockRows = 1 << 16;

std::vector<std::int64_t> to_vector(const torch::Tensor& tensor) {
  const torch::Tensor values = tensor.to(torch::kInt64).contiguous();
  return {values.data_ptr<std::int64_t>(), values.data_ptr<std::int64_t>() + values.numel()};
}

}  // namespace

// Normals keyed by (seed, e, index of the pair of coordinates).
torch::Tensor initial_rows(const EmbeddingOptions& options, const RowOwnership& ownership) {
  const std::int64_t dim = options.dim;
  torch::Tensor table = torch::empty({ownership.local_rows(), dim});
  float* data = table.data_ptr<float>();
  const float scale = static_cast<float>(options.init_std);
  at::parallel_for(0, ownership.local_rows(), 1024, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t local = begin; local < end; ++local) {
      const std::int64_t row = local * ownership.size + ownership.rank;
      const std::uint64_t row_key = core::mix(options.seed, static_cast<std::uint64_t>(row));
      float* out = data + local * dim;
      for (std::int64_t j = 0; j < dim; j += 2) {
        float second = 0;
        core::normal_pair(core::mix(row_key, static_cast<std::uint64_t>(j)), out + j, &second);
        out[j] *= scale;
        if (j + 1 < dim) out[j + 1] = second * scale;
      }
    }
  });
  return table.to(options.device);
}

torch::Tensor RowOwnership::global_ids() const {
  return torch::arange(local_rows(), torch::kInt64) * size + rank;
}

RowOwnership::Owned RowOwnership::owned(const torch::Tensor& ids) const {
  const torch::Tensor positions = ids.remainder(size).eq(rank).nonzero().squeeze(1);
  return {positions, ids.index_select(0, positions).div(size, "floor")};
}

EmbeddingShard::EmbeddingShard(const EmbeddingOptions& options, int rank, int size)
    : options_(options),
      ownership_{options.num_rows, rank, size},
      table_(options.trainable ? initial_rows(options, ownership_)
                               : torch::empty({ownership_.local_rows(), options.dim},
                                              torch::TensorOptions().device(options.device))),
      optimizer_(options.optimizer, options.trainable ? ownership_.local_rows() : 0, options.dim,
                 options.device) {
  if (options.num_rows < 0 || options.dim <= 0) {
    throw std::invalid_argument("EmbeddingShard: bad shape " + std::to_string(options.num_rows) +
                                " x " + std::to_string(options.dim));
  }
}

void EmbeddingShard::apply(const RowGradients& gradients) {
  if (!options_.trainable)
    throw std::logic_error("EmbeddingShard: an evaluation-only table was updated");
  if (gradients.all) {
    optimizer_.update_all(table_, gradients.grad);
  } else {
    optimizer_.update(table_, gradients.rows, gradients.grad);
  }
}

void EmbeddingShard::assign(const torch::Tensor& full) {
  if (full.dim() != 2 || full.size(0) != options_.num_rows || full.size(1) != options_.dim) {
    throw std::invalid_argument("EmbeddingShard::assign: expected a [" +
                                std::to_string(options_.num_rows) + ", " +
                                std::to_string(options_.dim) + "] table");
  }
  assign_local(full.index_select(0, ownership_.global_ids().to(full.device())));
}

void EmbeddingShard::assign_local(const torch::Tensor& rows) {
  if (!rows.sizes().equals(table_.sizes())) {
    throw std::invalid_argument("EmbeddingShard::assign_local: expected [" +
                                std::to_string(table_.size(0)) + ", " +
                                std::to_string(options_.dim) + "] rows");
  }
  torch::NoGradGuard no_grad;
  if (!options_.trainable) {  // take the rows over: evaluation holds one copy of the shard
    table_ = rows.to(options_.device, torch::kFloat).contiguous();
    return;
  }
  table_.copy_(rows);
}

void EmbeddingShard::save(const std::string& path) const {
  core::AtomicOutput output(path);
  {
    data::Hdf5File file = data::Hdf5File::create(output.temp_path());
    data::write_schema(file, kShardFormat, kShardVersion);
    file.set_attribute("num_rows", options_.num_rows);
    file.set_attribute("dim", options_.dim);
    file.set_attribute("rank", static_cast<std::int64_t>(ownership_.rank));
    file.set_attribute("size", static_cast<std::int64_t>(ownership_.size));
    file.set_attribute("optimizer", std::string(core::name_of(options_.optimizer.kind)));
    write_table(file, "ids", ownership_.global_ids());
    write_table(file, "rows", table_);
    for (const auto& [name, tensor] : optimizer_.state())
      write_table(file, "state/" + name, tensor);
    file.close();
  }
  output.commit();
}

void EmbeddingShard::load(const std::vector<std::string>& paths) {
  torch::NoGradGuard no_grad;
  const std::int64_t size = ownership_.size;
  torch::Tensor found = torch::zeros({ownership_.local_rows()}, torch::kInt64);
  for (const std::string& path : paths) {
    const data::Hdf5File file = data::Hdf5File::open(path);
    data::require_schema(file, kShardFormat, kShardVersion);
    const std::int64_t num_rows = require_int_attribute(file, "num_rows");
    const std::int64_t dim = require_int_attribute(file, "dim");
    if (num_rows != options_.num_rows || dim != options_.dim) {
      throw InputError(path + ": table of " + std::to_string(num_rows) + " x " +
                       std::to_string(dim) + ", expected " + std::to_string(options_.num_rows) +
                       " x " + std::to_string(options_.dim));
    }
    const std::string optimizer = file.string_attribute("optimizer").value_or("");
    if (optimizer != core::name_of(options_.optimizer.kind)) {
      throw InputError(path + ": optimizer state is for '" + optimizer + "', this run uses '" +
                       core::name_of(options_.optimizer.kind) + "'");
    }
    const std::int64_t stored = static_cast<std::int64_t>(file.dims("ids").at(0));
    for (std::int64_t start = 0; start < stored; start += kLoadBlockRows) {
      const std::int64_t count = std::min(kLoadBlockRows, stored - start);
      const torch::Tensor ids = read_tensor_rows(file, "ids", torch::kLong, {}, start, count);
      if (count > 0 &&
          (ids.min().item<std::int64_t>() < 0 || ids.max().item<std::int64_t>() >= num_rows)) {
        throw InputError(path + ":/ids: row id out of range [0, " + std::to_string(num_rows) + ")");
      }
      // Not a structured binding: C++17 does not let the lambda below capture one (clang
      // refuses it, gcc allows it).
      const RowOwnership::Owned owned = ownership_.owned(ids);
      const torch::Tensor& mine = owned.positions;
      const torch::Tensor& local = owned.local_rows;
      const torch::Tensor local_on_device = local.to(options_.device);
      const auto keep = [&](torch::Tensor target, const std::string& name) {
        const torch::Tensor rows = read_tensor_rows(file, name, target.scalar_type(),
                                                    target.sizes().slice(1), start, count);
        target.index_copy_(0, local_on_device, rows.index_select(0, mine).to(options_.device));
      };
      keep(table_, "rows");
      for (const auto& [name, tensor] : optimizer_.state()) keep(tensor, "state/" + name);
      found.index_add_(0, local, torch::ones_like(local));
    }
  }
  const torch::Tensor bad = found.ne(1).nonzero();
  if (bad.numel() > 0) {
    const std::int64_t local = bad[0][0].item<std::int64_t>();
    throw InputError("embedding shards " + (paths.empty() ? std::string("(none)") : paths.front()) +
                     " ...: row " + std::to_string(local * size + ownership_.rank) + " occurs " +
                     std::to_string(found[local].item<std::int64_t>()) + " times (expected once)");
  }
}

std::string shard_path(const std::string& dir, const std::string& name, int rank, int size) {
  return dir + "/" + name + "." + std::to_string(rank) + "-of-" + std::to_string(size) + ".h5";
}

std::vector<std::string> find_shard_files(const std::string& dir, const std::string& name) {
  const std::string prefix = name + ".0-of-";
  std::vector<int> sizes;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    const std::string file = entry.path().filename().string();
    if (file.rfind(prefix, 0) != 0 || file.size() < prefix.size() + 4 ||
        file.substr(file.size() - 3) != ".h5") {
      continue;
    }
    const std::string digits = file.substr(prefix.size(), file.size() - prefix.size() - 3);
    if (!digits.empty() && digits.find_first_not_of("0123456789") == std::string::npos) {
      sizes.push_back(std::stoi(digits));
    }
  }
  if (error) throw InputError(dir + ": cannot list (" + error.message() + ")");
  if (sizes.size() != 1) {
    throw InputError(dir + ": expected one set of " + name + " shard files (" + prefix +
                     "<P>.h5), found " + std::to_string(sizes.size()));
  }
  std::vector<std::string> paths;
  for (int rank = 0; rank < sizes[0]; ++rank) {
    paths.push_back(shard_path(dir, name, rank, sizes[0]));
    if (!std::filesystem::exists(paths.back())) {
      throw InputError(paths.back() + ": shard file missing");
    }
  }
  return paths;
}

ShardedEmbedding::ShardedEmbedding(comm::Communicator& comm, const EmbeddingOptions& options)
    : comm_(comm), shard_(options, comm.rank(), comm.size()) {}

torch::Tensor ShardedEmbedding::timed_all_to_all(const torch::Tensor& send,
                                                 const std::vector<std::int64_t>& counts,
                                                 std::vector<std::int64_t>* recv_counts) {
  if (comm_.size() == 1) {
    if (recv_counts != nullptr) *recv_counts = counts;
    return send;
  }
  const std::int64_t row_bytes =
      send.size(0) == 0 ? 0 : static_cast<std::int64_t>(send.nbytes()) / send.size(0);
  for (int r = 0; r < comm_.size(); ++r) {
    if (r != comm_.rank()) exchange_bytes_ += counts[r] * row_bytes;
  }
  core::ScopedTimer timer(exchange_seconds_);
  torch::Tensor received = comm_.all_to_all(send.contiguous(), counts, recv_counts);
  return received;
}

torch::Tensor ShardedEmbedding::lookup(const torch::Tensor& ids) {
  const int size = comm_.size();
  const torch::Device device = shard_.options().device;
  const torch::Tensor flat = ids.reshape({-1}).to(torch::kCPU, torch::kInt64);
  if (flat.numel() > 0 &&
      (flat.min().item<std::int64_t>() < 0 || flat.max().item<std::int64_t>() >= num_rows())) {
    throw std::out_of_range("ShardedEmbedding::lookup: id out of range [0, " +
                            std::to_string(num_rows()) + ")");
  }
  // Each distinct id is requested once, grouped by owner (a stable sort keeps ids ascending).
  const auto [distinct, inverse] = at::_unique(flat, /*sorted=*/true, /*return_inverse=*/true);
  const torch::Tensor owner = distinct.remainder(size);
  const torch::Tensor order = std::get<1>(torch::sort(owner, c10::optional<bool>(true), /*dim=*/0));
  PendingLookup lookup;
  lookup.send_counts = to_vector(torch::bincount(owner, {}, size));
  const torch::Tensor request = distinct.index_select(0, order).div(size, "floor");
  std::vector<std::int64_t> recv_counts;
  lookup.served_rows = timed_all_to_all(request, lookup.send_counts, &recv_counts);
  // The indices the device needs, in one copy.
  const std::int64_t served = lookup.served_rows.numel();
  const torch::Tensor indices =
      comm::to_device(torch::cat({lookup.served_rows, order, inverse}), device);
  lookup.served_on_device = indices.narrow(0, 0, served);
  lookup.order = indices.narrow(0, served, order.numel());
  const torch::Tensor inverse_on_device =
      indices.narrow(0, served + order.numel(), inverse.numel());
  const torch::Tensor reply = shard_.table().index_select(0, lookup.served_on_device);
  const torch::Tensor arrived = timed_all_to_all(reply, recv_counts);
  torch::Tensor rows = torch::empty_like(arrived).index_copy_(0, lookup.order, arrived);

  std::vector<std::int64_t> shape = ids.sizes().vec();
  shape.push_back(dim());
  if (!torch::GradMode::is_enabled()) return rows.index_select(0, inverse_on_device).reshape(shape);
  lookup.leaf = rows.requires_grad_(true);
  pending_.push_back(lookup);
  return lookup.leaf.index_select(0, inverse_on_device).reshape(shape);
}

torch::Tensor& ShardedEmbedding::local_grad() {
  if (!local_grad_.defined()) {
    local_grad_ = torch::zeros_like(shard_.table());
  } else if (!has_local_grad_) {
    local_grad_.zero_();
  }
  has_local_grad_ = true;
  return local_grad_;
}

void ShardedEmbedding::add_local_gradient(std::int64_t begin, const torch::Tensor& grad) {
  local_grad().narrow(0, begin, grad.size(0)).add_(grad);
}

void ShardedEmbedding::add_local_gradient(const torch::Tensor& rows, const torch::Tensor& grad) {
  local_grad().index_add_(0, comm::to_device(rows, shard_.options().device), grad);
}

RowGradients ShardedEmbedding::exchange_gradients() {
  torch::NoGradGuard no_grad;
  const torch::TensorOptions on_device = shard_.table().options();
  std::vector<torch::Tensor> rows;
  std::vector<torch::Tensor> rows_on_device;
  std::vector<torch::Tensor> grads;
  for (const PendingLookup& lookup : pending_) {
    const torch::Tensor grad =
        lookup.leaf.grad().defined() ? lookup.leaf.grad() : torch::zeros_like(lookup.leaf);
    rows.push_back(lookup.served_rows);
    rows_on_device.push_back(lookup.served_on_device);
    grads.push_back(timed_all_to_all(grad.index_select(0, lookup.order), lookup.send_counts));
  }
  pending_.clear();
  if (has_local_grad_) {
    // Local gradients (1-vs-all) cover the shard: update every row in place, with the
    // looked-up rows' gradients added.
    RowGradients dense{
        torch::arange(shard_.ownership().local_rows(), on_device.dtype(torch::kInt64)), local_grad_,
        /*all=*/true};
    for (std::size_t i = 0; i < rows.size(); ++i) {
      dense.grad.index_add_(0, rows_on_device[i], grads[i]);
    }
    has_local_grad_ = false;
    return dense;
  }
  // Rows served several times are merged on the host, where their ids are.
  const torch::Tensor all_rows = rows.empty() ? torch::empty({0}, torch::kInt64) : torch::cat(rows);
  const torch::Tensor all_grads =
      rows.empty() ? torch::empty({0, dim()}, on_device) : torch::cat(grads);
  const auto [distinct, inverse] = at::_unique(all_rows, /*sorted=*/true, /*return_inverse=*/true);
  const torch::Tensor indices =
      comm::to_device(torch::cat({distinct, inverse}), on_device.device());
  return {indices.narrow(0, 0, distinct.numel()),
          torch::zeros({distinct.size(0), dim()}, on_device)
              .index_add_(0, indices.narrow(0, distinct.numel(), inverse.numel()), all_grads)};
}

void ShardedEmbedding::discard_gradients() {
  pending_.clear();
  has_local_grad_ = false;
}

torch::Tensor ShardedEmbedding::gather_full() {
  const int size = comm_.size();
  // One rank: no collective, so a host-only communicator serves any device.
  if (size == 1) return shard_.table().clone();
  const std::int64_t max_rows = (num_rows() + size - 1) / size;
  torch::Tensor padded =
      torch::zeros({std::max<std::int64_t>(max_rows, 1), dim()}, shard_.table().options());
  padded.narrow(0, 0, shard_.table().size(0)).copy_(shard_.table());
  // gathered[r][l] is row l * P + r.
  const torch::Tensor gathered = comm_.all_gather(padded);
  return gathered.transpose(0, 1).reshape({-1, dim()}).narrow(0, 0, num_rows()).contiguous();
}

torch::Tensor ShardedEmbedding::gather_to_root() {
  const int size = comm_.size();
  if (size == 1) return shard_.table().clone();
  std::vector<std::int64_t> counts(size, 0);
  counts[0] = shard_.table().size(0);
  std::vector<std::int64_t> recv_counts;
  // Every shard goes to rank 0 only, ordered by source rank.
  const torch::Tensor received = comm_.all_to_all(shard_.table(), counts, &recv_counts);
  if (comm_.rank() != 0) return {};
  std::vector<torch::Tensor> ids;
  for (int r = 0; r < size; ++r)
    ids.push_back(torch::arange(recv_counts[r], torch::kInt64) * size + r);
  return torch::empty({num_rows(), dim()}, received.options())
      .index_copy_(0, comm::to_device(torch::cat(ids), received.device()), received);
}

void ShardedEmbedding::save(const std::string& dir, const std::string& name) const {
  shard_.save(shard_path(dir, name, comm_.rank(), comm_.size()));
  comm_.barrier();
}

void ShardedEmbedding::load(const std::string& dir, const std::string& name) {
  shard_.load(find_shard_files(dir, name));
  discard_gradients();
}

}  // namespace hrere::kbe
