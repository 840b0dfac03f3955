#include "data_pipeline/loader.h"

#include <algorithm>
#include <random>
#include <unordered_map>

#include "core/errors.h"
#include "core/random.h"

namespace hrere::data {
namespace {

struct EpochPlan {
  std::vector<std::int64_t> order;                           // bags in emission order
  std::vector<std::pair<std::int64_t, std::int64_t>> reads;  // (first row, rows) in read order
};

// `chunks` are the served chunks of a split of `split_bags` bags, `num_bags` of them in all.
EpochPlan plan_epoch(std::vector<std::int64_t> chunks, std::int64_t split_bags,
                     std::int64_t num_bags, std::int64_t chunk_bags, const LoaderOptions& o,
                     std::int64_t epoch) {
  if (o.shuffle) {
    std::mt19937_64 rng(
        core::splitmix64(o.seed ^ core::splitmix64(static_cast<std::uint64_t>(epoch))));
    core::shuffle(chunks.begin(), chunks.end(), rng);
  }
  const std::int64_t lo = num_bags * o.rank / o.world_size;
  const std::int64_t hi = num_bags * (o.rank + 1) / o.world_size;
  EpochPlan plan;
  plan.order.reserve(hi - lo);
  std::int64_t position = 0;  // of the chunk's first bag in the epoch sequence
  for (std::int64_t k : chunks) {
    const std::int64_t first_row = k * chunk_bags;
    const std::int64_t rows = std::min(chunk_bags, split_bags - first_row);
    const std::int64_t a = std::max(lo, position), b = std::min(hi, position + rows);
    if (a < b) {
      plan.reads.emplace_back(first_row + (a - position), b - a);
      for (std::int64_t g = a; g < b; ++g) plan.order.push_back(first_row + (g - position));
    }
    position += rows;
    if (position >= hi) break;
  }
  if (o.shuffle) {
    std::mt19937_64 rng(core::splitmix64(
        o.seed ^
        core::splitmix64(static_cast<std::uint64_t>(epoch) ^
                         core::splitmix64(0x5eed0000ULL + static_cast<std::uint64_t>(o.rank)))));
    const std::int64_t n = static_cast<std::int64_t>(plan.order.size());
    const std::int64_t window =
        o.shuffle_window > 0 ? o.shuffle_window : std::max<std::int64_t>(n, 1);
    for (std::int64_t start = 0; start < n; start += window) {
      core::shuffle(plan.order.begin() + start, plan.order.begin() + std::min(n, start + window),
                    rng);
    }
  }
  return plan;
}

torch::Tensor to_long(const std::vector<std::int64_t>& values) {
  return torch::tensor(values, torch::kInt64);
}

}  // namespace

std::pair<std::vector<std::int64_t>, std::vector<std::int64_t>> split_chunks(
    std::int64_t num_bags, std::int64_t chunk_bags, double fraction, std::uint64_t seed) {
  const std::int64_t num_chunks = (num_bags + chunk_bags - 1) / chunk_bags;
  std::vector<std::int64_t> order(num_chunks);
  for (std::int64_t k = 0; k < num_chunks; ++k) order[k] = k;
  std::int64_t held = static_cast<std::int64_t>(fraction * static_cast<double>(num_chunks));
  if (fraction > 0) held = std::max<std::int64_t>(held, 1);
  if (held >= num_chunks && fraction > 0) {
    throw InputError("cannot hold out " + std::to_string(fraction) + " of " +
                     std::to_string(num_chunks) + " store chunks and keep any for training");
  }
  std::mt19937_64 rng(core::splitmix64(seed ^ 0xde75e7ULL));
  core::shuffle(order.begin(), order.end(), rng);
  std::vector<std::int64_t> kept(order.begin() + held, order.end());
  std::vector<std::int64_t> held_out(order.begin(), order.begin() + held);
  std::sort(kept.begin(), kept.end());
  std::sort(held_out.begin(), held_out.end());
  return {kept, held_out};
}

Batch make_batch(const std::vector<BagRef>& bags) {
  if (bags.empty()) throw std::invalid_argument("make_batch: no bags");
  const std::int64_t B = static_cast<std::int64_t>(bags.size());
  const std::int64_t T = bags.front().block->T, L = bags.front().block->L;
  auto options = torch::TensorOptions().dtype(torch::kInt64);
  Batch batch;
  batch.words = torch::empty({B, T, L}, options);
  batch.lengths = torch::empty({B, T}, options);
  batch.head_positions = torch::empty({B, T, L}, options);
  batch.tail_positions = torch::empty({B, T, L}, options);
  batch.head_spans = torch::empty({B, T, 2}, options);
  batch.tail_spans = torch::empty({B, T, 2}, options);
  std::vector<std::int64_t> heads(B), tails(B), labels(B), indices(B);
  std::int64_t* words = batch.words.data_ptr<std::int64_t>();
  std::int64_t* lengths = batch.lengths.data_ptr<std::int64_t>();
  std::int64_t* head_positions = batch.head_positions.data_ptr<std::int64_t>();
  std::int64_t* tail_positions = batch.tail_positions.data_ptr<std::int64_t>();
  std::int64_t* head_spans = batch.head_spans.data_ptr<std::int64_t>();
  std::int64_t* tail_spans = batch.tail_spans.data_ptr<std::int64_t>();
  // Relative position of token i to span [begin, end): 0 inside, clipped to [-L, L], + L.
  auto relative = [L](std::int64_t i, std::int64_t begin, std::int64_t end) {
    const std::int64_t d = i < begin ? i - begin : (i >= end ? i - (end - 1) : 0);
    return std::clamp(d, -L, L) + L;
  };
  for (std::int64_t b = 0; b < B; ++b) {
    const BagArrays& block = *bags[b].block;
    if (block.T != T || block.L != L) throw std::invalid_argument("make_batch: mixed bag shapes");
    const std::int64_t row = bags[b].row;
    heads[b] = block.heads[row];
    tails[b] = block.tails[row];
    labels[b] = block.labels[row];
    indices[b] = bags[b].index;
    for (std::int64_t t = 0; t < T; ++t) {
      const std::int64_t src = row * T + t, dst = b * T + t;
      lengths[dst] = block.lengths[src];
      const std::int64_t hb = block.head_spans[src * 2], he = block.head_spans[src * 2 + 1];
      const std::int64_t tb = block.tail_spans[src * 2], te = block.tail_spans[src * 2 + 1];
      head_spans[dst * 2] = hb;
      head_spans[dst * 2 + 1] = he;
      tail_spans[dst * 2] = tb;
      tail_spans[dst * 2 + 1] = te;
      for (std::int64_t i = 0; i < L; ++i) {
        words[dst * L + i] = block.words[src * L + i];
        head_positions[dst * L + i] = relative(i, hb, he);
        tail_positions[dst * L + i] = relative(i, tb, te);
      }
    }
  }
  batch.heads = to_long(heads);
  batch.tails = to_long(tails);
  batch.labels = to_long(labels);
  batch.indices = to_long(indices);
  return batch;
}

BagLoader::BagLoader(std::shared_ptr<const BagStore> store, LoaderOptions options)
    : store_(std::move(store)), options_(std::move(options)) {
  if (options_.batch_size < 1) throw InputError("loader: batch size must be at least 1");
  if (options_.world_size < 1 || options_.rank < 0 || options_.rank >= options_.world_size) {
    throw std::invalid_argument("loader: rank " + std::to_string(options_.rank) +
                                " outside a world of " + std::to_string(options_.world_size));
  }
  if (options_.prefetch_batches < 1)
    throw InputError("loader: prefetch_batches must be at least 1");
  if (options_.shuffle_window < 0) throw InputError("loader: shuffle_window must not be negative");
  split_bags_ = store_->size(options_.split);
  chunk_bags_ = std::max<std::int64_t>(1, store_->chunk_bags(options_.split));
  const std::int64_t num_chunks = (split_bags_ + chunk_bags_ - 1) / chunk_bags_;
  chunks_ = options_.chunks;
  if (chunks_.empty()) {
    for (std::int64_t k = 0; k < num_chunks; ++k) chunks_.push_back(k);
  }
  std::sort(chunks_.begin(), chunks_.end());
  for (std::size_t i = 0; i < chunks_.size(); ++i) {
    if (chunks_[i] < 0 || chunks_[i] >= num_chunks || (i > 0 && chunks_[i] == chunks_[i - 1])) {
      throw std::invalid_argument("loader: chunk " + std::to_string(chunks_[i]) +
                                  " is repeated or outside the split's " +
                                  std::to_string(num_chunks) + " chunks");
    }
    num_bags_ += std::min(chunk_bags_, split_bags_ - chunks_[i] * chunk_bags_);
  }
  if (batches_per_epoch() == 0) {
    throw InputError(store_->path() + ": split '" + options_.split + "' has " +
                     std::to_string(num_bags_) + " bags, too few for a batch of " +
                     std::to_string(options_.batch_size) + " on each of " +
                     std::to_string(options_.world_size) + " ranks");
  }
}

BagLoader::~BagLoader() { stop_producer(); }

std::int64_t BagLoader::share_size() const {
  const std::int64_t lo = num_bags_ * options_.rank / options_.world_size;
  const std::int64_t hi = num_bags_ * (options_.rank + 1) / options_.world_size;
  return hi - lo;
}

std::int64_t BagLoader::batches_per_epoch() const {
  if (options_.drop_last) {
    // The smallest share bounds every rank, so all ranks agree on the count.
    return (num_bags_ / options_.world_size) / options_.batch_size;
  }
  return (share_size() + options_.batch_size - 1) / options_.batch_size;
}

std::vector<std::int64_t> BagLoader::epoch_order(std::int64_t epoch) const {
  return plan_epoch(chunks_, split_bags_, num_bags_, chunk_bags_, options_, epoch).order;
}

std::optional<Batch> BagLoader::next() {
  if (!producer_.joinable()) start_producer();
  Item item;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return !queue_.empty(); });
    item = std::move(queue_.front());
    queue_.pop_front();
  }
  changed_.notify_all();
  if (auto* error = std::get_if<std::exception_ptr>(&item)) {
    stop_producer();
    std::rethrow_exception(*error);
  }
  if (std::holds_alternative<EndOfEpoch>(item)) {
    ++state_.epoch;
    state_.batch = 0;
    return std::nullopt;
  }
  ++state_.batch;
  return std::move(std::get<Batch>(item));
}

void BagLoader::restore(const LoaderState& state) {
  if (state.epoch < 0 || state.batch < 0 || state.batch > batches_per_epoch()) {
    throw InputError("loader: cannot restore to epoch " + std::to_string(state.epoch) + ", batch " +
                     std::to_string(state.batch) + " (an epoch has " +
                     std::to_string(batches_per_epoch()) + " batches)");
  }
  stop_producer();
  state_ = state;
}

void BagLoader::start_producer() {
  stopping_ = false;
  producer_ = std::thread([this, from = state_] { produce(from); });
}

void BagLoader::stop_producer() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  if (producer_.joinable()) producer_.join();
  queue_.clear();
}

bool BagLoader::push(Item item) {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [&] {
    return stopping_ || static_cast<int>(queue_.size()) < options_.prefetch_batches;
  });
  if (stopping_) return false;
  queue_.push_back(std::move(item));
  lock.unlock();
  changed_.notify_all();
  return true;
}

void BagLoader::produce(LoaderState from) {
  try {
    for (std::int64_t epoch = from.epoch, first = from.batch;; ++epoch, first = 0) {
      produce_epoch(epoch, first);
      if (!push(EndOfEpoch{})) return;
    }
  } catch (...) {
    push(std::current_exception());
  }
}

void BagLoader::produce_epoch(std::int64_t epoch, std::int64_t first_batch) {
  const EpochPlan plan = plan_epoch(chunks_, split_bags_, num_bags_, chunk_bags_, options_, epoch);
  const std::int64_t B = options_.batch_size;
  const std::int64_t num_batches = batches_per_epoch();
  const std::int64_t first = first_batch * B;
  const std::int64_t end = std::min<std::int64_t>(num_batches * B, plan.order.size());
  // Only bags still to be returned are kept when their chunk is read.
  std::unordered_map<std::int64_t, std::int64_t> wanted;
  wanted.reserve(end - first);
  for (std::int64_t p = first; p < end; ++p) wanted.emplace(plan.order[p], p);

  struct Pending {
    std::shared_ptr<const BagArrays> block;
    std::int64_t row;
  };
  std::unordered_map<std::int64_t, Pending> pending;
  std::size_t next_read = 0;
  for (std::int64_t b = first_batch; b < num_batches; ++b) {
    std::vector<BagRef> refs;
    std::vector<std::shared_ptr<const BagArrays>> keep_alive;
    const std::int64_t stop = std::min(end, (b + 1) * B);
    for (std::int64_t p = b * B; p < stop; ++p) {
      const std::int64_t bag = plan.order[p];
      auto it = pending.find(bag);
      while (it == pending.end()) {
        const auto [row0, rows] = plan.reads.at(next_read++);
        auto block = std::make_shared<const BagArrays>(store_->read(options_.split, row0, rows));
        for (std::int64_t r = 0; r < rows; ++r) {
          if (wanted.count(row0 + r)) pending.emplace(row0 + r, Pending{block, r});
        }
        it = pending.find(bag);
      }
      refs.push_back({it->second.block.get(), it->second.row, bag});
      keep_alive.push_back(std::move(it->second.block));
      pending.erase(it);
    }
    if (!push(make_batch(refs))) return;
  }
}

}  // namespace hrere::data
