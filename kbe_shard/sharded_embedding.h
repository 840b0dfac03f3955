#pragma once
// A float32 embedding table of N rows x D, row-sharded over the ranks of a Communicator:
// row e lives on rank e mod P as local row e / P. Each rank holds its rows and their
// optimizer state (~1/P of the table); batches fetch the rows they need and send the rows'
// gradients back to the owners, which apply a row-wise (lazy) update.
//
// Row e starts as init_std * N(0, 1) drawn from (seed, e) alone (counter-based), so the
// initial table is the same for every P. Shards are saved one file per rank, holding the
// global ids of their rows; a table saved by P ranks loads into any P'.
//
// Rows, gradients and optimizer state live on the options' device; the bookkeeping of which
// rows go where (ids, owners, counts) stays on the host, so a step needs no copy back from
// the device to plan its exchanges. The collectives therefore carry host tensors (row ids)
// and device tensors (rows, gradients): the communicator must accept both.
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "comm/communicator.h"
#include "kbe_shard/row_optimizer.h"

namespace hrere::kbe {

struct EmbeddingOptions {
  std::int64_t num_rows = 0;
  std::int64_t dim = 0;
  double init_std = 1e-3;
  std::uint64_t seed = 0;
  OptimizerOptions optimizer;
  torch::Device device = torch::kCPU;  // of the rows and their optimizer state
  // false: for evaluation only; rows are left undrawn (assign them) and no optimizer state
  // is allocated (an update is a logic error).
  bool trainable = true;
};

// Which rank owns which row.
struct RowOwnership {
  std::int64_t num_rows = 0;
  int rank = 0;
  int size = 1;

  std::int64_t local_rows() const { return (num_rows - rank + size - 1) / size; }
  // Whether this rank owns global id `id`, and its local row if it does.
  bool owns(std::int64_t id) const { return id % size == rank; }
  std::int64_t local_row(std::int64_t id) const { return id / size; }
  // Global ids of this rank's rows, in local order (int64 [local_rows], on the host).
  torch::Tensor global_ids() const;
  // Of int64 global ids on the host: the positions of those this rank owns, and their local rows.
  struct Owned {
    torch::Tensor positions;
    torch::Tensor local_rows;
  };
  Owned owned(const torch::Tensor& ids) const;
};

// The initial rows of `ownership`'s shard: row e = init_std * N(0, 1) keyed by (seed, e),
// drawn on the host (the same on every device) and moved to the options' device.
torch::Tensor initial_rows(const EmbeddingOptions& options, const RowOwnership& ownership);

// Rows exchanged for an optimizer step: distinct local row indices and their summed gradients,
// on the table's device.
struct RowGradients {
  torch::Tensor rows;  // int64 [n]
  torch::Tensor grad;  // float [n, D]
  bool all = false;    // rows are 0 .. local_rows - 1 in order: the update runs in place
};

// One rank's part of the table, without communication: its rows, their optimizer state, and
// their files. A test can hold the shards of several virtual ranks in one process.
class EmbeddingShard {
 public:
  EmbeddingShard(const EmbeddingOptions& options, int rank, int size);

  const EmbeddingOptions& options() const { return options_; }
  const RowOwnership& ownership() const { return ownership_; }
  torch::Tensor& table() { return table_; }  // [local_rows, D]
  const torch::Tensor& table() const { return table_; }
  RowOptimizer& optimizer() { return optimizer_; }

  void apply(const RowGradients& gradients);
  // Keeps this shard's rows of a full [N, D] table on any device (optimizer state untouched).
  void assign(const torch::Tensor& full);
  // Replaces the rows with `rows` [local_rows, D] on any device (optimizer state untouched);
  // an evaluation-only table shares `rows` where it can instead of copying them.
  void assign_local(const torch::Tensor& rows);

  // Writes `path` atomically: global ids, rows, optimizer state, and attributes naming the
  // shape, optimizer and (rank, size).
  void save(const std::string& path) const;
  // Replaces rows and optimizer state with this shard's rows from the files `paths` (all
  // shards of one save, any number); every owned row must occur exactly once. A InputError
  // names the file when shape or optimizer do not match or rows are missing.
  void load(const std::vector<std::string>& paths);

 private:
  EmbeddingOptions options_;
  RowOwnership ownership_;
  torch::Tensor table_;
  RowOptimizer optimizer_;
};

// "<dir>/<name>.<rank>-of-<size>.h5"
std::string shard_path(const std::string& dir, const std::string& name, int rank, int size);
// The files of one save under `dir` (any size), found from the file of rank 0; InputError if
// there is none or one is missing.
std::vector<std::string> find_shard_files(const std::string& dir, const std::string& name);

class ShardedEmbedding {
 public:
  ShardedEmbedding(comm::Communicator& comm, const EmbeddingOptions& options);

  comm::Communicator& comm() { return comm_; }
  EmbeddingShard& shard() { return shard_; }
  const EmbeddingShard& shard() const { return shard_; }
  std::int64_t num_rows() const { return shard_.options().num_rows; }
  std::int64_t dim() const { return shard_.options().dim; }

  // Collective. Rows for int64 `ids` (any shape; every id in [0, N)): shape ids.sizes() + [D],
  // on the table's device. Ids are planned on the host: pass host ids to avoid a copy back.
  // With grad mode on, the result comes from a leaf holding each distinct row once, so
  // autograd accumulates one gradient per distinct row; the next exchange_gradients() sends
  // it to the owner. Under torch::NoGradGuard nothing is kept.
  torch::Tensor lookup(const torch::Tensor& ids);

  // Adds a gradient for local rows [begin, begin + grad.size(0)), or for the local rows
  // `rows` (int64, distinct, any device), computed on this rank (e.g. the 1-vs-all candidate
  // gradient of this rank's shard); joins the next exchange_gradients().
  void add_local_gradient(std::int64_t begin, const torch::Tensor& grad);
  void add_local_gradient(const torch::Tensor& rows, const torch::Tensor& grad);

  // Collective. Returns every lookup's row gradients to their owners and sums them with the
  // local gradients, per row; clears the pending lookups. With local gradients the result's
  // `grad` is a buffer that the next step's add_local_gradient overwrites.
  RowGradients exchange_gradients();
  // Collective: exchange_gradients() and the optimizer update of the rows received.
  void step() { shard_.apply(exchange_gradients()); }
  // Drops pending lookups and local gradients (no communication).
  void discard_gradients();

  // Collective. The full [N, D] table on every rank (for tests; N x D memory on every rank).
  torch::Tensor gather_full();
  // Collective. The full [N, D] table on rank 0 (for export); an undefined tensor elsewhere,
  // so only rank 0 needs N x D memory.
  torch::Tensor gather_to_root();

  // Collective. Each rank writes shard_path(dir, name, rank, P); `dir` must exist.
  void save(const std::string& dir, const std::string& name) const;
  // Collective. Loads the shards saved under `dir` by any number of ranks.
  void load(const std::string& dir, const std::string& name);

  // Seconds spent in all-to-all exchanges so far (lookups and gradients).
  double exchange_seconds() const { return exchange_seconds_; }
  // Bytes this rank sent to other ranks in those exchanges (ids, rows, gradients).
  std::int64_t exchange_bytes() const { return exchange_bytes_; }

 private:
  struct PendingLookup {
    std::vector<std::int64_t> send_counts;  // rows requested from each rank
    torch::Tensor order;                    // position of each distinct id in the request (device)
    torch::Tensor served_rows;              // local rows this rank served, in arrival order (host)
    torch::Tensor served_on_device;         // the same on the device
    torch::Tensor leaf;                     // distinct rows, requires grad
  };
  torch::Tensor timed_all_to_all(const torch::Tensor& send, const std::vector<std::int64_t>& counts,
                                 std::vector<std::int64_t>* recv_counts = nullptr);

  comm::Communicator& comm_;
  EmbeddingShard shard_;
  std::vector<PendingLookup> pending_;
  // Whether add_local_gradient was called since the last exchange.
  bool has_local_grad_ = false;
  // [local_rows, D], kept between steps: reallocating a table-sized buffer every step costs
  // page faults comparable to the scoring itself at small D.
  torch::Tensor local_grad_;
  torch::Tensor& local_grad();
  double exchange_seconds_ = 0;
  std::int64_t exchange_bytes_ = 0;
};

}  // namespace hrere::kbe
