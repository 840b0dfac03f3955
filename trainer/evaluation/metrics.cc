#include "trainer/evaluation/metrics.h"

#include <algorithm>
#include <stdexcept>

namespace hrere::train {

std::vector<Prediction> rank_predictions(std::vector<Prediction> predictions) {
  std::stable_sort(predictions.begin(), predictions.end(),
                   [](const Prediction& a, const Prediction& b) { return a.score > b.score; });
  return predictions;
}

namespace {
std::int64_t count_positive(const std::vector<Prediction>& ranked) {
  return std::count_if(ranked.begin(), ranked.end(),
                       [](const Prediction& p) { return p.positive; });
}
}  // namespace

std::vector<PrPoint> pr_curve(const std::vector<Prediction>& ranked) {
  const std::int64_t positives = count_positive(ranked);
  std::vector<PrPoint> curve;
  curve.reserve(ranked.size());
  std::int64_t correct = 0;
  for (std::size_t k = 0; k < ranked.size(); ++k) {
    correct += ranked[k].positive;
    curve.push_back({positives ? static_cast<double>(correct) / positives : 0.0,
                     static_cast<double>(correct) / static_cast<double>(k + 1)});
  }
  return curve;
}

double average_precision(const std::vector<Prediction>& ranked) {
  const std::int64_t positives = count_positive(ranked);
  if (positives == 0) return 0.0;
  double ap = 0, previous_recall = 0;
  std::int64_t correct = 0;
  for (std::size_t k = 0; k < ranked.size(); ++k) {
    correct += ranked[k].positive;
    // A threshold takes every prediction with the same score at once.
    if (k + 1 < ranked.size() && ranked[k + 1].score == ranked[k].score) continue;
    const double recall = static_cast<double>(correct) / positives;
    ap += (recall - previous_recall) * static_cast<double>(correct) / static_cast<double>(k + 1);
    previous_recall = recall;
  }
  return ap;
}

double trapezoid_auc(const std::vector<PrPoint>& curve) {
  double area = 0;
  for (std::size_t i = 1; i < curve.size(); ++i) {
    area +=
        (curve[i].recall - curve[i - 1].recall) * (curve[i].precision + curve[i - 1].precision) / 2;
  }
  return area;
}

double precision_at(const std::vector<Prediction>& ranked, std::int64_t k) {
  if (k <= 0) return 0.0;
  const std::int64_t n = std::min<std::int64_t>(k, static_cast<std::int64_t>(ranked.size()));
  const std::int64_t correct = std::count_if(ranked.begin(), ranked.begin() + n,
                                             [](const Prediction& p) { return p.positive; });
  return static_cast<double>(correct) / static_cast<double>(k);
}

double precision_at_percent(const std::vector<Prediction>& ranked, int percent) {
  if (percent <= 0 || percent > 100) throw std::invalid_argument("P@N% needs N in 1..100");
  return precision_at(ranked, count_positive(ranked) * percent / 100);
}

double precision_at_recall(const std::vector<PrPoint>& curve, double recall) {
  for (const PrPoint& p : curve) {
    if (p.recall >= recall) return p.precision;
  }
  return 0.0;
}

double max_f1(const std::vector<PrPoint>& curve) {
  double best = 0;
  for (const PrPoint& p : curve) {
    if (p.precision + p.recall > 0) {
      best = std::max(best, 2 * p.precision * p.recall / (p.precision + p.recall));
    }
  }
  return best;
}

std::vector<ClassScores> per_class_scores(const std::vector<std::int64_t>& labels,
                                          const std::vector<std::int64_t>& predicted,
                                          std::int64_t num_classes) {
  if (labels.size() != predicted.size()) {
    throw std::invalid_argument("per_class_scores: labels and predictions differ in number");
  }
  std::vector<ClassScores> scores(num_classes);
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0 || labels[i] >= num_classes || predicted[i] < 0 ||
        predicted[i] >= num_classes) {
      throw std::invalid_argument("per_class_scores: class id out of range");
    }
    ++scores[labels[i]].support;
    ++scores[predicted[i]].predicted;
    scores[labels[i]].correct += labels[i] == predicted[i];
  }
  for (ClassScores& s : scores) {
    s.precision = s.predicted ? static_cast<double>(s.correct) / s.predicted : 0.0;
    s.recall = s.support ? static_cast<double>(s.correct) / s.support : 0.0;
    s.f1 = s.precision + s.recall > 0 ? 2 * s.precision * s.recall / (s.precision + s.recall) : 0.0;
  }
  return scores;
}

}  // namespace hrere::train
