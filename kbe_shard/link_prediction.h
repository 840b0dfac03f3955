#pragma once
// Filtered link prediction (Bordes et al. 2013) over the sharded ComplEx model.
//
// For every evaluation triple (h, r, t) two queries are ranked against every candidate entity
// of the model (ShardedComplEx::set_candidates; pretraining and eval-kbe use the entities
// that occur in any split of the KB store, as standard FB15k-237 evaluation ranks against the
// KB's 14,541 entities, not against relation-extraction entities without KB triples): the
// tail query (h, r, ?) with answer t and the head query (?, r, t) with answer h. Answers must
// be candidates. Candidates that form a known true triple (train, valid or test; the filter
// index) other than the answer are left out. With s* the answer's score and the rest of the
// candidates c:
//   rank = 1 + #{c : s_c > s*} + #{c : s_c == s*} / 2
// i.e. ties count as the mean of the positions they share. Each rank scores the queries
// against its own shard; the counts are summed over ranks, so the result does not depend on P.
// MRR = mean(1 / rank), MR = mean(rank), Hits@k = fraction with rank <= k (a tie-averaged
// rank of 10.5 is not a hit at 10).
//
// Sampled candidates (RankingProtocol::sampled_candidates = n > 0), the protocol PBG and
// DGL-KE use on Freebase, where ranking against every entity costs more than training: each
// evaluation batch draws n candidates uniformly with replacement from the candidate entities,
// keyed by (seed, batch index), shared by the batch's queries. The same filter leaves out
// the drawn candidates that are the answer or another known answer; the answer ranks among
// the rest with the same formula, so a rank is at most n + 1. The draws do not depend on P
// (they do on the batch size). Sampled ranks are optimistic: MRR is higher than against every
// candidate.
//
// Scores are computed on the model's device; which entries to leave out or compare is worked
// out on the host, so a batch needs no copy back from the device.
#include <torch/types.h>

#include <cstdint>
#include <unordered_set>
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

// How queries are ranked.
struct RankingProtocol {
  std::int64_t sampled_candidates = 0;  // 0: every candidate entity; n: n drawn per batch
  std::uint64_t seed = 1;               // of the draws
  std::int64_t batch = 256;             // triples scored at a time
};

struct LinkPredictionMetrics {
  RankingMetrics head;
  RankingMetrics tail;
  RankingMetrics both;  // head and tail queries together: the usual headline numbers
  // "all" or the number of sampled candidates per batch, for reports.
  std::int64_t sampled_candidates = 0;
};

// The candidates drawn for evaluation batch `batch_index`: int64 [count] global ids, uniform
// with replacement over `candidate_ids` (int64 [K]), or over [0, num_entities) if undefined.
torch::Tensor sample_evaluation_candidates(std::uint64_t seed, std::int64_t batch_index,
                                           std::int64_t count, std::int64_t num_entities,
                                           const torch::Tensor& candidate_ids);

// The known answers of one query: a range of entity ids inside a FilterIndex.
struct KnownAnswers {
  const std::int32_t* first = nullptr;
  const std::int32_t* last = nullptr;
  const std::int32_t* begin() const { return first; }
  const std::int32_t* end() const { return last; }
  std::size_t size() const { return static_cast<std::size_t>(last - first); }
};

// The known true triples: answers of (h, r, ?) and of (?, r, t). Two sorted arrays of
// (query key, answer), 12 bytes per triple and direction: at Freebase scale a hash map of
// vectors would cost every rank several times more.
class FilterIndex {
 public:
  // `triples`: M x 3 row-major (head, relation, tail). add() indexes both directions; the
  // others one: the tail as an answer of (h, r, ?), or the head as one of (?, r, t).
  void add(const std::vector<std::int32_t>& triples);
  void add_tail_answers(const std::vector<std::int32_t>& triples);
  void add_head_answers(const std::vector<std::int32_t>& triples);
  KnownAnswers tails(std::int64_t head, std::int64_t relation) const;
  KnownAnswers heads(std::int64_t relation, std::int64_t tail) const;

 private:
  struct Direction {
    std::vector<std::uint64_t> keys;  // ascending
    std::vector<std::int32_t> answers;
    void add(std::vector<std::pair<std::uint64_t, std::int32_t>> entries);
    KnownAnswers find(std::uint64_t key) const;
  };
  Direction tails_;
  Direction heads_;
};

// The queries of a set of evaluation triples: (h, r, ?) and (?, r, t) for each. A known
// triple matters to their filtered ranks only if it answers one of them (its tail the first,
// its head the second), so an index of those triples filters them exactly as one of the
// whole KB does; pretraining builds that (kbe_shard/kb_partition.h).
class QueryKeys {
 public:
  explicit QueryKeys(const std::vector<std::int32_t>& triples);
  bool asks_tail(std::int64_t head, std::int64_t relation) const;
  bool asks_head(std::int64_t relation, std::int64_t tail) const;

 private:
  std::unordered_set<std::uint64_t> tails_;
  std::unordered_set<std::uint64_t> heads_;
};

struct FilteredRanks {
  torch::Tensor head;  // float64 [M], on the host
  torch::Tensor tail;  // float64 [M], on the host
};

// Collective (every rank passes the same triples).
FilteredRanks filtered_ranks(ShardedComplEx& model, const std::vector<std::int32_t>& triples,
                             const FilterIndex& filter, const RankingProtocol& protocol = {});
LinkPredictionMetrics summarize(const FilteredRanks& ranks);

inline LinkPredictionMetrics evaluate_link_prediction(ShardedComplEx& model,
                                                      const std::vector<std::int32_t>& triples,
                                                      const FilterIndex& filter,
                                                      const RankingProtocol& protocol = {}) {
  LinkPredictionMetrics metrics = summarize(filtered_ranks(model, triples, filter, protocol));
  metrics.sampled_candidates = protocol.sampled_candidates;
  return metrics;
}

}  // namespace hrere::kbe
