#include "kbe_shard/kb_partition.h"

#include <torch/torch.h>

#include <algorithm>
#include <limits>
#include <random>

#include "core/errors.h"

namespace hrere::kbe {
namespace {

constexpr std::uint64_t kSubsetStream = 6;  // of the seed; 5: sampled evaluation candidates
constexpr std::int64_t kNoRow = std::numeric_limits<std::int64_t>::max();

// The first row of `triples` (M x 3) with an id out of range, or -1.
std::int64_t first_bad_row(const std::vector<std::int32_t>& triples, std::int64_t entities,
                           std::int64_t relations) {
  for (std::size_t i = 0; i + 2 < triples.size(); i += 3) {
    if (triples[i] < 0 || triples[i] >= entities || triples[i + 1] < 0 ||
        triples[i + 1] >= relations || triples[i + 2] < 0 || triples[i + 2] >= entities) {
      return static_cast<std::int64_t>(i / 3);
    }
  }
  return -1;
}

// The InputError for row `row` of `split`, whose triple `triple` has an id out of range.
[[noreturn]] void throw_bad_triple(const std::string& where, std::int64_t row,
                                   const std::vector<std::int32_t>& triple, std::int64_t entities,
                                   std::int64_t relations) {
  for (int column = 0; column < 3; ++column) {
    const std::int64_t id = triple[column];
    const std::int64_t limit = column == 1 ? relations : entities;
    if (id < 0 || id >= limit) {
      throw InputError(where + ": row " + std::to_string(row) + ": " +
                       (column == 0   ? "head"
                        : column == 1 ? "relation"
                                      : "tail") +
                       " id " + std::to_string(id) + " out of range [0, " + std::to_string(limit) +
                       ")");
    }
  }
  throw std::logic_error("throw_bad_triple: the triple is in range");
}

}  // namespace

KbPartition::KbPartition(comm::Communicator& comm, const std::string& path, bool keep_train)
    : comm_(comm),
      store_(data::KbStore::open(path)),
      entities_(store_.entity_count()),
      relations_(store_.relation_count()) {
  if (entities_ == 0 || relations_ == 0) {
    throw InputError(path + ": the KB has " + std::to_string(entities_) + " entities and " +
                     std::to_string(relations_) +
                     " relations; KB embeddings need at least one of each");
  }
  if (size("train") == 0) throw InputError(path + ": no train triples");
  train_block_ = row_block(size("train"), comm.rank(), comm.size());
  if (train_block_.size() > std::numeric_limits<std::int32_t>::max()) {
    throw InputError(path + ": " + std::to_string(train_block_.size()) +
                     " train triples on one rank; at most 2^31 - 1 are supported: use more ranks");
  }
  scan(keep_train);
}

std::int64_t KbPartition::size(const std::string& split) const {
  const std::vector<std::string>& splits = store_.splits();
  return std::find(splits.begin(), splits.end(), split) == splits.end() ? 0 : store_.size(split);
}

template <class Visit>
void KbPartition::for_each_slice(const std::string& split, RowBlock block, Visit&& visit) const {
  for (std::int64_t begin = block.begin; begin < block.end; begin += kSliceRows) {
    const std::int64_t count = std::min(kSliceRows, block.end - begin);
    visit(begin, store_.triples(split, begin, count));
  }
}

void KbPartition::scan(bool keep_train) {
  const std::vector<std::string>& splits = store_.splits();
  torch::Tensor in_kb = torch::zeros({entities_}, torch::kUInt8);
  std::uint8_t* mark = in_kb.data_ptr<std::uint8_t>();
  std::vector<std::int64_t> first_bad(splits.size(), kNoRow);
  for (std::size_t s = 0; s < splits.size(); ++s) {
    const bool train = splits[s] == "train";
    if (train && keep_train)
      train_triples_.reserve(static_cast<std::size_t>(3 * train_block_.size()));
    for_each_slice(splits[s], row_block(size(splits[s]), comm_.rank(), comm_.size()),
                   [&](std::int64_t first_row, const std::vector<std::int32_t>& triples) {
                     if (first_bad[s] != kNoRow) return;
                     const std::int64_t bad = first_bad_row(triples, entities_, relations_);
                     if (bad >= 0) {
                       first_bad[s] = first_row + bad;
                       return;
                     }
                     for (std::size_t i = 0; i + 2 < triples.size(); i += 3) {
                       mark[triples[i]] = mark[triples[i + 2]] = 1;
                     }
                     if (train && keep_train) {
                       train_triples_.insert(train_triples_.end(), triples.begin(), triples.end());
                     }
                   });
  }
  // Every rank raises the same error: the first bad row of the first split with one.
  const std::vector<std::int64_t> first_bad_anywhere = comm::min_over_ranks(comm_, first_bad);
  for (std::size_t s = 0; s < splits.size(); ++s) {
    const std::int64_t row = first_bad_anywhere[s];
    if (row != kNoRow) {
      throw_bad_triple(store_.path() + ":/triples/" + splits[s], row,
                       store_.triples(splits[s], row, 1), entities_, relations_);
    }
  }
  comm_.all_reduce(in_kb, comm::ReduceOp::Max);
  candidates_ = in_kb.nonzero().squeeze(1);
}

std::vector<std::int32_t> KbPartition::evaluation_triples(const std::string& split,
                                                          std::int64_t max_triples,
                                                          std::uint64_t seed) const {
  const std::int64_t rows = size(split);
  std::vector<std::int32_t> chosen_triples;
  if (max_triples <= 0 || max_triples >= rows) {
    chosen_triples.reserve(static_cast<std::size_t>(3 * rows));
    for_each_slice(split, {0, rows}, [&](std::int64_t, const std::vector<std::int32_t>& triples) {
      chosen_triples.insert(chosen_triples.end(), triples.begin(), triples.end());
    });
    return chosen_triples;
  }
  // The first max_triples of a seeded shuffle of the rows, in row order.
  std::vector<std::int64_t> order(static_cast<std::size_t>(rows));
  for (std::int64_t i = 0; i < rows; ++i) order[i] = i;
  std::mt19937_64 generator(core::mix(seed, kSubsetStream));
  core::shuffle(order.begin(), order.end(), generator);
  order.resize(static_cast<std::size_t>(max_triples));
  std::sort(order.begin(), order.end());
  chosen_triples.reserve(static_cast<std::size_t>(3 * max_triples));
  auto next = order.begin();
  for_each_slice(
      split, {0, rows}, [&](std::int64_t first_row, const std::vector<std::int32_t>& triples) {
        const std::int64_t end = first_row + static_cast<std::int64_t>(triples.size() / 3);
        for (; next != order.end() && *next < end; ++next) {
          const auto at = triples.begin() + 3 * (*next - first_row);
          chosen_triples.insert(chosen_triples.end(), at, at + 3);
        }
      });
  return chosen_triples;
}

FilterIndex KbPartition::filter_for(const std::vector<std::int32_t>& evaluated) const {
  const QueryKeys queries(evaluated);
  const int size = comm_.size();
  // Rows (head, relation, tail, answer kind) for each rank: the triple's tail answers a
  // (h, r, ?) query, or its head a (?, r, t) one, owned by that rank.
  constexpr std::int32_t kTail = 0, kHead = 1;
  std::vector<std::vector<std::int32_t>> to_rank(static_cast<std::size_t>(size));
  for (const std::string& split : store_.splits()) {
    for_each_slice(split, row_block(this->size(split), comm_.rank(), size),
                   [&](std::int64_t, const std::vector<std::int32_t>& triples) {
                     for (std::size_t i = 0; i + 2 < triples.size(); i += 3) {
                       const std::int32_t h = triples[i], r = triples[i + 1], t = triples[i + 2];
                       if (queries.asks_tail(h, r)) {
                         to_rank[t % size].insert(to_rank[t % size].end(), {h, r, t, kTail});
                       }
                       if (queries.asks_head(r, t)) {
                         to_rank[h % size].insert(to_rank[h % size].end(), {h, r, t, kHead});
                       }
                     }
                   });
  }
  std::vector<std::int32_t> send;
  std::vector<std::int64_t> counts;
  for (const std::vector<std::int32_t>& rows : to_rank) {
    send.insert(send.end(), rows.begin(), rows.end());
    counts.push_back(static_cast<std::int64_t>(rows.size() / 4));
  }
  const torch::Tensor sent =
      torch::from_blob(send.data(), {static_cast<std::int64_t>(send.size() / 4), 4}, torch::kInt);
  const torch::Tensor received = size > 1 ? comm_.all_to_all(sent, counts).contiguous() : sent;
  const std::int32_t* row = received.data_ptr<std::int32_t>();
  std::vector<std::int32_t> tail_answers, head_answers;
  for (std::int64_t i = 0; i < received.size(0); ++i, row += 4) {
    std::vector<std::int32_t>& answers = row[3] == kTail ? tail_answers : head_answers;
    answers.insert(answers.end(), row, row + 3);
  }
  FilterIndex filter;
  filter.add_tail_answers(tail_answers);
  filter.add_head_answers(head_answers);
  return filter;
}

EpochBatches::EpochBatches(RowBlock block, std::int64_t train_rows, std::int64_t batch_size,
                           std::uint64_t key)
    : block_(block),
      train_rows_(train_rows),
      batch_size_(batch_size),
      permutation_(static_cast<std::uint64_t>(train_rows), key) {
  const std::int64_t batches = (train_rows + batch_size - 1) / batch_size;
  first_.assign(static_cast<std::size_t>(batches + 1), 0);
  std::vector<std::uint32_t> batch_of(static_cast<std::size_t>(block.size()));
  for (std::int64_t row = 0; row < block.size(); ++row) {
    batch_of[row] =
        static_cast<std::uint32_t>(position(row) / static_cast<std::uint64_t>(batch_size));
    ++first_[batch_of[row] + 1];
  }
  for (std::int64_t b = 0; b < batches; ++b) first_[b + 1] += first_[b];
  rows_.resize(static_cast<std::size_t>(block.size()));
  std::vector<std::int64_t> next(first_.begin(), first_.end() - 1);
  for (std::int64_t row = 0; row < block.size(); ++row) {
    rows_[next[batch_of[row]]++] = static_cast<std::int32_t>(row);
  }
}

torch::Tensor EpochBatches::local_rows(std::int64_t batch) const {
  const std::int64_t first = first_.at(batch);
  return torch::from_blob(const_cast<std::int32_t*>(rows_.data()) + first,
                          {first_.at(batch + 1) - first}, torch::kInt)
      .clone();
}

std::int64_t EpochBatches::global_size(std::int64_t batch) const {
  return std::min(batch_size_, train_rows_ - batch * batch_size_);
}

}  // namespace hrere::kbe
