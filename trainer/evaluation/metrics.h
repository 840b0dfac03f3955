#pragma once
// Held-out relation-extraction metrics over ranked predictions. A prediction is one
// (sample, relation != NA) score with a 0/1 label; both protocols of `hrere eval` reduce to
// a list of them. Plain C++ so they can be checked against hand-computed examples.
#include <cstdint>
#include <vector>

namespace hrere::train {

struct Prediction {
  float score = 0;
  bool positive = false;
};

// Predictions sorted by descending score; equal scores keep their input order (a stable
// sort), so results do not depend on the sort implementation.
std::vector<Prediction> rank_predictions(std::vector<Prediction> predictions);

struct PrPoint {
  double recall = 0;
  double precision = 0;
};

// The curve after each of the top k = 1..n ranked predictions.
std::vector<PrPoint> pr_curve(const std::vector<Prediction>& ranked);

// Average precision as scikit-learn computes it (what the reference reports as the PR-curve
// area): sum over distinct score thresholds of (R_n - R_{n-1}) * P_n; predictions with equal
// scores enter together. 0 when there is no positive.
double average_precision(const std::vector<Prediction>& ranked);

// Area under the (recall, precision) points of pr_curve by the trapezoid rule, as OpenNRE's
// "AUC" (sklearn.metrics.auc over the top-k points).
double trapezoid_auc(const std::vector<PrPoint>& curve);

// Precision of the top k predictions (k larger than the list counts the missing as wrong).
double precision_at(const std::vector<Prediction>& ranked, std::int64_t k);

// The reference's P@N%: precision of the top floor(N/100 * #positives) predictions, where
// #positives is the number of positive predictions (true facts) in the list.
double precision_at_percent(const std::vector<Prediction>& ranked, int percent);

// Precision at the first point of the curve whose recall reaches `recall`; 0 if none does.
double precision_at_recall(const std::vector<PrPoint>& curve, double recall);

// max over the curve of 2PR / (P + R).
double max_f1(const std::vector<PrPoint>& curve);

struct ClassScores {
  std::int64_t support = 0;    // samples whose label is the class
  std::int64_t predicted = 0;  // samples predicted as the class
  std::int64_t correct = 0;
  double precision = 0, recall = 0, f1 = 0;
};

// Per-class precision, recall and F1 of single-label predictions (argmax) against labels.
std::vector<ClassScores> per_class_scores(const std::vector<std::int64_t>& labels,
                                          const std::vector<std::int64_t>& predicted,
                                          std::int64_t num_classes);

}  // namespace hrere::train
