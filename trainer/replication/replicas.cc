#include "trainer/replication/replicas.h"

#include <sstream>

#include "core/hash.h"
#include "core/stopwatch.h"

namespace hrere::train {

Replicas::Replicas(comm::Communicator& comm, std::vector<NamedTensor> state,
                   std::int64_t bucket_bytes)
    : comm_(comm), state_(std::move(state)) {
  std::int64_t bytes = 0;
  for (auto it = state_.rbegin(); it != state_.rend(); ++it) {
    const torch::Tensor& p = it->tensor;
    if (!p.requires_grad()) continue;
    const std::int64_t size = p.numel() * static_cast<std::int64_t>(p.element_size());
    const bool fits = !buckets_.empty() && bytes + size <= bucket_bytes &&
                      buckets_.back().parameters.front().scalar_type() == p.scalar_type();
    if (!fits) {
      buckets_.emplace_back();
      bytes = 0;
    }
    buckets_.back().parameters.push_back(p);
    bytes += size;
  }
  for (std::size_t b = 0; b < buckets_.size(); ++b) {
    Bucket& bucket = buckets_[b];
    std::int64_t elements = 0;
    for (std::size_t i = 0; i < bucket.parameters.size(); ++i) {
      bucket.offsets.push_back(elements);
      elements += bucket.parameters[i].numel();
    }
    bucket.flat =
        torch::empty({elements}, bucket.parameters.front().options().requires_grad(false));
    bucket.filled.assign(bucket.parameters.size(), false);
    if (comm_.size() == 1) continue;
    for (std::size_t i = 0; i < bucket.parameters.size(); ++i) {
      // The hook sees the parameter's whole gradient of this backward (autograd sums every
      // path into a leaf before accumulating it) and leaves it unchanged.
      const unsigned handle =
          bucket.parameters[i].register_hook([this, b, i](const torch::Tensor& grad) {
            if (overlapping_) on_gradient(b, i, grad);
          });
      hooks_.emplace_back(bucket.parameters[i], handle);
    }
  }
}

void Replicas::broadcast_from_rank0() {
  if (comm_.size() == 1) return;
  torch::NoGradGuard no_grad;
  for (NamedTensor& named : state_) {
    torch::Tensor value = named.tensor.detach().contiguous();
    comm_.broadcast(value, 0);
    if (value.data_ptr() != named.tensor.data_ptr()) named.tensor.detach().copy_(value);
  }
}

Replicas::~Replicas() {
  for (auto& [parameter, handle] : hooks_) parameter.remove_hook(handle);
}

void Replicas::start_overlap() {
  if (comm_.size() == 1) return;
  for (Bucket& bucket : buckets_) {
    bucket.filled.assign(bucket.parameters.size(), false);
    bucket.missing = bucket.parameters.size();
  }
  next_bucket_ = 0;
  overlapping_ = true;
}

void Replicas::on_gradient(std::size_t b, std::size_t i, const torch::Tensor& grad) {
  core::ScopedTimer timer(all_reduce_seconds_);
  Bucket& bucket = buckets_[b];
  torch::NoGradGuard no_grad;
  bucket.flat.narrow(0, bucket.offsets[i], grad.numel()).copy_(grad.reshape({-1}));
  if (!bucket.filled[i]) {
    bucket.filled[i] = true;
    --bucket.missing;
  }
  start_ready_buckets();
  // MPI moves non-blocking collectives along only inside MPI calls.
  for (std::size_t k = 0; k < next_bucket_; ++k) {
    if (buckets_[k].pending) buckets_[k].pending->poll();
  }
}

void Replicas::start_ready_buckets() {
  while (next_bucket_ < buckets_.size() && buckets_[next_bucket_].missing == 0) {
    start_bucket(buckets_[next_bucket_++]);
    ++started_in_backward_;
  }
}

void Replicas::start_bucket(Bucket& bucket) {
  bucket.pending = comm_.start_all_reduce(bucket.flat);
}

void Replicas::sum_gradients() {
  if (comm_.size() == 1) return;
  core::ScopedTimer timer(all_reduce_seconds_);
  torch::NoGradGuard no_grad;
  const bool overlapped = overlapping_;
  overlapping_ = false;
  for (std::size_t b = overlapped ? next_bucket_ : 0; b < buckets_.size(); ++b) {
    // Parameters without a gradient this backward (unused, or frozen after the bucket was
    // built) count as zero; without overlap every gradient is copied here.
    Bucket& bucket = buckets_[b];
    for (std::size_t i = 0; i < bucket.parameters.size(); ++i) {
      if (overlapped && bucket.filled[i]) continue;
      const torch::Tensor& p = bucket.parameters[i];
      torch::Tensor slot = bucket.flat.narrow(0, bucket.offsets[i], p.numel());
      if (p.grad().defined()) {
        slot.copy_(p.grad().reshape({-1}));
      } else {
        slot.zero_();
      }
    }
    start_bucket(bucket);
  }
  next_bucket_ = buckets_.size();
  for (Bucket& bucket : buckets_) {
    bucket.pending->wait();
    bucket.pending.reset();
    for (std::size_t i = 0; i < bucket.parameters.size(); ++i) {
      torch::Tensor& p = bucket.parameters[i];
      const torch::Tensor summed = bucket.flat.narrow(0, bucket.offsets[i], p.numel()).view_as(p);
      if (p.grad().defined()) {
        p.mutable_grad().copy_(summed);
      } else {
        p.mutable_grad() = summed.clone();
      }
    }
  }
}

std::uint64_t tensor_hash(const torch::Tensor& tensor) {
  const torch::Tensor bytes = tensor.detach().cpu().contiguous();  // read on the host
  core::Fnv1a hash;
  hash.add_words(bytes.data_ptr(), static_cast<std::size_t>(bytes.numel()) * bytes.element_size());
  return hash.value();
}

void Replicas::verify_identical(std::int64_t step) {
  if (comm_.size() == 1) return;
  const auto n = static_cast<std::int64_t>(state_.size());
  torch::Tensor hashes = torch::empty({n}, torch::kInt64);
  for (std::int64_t i = 0; i < n; ++i) {
    const std::uint64_t h = tensor_hash(state_[static_cast<std::size_t>(i)].tensor);
    std::memcpy(hashes.data_ptr<std::int64_t>() + i, &h, 8);
  }
  const torch::Tensor all = comm_.all_gather(hashes);  // [P, n]
  const torch::Tensor differs = all.ne(all[0].unsqueeze(0));
  if (!differs.any().item<bool>()) return;
  std::ostringstream message;
  message << "replica checksum at step " << step << ": the replicas are no longer identical";
  for (int r = 1; r < comm_.size(); ++r) {
    const torch::Tensor which = differs[r].nonzero().reshape({-1});
    if (which.numel() == 0) continue;
    message << "; rank " << r << " differs from rank 0 in "
            << state_[static_cast<std::size_t>(which[0].item<std::int64_t>())].name;
    if (which.numel() > 1) message << " and " << which.numel() - 1 << " more";
  }
  message << " (a nondeterministic kernel, a bad node, or a rank that skipped a step)";
  throw ReplicaDivergence(message.str());
}

}  // namespace hrere::train
