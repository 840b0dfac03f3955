#include "trainer/model/variants.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/errors.h"

namespace hrere::train {
namespace {

// -log softmax(logits)[label], by hand.
double cross_entropy(const std::vector<double>& logits, int label) {
  double total = 0;
  for (double l : logits) total += std::exp(l);
  return -(logits[label] - std::log(total));
}

TEST(Variants, LossesMatchAHandBuiltComputation) {
  // Two bags, three relations. The knowledge side prefers relation 2 for bag 0 (label 1)
  // and relation 0 for bag 1 (label 0).
  const std::vector<std::vector<double>> language = {{0.1, 0.5, -0.2}, {1.0, 0.0, 0.3}};
  const std::vector<std::vector<double>> knowledge = {{0.0, 0.2, 0.9}, {0.4, -1.0, 0.1}};
  const std::vector<int> labels = {1, 0};
  const torch::Tensor L =
      torch::tensor({0.1, 0.5, -0.2, 1.0, 0.0, 0.3}, torch::kFloat64).view({2, 3});
  const torch::Tensor G =
      torch::tensor({0.0, 0.2, 0.9, 0.4, -1.0, 0.1}, torch::kFloat64).view({2, 3});
  const torch::Tensor y = torch::tensor({1, 0}, torch::kInt64);

  const double j_l = (cross_entropy(language[0], 1) + cross_entropy(language[1], 0)) / 2;
  const double j_g = (cross_entropy(knowledge[0], 1) + cross_entropy(knowledge[1], 0)) / 2;
  const double j_d = (cross_entropy(language[0], 2) + cross_entropy(language[1], 0)) / 2;

  const LossTerms base = variant_loss(Variant::kBase, L, torch::Tensor(), y);
  EXPECT_NEAR(base.total().item<double>(), j_l, 1e-12);
  const LossTerms naive = variant_loss(Variant::kNaive, L, G, y);
  EXPECT_NEAR(naive.total().item<double>(), j_l + j_g, 1e-12);
  EXPECT_EQ(naive.agreement.item<double>(), 0.0);
  const LossTerms weston = variant_loss(Variant::kWeston, L, G, y);
  EXPECT_NEAR(weston.total().item<double>(), j_l + j_g, 1e-12);
  const LossTerms full = variant_loss(Variant::kFull, L, G, y);
  EXPECT_NEAR(full.language.item<double>(), j_l, 1e-12);
  EXPECT_NEAR(full.knowledge.item<double>(), j_g, 1e-12);
  EXPECT_NEAR(full.agreement.item<double>(), j_d, 1e-12);
  // train.agreement_weight scales J_D alone; at 0 full's loss is naive's.
  const LossTerms half = variant_loss(Variant::kFull, L, G, y, 0.5);
  EXPECT_NEAR(half.total().item<double>(), j_l + j_g + 0.5 * j_d, 1e-12);
  EXPECT_NEAR(variant_loss(Variant::kFull, L, G, y, 0.0).total().item<double>(), j_l + j_g, 1e-12);
}

TEST(Variants, AgreementDoesNotTrainTheKnowledgeSide) {
  const torch::Tensor L = torch::randn({4, 3}, torch::kFloat64).requires_grad_(true);
  const torch::Tensor G = torch::randn({4, 3}, torch::kFloat64).requires_grad_(true);
  variant_loss(Variant::kFull, L, G, torch::tensor({0, 1, 2, 0})).agreement.backward();
  EXPECT_TRUE(L.grad().defined());
  EXPECT_FALSE(G.grad().defined());  // r* = argmax p_G is a target, not a path for gradients
}

TEST(Variants, CombinedProbabilitiesAreTheAlphaMixture) {
  const torch::Tensor L = torch::tensor({{2.0, 0.0}}, torch::kFloat64);
  const torch::Tensor G = torch::tensor({{0.0, 1.0}}, torch::kFloat64);
  const torch::Tensor p = combined_probabilities(L, G, 0.6);
  const double pl = std::exp(2.0) / (std::exp(2.0) + 1), pg = 1 / (1 + std::exp(1.0));
  EXPECT_NEAR(p[0][0].item<double>(), 0.6 * pl + 0.4 * pg, 1e-12);
  EXPECT_NEAR(p.sum().item<double>(), 1.0, 1e-12);
  EXPECT_TRUE(
      torch::allclose(combined_probabilities(L, torch::Tensor(), 0.6), torch::softmax(L, 1)));
}

// kb_relations: matched. Three relations, NA = 0; the knowledge side knows NA and relation 1,
// not relation 2 (logit -inf). Bag 0 (label 1) counts for J_G and J_D, bag 1 (label 2) does
// not: each term is its bag-0 loss over the whole batch of 2.
TEST(Variants, MatchedRelationsLossesCountOnlyKnownLabels) {
  const double inf = std::numeric_limits<double>::infinity();
  const torch::Tensor L =
      torch::tensor({0.1, 0.5, -0.2, 1.0, 0.0, 0.3}, torch::kFloat64).view({2, 3});
  const torch::Tensor G =
      torch::tensor({0.7, 0.2, -inf, -0.4, 0.3, -inf}, torch::kFloat64).view({2, 3});
  const torch::Tensor y = torch::tensor({1, 2}, torch::kInt64);
  const double j_l = (cross_entropy({0.1, 0.5, -0.2}, 1) + cross_entropy({1.0, 0.0, 0.3}, 2)) / 2;
  const double j_g = cross_entropy({0.7, 0.2}, 1) / 2;        // softmax over what it knows
  const double j_d = cross_entropy({0.1, 0.5, -0.2}, 0) / 2;  // its choice for bag 0: NA
  const LossTerms full = variant_loss(Variant::kFull, L, G, y);
  EXPECT_NEAR(full.language.item<double>(), j_l, 1e-12);
  EXPECT_NEAR(full.knowledge.item<double>(), j_g, 1e-12);
  EXPECT_NEAR(full.agreement.item<double>(), j_d, 1e-12);

  // No gradient reaches the logits it does not score, nor bag 1's knowledge logits.
  const torch::Tensor G_leaf = G.clone().requires_grad_(true);
  variant_loss(Variant::kNaive, L, G_leaf, y).knowledge.backward();
  EXPECT_EQ(G_leaf.grad()[0][2].item<double>(), 0.0);
  EXPECT_TRUE(torch::equal(G_leaf.grad()[1], torch::zeros({3}, torch::kFloat64)));
  EXPECT_TRUE(G_leaf.grad()[0].abs().sum().item<double>() > 0);
}

// The mixture keeps p_L for relations the knowledge side does not know, and shares the mass
// p_L gives the known ones between the two sides: still a distribution.
TEST(Variants, MatchedRelationsMixtureIsADistributionThatKeepsUnknownRelations) {
  const double inf = std::numeric_limits<double>::infinity();
  const torch::Tensor L = torch::tensor({{1.0, 0.5, -0.5}}, torch::kFloat64);
  const torch::Tensor G = torch::tensor({{0.2, 1.2, -inf}}, torch::kFloat64);
  const torch::Tensor p = combined_probabilities(L, G, 0.6);
  const torch::Tensor pl = torch::softmax(L, 1);
  const double known = pl[0][0].item<double>() + pl[0][1].item<double>();
  const double pg1 = 1 / (1 + std::exp(0.2 - 1.2));
  EXPECT_NEAR(p[0][2].item<double>(), pl[0][2].item<double>(), 1e-12);
  EXPECT_NEAR(p[0][1].item<double>(), 0.6 * pl[0][1].item<double>() + 0.4 * known * pg1, 1e-12);
  EXPECT_NEAR(p.sum().item<double>(), 1.0, 1e-12);
  EXPECT_TRUE(p.isfinite().all().item<bool>());
}

// Only -inf marks a relation the knowledge side does not know: a NaN logit is not mistaken
// for one, so it shows in the losses and the scores.
TEST(Variants, NonFiniteKnowledgeLogitsOtherThanMinusInfinityShow) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const torch::Tensor L = torch::tensor({{1.0, 0.5, -0.5}}, torch::kFloat64);
  const torch::Tensor G = torch::tensor({{0.2, 1.2, nan}}, torch::kFloat64);
  const torch::Tensor y = torch::tensor({1}, torch::kInt64);
  EXPECT_TRUE(std::isnan(variant_loss(Variant::kFull, L, G, y).knowledge.item<double>()));
  EXPECT_TRUE(std::isnan(combined_probabilities(L, G, 0.6)[0][2].item<double>()));
}

TEST(Variants, NamesParse) {
  EXPECT_EQ(core::parse_choice<Variant>("full"), Variant::kFull);
  EXPECT_EQ(core::parse_choice<Variant>("weston"), Variant::kWeston);
  EXPECT_STREQ(core::name_of(Variant::kNaive), "naive");
  EXPECT_FALSE(core::parse_choice<Variant>("joint"));
}

}  // namespace
}  // namespace hrere::train
