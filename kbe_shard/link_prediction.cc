#include "kbe_shard/link_prediction.h"

#include <torch/torch.h>

#include <algorithm>
#include <functional>
#include <unordered_map>

#include "comm/device.h"
#include "core/random.h"

namespace hrere::kbe {
namespace {

// Stream of the seed for sampled candidates (pretraining uses 1 to 4).
constexpr std::uint64_t kEvaluationStream = 5;

std::uint64_t pair_key(std::int64_t a, std::int64_t b) {
  return (static_cast<std::uint64_t>(a) << 32) | static_cast<std::uint32_t>(b);
}

RankingMetrics metrics_of(const torch::Tensor& ranks) {
  RankingMetrics metrics;
  metrics.count = ranks.numel();
  if (metrics.count == 0) return metrics;
  metrics.mrr = ranks.reciprocal().mean().item<double>();
  metrics.mr = ranks.mean().item<double>();
  metrics.hits1 = ranks.le(1).to(torch::kDouble).mean().item<double>();
  metrics.hits3 = ranks.le(3).to(torch::kDouble).mean().item<double>();
  metrics.hits10 = ranks.le(10).to(torch::kDouble).mean().item<double>();
  return metrics;
}

}  // namespace

void FilterIndex::Direction::add(std::vector<std::pair<std::uint64_t, std::int32_t>> entries) {
  std::sort(entries.begin(), entries.end());
  // Merged with what is there, in one pass; a triple in two splits is one known answer
  // (it must be left out once).
  std::vector<std::uint64_t> merged_keys;
  std::vector<std::int32_t> merged_answers;
  merged_keys.reserve(keys.size() + entries.size());
  merged_answers.reserve(keys.size() + entries.size());
  std::size_t old = 0, added = 0;
  while (old < keys.size() || added < entries.size()) {
    const bool take_old =
        added == entries.size() ||
        (old < keys.size() && std::pair(keys[old], answers[old]) <= entries[added]);
    const std::pair<std::uint64_t, std::int32_t> next =
        take_old ? std::pair(keys[old], answers[old]) : entries[added];
    (take_old ? old : added) += 1;
    if (merged_keys.empty() || merged_keys.back() != next.first ||
        merged_answers.back() != next.second) {
      merged_keys.push_back(next.first);
      merged_answers.push_back(next.second);
    }
  }
  keys = std::move(merged_keys);
  answers = std::move(merged_answers);
}

KnownAnswers FilterIndex::Direction::find(std::uint64_t key) const {
  const auto [lo, hi] = std::equal_range(keys.begin(), keys.end(), key);
  return {answers.data() + (lo - keys.begin()), answers.data() + (hi - keys.begin())};
}

void FilterIndex::add(const std::vector<std::int32_t>& triples) {
  add_tail_answers(triples);
  add_head_answers(triples);
}

void FilterIndex::add_tail_answers(const std::vector<std::int32_t>& triples) {
  std::vector<std::pair<std::uint64_t, std::int32_t>> tails;
  tails.reserve(triples.size() / 3);
  for (std::size_t i = 0; i + 2 < triples.size(); i += 3) {
    tails.emplace_back(pair_key(triples[i], triples[i + 1]), triples[i + 2]);
  }
  tails_.add(std::move(tails));
}

void FilterIndex::add_head_answers(const std::vector<std::int32_t>& triples) {
  std::vector<std::pair<std::uint64_t, std::int32_t>> heads;
  heads.reserve(triples.size() / 3);
  for (std::size_t i = 0; i + 2 < triples.size(); i += 3) {
    heads.emplace_back(pair_key(triples[i + 1], triples[i + 2]), triples[i]);
  }
  heads_.add(std::move(heads));
}

KnownAnswers FilterIndex::tails(std::int64_t head, std::int64_t relation) const {
  return tails_.find(pair_key(head, relation));
}

KnownAnswers FilterIndex::heads(std::int64_t relation, std::int64_t tail) const {
  return heads_.find(pair_key(relation, tail));
}

QueryKeys::QueryKeys(const std::vector<std::int32_t>& triples) {
  for (std::size_t i = 0; i + 2 < triples.size(); i += 3) {
    tails_.insert(pair_key(triples[i], triples[i + 1]));
    heads_.insert(pair_key(triples[i + 1], triples[i + 2]));
  }
}

bool QueryKeys::asks_tail(std::int64_t head, std::int64_t relation) const {
  return tails_.count(pair_key(head, relation)) > 0;
}

bool QueryKeys::asks_head(std::int64_t relation, std::int64_t tail) const {
  return heads_.count(pair_key(relation, tail)) > 0;
}

torch::Tensor sample_evaluation_candidates(std::uint64_t seed, std::int64_t batch_index,
                                           std::int64_t count, std::int64_t num_entities,
                                           const torch::Tensor& candidate_ids) {
  const std::uint64_t key =
      core::mix(core::mix(seed, kEvaluationStream), static_cast<std::uint64_t>(batch_index));
  const std::int64_t population = candidate_ids.defined() ? candidate_ids.numel() : num_entities;
  torch::Tensor drawn = torch::empty({count}, torch::kInt64);
  std::int64_t* out = drawn.data_ptr<std::int64_t>();
  for (std::int64_t j = 0; j < count; ++j) {
    out[j] = static_cast<std::int64_t>(core::uniform_below(
        core::mix(key, static_cast<std::uint64_t>(j)), static_cast<std::uint64_t>(population)));
  }
  return candidate_ids.defined() ? candidate_ids.index_select(0, drawn) : drawn;
}

namespace {

// One evaluation batch: triples [start, start + b) give tail queries 0..b-1 and head queries
// b..2b-1.
struct QueryBatch {
  std::int64_t index = 0;
  std::int64_t start = 0;
  std::int64_t b = 0;
  torch::Tensor queries;  // [2b, D] on the device
  torch::Tensor answers;  // int64 [2b] global ids, on the host
};

// Calls visit(query, answer, other known answers) for every query of the batch.
template <class Visit>
void for_each_query(const QueryBatch& batch, const torch::TensorAccessor<std::int64_t, 2>& triple,
                    const FilterIndex& filter, Visit&& visit) {
  for (std::int64_t i = batch.start; i < batch.start + batch.b; ++i) {
    const std::int64_t h = triple[i][0], r = triple[i][1], t = triple[i][2];
    visit(i - batch.start, t, filter.tails(h, r));
    visit(batch.b + i - batch.start, h, filter.heads(r, t));
  }
}

// Per query, this rank's count of compared candidates that score above and equal to the answer.
struct Counts {
  torch::Tensor greater;
  torch::Tensor equal;
};

// Removes the (query, column) pairs `skip_query`, `skip_column` (host) from the counts, given
// the scores of those columns.
void uncount(Counts& counts, const torch::Tensor& scores, const torch::Tensor& answer_score,
             const torch::Tensor& skip_query, const torch::Tensor& skip_column) {
  const torch::Device device = scores.device();
  const torch::Tensor query = comm::to_device(skip_query, device);
  const torch::Tensor skipped = scores.index({query, comm::to_device(skip_column, device)});
  const torch::Tensor against = answer_score.index_select(0, query);
  counts.greater.index_add_(0, query, -skipped.gt(against).to(torch::kInt64));
  counts.equal.index_add_(0, query, -skipped.eq(against).to(torch::kInt64));
}

void count(Counts& counts, const torch::Tensor& scores, const torch::Tensor& answer_score) {
  const torch::Tensor target = answer_score.unsqueeze(1);
  counts.greater.add_(scores.gt(target).sum(1));
  counts.equal.add_(scores.eq(target).sum(1));
}

// Against every candidate of this rank's shard.
Counts count_against_shard(ShardedComplEx& model, const QueryBatch& batch,
                           const torch::TensorAccessor<std::int64_t, 2>& triple,
                           const FilterIndex& filter,
                           const std::function<void(torch::Tensor&)>& sum) {
  const RowOwnership& ownership = model.entities().shard().ownership();
  const torch::Device device = model.options().device;
  const auto on_device = [&](const torch::Tensor& host) { return comm::to_device(host, device); };
  const std::int64_t local = model.local_candidates();
  const std::int64_t num_queries = batch.queries.size(0);

  // This rank's candidates to leave out: (query, local row) for the answer and for every
  // other known answer it owns.
  std::vector<std::int64_t> skip_query;
  std::vector<std::int64_t> skip_row;
  for_each_query(batch, triple, filter,
                 [&](std::int64_t q, std::int64_t answer, const KnownAnswers& known) {
                   if (ownership.owns(answer)) {
                     skip_query.push_back(q);
                     skip_row.push_back(ownership.local_row(answer));
                   }
                   for (std::int32_t other : known) {
                     if (other != answer && ownership.owns(other)) {
                       skip_query.push_back(q);
                       skip_row.push_back(ownership.local_row(other));
                     }
                   }
                 });
  // As candidate positions; known answers that are not candidates are not ranked anyway.
  const torch::Tensor skip_positions =
      model.candidate_positions(torch::tensor(skip_row, torch::kInt64));
  const torch::Tensor candidate_skip = skip_positions.ge(0).nonzero().squeeze(1);
  const torch::Tensor skip_queries =
      torch::tensor(skip_query, torch::kInt64).index_select(0, candidate_skip);
  const torch::Tensor skips = skip_positions.index_select(0, candidate_skip);
  // The queries whose answer this rank owns, and that answer's candidate position.
  const RowOwnership::Owned owned = ownership.owned(batch.answers);
  const torch::Tensor answer_position = model.candidate_positions(owned.local_rows);
  if (answer_position.lt(0).any().item<bool>()) {
    throw std::invalid_argument("filtered_ranks: an answer is not a candidate entity");
  }

  // The answer's score comes from the same product as every other score (its owner's
  // chunk), so equal vectors give exactly equal scores. A shard that fits in one chunk is
  // scored once for both passes.
  const std::int64_t chunk = candidate_chunk_rows(num_queries);
  const auto for_each_chunk = [&](bool scored, auto&& visit) {
    for (std::int64_t begin = 0; begin < local; begin += chunk) {
      const std::int64_t rows = std::min(chunk, local - begin);
      torch::Tensor scores = model.score_buffer(num_queries, rows);
      if (!scored || local > chunk)
        torch::mm_out(scores, batch.queries, model.candidates(begin, rows).t());
      visit(begin, rows, scores);
    }
  };
  torch::Tensor answer_score = torch::zeros({num_queries}, batch.queries.options());
  for_each_chunk(false, [&](std::int64_t begin, std::int64_t rows, const torch::Tensor& scores) {
    const torch::Tensor here =
        (answer_position.ge(begin) & answer_position.lt(begin + rows)).nonzero().squeeze(1);
    const torch::Tensor query = on_device(owned.positions.index_select(0, here));
    answer_score.index_put_(
        {query}, scores.index({query, on_device(answer_position.index_select(0, here) - begin)}));
  });
  sum(answer_score);  // one rank holds each answer, the others add 0

  Counts counts{torch::zeros({num_queries}, batch.queries.options().dtype(torch::kInt64)),
                torch::zeros({num_queries}, batch.queries.options().dtype(torch::kInt64))};
  for_each_chunk(true, [&](std::int64_t begin, std::int64_t rows, const torch::Tensor& scores) {
    count(counts, scores, answer_score);
    const torch::Tensor here = (skips.ge(begin) & skips.lt(begin + rows)).nonzero().squeeze(1);
    uncount(counts, scores, answer_score, skip_queries.index_select(0, here),
            skips.index_select(0, here) - begin);
  });
  return counts;
}

// Against the batch's sampled candidates that this rank owns.
Counts count_against_sample(ShardedComplEx& model, const QueryBatch& batch,
                            const torch::TensorAccessor<std::int64_t, 2>& triple,
                            const FilterIndex& filter, const RankingProtocol& protocol,
                            const std::function<void(torch::Tensor&)>& sum) {
  const RowOwnership& ownership = model.entities().shard().ownership();
  const std::int64_t num_queries = batch.queries.size(0);
  const torch::Tensor drawn =
      sample_evaluation_candidates(protocol.seed, batch.index, protocol.sampled_candidates,
                                   model.options().num_entities, model.candidate_ids());
  const RowOwnership::Owned sample = ownership.owned(drawn);
  const RowOwnership::Owned answers = ownership.owned(batch.answers);
  const std::int64_t columns = sample.positions.numel();

  // The owned draws' columns by entity, to find the ones a query leaves out.
  std::unordered_map<std::int64_t, std::vector<std::int64_t>> columns_of;
  const auto* drawn_ids = drawn.data_ptr<std::int64_t>();
  const auto* drawn_positions = sample.positions.data_ptr<std::int64_t>();
  for (std::int64_t c = 0; c < columns; ++c) columns_of[drawn_ids[drawn_positions[c]]].push_back(c);
  std::vector<std::int64_t> skip_query;
  std::vector<std::int64_t> skip_column;
  const auto skip = [&](std::int64_t q, std::int64_t entity) {
    const auto found = columns_of.find(entity);
    if (found == columns_of.end()) return;
    for (std::int64_t c : found->second) {
      skip_query.push_back(q);
      skip_column.push_back(c);
    }
  };
  for_each_query(batch, triple, filter,
                 [&](std::int64_t q, std::int64_t answer, const KnownAnswers& known) {
                   skip(q, answer);
                   for (std::int32_t other : known) {
                     if (other != answer) skip(q, other);
                   }
                 });

  // The owned answers are scored in the same product as the draws (columns after them).
  const torch::Tensor scores = torch::mm(
      batch.queries, model.entity_vectors(torch::cat({sample.local_rows, answers.local_rows})).t());
  torch::Tensor answer_score = torch::zeros({num_queries}, batch.queries.options());
  const torch::Device device = model.options().device;
  const torch::Tensor owned_queries = comm::to_device(answers.positions, device);
  answer_score.index_put_(
      {owned_queries},
      scores.index({owned_queries,
                    columns + torch::arange(answers.positions.numel(), owned_queries.options())}));
  sum(answer_score);

  const torch::Tensor compared = scores.narrow(1, 0, columns);
  Counts counts{torch::zeros({num_queries}, batch.queries.options().dtype(torch::kInt64)),
                torch::zeros({num_queries}, batch.queries.options().dtype(torch::kInt64))};
  count(counts, compared, answer_score);
  uncount(counts, compared, answer_score, torch::tensor(skip_query, torch::kInt64),
          torch::tensor(skip_column, torch::kInt64));
  return counts;
}

}  // namespace

FilteredRanks filtered_ranks(ShardedComplEx& model, const std::vector<std::int32_t>& triples,
                             const FilterIndex& filter, const RankingProtocol& protocol) {
  torch::NoGradGuard no_grad;
  comm::Communicator& comm = model.comm();
  const std::function<void(torch::Tensor&)> sum = [&](torch::Tensor& tensor) {
    if (comm.size() > 1) comm.all_reduce(tensor);
  };
  if (protocol.batch <= 0 || protocol.sampled_candidates < 0) {
    throw std::invalid_argument(
        "filtered_ranks: batch must be positive, sampled_candidates not negative");
  }
  const std::int64_t m = static_cast<std::int64_t>(triples.size() / 3);
  const torch::Tensor all = torch::tensor(triples, torch::kInt64).reshape({m, 3});
  const auto triple = all.accessor<std::int64_t, 2>();
  std::vector<torch::Tensor> head_ranks;
  std::vector<torch::Tensor> tail_ranks;
  for (std::int64_t start = 0, index = 0; start < m; start += protocol.batch, ++index) {
    QueryBatch batch;
    batch.index = index;
    batch.start = start;
    batch.b = std::min(protocol.batch, m - start);
    const torch::Tensor part = all.narrow(0, start, batch.b);
    const torch::Tensor heads = part.select(1, 0);
    const torch::Tensor relations = part.select(1, 1);
    const torch::Tensor tails = part.select(1, 2);
    batch.queries =
        torch::cat({model.tail_queries(heads, relations), model.head_queries(relations, tails)});
    batch.answers = torch::cat({tails, heads});
    Counts counts = protocol.sampled_candidates > 0
                        ? count_against_sample(model, batch, triple, filter, protocol, sum)
                        : count_against_shard(model, batch, triple, filter, sum);
    sum(counts.greater);
    sum(counts.equal);
    const torch::Tensor rank_of =
        1 + counts.greater.to(torch::kDouble) + counts.equal.to(torch::kDouble) / 2;
    tail_ranks.push_back(rank_of.narrow(0, 0, batch.b));
    head_ranks.push_back(rank_of.narrow(0, batch.b, batch.b));
  }
  const auto join = [](const std::vector<torch::Tensor>& parts) {
    return parts.empty() ? torch::empty({0}, torch::kDouble) : torch::cat(parts).cpu();
  };
  return {join(head_ranks), join(tail_ranks)};
}

LinkPredictionMetrics summarize(const FilteredRanks& ranks) {
  return {metrics_of(ranks.head), metrics_of(ranks.tail),
          metrics_of(torch::cat({ranks.head, ranks.tail}))};
}

}  // namespace hrere::kbe
