#include "kbe_shard/row_optimizer.h"

#include <torch/torch.h>

#include "data_pipeline/input_error.h"

namespace hrere::kbe {

const char* to_string(OptimizerKind kind) {
  return kind == OptimizerKind::kAdam ? "adam" : "adagrad";
}

OptimizerKind parse_optimizer_kind(const std::string& name) {
  if (name == "adagrad") return OptimizerKind::kAdagrad;
  if (name == "adam") return OptimizerKind::kAdam;
  throw data::InputError("unknown optimizer '" + name + "' (expected adagrad or adam)");
}

RowOptimizer::RowOptimizer(const OptimizerOptions& options, std::int64_t rows, std::int64_t dim)
    : options_(options) {
  if (options.kind == OptimizerKind::kAdagrad) {
    sum_ = torch::zeros({rows, dim});
  } else {
    exp_avg_ = torch::zeros({rows, dim});
    exp_avg_sq_ = torch::zeros({rows, dim});
    steps_ = torch::zeros({rows}, torch::kInt64);
  }
}

void RowOptimizer::update(torch::Tensor& table, const torch::Tensor& rows,
                          const torch::Tensor& grad) {
  torch::NoGradGuard no_grad;
  if (rows.numel() == 0) return;
  const torch::Tensor w = table.index_select(0, rows);
  if (options_.kind == OptimizerKind::kAdagrad) {
    const torch::Tensor sum = sum_.index_select(0, rows).addcmul_(grad, grad);
    sum_.index_copy_(0, rows, sum);
    table.index_copy_(0, rows, w.addcdiv(grad, sum.sqrt().add_(options_.eps), -options_.lr));
    return;
  }
  const double b1 = options_.beta1;
  const double b2 = options_.beta2;
  const torch::Tensor steps = steps_.index_select(0, rows).add_(1);
  steps_.index_copy_(0, rows, steps);
  const torch::Tensor m = exp_avg_.index_select(0, rows).mul_(b1).add_(grad, 1 - b1);
  const torch::Tensor v = exp_avg_sq_.index_select(0, rows).mul_(b2).addcmul_(grad, grad, 1 - b2);
  exp_avg_.index_copy_(0, rows, m);
  exp_avg_sq_.index_copy_(0, rows, v);
  // Bias corrections per row, in double as PyTorch computes them, then [n, 1] float.
  const torch::Tensor t = steps.to(torch::kDouble).unsqueeze(1);
  const torch::Tensor correction1 = 1 - torch::pow(b1, t);
  const torch::Tensor correction2_sqrt = (1 - torch::pow(b2, t)).sqrt();
  const torch::Tensor step_size = (options_.lr / correction1).to(torch::kFloat);
  const torch::Tensor denom = v.sqrt().div_(correction2_sqrt.to(torch::kFloat)).add_(options_.eps);
  table.index_copy_(0, rows, w - step_size * m / denom);
}

std::vector<std::pair<std::string, torch::Tensor>> RowOptimizer::state() const {
  if (options_.kind == OptimizerKind::kAdagrad) return {{"sum", sum_}};
  return {{"exp_avg", exp_avg_}, {"exp_avg_sq", exp_avg_sq_}, {"steps", steps_}};
}

}  // namespace hrere::kbe
