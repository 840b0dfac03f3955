#include "kbe_shard/complex.h"

#include <torch/torch.h>

#include <chrono>
#include <limits>
#include <vector>

#include "comm/device.h"
#include "core/errors.h"
#include "core/random.h"
#include "core/stopwatch.h"

namespace hrere::kbe {
namespace {

// Seeds of the two tables, derived from the model seed.
constexpr std::uint64_t kEntityStream = 1;
constexpr std::uint64_t kRelationStream = 2;

EmbeddingOptions entity_options(const ComplExOptions& options) {
  EmbeddingOptions table;
  table.num_rows = options.num_entities;
  table.dim = options.dim;
  table.init_std = options.init_std;
  table.seed = core::mix(options.seed, kEntityStream);
  table.optimizer = options.optimizer;
  table.device = options.device;
  table.trainable = options.trainable;
  return table;
}

std::int64_t relation_rows(const ComplExOptions& options) {
  return options.reciprocal ? 2 * options.num_relations : options.num_relations;
}

}  // namespace

torch::Tensor complex_product(const torch::Tensor& a, const torch::Tensor& b) {
  const auto ab = a.chunk(2, -1);
  const auto bb = b.chunk(2, -1);
  return torch::cat({ab[0] * bb[0] - ab[1] * bb[1], ab[0] * bb[1] + ab[1] * bb[0]}, -1);
}

torch::Tensor complex_conj(const torch::Tensor& a) {
  const auto parts = a.chunk(2, -1);
  return torch::cat({parts[0], -parts[1]}, -1);
}

torch::Tensor complex_score(const torch::Tensor& h, const torch::Tensor& r,
                            const torch::Tensor& t) {
  return (complex_product(h, r) * t).sum(-1);
}

torch::Tensor regularization(Regularizer regularizer, const std::vector<torch::Tensor>& factors) {
  torch::Tensor total =
      torch::zeros({}, factors.empty() ? torch::TensorOptions() : factors.front().options());
  if (regularizer == Regularizer::kNone) return total;
  for (const torch::Tensor& factor : factors) {
    const auto parts = factor.chunk(2, -1);
    const torch::Tensor squared = parts[0].square() + parts[1].square();  // |z|^2
    total = total + (regularizer == Regularizer::kL2 ? squared.sum() : squared.pow(1.5).sum());
  }
  return total;
}

torch::Tensor sample_negatives(const torch::Tensor& triples, const std::vector<std::uint64_t>& keys,
                               int negatives, std::int64_t num_entities,
                               const torch::Tensor& candidates) {
  const std::int64_t n = triples.size(0);
  torch::Tensor out =
      triples.to(torch::kCPU, torch::kInt64).unsqueeze(1).repeat({1, negatives, 1}).contiguous();
  const torch::Tensor pool = candidates.defined()
                                 ? candidates.to(torch::kCPU, torch::kInt64).contiguous()
                                 : torch::Tensor();
  const std::int64_t* ids = pool.defined() ? pool.data_ptr<std::int64_t>() : nullptr;
  const std::uint64_t choices = static_cast<std::uint64_t>(ids ? pool.numel() : num_entities);
  auto rows = out.accessor<std::int64_t, 3>();
  for (std::int64_t i = 0; i < n; ++i) {
    for (int j = 0; j < negatives; ++j) {
      const std::uint64_t bits = core::mix(keys[i], static_cast<std::uint64_t>(j));
      const std::int64_t choice = static_cast<std::int64_t>((bits >> 1) % choices);
      rows[i][j][(bits & 1) ? 0 : 2] = ids ? ids[choice] : choice;
    }
  }
  return out;
}

std::int64_t candidate_chunk_rows(std::int64_t queries) {
  return std::max<std::int64_t>(1, (std::int64_t{1} << 26) / std::max<std::int64_t>(1, queries));
}

ShardedComplEx::ShardedComplEx(comm::Communicator& comm, const ComplExOptions& options)
    : comm_(comm),
      options_(options),
      entities_(comm, entity_options(options)),
      relation_optimizer_(options.optimizer, relation_rows(options), options.dim, options.device) {
  if (options.dim <= 0 || options.dim % 2 != 0) {
    throw InputError(
        "ComplEx dimension must be a positive even number (real and "
        "imaginary halves), got " +
        std::to_string(options.dim));
  }
  EmbeddingOptions relation_table = entity_options(options);
  relation_table.num_rows = relation_rows(options);
  relation_table.seed = core::mix(options.seed, kRelationStream);
  relations_ = initial_rows(relation_table, {relation_table.num_rows, 0, 1}).requires_grad_(true);
}

torch::Tensor ShardedComplEx::activate(const torch::Tensor& entity_rows) const {
  return options_.entity_tanh ? entity_rows.tanh() : entity_rows;
}

// With one rank the collectives are identities: skip the copies into and out of MPI.
torch::Tensor ShardedComplEx::all_gather(const torch::Tensor& tensor) {
  if (comm_.size() == 1) return tensor.unsqueeze(0);
  core::ScopedTimer timer(comm_seconds_);
  return comm_.all_gather(tensor);
}

void ShardedComplEx::all_reduce(torch::Tensor& tensor, comm::ReduceOp op) {
  if (comm_.size() == 1) return;
  core::ScopedTimer timer(comm_seconds_);
  comm_.all_reduce(tensor, op);
}

torch::Tensor ShardedComplEx::all_to_all(const torch::Tensor& send,
                                         const std::vector<std::int64_t>& counts) {
  if (comm_.size() == 1) return send;
  core::ScopedTimer timer(comm_seconds_);
  return comm_.all_to_all(send, counts);
}

ShardedComplEx::GatheredQueries ShardedComplEx::gather_queries(const torch::Tensor& query,
                                                               double global_queries) {
  // The counts are exchanged on the host, where they are needed.
  const std::int64_t n = query.size(0), dim = options_.dim;
  torch::Tensor count = torch::tensor({n});
  all_reduce(count, comm::ReduceOp::Max);
  GatheredQueries gathered;
  gathered.width = count.item<std::int64_t>();
  torch::Tensor padded = torch::zeros({gathered.width, dim}, query.options());
  padded.narrow(0, 0, n).copy_(query.detach());
  const torch::Tensor all_counts = all_gather(torch::tensor({n})).reshape(-1);
  gathered.queries = all_gather(padded).reshape({comm_.size() * gathered.width, dim});
  gathered.weight =
      comm::to_device((torch::arange(gathered.width).unsqueeze(0) < all_counts.unsqueeze(1))
                              .reshape(-1)
                              .to(torch::kFloat) /
                          global_queries,
                      options_.device);
  return gathered;
}

ShardedComplEx::LogSumExp ShardedComplEx::log_sum_exp(const torch::Tensor& queries) {
  const std::int64_t num_queries = queries.size(0);
  const std::int64_t local = local_candidates();
  const std::int64_t chunk = candidate_chunk_rows(num_queries);
  torch::Tensor max =
      torch::full({num_queries}, -std::numeric_limits<float>::infinity(), queries.options());
  torch::Tensor sum = torch::zeros({num_queries}, queries.options());
  LogSumExp result;
  for (std::int64_t begin = 0; begin < local; begin += chunk) {
    const std::int64_t rows_here = std::min(chunk, local - begin);
    const torch::Tensor vectors = candidates(begin, rows_here);
    if (local <= chunk) result.kept = vectors;
    torch::Tensor scores = score_buffer(num_queries, rows_here);
    torch::mm_out(scores, queries, vectors.t());
    const torch::Tensor chunk_max = scores.amax(1);
    const torch::Tensor new_max = torch::maximum(max, chunk_max);
    scores.sub_(chunk_max.unsqueeze(1)).exp_();
    sum = sum * (max - new_max).exp() + scores.sum(1) * (chunk_max - new_max).exp();
    max = new_max;
  }
  torch::Tensor global_max = max.clone();
  all_reduce(global_max, comm::ReduceOp::Max);
  sum.mul_((max - global_max).exp());
  all_reduce(sum, comm::ReduceOp::Sum);
  result.max = max;
  result.log_sum_exp = global_max + sum.log();
  return result;
}

torch::Tensor ShardedComplEx::softmax_gradient(const GatheredQueries& gathered,
                                               const LogSumExp& lse) {
  // d loss / d score = softmax / (global queries) for every candidate.
  const torch::Tensor& queries = gathered.queries;
  const std::int64_t num_queries = queries.size(0);
  const std::int64_t local = local_candidates();
  const std::int64_t chunk = candidate_chunk_rows(num_queries);
  torch::Tensor query_grad = torch::zeros_like(queries);
  for (std::int64_t begin = 0; begin < local; begin += chunk) {
    const std::int64_t rows_here = std::min(chunk, local - begin);
    const torch::Tensor vectors = lse.kept.defined() ? lse.kept : candidates(begin, rows_here);
    torch::Tensor probability = score_buffer(num_queries, rows_here);
    if (lse.kept.defined()) {
      probability.mul_(((lse.max - lse.log_sum_exp).exp() * gathered.weight).unsqueeze(1));
    } else {
      torch::mm_out(probability, queries, vectors.t());
      probability.sub_(lse.log_sum_exp.unsqueeze(1)).exp_().mul_(gathered.weight.unsqueeze(1));
    }
    query_grad.addmm_(probability, vectors);
    torch::Tensor vector_grad = probability.t().mm(queries);
    if (options_.entity_tanh) vector_grad.mul_(1 - vectors.square());
    add_candidate_gradient(begin, vector_grad);
  }
  return query_grad;
}

double ShardedComplEx::one_vs_all_backward(const torch::Tensor& triples,
                                           std::int64_t global_triples) {
  if (!options_.reciprocal) {
    throw std::logic_error("1-vs-all training needs reciprocal relations");
  }
  const torch::Tensor h = triples.select(1, 0);
  const torch::Tensor r = triples.select(1, 1);
  const torch::Tensor t = triples.select(1, 2);
  const std::int64_t n = 2 * triples.size(0);  // this rank's queries
  const double global_queries = 2.0 * static_cast<double>(global_triples);

  const torch::Tensor rows = activate(entities_.lookup(torch::cat({h, t, t, h})));
  const torch::Tensor subject = rows.narrow(0, 0, n);
  const torch::Tensor object = rows.narrow(0, n, n);
  const torch::Tensor relation = relations_.index_select(
      0, comm::to_device(torch::cat({r, r + options_.num_relations}), options_.device));
  const torch::Tensor query = complex_product(subject, relation);
  const torch::Tensor positive = (query * object).sum(-1);
  const torch::Tensor penalty = options_.regularization_weight *
                                regularization(options_.regularizer, {subject, relation, object});

  // Every rank scores every query of the global batch against its shard.
  torch::NoGradGuard no_grad;
  const GatheredQueries gathered = gather_queries(query, global_queries);
  const LogSumExp lse = log_sum_exp(gathered.queries);
  const torch::Tensor query_grad = softmax_gradient(gathered, lse);
  // Rank q's queries come back to q from every rank (rows [q * width, (q + 1) * width)).
  const std::int64_t width = gathered.width;
  const std::vector<std::int64_t> widths(comm_.size(), width);
  const torch::Tensor my_query_grad = all_to_all(query_grad, widths)
                                          .reshape({comm_.size(), width, options_.dim})
                                          .sum(0)
                                          .narrow(0, 0, n);

  torch::Tensor loss = (lse.log_sum_exp.narrow(0, comm_.rank() * width, n).sum() -
                        positive.detach().sum() + penalty.detach()) /
                       global_queries;
  {
    torch::AutoGradMode enable(true);
    const torch::Tensor local_loss = (penalty - positive.sum()) / global_queries;
    torch::autograd::backward({local_loss, query}, {torch::ones_like(local_loss), my_query_grad});
  }
  all_reduce(loss, comm::ReduceOp::Sum);
  return loss.item<double>();
}

double ShardedComplEx::negative_backward(const torch::Tensor& triples,
                                         const torch::Tensor& corrupted,
                                         std::int64_t global_triples) {
  const std::int64_t n = triples.size(0);
  const std::int64_t k = corrupted.size(1);
  const torch::Tensor all = torch::cat({triples, corrupted.reshape({-1, 3})});
  const torch::Tensor rows =
      activate(entities_.lookup(torch::cat({all.select(1, 0), all.select(1, 2)})));
  const std::int64_t m = all.size(0);
  const torch::Tensor heads = rows.narrow(0, 0, m);
  const torch::Tensor tails = rows.narrow(0, m, m);
  const torch::Tensor relation =
      relations_.index_select(0, comm::to_device(all.select(1, 1), options_.device));
  const torch::Tensor scores = complex_score(heads, relation, tails);
  const double global = static_cast<double>(global_triples);
  const torch::Tensor penalty =
      options_.regularization_weight *
      regularization(options_.regularizer,
                     {heads.narrow(0, 0, n), relation.narrow(0, 0, n), tails.narrow(0, 0, n)});
  const torch::Tensor local_loss = (torch::softplus(-scores.narrow(0, 0, n)).sum() +
                                    torch::softplus(scores.narrow(0, n, m - n)).sum() /
                                        static_cast<double>(std::max<std::int64_t>(k, 1)) +
                                    penalty) /
                                   global;
  local_loss.backward();
  torch::Tensor loss = local_loss.detach().clone();
  all_reduce(loss, comm::ReduceOp::Sum);
  return loss.item<double>();
}

void ShardedComplEx::step() {
  torch::NoGradGuard no_grad;
  torch::Tensor grad =
      relations_.grad().defined() ? relations_.grad() : torch::zeros_like(relations_);
  all_reduce(grad, comm::ReduceOp::Sum);
  relation_optimizer_.update_all(relations_, grad);
  relations_.mutable_grad() = torch::Tensor();
  entities_.step();
}

torch::Tensor ShardedComplEx::tail_queries(const torch::Tensor& heads,
                                           const torch::Tensor& relations) {
  return complex_product(activate(entities_.lookup(heads)),
                         relations_.index_select(0, comm::to_device(relations, options_.device)));
}

torch::Tensor ShardedComplEx::head_queries(const torch::Tensor& relations,
                                           const torch::Tensor& tails) {
  const torch::Tensor object = activate(entities_.lookup(tails));
  if (options_.reciprocal) {
    return complex_product(
        object, relations_.index_select(
                    0, comm::to_device(relations + options_.num_relations, options_.device)));
  }
  // Re(<c, r, conj(t)>) = c . (conj(r) * t) in the [real | imaginary] dot product.
  return complex_product(
      complex_conj(relations_.index_select(0, comm::to_device(relations, options_.device))),
      object);
}

void ShardedComplEx::set_candidates(const torch::Tensor& global_ids) {
  const RowOwnership& ownership = entities_.shard().ownership();
  // Ascending ids (a KB partition's) are kept as given, sharing their storage: at Freebase's
  // size every id costs 8 bytes on every rank, and a sorted copy would double that.
  torch::Tensor ids = global_ids.to(torch::kCPU, torch::kInt64).reshape({-1}).contiguous();
  if (ids.numel() > 1 && !ids.slice(0, 1).gt(ids.slice(0, 0, -1)).all().item<bool>()) {
    ids = std::get<0>(ids.sort());
  }
  const std::int64_t* id = ids.data_ptr<std::int64_t>();
  if (ids.numel() > 0 && (id[0] < 0 || id[ids.numel() - 1] >= options_.num_entities)) {
    throw std::invalid_argument("ShardedComplEx::set_candidates: entity id out of range");
  }
  // This rank's candidate rows, ascending (the ids are, and rows follow ids within a rank).
  std::vector<std::int64_t> rows;
  rows.reserve(static_cast<std::size_t>(ids.numel() / ownership.size + 1));
  for (std::int64_t i = 0; i < ids.numel(); ++i) {
    if (ownership.owns(id[i])) rows.push_back(ownership.local_row(id[i]));
  }
  const torch::Tensor local_rows = torch::tensor(rows, torch::kInt64);
  candidate_position_ = torch::full({ownership.local_rows()}, -1, torch::kInt64);
  candidate_position_.index_copy_(0, local_rows, torch::arange(local_rows.numel(), torch::kInt64));
  candidate_rows_ = local_rows.to(options_.device);
  candidate_ids_ = ids;
}

std::int64_t ShardedComplEx::local_candidates() const {
  return candidate_rows_.defined() ? candidate_rows_.numel()
                                   : entities_.shard().ownership().local_rows();
}

torch::Tensor ShardedComplEx::candidate_positions(const torch::Tensor& local_rows) const {
  if (!candidate_position_.defined()) return local_rows;
  return candidate_position_.index_select(0, local_rows.reshape({-1})).reshape(local_rows.sizes());
}

torch::Tensor ShardedComplEx::candidates(std::int64_t begin, std::int64_t count) const {
  const torch::Tensor& table = entities_.shard().table();
  return activate(candidate_rows_.defined()
                      ? table.index_select(0, candidate_rows_.narrow(0, begin, count))
                      : table.narrow(0, begin, count));
}

torch::Tensor ShardedComplEx::entity_vectors(const torch::Tensor& local_rows) const {
  return activate(entities_.shard().table().index_select(0, local_rows.to(options_.device)));
}

void ShardedComplEx::add_candidate_gradient(std::int64_t begin, const torch::Tensor& grad) {
  if (candidate_rows_.defined()) {
    entities_.add_local_gradient(candidate_rows_.narrow(0, begin, grad.size(0)), grad);
  } else {
    entities_.add_local_gradient(begin, grad);
  }
}

torch::Tensor ShardedComplEx::score_buffer(std::int64_t queries, std::int64_t columns) {
  const std::int64_t size = queries * columns;
  if (!scores_.defined() || scores_.numel() < size) {
    scores_ = torch::empty({size}, entities_.shard().table().options());
  }
  return scores_.narrow(0, 0, size).view({queries, columns});
}

void ShardedComplEx::assign(const torch::Tensor& entity_rows, const torch::Tensor& relations) {
  torch::NoGradGuard no_grad;
  if (relations.sizes() != relations_.sizes()) {
    throw std::invalid_argument("ShardedComplEx::assign: relation table of the wrong shape");
  }
  entities_.shard().assign_local(entity_rows);
  relations_.copy_(relations);
}

}  // namespace hrere::kbe
