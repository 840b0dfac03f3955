#include "kbe_shard/link_prediction.h"

#include <torch/torch.h>

#include "comm/device.h"

namespace hrere::kbe {
namespace {

std::uint64_t pair_key(std::int64_t a, std::int64_t b) {
  return (static_cast<std::uint64_t>(a) << 32) | static_cast<std::uint32_t>(b);
}

const std::vector<std::int32_t>& find_or_empty(
    const std::unordered_map<std::uint64_t, std::vector<std::int32_t>>& map, std::uint64_t key) {
  static const std::vector<std::int32_t> kEmpty;
  const auto found = map.find(key);
  return found == map.end() ? kEmpty : found->second;
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

void FilterIndex::add(const std::vector<std::int32_t>& triples) {
  for (std::size_t i = 0; i + 2 < triples.size(); i += 3) {
    tails_[pair_key(triples[i], triples[i + 1])].push_back(triples[i + 2]);
    heads_[pair_key(triples[i + 1], triples[i + 2])].push_back(triples[i]);
  }
}

const std::vector<std::int32_t>& FilterIndex::tails(std::int64_t head, std::int64_t relation) const {
  return find_or_empty(tails_, pair_key(head, relation));
}

const std::vector<std::int32_t>& FilterIndex::heads(std::int64_t relation, std::int64_t tail) const {
  return find_or_empty(heads_, pair_key(relation, tail));
}

FilteredRanks filtered_ranks(ShardedComplEx& model, const std::vector<std::int32_t>& triples,
                             const FilterIndex& filter, std::int64_t batch) {
  torch::NoGradGuard no_grad;
  comm::Communicator& comm = model.comm();
  const int size = comm.size();
  const int rank = comm.rank();
  const torch::Device device = model.options().device;
  const auto sum_over_ranks = [&](torch::Tensor& tensor) {
    if (size > 1) comm.all_reduce(tensor);
  };
  const auto on_device = [&](const torch::Tensor& host) { return comm::to_device(host, device); };
  const std::int64_t local = model.local_candidates();
  const std::int64_t m = static_cast<std::int64_t>(triples.size() / 3);
  const torch::Tensor all = torch::tensor(triples, torch::kInt64).reshape({m, 3});
  const auto triple = all.accessor<std::int64_t, 2>();
  std::vector<torch::Tensor> head_ranks;
  std::vector<torch::Tensor> tail_ranks;
  for (std::int64_t start = 0; start < m; start += batch) {
    const std::int64_t b = std::min(batch, m - start);
    const torch::Tensor part = all.narrow(0, start, b);
    const torch::Tensor heads = part.select(1, 0);
    const torch::Tensor relations = part.select(1, 1);
    const torch::Tensor tails = part.select(1, 2);
    // Queries 0..b-1 ask for tails, b..2b-1 for heads.
    const torch::Tensor queries =
        torch::cat({model.tail_queries(heads, relations), model.head_queries(relations, tails)});
    const std::int64_t num_queries = queries.size(0);
    const torch::Tensor answers = torch::cat({tails, heads});

    // This rank's candidates to leave out: (query, local row) for the answer and for every
    // other known answer it owns.
    std::vector<std::int64_t> skip_query;
    std::vector<std::int64_t> skip_row;
    for (std::int64_t i = start; i < start + b; ++i) {
      const std::int64_t h = triple[i][0], r = triple[i][1], t = triple[i][2];
      for (const bool tail_query : {true, false}) {
        const std::int64_t q = tail_query ? i - start : b + i - start;
        const std::int64_t answer = tail_query ? t : h;
        const std::vector<std::int32_t>& known = tail_query ? filter.tails(h, r) : filter.heads(r, t);
        if (answer % size == rank) {
          skip_query.push_back(q);
          skip_row.push_back(answer / size);
        }
        for (std::int32_t other : known) {
          if (other != answer && other % size == rank) {
            skip_query.push_back(q);
            skip_row.push_back(other / size);
          }
        }
      }
    }
    // As candidate positions; known answers that are not candidates are not ranked anyway.
    const torch::Tensor skip_positions =
        model.candidate_positions(torch::tensor(skip_row, torch::kInt64));
    const torch::Tensor candidate_skip = skip_positions.ge(0).nonzero().squeeze(1);
    const torch::Tensor skip_queries =
        torch::tensor(skip_query, torch::kInt64).index_select(0, candidate_skip);
    const torch::Tensor skips = skip_positions.index_select(0, candidate_skip);
    const torch::Tensor answer_owned = answers.remainder(size).eq(rank);
    const torch::Tensor answer_position =
        model.candidate_positions(answers.div(size, "floor").masked_fill(answer_owned.logical_not(), 0));
    if (answer_position.masked_select(answer_owned).lt(0).any().item<bool>()) {
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
        if (!scored || local > chunk) torch::mm_out(scores, queries, model.candidates(begin, rows).t());
        visit(begin, rows, scores);
      }
    };
    torch::Tensor answer_score = torch::zeros({num_queries}, queries.options());
    for_each_chunk(false, [&](std::int64_t begin, std::int64_t rows, const torch::Tensor& scores) {
      const torch::Tensor here =
          (answer_owned & answer_position.ge(begin) & answer_position.lt(begin + rows))
              .nonzero()
              .squeeze(1);
      const torch::Tensor query = on_device(here);
      answer_score.index_put_(
          {query}, scores.index({query, on_device(answer_position.index_select(0, here) - begin)}));
    });
    sum_over_ranks(answer_score);  // one rank holds each answer, the others add 0

    torch::Tensor greater = torch::zeros({num_queries}, queries.options().dtype(torch::kInt64));
    torch::Tensor equal = torch::zeros({num_queries}, queries.options().dtype(torch::kInt64));
    for_each_chunk(true, [&](std::int64_t begin, std::int64_t rows, const torch::Tensor& scores) {
      const torch::Tensor target = answer_score.unsqueeze(1);
      greater.add_(scores.gt(target).sum(1));
      equal.add_(scores.eq(target).sum(1));
      const torch::Tensor here = (skips.ge(begin) & skips.lt(begin + rows)).nonzero().squeeze(1);
      const torch::Tensor query = on_device(skip_queries.index_select(0, here));
      const torch::Tensor skipped =
          scores.index({query, on_device(skips.index_select(0, here) - begin)});
      const torch::Tensor against = answer_score.index_select(0, query);
      greater.index_add_(0, query, -skipped.gt(against).to(torch::kInt64));
      equal.index_add_(0, query, -skipped.eq(against).to(torch::kInt64));
    });
    sum_over_ranks(greater);
    sum_over_ranks(equal);
    const torch::Tensor rank_of = 1 + greater.to(torch::kDouble) + equal.to(torch::kDouble) / 2;
    tail_ranks.push_back(rank_of.narrow(0, 0, b));
    head_ranks.push_back(rank_of.narrow(0, b, b));
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
