#pragma once
// Row-wise ("lazy") optimizers: an update touches only the rows given, so its cost follows the
// batch, not the table. With every row given every step they are the ordinary dense
// optimizers, which is how the replicated relation table uses them.
//
// Adagrad (PyTorch's formula, initial accumulator 0):
//   sum += g^2;  w -= lr * g / (sqrt(sum) + eps)
// Rows with a zero gradient are unchanged, so lazy Adagrad equals dense Adagrad exactly.
//
// Adam keeps a step count PER ROW and bias-corrects with it (PyTorch's formula otherwise):
//   t += 1;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
//   w -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
// A row's update therefore depends only on the gradients that row has received, whatever
// else the batches contained. (PyTorch's SparseAdam also updates only the rows present, but
// bias-corrects with one global step count; for a rarely seen row that makes its first
// updates ~3x larger than Adam's. Rows looked up but given a zero gradient still count a
// step and decay their moments here.)
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/choice.h"

namespace hrere::kbe {

enum class OptimizerKind { kAdagrad, kAdam };

constexpr core::Choices<OptimizerKind, 2> choices(OptimizerKind) {
  return {{{OptimizerKind::kAdagrad, "adagrad"}, {OptimizerKind::kAdam, "adam"}}};
}

struct OptimizerOptions {
  OptimizerKind kind = OptimizerKind::kAdagrad;
  double lr = 0.1;
  double beta1 = 0.9;    // Adam
  double beta2 = 0.999;  // Adam
  double eps = 1e-10;    // PyTorch's Adagrad default; use 1e-8 for PyTorch's Adam default
};

class RowOptimizer {
 public:
  // State for a float32 table of `rows` x `dim` on `device` (the table's).
  RowOptimizer(const OptimizerOptions& options, std::int64_t rows, std::int64_t dim,
               torch::Device device = torch::kCPU);

  const OptimizerOptions& options() const { return options_; }

  // One update of `table` rows `rows` (int64 [n], distinct) with gradients `grad` [n, dim],
  // all on the state's device.
  void update(torch::Tensor& table, const torch::Tensor& rows, const torch::Tensor& grad);
  // The same update of every row, in place (no gather and scatter of table and state).
  void update_all(torch::Tensor& table, const torch::Tensor& grad);

  // The state, one row per table row, by name; the tensors share storage with the optimizer,
  // so checkpoints restore them in place. Adagrad "sum" [rows, dim]; Adam "exp_avg",
  // "exp_avg_sq" [rows, dim] and "steps" int64 [rows].
  std::vector<std::pair<std::string, torch::Tensor>> state() const;

 private:
  // The update on (copies of) rows of table and state, in place.
  void apply(torch::Tensor& w, const std::vector<torch::Tensor>& state,
             const torch::Tensor& grad) const;

  OptimizerOptions options_;
  torch::Tensor sum_;         // Adagrad
  torch::Tensor exp_avg_;     // Adam
  torch::Tensor exp_avg_sq_;  // Adam
  torch::Tensor steps_;       // Adam
};

}  // namespace hrere::kbe
