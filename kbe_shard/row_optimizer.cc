#include "kbe_shard/row_optimizer.h"

#include <torch/torch.h>

#include "core/errors.h"

namespace hrere::kbe {

RowOptimizer::RowOptimizer(const OptimizerOptions& options, std::int64_t rows, std::int64_t dim,
                           torch::Device device)
    : options_(options) {
  const torch::TensorOptions on_device = torch::TensorOptions().device(device);
  if (options.kind == OptimizerKind::kAdagrad) {
    sum_ = torch::zeros({rows, dim}, on_device);
  } else {
    exp_avg_ = torch::zeros({rows, dim}, on_device);
    exp_avg_sq_ = torch::zeros({rows, dim}, on_device);
    steps_ = torch::zeros({rows}, on_device.dtype(torch::kInt64));
  }
}

void RowOptimizer::update(torch::Tensor& table, const torch::Tensor& rows,
                          const torch::Tensor& grad) {
  torch::NoGradGuard no_grad;
  if (rows.numel() == 0) return;
  torch::Tensor w = table.index_select(0, rows);
  std::vector<torch::Tensor> state;
  for (const auto& [name, tensor] : this->state()) state.push_back(tensor.index_select(0, rows));
  apply(w, state, grad);
  table.index_copy_(0, rows, w);
  std::size_t i = 0;
  for (const auto& [name, tensor] : this->state()) tensor.index_copy_(0, rows, state[i++]);
}

void RowOptimizer::update_all(torch::Tensor& table, const torch::Tensor& grad) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> state;
  for (const auto& [name, tensor] : this->state()) state.push_back(tensor);
  apply(table, state, grad);
}

void RowOptimizer::apply(torch::Tensor& w, const std::vector<torch::Tensor>& state,
                         const torch::Tensor& grad) const {
  if (options_.kind == OptimizerKind::kAdagrad) {
    const torch::Tensor& sum = state[0];
    sum.addcmul_(grad, grad);
    w.addcdiv_(grad, sum.sqrt().add_(options_.eps), -options_.lr);
    return;
  }
  const double b1 = options_.beta1;
  const double b2 = options_.beta2;
  const torch::Tensor& m = state[0];
  const torch::Tensor& v = state[1];
  const torch::Tensor& steps = state[2];
  steps.add_(1);
  m.mul_(b1).add_(grad, 1 - b1);
  v.mul_(b2).addcmul_(grad, grad, 1 - b2);
  // Bias corrections per row, in double as PyTorch computes them, then [n, 1] float.
  const torch::Tensor t = steps.to(torch::kDouble).unsqueeze(1);
  const torch::Tensor correction1 = 1 - torch::pow(b1, t);
  const torch::Tensor correction2_sqrt = (1 - torch::pow(b2, t)).sqrt();
  const torch::Tensor step_size = (options_.lr / correction1).to(torch::kFloat);
  const torch::Tensor denom = v.sqrt().div_(correction2_sqrt.to(torch::kFloat)).add_(options_.eps);
  w.sub_(step_size * m / denom);
}

std::vector<std::pair<std::string, torch::Tensor>> RowOptimizer::state() const {
  if (options_.kind == OptimizerKind::kAdagrad) return {{"sum", sum_}};
  return {{"exp_avg", exp_avg_}, {"exp_avg_sq", exp_avg_sq_}, {"steps", steps_}};
}

}  // namespace hrere::kbe
