#pragma once
// Filtered link prediction (Bordes et al. 2013) over the sharded ComplEx model.
//
// For every evaluation triple (h, r, t) two queries are ranked against every candidate entity
// of the model (ShardedComplEx::set_candidates; pretraining and eval-kbe use the entities
// that occur in any split of the KB store, as standard FB15k-237 evaluation ranks against the
// KB's 14,541 entities, not against relation-extraction entities without KB triples): the
// tail query (h, r, ?) with answer t and the head query (?, r, t) with answer h. Answers must
// be candidates. Candidates that form a known true triple (train, valid or test; the filter
// index) other than the answer are left out. With s* the answer's score and the rest of the candidates c:
//   rank = 1 + #{c : s_c > s*} + #{c : s_c == s*} / 2
// i.e. ties count as the mean of the positions they share. Each rank scores the queries
// against its own shard; the counts are summed over ranks, so the result does not depend on P.
// MRR = mean(1 / rank), MR = mean(rank), Hits@k = fraction with rank <= k (a tie-averaged
// rank of 10.5 is not a hit at 10).
//
// Scores are computed on the model's device; which entries to leave out or compare is worked
// out on the host, so a batch needs no copy back from the device.
#include <torch/types.h>

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "kbe_shard/complex.h"

namespace hrere::kbe {

struct RankingMetrics {
  double mrr = 0;
  double mr = 0;
  double hits1 = 0;
  double hits3 = 0;
  double hits10 = 0;
  std::int64_t count = 0;  // queries
};

struct LinkPredictionMetrics {
  RankingMetrics head;
  RankingMetrics tail;
  RankingMetrics both;  // head and tail queries together: the usual headline numbers
};

// The known true triples: answers of (h, r, ?) and of (?, r, t).
class FilterIndex {
 public:
  // `triples`: M x 3 row-major (head, relation, tail).
  void add(const std::vector<std::int32_t>& triples);
  const std::vector<std::int32_t>& tails(std::int64_t head, std::int64_t relation) const;
  const std::vector<std::int32_t>& heads(std::int64_t relation, std::int64_t tail) const;

 private:
  std::unordered_map<std::uint64_t, std::vector<std::int32_t>> tails_;
  std::unordered_map<std::uint64_t, std::vector<std::int32_t>> heads_;
};

struct FilteredRanks {
  torch::Tensor head;  // float64 [M], on the host
  torch::Tensor tail;  // float64 [M], on the host
};

// Collective (every rank passes the same triples). `batch` triples are scored at a time.
FilteredRanks filtered_ranks(ShardedComplEx& model, const std::vector<std::int32_t>& triples,
                             const FilterIndex& filter, std::int64_t batch = 256);
LinkPredictionMetrics summarize(const FilteredRanks& ranks);

inline LinkPredictionMetrics evaluate_link_prediction(ShardedComplEx& model,
                                                      const std::vector<std::int32_t>& triples,
                                                      const FilterIndex& filter,
                                                      std::int64_t batch = 256) {
  return summarize(filtered_ranks(model, triples, filter, batch));
}

}  // namespace hrere::kbe
