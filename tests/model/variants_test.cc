#include "model/variants.h"

#include <gtest/gtest.h>

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

TEST(Variants, NamesParse) {
  EXPECT_EQ(core::parse_choice<Variant>("full"), Variant::kFull);
  EXPECT_EQ(core::parse_choice<Variant>("weston"), Variant::kWeston);
  EXPECT_STREQ(core::name_of(Variant::kNaive), "naive");
  EXPECT_FALSE(core::parse_choice<Variant>("joint"));
}

}  // namespace
}  // namespace hrere::train
