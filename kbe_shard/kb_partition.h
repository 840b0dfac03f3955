#pragma once
// What one rank reads of a KB store (data_pipeline/kb_store.h) for pretraining and
// evaluation, so that host memory and reading time per rank fall as 1/P
// (docs/DISTRIBUTED.md, "The KB over ranks"):
//   - rank r of P reads the r-th of P contiguous near-equal row blocks of every split, in
//     slices of kSliceRows, and checks their ids; a bad triple is the same InputError on
//     every rank (the first bad row of the first split that has one);
//   - the candidate entities (those in a triple of any split) are found from the blocks and
//     a reduction of a byte per entity;
//   - it keeps its block of the train split; each epoch visits the whole split in the order
//     of a permutation computed row by row (EpochBatches), so the global batches, and so the
//     run, do not depend on P;
//   - the filter of a filtered ranking holds only the known triples that answer one of the
//     evaluated queries and whose answer the rank owns (link_prediction.h ranks each
//     candidate on its owner): found in the blocks and sent to their owners.
// No rank reads the entity names.
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "comm/communicator.h"
#include "core/random.h"
#include "data_pipeline/kb_store.h"
#include "kbe_shard/link_prediction.h"
#include "kbe_shard/row_block.h"

namespace hrere::kbe {

class KbPartition {
 public:
  // Collective. Opens the store, checks every triple and finds the candidates; keeps this
  // rank's block of the train split when `keep_train`. An InputError (the same on every
  // rank) for a store without entities, relations or train triples, or with ids out of range.
  KbPartition(comm::Communicator& comm, const std::string& path, bool keep_train);

  const data::KbStore& store() const { return store_; }
  std::int64_t entities() const { return entities_; }
  std::int64_t relations() const { return relations_; }
  std::int64_t size(const std::string& split) const;  // rows of the split; 0 if absent
  // int64 ids of the entities in any split's triples, ascending.
  const torch::Tensor& candidates() const { return candidates_; }

  // This rank's block of the train split: its rows and their triples (M x 3 row-major).
  RowBlock train_block() const { return train_block_; }
  const std::vector<std::int32_t>& train_triples() const { return train_triples_; }

  // The triples of `split` an evaluation ranks: all of them, or (0 < max_triples < rows) a
  // subset of max_triples rows drawn without replacement from `seed`, in the split's order.
  // Every rank reads the same ones. Not collective.
  std::vector<std::int32_t> evaluation_triples(const std::string& split, std::int64_t max_triples,
                                               std::uint64_t seed) const;

  // Collective (every rank passes the same triples). The known triples of every split that
  // answer one of the queries of `evaluated` with an answer this rank owns (entity e lives on
  // rank e mod P): all a filtered ranking of `evaluated` on this rank leaves out.
  FilterIndex filter_for(const std::vector<std::int32_t>& evaluated) const;

 private:
  // Calls visit(first_row, triples) for the slices of rows [block.begin, block.end).
  template <class Visit>
  void for_each_slice(const std::string& split, RowBlock block, Visit&& visit) const;
  void scan(bool keep_train);

  comm::Communicator& comm_;
  data::KbStore store_;
  std::int64_t entities_ = 0;
  std::int64_t relations_ = 0;
  torch::Tensor candidates_;
  RowBlock train_block_;
  std::vector<std::int32_t> train_triples_;
};

// One epoch's global batches as they fall on this rank: the epoch visits train rows in the
// order of IndexPermutation(M, key); global batch b is the rows whose positions lie in
// [b * batch_size, (b + 1) * batch_size), and this rank trains on those in its block. 4 bytes
// per row of the block, whatever M.
class EpochBatches {
 public:
  EpochBatches(RowBlock block, std::int64_t train_rows, std::int64_t batch_size, std::uint64_t key);
  std::int64_t batches() const { return static_cast<std::int64_t>(first_.size()) - 1; }
  // Rows of global batch `batch` (their triples' positions in this rank's block, int32) and
  // the number of triples the global batch has on all ranks.
  torch::Tensor local_rows(std::int64_t batch) const;
  std::int64_t global_size(std::int64_t batch) const;
  // The position in the epoch of a row of this rank's block.
  std::uint64_t position(std::int64_t local_row) const {
    return permutation_(static_cast<std::uint64_t>(block_.begin + local_row));
  }

 private:
  RowBlock block_;
  std::int64_t train_rows_;
  std::int64_t batch_size_;
  core::IndexPermutation permutation_;
  std::vector<std::int32_t> rows_;   // block rows grouped by batch, ascending within a batch
  std::vector<std::int64_t> first_;  // batch b's rows are rows_[first_[b], first_[b + 1])
};

}  // namespace hrere::kbe
