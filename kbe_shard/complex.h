#pragma once
// ComplEx (Trouillon et al. 2016) over a row-sharded entity table.
//
// A vector of dimension D = 2k holds k complex coordinates as [real half | imaginary half].
// score(h, r, t) = Re(<e_h, w_r, conj(e_t)>). Entity vectors optionally pass through tanh
// (the reference HRERE's "Complex_tanh"); regularisers and scores see the vectors after it.
// Relation vectors are small and replicated on every rank: their gradient is summed over
// ranks (each rank's loss is already divided by the GLOBAL batch size) and every rank applies
// the same dense update.
//
// Parameters, their optimizer state and scores live on the options' device. Triples, entity
// and relation ids are taken on the host (ids on the device work, at the cost of a copy back):
// the exchanges are planned there.
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "comm/communicator.h"
#include "kbe_shard/row_optimizer.h"
#include "kbe_shard/sharded_embedding.h"

namespace hrere::kbe {

enum class Regularizer { kNone, kL2, kN3 };
enum class LossMode { kOneVsAll, kNegative };

constexpr core::Choices<Regularizer, 3> choices(Regularizer) {
  return {{{Regularizer::kN3, "n3"}, {Regularizer::kL2, "l2"}, {Regularizer::kNone, "none"}}};
}
constexpr core::Choices<LossMode, 2> choices(LossMode) {
  return {{{LossMode::kOneVsAll, "1vsall"}, {LossMode::kNegative, "negative"}}};
}

// Complex arithmetic on [.., 2k] vectors.
torch::Tensor complex_product(const torch::Tensor& a, const torch::Tensor& b);
torch::Tensor complex_conj(const torch::Tensor& a);
// Re(<h, r, conj(t)>) over the last dimension.
torch::Tensor complex_score(const torch::Tensor& h, const torch::Tensor& r, const torch::Tensor& t);
// Sum over all complex coordinates of the factors of |z|^2 (L2) or |z|^3 (N3, Lacroix et al.
// 2018); 0 for kNone. Callers scale by weight / batch size.
torch::Tensor regularization(Regularizer regularizer, const std::vector<torch::Tensor>& factors);

// Negative samples: for triple i and sample j, a copy of triples[i] whose head (odd hash) or
// tail (even hash) is replaced by a uniform entity, all drawn from mix(keys[i], j). Keys are
// per-example counters (pretraining uses (seed, epoch, position in the epoch)), so the samples
// do not depend on how the batch is split over ranks. The replacement is uniform over
// [0, num_entities), or over `candidates` (int64 [K] entity ids) when given. Returns int64
// [n, negatives, 3] on the host (drawn there, so the samples are the same for every device).
torch::Tensor sample_negatives(const torch::Tensor& triples, const std::vector<std::uint64_t>& keys,
                               int negatives, std::int64_t num_entities,
                               const torch::Tensor& candidates = {});

struct ComplExOptions {
  std::int64_t num_entities = 0;
  std::int64_t num_relations = 0;  // of the KB, without inverses
  std::int64_t dim = 200;          // D = 2k
  bool entity_tanh = false;
  // Learn an inverse relation r + R for every r: (t, r + R, h) is a query like (h, r, t).
  // 1-vs-all training needs it (head prediction uses the inverse query).
  bool reciprocal = false;
  double init_std = 1e-3;
  std::uint64_t seed = 0;
  OptimizerOptions optimizer;
  Regularizer regularizer = Regularizer::kN3;
  double regularization_weight = 0;
  torch::Device device = torch::kCPU;  // of the parameters, their optimizer state and scores
  bool trainable = true;               // false: evaluation only (EmbeddingOptions::trainable)
};

class ShardedComplEx {
 public:
  ShardedComplEx(comm::Communicator& comm, const ComplExOptions& options);

  const ComplExOptions& options() const { return options_; }
  comm::Communicator& comm() { return comm_; }
  ShardedEmbedding& entities() { return entities_; }
  torch::Tensor& relations() { return relations_; }  // [R or 2R, D], requires grad
  RowOptimizer& relation_optimizer() { return relation_optimizer_; }

  // Collective. Forward and backward of this rank's part `triples` (int64 [n, 3]) of a global
  // batch of `global_triples` triples; gradients accumulate until step(). Returns the loss of
  // the whole global batch (the same on every rank).
  //
  // 1-vs-all: every triple gives the queries (h, r) -> t and (t, r + R) -> h; the loss is the
  // mean over the global batch's queries of the cross-entropy of softmax over the candidates,
  // plus weight * regularization({subject, relation, object}) / queries. Each rank scores all
  // the batch's queries (gathered) against its shard; the log-sum-exp is combined exactly over
  // ranks (max, then sum of exp); the candidate gradient stays on the shard and the query
  // gradients are summed back to the query's rank. Equal to the unsharded loss up to float
  // rounding.
  double one_vs_all_backward(const torch::Tensor& triples, std::int64_t global_triples);
  // Negative sampling with the logistic loss: with `corrupted` int64 [n, k, 3] (see
  // sample_negatives), the loss is the mean over the global batch's triples of
  //   softplus(-score(positive)) + mean_j softplus(score(corrupted_j))
  // plus weight * regularization of the positive triples' factors / global_triples.
  double negative_backward(const torch::Tensor& triples, const torch::Tensor& corrupted,
                           std::int64_t global_triples);
  // Collective. Sums the relation gradient over ranks and updates relations and the entity
  // rows that received gradients.
  void step();

  // The entities that 1-vs-all training and link prediction rank (the softmax's support and
  // the candidates of a query): every entity unless set. A KB store can name entities that
  // occur in no KB triple (relation-extraction entities); pretraining sets the candidates to
  // the entities of the KB's triples, as the standard benchmarks rank against the KB's
  // entities only. Non-candidates get no 1-vs-all gradient. `global_ids`: distinct int64.
  void set_candidates(const torch::Tensor& global_ids);
  // This rank's candidates, in local row order; positions index them.
  std::int64_t local_candidates() const;
  // Positions of local rows (int64 tensor of any shape, on the host) among this rank's
  // candidates, on the host; -1 for rows that are not candidates.
  torch::Tensor candidate_positions(const torch::Tensor& local_rows) const;

  // Collective (they look up entity rows). Query vectors q [n, D] with score(candidate c) =
  // q . candidates(c): tail queries (h, r, ?) and head queries (?, r, t).
  torch::Tensor tail_queries(const torch::Tensor& heads, const torch::Tensor& relations);
  torch::Tensor head_queries(const torch::Tensor& relations, const torch::Tensor& tails);
  // This rank's candidate vectors (tanh applied if set) at positions [begin, begin + count).
  torch::Tensor candidates(std::int64_t begin, std::int64_t count) const;
  // All candidates' global ids (int64, ascending, on the host); undefined while every entity
  // is a candidate.
  const torch::Tensor& candidate_ids() const { return candidate_ids_; }
  // Vectors (tanh applied if set) of this rank's local rows (int64, on the host).
  torch::Tensor entity_vectors(const torch::Tensor& local_rows) const;
  // A [queries, columns] scratch matrix for candidate scores, reused between calls so the
  // largest tensor of a step is not allocated (and page-faulted) anew every time.
  torch::Tensor score_buffer(std::int64_t queries, std::int64_t columns);

  // Replaces all parameters: this rank's entity rows [local_rows, D] (RowOwnership order)
  // and the [R or 2R, D] relation table.
  void assign(const torch::Tensor& entity_rows, const torch::Tensor& relations);

  // Seconds spent in collectives (entity exchanges, query gathers, reductions).
  double comm_seconds() const { return comm_seconds_ + entities_.exchange_seconds(); }
  double exchange_seconds() const { return entities_.exchange_seconds(); }  // entity rows

 private:
  // Every rank's queries of a 1-vs-all step, padded to the largest rank's count `width`,
  // with their loss weights (1 / global queries; 0 for padding).
  struct GatheredQueries {
    torch::Tensor queries;  // [P * width, dim]
    torch::Tensor weight;   // [P * width]
    std::int64_t width = 0;
  };
  GatheredQueries gather_queries(const torch::Tensor& query, double global_queries);
  // Pass 1 of a 1-vs-all step: each query's log-sum-exp over every rank's candidates, in
  // chunks of the local shard. With one chunk, `kept` keeps exp(score - max) in the score
  // buffer and its candidate vectors for pass 2.
  struct LogSumExp {
    torch::Tensor max, log_sum_exp;  // [queries]: this shard's max, the global log-sum-exp
    torch::Tensor kept;
  };
  LogSumExp log_sum_exp(const torch::Tensor& queries);
  // Pass 2: the softmax gradient of every gathered query (returned, summed by its rank
  // later) and of this shard's candidate rows (added to them here).
  torch::Tensor softmax_gradient(const GatheredQueries& gathered, const LogSumExp& lse);
  torch::Tensor activate(const torch::Tensor& entity_rows) const;
  // Adds the gradient of the candidates at positions [begin, begin + grad.size(0)).
  void add_candidate_gradient(std::int64_t begin, const torch::Tensor& grad);
  // Timed collectives.
  torch::Tensor all_gather(const torch::Tensor& tensor);
  void all_reduce(torch::Tensor& tensor, comm::ReduceOp op);
  torch::Tensor all_to_all(const torch::Tensor& send, const std::vector<std::int64_t>& counts);

  comm::Communicator& comm_;
  ComplExOptions options_;
  ShardedEmbedding entities_;
  torch::Tensor relations_;
  RowOptimizer relation_optimizer_;
  // Local rows of the candidates (on the device, they index the table) and each local row's
  // position among them (-1: none; on the host, for the evaluation's bookkeeping); both
  // undefined while every entity is a candidate.
  torch::Tensor candidate_rows_;
  torch::Tensor candidate_position_;
  torch::Tensor candidate_ids_;
  torch::Tensor scores_;
  double comm_seconds_ = 0;
};

// Candidates per chunk when scoring `queries` queries, so that a chunk of scores stays within
// 256 MiB. A shard that fits in one chunk is scored once per step (1-vs-all) or per
// evaluation batch; larger shards are scored twice, chunk by chunk.
std::int64_t candidate_chunk_rows(std::int64_t queries);

}  // namespace hrere::kbe
