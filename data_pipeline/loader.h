#pragma once
// Streams a split of the bag store as tensor batches for one rank of P.
//
// Every epoch has one order of bags, derived from (seed, epoch) and identical on all ranks:
// the store's chunks (its unit of reading) are permuted, and rank r takes the r-th of P
// contiguous, near-equal shares of the resulting sequence, so shares are disjoint, together
// cover the epoch and are read chunk by chunk. Within its share a rank shuffles bags in
// windows of `shuffle_window` bags (a shuffle buffer) with a rank-specific stream. A prefetch
// thread reads and assembles batches ahead of the trainer. The position (epoch, batch) is
// the whole state: restoring it reproduces the batches that would have followed.
#include <torch/torch.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "data_pipeline/bag_store.h"

namespace hrere::data {

struct LoaderOptions {
  std::string split = "train";
  std::int64_t batch_size = 128;  // bags per batch on this rank
  bool shuffle = true;
  std::int64_t shuffle_window = 4096;  // bags shuffled together (0: the whole share)
  // Drop the incomplete last batch, so every rank takes the same number of steps. Without
  // it, ranks whose shares differ in size may see one batch more or fewer.
  bool drop_last = true;
  int prefetch_batches = 4;
  // Store chunks (units of chunk_bags bags) the loader serves; empty: all of the split. A
  // dev set held out of training is a set of chunks (see split_chunks).
  std::vector<std::int64_t> chunks;
  std::uint64_t seed = 2017;
  int rank = 0;
  int world_size = 1;
};

struct Batch {
  torch::Tensor words;           // int64 [B, T, L], 0 = padding
  torch::Tensor lengths;         // int64 [B, T]
  torch::Tensor head_positions;  // int64 [B, T, L]: distance to the head span clipped to
  torch::Tensor tail_positions;  //   [-L, L], shifted by L into [0, 2L]; 0 inside the span -> L
  torch::Tensor head_spans;      // int64 [B, T, 2], [begin, end)
  torch::Tensor tail_spans;      // int64 [B, T, 2]
  torch::Tensor heads;           // int64 [B] entity ids
  torch::Tensor tails;           // int64 [B]
  torch::Tensor labels;          // int64 [B] relation ids
  torch::Tensor indices;         // int64 [B] row of each bag in the split
  std::int64_t size() const { return heads.size(0); }
};

// One bag inside a block read from the store.
struct BagRef {
  const BagArrays* block = nullptr;
  std::int64_t row = 0;    // row within the block
  std::int64_t index = 0;  // row within the split
};

// Partitions the chunks of a split of `num_bags` bags into (kept, held out): a seeded
// random `fraction` of them (at least one when fraction > 0) is held out.
std::pair<std::vector<std::int64_t>, std::vector<std::int64_t>> split_chunks(
    std::int64_t num_bags, std::int64_t chunk_bags, double fraction, std::uint64_t seed);

// Assembles a batch (all bags must share T and L); evaluation uses it on whole blocks too.
Batch make_batch(const std::vector<BagRef>& bags);

struct LoaderState {
  std::int64_t epoch = 0;
  std::int64_t batch = 0;  // next batch of `epoch` to be returned
  bool operator==(const LoaderState& o) const { return epoch == o.epoch && batch == o.batch; }
};

class BagLoader {
 public:
  BagLoader(std::shared_ptr<const BagStore> store, LoaderOptions options);
  ~BagLoader();
  BagLoader(const BagLoader&) = delete;
  BagLoader& operator=(const BagLoader&) = delete;

  // Next batch of the current epoch, or nullopt once the epoch is over; the call after that
  // starts the next epoch.
  std::optional<Batch> next();

  LoaderState state() const { return state_; }
  void restore(const LoaderState& state);

  std::int64_t batches_per_epoch() const;
  // This rank's bags for `epoch`, in the order they are returned (before batching).
  std::vector<std::int64_t> epoch_order(std::int64_t epoch) const;
  const LoaderOptions& options() const { return options_; }

 private:
  struct EndOfEpoch {};
  using Item = std::variant<Batch, EndOfEpoch, std::exception_ptr>;

  std::int64_t share_size() const;
  void start_producer();
  void stop_producer();
  void produce(LoaderState from);
  void produce_epoch(std::int64_t epoch, std::int64_t first_batch);
  bool push(Item item);  // false when asked to stop

  std::shared_ptr<const BagStore> store_;
  LoaderOptions options_;
  std::int64_t split_bags_ = 0;  // bags in the split
  std::int64_t num_bags_ = 0;    // bags in the served chunks
  std::int64_t chunk_bags_ = 1;
  std::vector<std::int64_t> chunks_;  // served chunks in store order
  LoaderState state_;

  std::thread producer_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Item> queue_;
  bool stopping_ = false;
};

}  // namespace hrere::data
