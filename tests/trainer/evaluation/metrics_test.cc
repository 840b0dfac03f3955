#include "trainer/evaluation/metrics.h"

#include <gtest/gtest.h>

namespace hrere::train {
namespace {

// Five predictions, three of them true facts: + - + - +.
std::vector<Prediction> five() {
  return rank_predictions({{0.6f, false}, {0.9f, true}, {0.5f, true}, {0.8f, false}, {0.7f, true}});
}

TEST(Metrics, RankingIsByScoreAndStableOnTies) {
  const auto ranked = rank_predictions({{0.5f, true}, {0.9f, false}, {0.9f, true}});
  ASSERT_EQ(ranked.size(), 3u);
  EXPECT_FALSE(ranked[0].positive);  // the first of the tied 0.9s stays first
  EXPECT_TRUE(ranked[1].positive);
  EXPECT_FLOAT_EQ(ranked[2].score, 0.5f);
}

TEST(Metrics, CurveByHand) {
  const auto curve = pr_curve(five());
  const double recall[] = {1 / 3., 1 / 3., 2 / 3., 2 / 3., 1.};
  const double precision[] = {1., 1 / 2., 2 / 3., 1 / 2., 3 / 5.};
  ASSERT_EQ(curve.size(), 5u);
  for (int k = 0; k < 5; ++k) {
    EXPECT_DOUBLE_EQ(curve[k].recall, recall[k]) << k;
    EXPECT_DOUBLE_EQ(curve[k].precision, precision[k]) << k;
  }
}

TEST(Metrics, AveragePrecisionAsScikitLearn) {
  // sklearn.metrics.average_precision_score([1,0,1,0,1], [.9,.8,.7,.6,.5]) = 0.7556
  EXPECT_NEAR(average_precision(five()), (1. + 2 / 3. + 3 / 5.) / 3, 1e-12);
  // Tied scores form one threshold: ([1,0,1], [.9,.9,.5]) = 0.5833
  EXPECT_NEAR(average_precision(rank_predictions({{0.9f, true}, {0.9f, false}, {0.5f, true}})),
              0.5 * 0.5 + 0.5 * (2 / 3.), 1e-12);
  EXPECT_EQ(average_precision(rank_predictions({{0.9f, false}})), 0.0);
}

TEST(Metrics, TrapezoidAreaByHand) {
  EXPECT_NEAR(trapezoid_auc(pr_curve(five())), 7 / 36. + 11 / 60., 1e-12);
}

TEST(Metrics, PrecisionAtKAndAtPercent) {
  const auto ranked = five();
  EXPECT_DOUBLE_EQ(precision_at(ranked, 2), 0.5);
  EXPECT_DOUBLE_EQ(precision_at(ranked, 10), 0.3);  // the missing five count as wrong
  EXPECT_DOUBLE_EQ(precision_at(ranked, 0), 0.0);
  // 3 true facts: P@50% looks at floor(1.5) = 1 prediction, P@100% at 3.
  EXPECT_DOUBLE_EQ(precision_at_percent(ranked, 50), 1.0);
  EXPECT_DOUBLE_EQ(precision_at_percent(ranked, 100), 2 / 3.);
  EXPECT_DOUBLE_EQ(precision_at_percent(ranked, 10), 0.0);
  EXPECT_THROW(precision_at_percent(ranked, 0), std::invalid_argument);
}

TEST(Metrics, PrecisionAtRecallAndMaxF1) {
  const auto curve = pr_curve(five());
  EXPECT_DOUBLE_EQ(precision_at_recall(curve, 0.5), 2 / 3.);
  EXPECT_DOUBLE_EQ(precision_at_recall(curve, 1.0), 0.6);
  EXPECT_DOUBLE_EQ(max_f1(curve), 0.75);
}

TEST(Metrics, PerClassScoresByHand) {
  const auto scores = per_class_scores({0, 1, 1, 2}, {0, 1, 2, 2}, 3);
  EXPECT_EQ(scores[1].support, 2);
  EXPECT_EQ(scores[1].predicted, 1);
  EXPECT_DOUBLE_EQ(scores[1].precision, 1.0);
  EXPECT_DOUBLE_EQ(scores[1].recall, 0.5);
  EXPECT_DOUBLE_EQ(scores[1].f1, 2 / 3.);
  EXPECT_DOUBLE_EQ(scores[2].precision, 0.5);
  EXPECT_DOUBLE_EQ(scores[2].recall, 1.0);
  EXPECT_THROW(per_class_scores({0, 3}, {0, 0}, 3), std::invalid_argument);
}

}  // namespace
}  // namespace hrere::train
