#include "kbe_shard/link_prediction.h"

#include <torch/torch.h>

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
  const std::int64_t local_rows = model.entities().shard().ownership().local_rows();
  const std::int64_t m = static_cast<std::int64_t>(triples.size() / 3);
  const torch::Tensor all =
      torch::tensor(triples, torch::kInt64).reshape({m, 3});
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
    const torch::Tensor answers = torch::cat({tails, heads});

    // This rank's candidates to leave out: (query, local row) for the answer and for every
    // other known answer it owns.
    std::vector<std::int64_t> skip_query;
    std::vector<std::int64_t> skip_row;
    for (std::int64_t i = 0; i < b; ++i) {
      const std::int64_t* row = part[i].data_ptr<std::int64_t>();
      for (std::int64_t q : {i, b + i}) {
        const std::int64_t answer = q < b ? row[2] : row[0];
        const std::vector<std::int32_t>& known =
            q < b ? filter.tails(row[0], row[1]) : filter.heads(row[1], row[2]);
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
    const torch::Tensor skip_queries = torch::tensor(skip_query, torch::kInt64);
    const torch::Tensor skip_rows = torch::tensor(skip_row, torch::kInt64);
    const torch::Tensor answer_owned = answers.remainder(size).eq(rank);
    const torch::Tensor answer_row = answers.div(size, "floor");

    // The answer's score comes from the same product as every other score (its owner's
    // chunk), so equal vectors give exactly equal scores.
    const std::int64_t chunk = candidate_chunk_rows(queries.size(0));
    const auto for_each_chunk = [&](auto&& visit) {
      for (std::int64_t begin = 0; begin < local_rows; begin += chunk) {
        const std::int64_t rows = std::min(chunk, local_rows - begin);
        visit(begin, rows, queries.mm(model.candidates(begin, rows).t()));
      }
    };
    torch::Tensor answer_score = torch::zeros({queries.size(0)});
    for_each_chunk([&](std::int64_t begin, std::int64_t rows, const torch::Tensor& scores) {
      const torch::Tensor here = (answer_owned & answer_row.ge(begin) & answer_row.lt(begin + rows))
                                     .nonzero()
                                     .squeeze(1);
      answer_score.index_put_({here}, scores.index({here, answer_row.index_select(0, here) - begin}));
    });
    comm.all_reduce(answer_score);  // one rank holds each answer, the others add 0

    torch::Tensor greater = torch::zeros({queries.size(0)}, torch::kInt64);
    torch::Tensor equal = torch::zeros({queries.size(0)}, torch::kInt64);
    for_each_chunk([&](std::int64_t begin, std::int64_t rows, const torch::Tensor& scores) {
      const torch::Tensor target = answer_score.unsqueeze(1);
      greater.add_(scores.gt(target).sum(1));
      equal.add_(scores.eq(target).sum(1));
      const torch::Tensor here =
          (skip_rows.ge(begin) & skip_rows.lt(begin + rows)).nonzero().squeeze(1);
      const torch::Tensor query = skip_queries.index_select(0, here);
      const torch::Tensor skipped = scores.index({query, skip_rows.index_select(0, here) - begin});
      const torch::Tensor against = answer_score.index_select(0, query);
      greater.index_add_(0, query, -skipped.gt(against).to(torch::kInt64));
      equal.index_add_(0, query, -skipped.eq(against).to(torch::kInt64));
    });
    comm.all_reduce(greater);
    comm.all_reduce(equal);
    const torch::Tensor rank_of = 1 + greater.to(torch::kDouble) + equal.to(torch::kDouble) / 2;
    tail_ranks.push_back(rank_of.narrow(0, 0, b));
    head_ranks.push_back(rank_of.narrow(0, b, b));
  }
  const auto join = [](const std::vector<torch::Tensor>& parts) {
    return parts.empty() ? torch::empty({0}, torch::kDouble) : torch::cat(parts);
  };
  return {join(head_ranks), join(tail_ranks)};
}

LinkPredictionMetrics summarize(const FilteredRanks& ranks) {
  return {metrics_of(ranks.head), metrics_of(ranks.tail),
          metrics_of(torch::cat({ranks.head, ranks.tail}))};
}

}  // namespace hrere::kbe
