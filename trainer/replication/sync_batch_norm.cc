#include "trainer/replication/sync_batch_norm.h"

#include <algorithm>
#include <cstdint>

namespace hrere::train {
namespace {

// Sum over ranks with its adjoint: every rank's output is the same sum, so the gradient of
// the global objective with respect to one rank's input is the sum of all ranks' output
// gradients. Collectives run in the same order on every rank because the graphs match.
struct AllReduceSum : public torch::autograd::Function<AllReduceSum> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& input,
                               std::int64_t comm_address) {
    ctx->saved_data["comm"] = comm_address;
    torch::Tensor sum = input.contiguous().clone();
    communicator(comm_address).all_reduce(sum);
    return sum;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    torch::Tensor grad = grads[0].contiguous().clone();
    communicator(ctx->saved_data["comm"].toInt()).all_reduce(grad);
    return {grad, torch::Tensor()};
  }
  static comm::Communicator& communicator(std::int64_t address) {
    return *reinterpret_cast<comm::Communicator*>(static_cast<std::intptr_t>(address));
  }
};

}  // namespace

SyncBatchNorm1dImpl::SyncBatchNorm1dImpl(std::int64_t features, double momentum, double eps)
    : momentum_(momentum), eps_(eps) {
  weight_ = register_parameter("weight", torch::ones({features}));
  bias_ = register_parameter("bias", torch::zeros({features}));
  running_mean_ = register_buffer("running_mean", torch::zeros({features}));
  running_var_ = register_buffer("running_var", torch::ones({features}));
  num_batches_tracked_ = register_buffer("num_batches_tracked", torch::zeros({}, torch::kInt64));
}

torch::Tensor SyncBatchNorm1dImpl::forward(const torch::Tensor& input) {
  if (is_training()) {
    torch::NoGradGuard no_grad;
    num_batches_tracked_.add_(1);
  }
  if (!is_training() || comm_ == nullptr || comm_->size() == 1) {
    return torch::batch_norm(input, weight_, bias_, running_mean_, running_var_, is_training(),
                             momentum_, eps_, /*cudnn_enabled=*/true);
  }
  TORCH_CHECK(input.dim() == 2, "synchronised batch norm takes [N, C] inputs");
  const std::int64_t C = input.size(1);
  const torch::Tensor x = input.to(torch::kFloat64);
  const torch::Tensor local =
      torch::cat({x.sum(0), x.pow(2).sum(0),
                  torch::full({1}, static_cast<double>(input.size(0)), x.options())});
  const torch::Tensor global =
      AllReduceSum::apply(local, static_cast<std::int64_t>(reinterpret_cast<std::intptr_t>(comm_)));
  const torch::Tensor count = global[2 * C];
  const torch::Tensor mean = global.narrow(0, 0, C) / count;
  const torch::Tensor var = global.narrow(0, C, C) / count - mean.pow(2);  // biased, as BatchNorm
  {
    torch::NoGradGuard no_grad;
    // Unbiased variance for the running estimate, as BatchNorm; kept on the device (no
    // host read of the count).
    const torch::Tensor unbiased = var * (count / (count - 1).clamp_min(1));
    running_mean_.mul_(1 - momentum_).add_(mean.to(running_mean_.scalar_type()), momentum_);
    running_var_.mul_(1 - momentum_).add_(unbiased.to(running_var_.scalar_type()), momentum_);
  }
  const auto type = input.scalar_type();
  return (input - mean.to(type)) * torch::rsqrt(var.to(type) + eps_) * weight_ + bias_;
}

}  // namespace hrere::train
