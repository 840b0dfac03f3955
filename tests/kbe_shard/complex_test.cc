// Sharded ComplEx losses, gradients and filtered ranks against unsharded computations on a
// tiny KB. Runs as one process and under mpirun -np 2 and 3. The models compute on
// testing::test_device(), the references on the host.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "comm/routing_communicator.h"
#include "kbe_shard/complex.h"
#include "kbe_shard/link_prediction.h"
#include "kbe_test_util.h"

namespace hrere::kbe {
namespace {

using testing::relative_error;

constexpr std::int64_t kEntities = 11;
constexpr std::int64_t kRelations = 3;

ComplExOptions tiny_model(bool reciprocal, bool tanh, Regularizer regularizer) {
  ComplExOptions options;
  options.num_entities = kEntities;
  options.num_relations = kRelations;
  options.dim = 8;
  options.entity_tanh = tanh;
  options.reciprocal = reciprocal;
  options.init_std = 0.7;
  options.seed = 3;
  options.regularizer = regularizer;
  options.regularization_weight = 0.05;
  options.device = testing::test_device();
  return options;
}

torch::Tensor random_triples(std::int64_t count, std::uint64_t seed) {
  torch::manual_seed(seed);
  return torch::stack({torch::randint(kEntities, {count}, torch::kInt64),
                       torch::randint(kRelations, {count}, torch::kInt64),
                       torch::randint(kEntities, {count}, torch::kInt64)},
                      1);
}

// This rank's contiguous part of a global batch.
torch::Tensor my_part(const torch::Tensor& batch, const comm::Communicator& comm) {
  const std::int64_t n = batch.size(0);
  const std::int64_t begin = n * comm.rank() / comm.size();
  return batch.narrow(0, begin, n * (comm.rank() + 1) / comm.size() - begin);
}

// The gradients the sharded model holds, in full: entities [N, D] (rows without a gradient
// are zero) and relations summed over ranks.
std::pair<torch::Tensor, torch::Tensor> sharded_gradients(ShardedComplEx& model) {
  comm::Communicator& comm = model.comm();
  const RowGradients rows = model.entities().exchange_gradients();
  torch::Tensor entity = torch::zeros({kEntities, model.options().dim});
  entity.index_copy_(
      0, model.entities().shard().ownership().global_ids().index_select(0, rows.rows.cpu()),
      rows.grad.cpu());
  comm.all_reduce(entity);  // each row is non-zero on its owner only
  torch::Tensor relation = model.relations().grad().cpu().clone();
  comm.all_reduce(relation);
  return {entity, relation};
}

void expect_close(double actual, double expected, double tolerance, const std::string& what) {
  EXPECT_LE(std::abs(actual - expected), tolerance * std::max(1.0, std::abs(expected))) << what;
}

class OneVsAll : public ::testing::TestWithParam<std::tuple<bool, Regularizer>> {};

// The restricted variants' candidates: entities 1, 4 and 7 are none.
torch::Tensor candidate_ids() { return torch::tensor({0, 2, 3, 5, 6, 8, 9, 10}, torch::kInt64); }

// `triples` with their entities replaced by candidates (entity e -> candidate_ids()[e mod 8]).
torch::Tensor among_candidates(torch::Tensor triples) {
  for (int column : {0, 2}) {
    triples.select(1, column).copy_(
        candidate_ids().index_select(0, triples.select(1, column).remainder(8)));
  }
  return triples;
}

TEST_P(OneVsAll, LossAndGradientsMatchUnshardedSoftmax) {
  const auto [tanh, regularizer] = GetParam();
  comm::Communicator& comm = comm::world();
  const ComplExOptions options = tiny_model(/*reciprocal=*/true, tanh, regularizer);
  for (const bool restricted : {false, true}) {
    ShardedComplEx model(comm, options);
    torch::Tensor batch = random_triples(7, 11);
    // The softmax's support: every entity, or the candidates (their positions are the labels).
    torch::Tensor support = torch::arange(kEntities);
    if (restricted) {
      batch = among_candidates(batch);
      support = candidate_ids();
      model.set_candidates(candidate_ids());
    }
    const torch::Tensor label = torch::full({kEntities}, -1, torch::kInt64)
                                    .index_copy_(0, support, torch::arange(support.numel()));
    const double loss = model.one_vs_all_backward(my_part(batch, comm), batch.size(0));
    const auto [entity_grad, relation_grad] = sharded_gradients(model);

    // Unsharded: softmax over the support for (h, r) -> t and (t, r + R) -> h.
    const torch::Tensor entities = model.entities().gather_full().cpu().requires_grad_(true);
    const torch::Tensor relations = model.relations().detach().cpu().clone().requires_grad_(true);
    const torch::Tensor active = tanh ? entities.tanh() : entities;
    const torch::Tensor h = batch.select(1, 0), r = batch.select(1, 1), t = batch.select(1, 2);
    const torch::Tensor subject = active.index_select(0, torch::cat({h, t}));
    const torch::Tensor object = active.index_select(0, torch::cat({t, h}));
    const torch::Tensor relation = relations.index_select(0, torch::cat({r, r + kRelations}));
    const torch::Tensor scores =
        complex_product(subject, relation).mm(active.index_select(0, support).t());
    const torch::Tensor expected_loss =
        torch::nll_loss(torch::log_softmax(scores, 1), label.index_select(0, torch::cat({t, h}))) +
        options.regularization_weight * regularization(regularizer, {subject, relation, object}) /
            (2.0 * batch.size(0));
    expected_loss.backward();

    const std::string variant = restricted ? " (restricted candidates)" : "";
    expect_close(loss, expected_loss.item<double>(), 1e-6, "loss" + variant);
    EXPECT_LT(relative_error(entity_grad, entities.grad()), 1e-5) << variant;
    EXPECT_LT(relative_error(relation_grad, relations.grad()), 1e-5) << variant;
  }
}

INSTANTIATE_TEST_SUITE_P(Variants, OneVsAll,
                         ::testing::Values(std::make_tuple(false, Regularizer::kN3),
                                           std::make_tuple(true, Regularizer::kL2),
                                           std::make_tuple(false, Regularizer::kNone)));

TEST(NegativeSampling, LossAndGradientsMatchUnsharded) {
  comm::Communicator& comm = comm::world();
  const ComplExOptions options = tiny_model(/*reciprocal=*/false, /*tanh=*/true, Regularizer::kN3);
  ShardedComplEx model(comm, options);
  const torch::Tensor batch = random_triples(7, 12);
  std::vector<std::uint64_t> keys;
  for (std::uint64_t i = 0; i < 7; ++i) keys.push_back(100 + i);
  const torch::Tensor corrupted = sample_negatives(batch, keys, 4, kEntities);
  // Each sample changes exactly one end of its triple.
  const torch::Tensor same = corrupted.eq(batch.unsqueeze(1));
  EXPECT_TRUE(same.select(2, 1).all().item<bool>());
  // Restricted to candidates, the replacements are candidates.
  const torch::Tensor replaced =
      sample_negatives(among_candidates(batch.clone()), keys, 4, kEntities, candidate_ids());
  EXPECT_TRUE(torch::isin(replaced.select(2, 0), candidate_ids()).all().item<bool>());
  EXPECT_TRUE(torch::isin(replaced.select(2, 2), candidate_ids()).all().item<bool>());
  const std::int64_t begin = 7 * comm.rank() / comm.size();
  const std::int64_t count = 7 * (comm.rank() + 1) / comm.size() - begin;
  const double loss =
      model.negative_backward(batch.narrow(0, begin, count), corrupted.narrow(0, begin, count), 7);
  const auto [entity_grad, relation_grad] = sharded_gradients(model);

  const torch::Tensor entities = model.entities().gather_full().cpu().requires_grad_(true);
  const torch::Tensor relations = model.relations().detach().cpu().clone().requires_grad_(true);
  const auto score = [&](const torch::Tensor& triples) {
    return complex_score(entities.index_select(0, triples.select(1, 0)).tanh(),
                         relations.index_select(0, triples.select(1, 1)),
                         entities.index_select(0, triples.select(1, 2)).tanh());
  };
  const torch::Tensor penalty =
      regularization(Regularizer::kN3, {entities.index_select(0, batch.select(1, 0)).tanh(),
                                        relations.index_select(0, batch.select(1, 1)),
                                        entities.index_select(0, batch.select(1, 2)).tanh()});
  const torch::Tensor expected_loss =
      torch::softplus(-score(batch)).mean() +
      torch::softplus(score(corrupted.reshape({-1, 3}))).sum() / (7.0 * 4) +
      options.regularization_weight * penalty / 7.0;
  expected_loss.backward();

  expect_close(loss, expected_loss.item<double>(), 1e-6, "loss");
  EXPECT_LT(relative_error(entity_grad, entities.grad()), 1e-5);
  EXPECT_LT(relative_error(relation_grad, relations.grad()), 1e-5);
}

// Brute force in double over the full tables: rank = 1 + #greater + #equal / 2 over the
// candidates that are neither the answer nor another known answer.
double brute_force_rank(const torch::Tensor& scores, std::int64_t answer, const KnownAnswers& known,
                        const torch::Tensor& candidates) {
  const double target = scores[answer].item<double>();
  double rank = 1;
  for (std::int64_t c = 0; c < scores.size(0); ++c) {
    if (c == answer || std::find(known.begin(), known.end(), c) != known.end() ||
        !candidates.eq(c).any().item<bool>()) {
      continue;
    }
    const double s = scores[c].item<double>();
    rank += s > target ? 1.0 : s == target ? 0.5 : 0.0;
  }
  return rank;
}

// The same over a list of drawn candidates, each draw compared once.
double brute_force_sampled_rank(const torch::Tensor& scores, std::int64_t answer,
                                const KnownAnswers& known, const torch::Tensor& drawn) {
  const double target = scores[answer].item<double>();
  double rank = 1;
  for (std::int64_t j = 0; j < drawn.numel(); ++j) {
    const std::int64_t c = drawn[j].item<std::int64_t>();
    if (c == answer || std::find(known.begin(), known.end(), c) != known.end()) continue;
    const double s = scores[c].item<double>();
    rank += s > target ? 1.0 : s == target ? 0.5 : 0.0;
  }
  return rank;
}

TEST(LinkPrediction, FilteredRanksMatchBruteForceWithTies) {
  comm::Communicator& comm = comm::world();
  for (const auto& [reciprocal, restricted] :
       {std::pair{false, false}, std::pair{true, false}, std::pair{true, true}}) {
    ComplExOptions options = tiny_model(reciprocal, /*tanh=*/false, Regularizer::kNone);
    ShardedComplEx model(comm, options);
    const torch::Tensor candidates = restricted ? candidate_ids() : torch::arange(kEntities);
    if (restricted) model.set_candidates(candidate_ids());
    // Small integers: every score is exact and ties are frequent.
    torch::manual_seed(5);
    const torch::Tensor entities = torch::randint(-1, 2, {kEntities, 8}).to(torch::kFloat);
    const torch::Tensor relations =
        torch::randint(-1, 2, {model.relations().size(0), 8}).to(torch::kFloat);
    model.assign(entities.index_select(0, model.entities().shard().ownership().global_ids()),
                 relations);

    const torch::Tensor known =
        restricted ? among_candidates(random_triples(30, 13)) : random_triples(30, 13);
    const torch::Tensor evaluated = known.narrow(0, 0, 12);
    const auto flat = [](const torch::Tensor& triples) {
      const torch::Tensor ints = triples.to(torch::kInt32).contiguous();
      return std::vector<std::int32_t>(ints.data_ptr<std::int32_t>(),
                                       ints.data_ptr<std::int32_t>() + ints.numel());
    };
    FilterIndex filter;
    filter.add(flat(known));
    RankingProtocol protocol;
    protocol.batch = 5;
    const FilteredRanks ranks = filtered_ranks(model, flat(evaluated), filter, protocol);
    // Sampled candidates: 9 drawn per batch of 5 triples, with replacement (duplicates count
    // twice), so some are known answers and some repeat.
    protocol.sampled_candidates = 9;
    protocol.seed = 17;
    const FilteredRanks sampled = filtered_ranks(model, flat(evaluated), filter, protocol);

    const torch::Tensor e = entities.to(torch::kDouble);
    for (std::int64_t i = 0; i < evaluated.size(0); ++i) {
      const std::int64_t h = evaluated[i][0].item<std::int64_t>();
      const std::int64_t r = evaluated[i][1].item<std::int64_t>();
      const std::int64_t t = evaluated[i][2].item<std::int64_t>();
      const torch::Tensor w = relations[r].to(torch::kDouble);
      const torch::Tensor tail_scores = complex_score(e[h].expand_as(e), w.expand_as(e), e);
      const torch::Tensor head_scores =
          reciprocal ? complex_score(e[t].expand_as(e),
                                     relations[r + kRelations].to(torch::kDouble).expand_as(e), e)
                     : complex_score(e, w.expand_as(e), e[t].expand_as(e));
      const std::string variant = std::string(reciprocal ? " (reciprocal)" : "") +
                                  (restricted ? " (restricted candidates)" : "");
      EXPECT_EQ(ranks.tail[i].item<double>(),
                brute_force_rank(tail_scores, t, filter.tails(h, r), candidates))
          << "tail of triple " << i << variant;
      EXPECT_EQ(ranks.head[i].item<double>(),
                brute_force_rank(head_scores, h, filter.heads(r, t), candidates))
          << "head of triple " << i << variant;
      const torch::Tensor drawn = sample_evaluation_candidates(
          protocol.seed, i / protocol.batch, protocol.sampled_candidates, kEntities,
          restricted ? candidate_ids() : torch::Tensor());
      EXPECT_TRUE(torch::isin(drawn, candidates).all().item<bool>());
      EXPECT_EQ(sampled.tail[i].item<double>(),
                brute_force_sampled_rank(tail_scores, t, filter.tails(h, r), drawn))
          << "sampled tail of triple " << i << variant;
      EXPECT_EQ(sampled.head[i].item<double>(),
                brute_force_sampled_rank(head_scores, h, filter.heads(r, t), drawn))
          << "sampled head of triple " << i << variant;
    }
  }
}

TEST(LinkPrediction, SummaryOfKnownRanks) {
  const LinkPredictionMetrics metrics = summarize(
      {torch::tensor({1.0, 2.5}, torch::kDouble), torch::tensor({10.0, 10.5}, torch::kDouble)});
  EXPECT_EQ(metrics.head.count, 2);
  EXPECT_DOUBLE_EQ(metrics.head.mrr, (1.0 + 1 / 2.5) / 2);
  EXPECT_DOUBLE_EQ(metrics.head.hits1, 0.5);
  EXPECT_DOUBLE_EQ(metrics.head.hits3, 1.0);
  EXPECT_DOUBLE_EQ(metrics.tail.hits10, 0.5);
  EXPECT_DOUBLE_EQ(metrics.both.mr, (1 + 2.5 + 10 + 10.5) / 4);
}

}  // namespace
}  // namespace hrere::kbe
