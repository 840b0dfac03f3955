#include "trainer/train_step.h"

#include <cmath>

#include "core/stopwatch.h"

namespace hrere::train {
namespace {

std::vector<torch::Tensor> trainable(const std::vector<NamedTensor>& state) {
  std::vector<torch::Tensor> out;
  for (const NamedTensor& named : state) {
    if (named.tensor.requires_grad()) out.push_back(named.tensor);
  }
  return out;
}

std::vector<NamedTensor> language_state(LanguageModel& model) {
  std::vector<NamedTensor> state;
  for (const auto& item : model->named_parameters()) state.push_back({item.key(), item.value()});
  for (const auto& item : model->named_buffers()) state.push_back({item.key(), item.value()});
  return state;
}

std::vector<NamedTensor> replicated_state(LanguageModel& model, KnowledgeModel* knowledge) {
  std::vector<NamedTensor> state = language_state(model);
  if (knowledge) state.push_back({"knowledge_relations", knowledge->relation_vectors()});
  return state;
}

}  // namespace

TrainStep::TrainStep(comm::Communicator& comm, LanguageModel model, KnowledgeModel* knowledge,
                     const TrainConfig& train, const DistConfig& dist)
    : comm_(comm),
      model_(std::move(model)),
      knowledge_(knowledge),
      variant_(train.variant),
      agreement_weight_(train.agreement_weight),
      on_nonfinite_(train.on_nonfinite),
      l2_(train.l2),
      checksum_every_(dist.checksum_every),
      overlap_(dist.overlap && comm.size() > 1 &&
               comm.callable_from_backward_threads(model_->device())),
      optimizer_(trainable(language_state(model_)), torch::optim::AdamOptions(train.lr_language)),
      replicas_(comm, replicated_state(model_, knowledge),
                static_cast<std::int64_t>(dist.bucket_mib * 1024 * 1024)) {
  model_->synchronize_batch_norm(comm);
  replicas_.broadcast_from_rank0();
}

StepLosses TrainStep::run(const data::Batch& batch, std::int64_t step) {
  model_->train();
  // Entity-row exchanges happen inside the knowledge lookup and step: they are taken out of
  // the forward and optimizer times and counted on their own.
  const auto exchange_seconds = [this] {
    return knowledge_ ? knowledge_->exchange_seconds() : 0.0;
  };
  // Forward updates the batch-norm statistics: a skipped step puts them back (a few small
  // vectors).
  std::vector<torch::Tensor> buffers;
  if (on_nonfinite_ == OnNonFinite::kSkip) {
    for (const torch::Tensor& buffer : model_->buffers()) buffers.push_back(buffer.clone());
  }
  double exchange_start = exchange_seconds();
  core::Stopwatch phase;
  const torch::Tensor knowledge_logits =
      knowledge_ ? knowledge_->logits(batch.heads, batch.tails) : torch::Tensor();
  const LossTerms terms = variant_loss(variant_, model_->forward(batch), knowledge_logits,
                                       batch.labels, agreement_weight_);
  const torch::Tensor l2 = l2_ * model_->l2_penalty();
  double exchanged = exchange_seconds() - exchange_start;
  times_.forward += phase.seconds() - exchanged;
  times_.exchange += exchanged;

  // The global batch and the loss terms' global sums, for the weights and the logs; they
  // stay on the device (the weight b / B is a device scalar).
  phase.restart();
  const auto b = static_cast<double>(batch.size());
  const auto sum_options = terms.language.options().dtype(torch::kFloat64);
  torch::Tensor sums = torch::stack({torch::full({}, b, sum_options),
                                     b * terms.language.detach().to(torch::kFloat64),
                                     b * terms.knowledge.detach().to(torch::kFloat64),
                                     b * terms.agreement.detach().to(torch::kFloat64)});
  if (comm_.size() > 1) comm_.all_reduce(sums);
  const torch::Tensor weight = (b / sums[0]).to(terms.language.scalar_type());
  times_.all_reduce += phase.seconds();

  // With overlap the gradient hooks copy and start buckets inside backward: that time is
  // the all-reduce's, so both columns show what each costs the step.
  const double all_reduce_start = replicas_.all_reduce_seconds();
  phase.restart();
  optimizer_.zero_grad();
  if (overlap_) replicas_.start_overlap();
  (terms.total() * weight + l2 / comm_.size()).backward();
  times_.backward += phase.seconds() - (replicas_.all_reduce_seconds() - all_reduce_start);

  replicas_.sum_gradients();
  times_.all_reduce += replicas_.all_reduce_seconds() - all_reduce_start;
  if (const std::string fault = nonfinite(sums, l2); !fault.empty()) {
    if (on_nonfinite_ == OnNonFinite::kStop) {
      throw NonFiniteStep("step " + std::to_string(step) + ": " + fault +
                          "; stopped before applying it (train.on_nonfinite: stop), so the "
                          "checkpoints hold only finite steps");
    }
    optimizer_.zero_grad();
    if (knowledge_) knowledge_->discard_step();
    torch::NoGradGuard no_grad;
    const std::vector<torch::Tensor> now = model_->buffers();
    for (std::size_t i = 0; i < now.size(); ++i) now[i].copy_(buffers[i]);
    StepLosses skipped;
    skipped.skipped = fault;
    return skipped;
  }

  exchange_start = exchange_seconds();
  phase.restart();
  optimizer_.step();
  if (knowledge_) knowledge_->step();
  exchanged = exchange_seconds() - exchange_start;
  times_.optimizer += phase.seconds() - exchanged;
  times_.exchange += exchanged;
  if (checksum_every_ > 0 && step % checksum_every_ == 0) replicas_.verify_identical(step);

  const torch::Tensor global_bags = sums[0];
  return {torch::cat({sums.slice(0, 1) / global_bags, l2.detach().to(torch::kFloat64).view({1}),
                      global_bags.view({1})}),
          /*skipped=*/{}};
}

std::string TrainStep::nonfinite(const torch::Tensor& sums, const torch::Tensor& l2) {
  // One host synchronisation per step: the losses and every gradient reduce to one flag
  // first, and the names are looked up only when it is set.
  std::vector<torch::Tensor> finite{torch::isfinite(sums).all(), torch::isfinite(l2).all()};
  const std::vector<NamedTensor>& state = replicas_.state();
  for (const NamedTensor& named : state) {
    if (named.tensor.grad().defined()) finite.push_back(torch::isfinite(named.tensor.grad()).all());
  }
  if (torch::stack(finite).all().item<bool>()) return "";
  const torch::Tensor host = sums.cpu();
  const char* terms[] = {"J_L", "J_G", "J_D"};
  for (int i = 0; i < 3; ++i) {
    const double mean = host[i + 1].item<double>() / host[0].item<double>();
    if (!std::isfinite(mean)) return std::string(terms[i]) + " is " + std::to_string(mean);
  }
  if (!torch::isfinite(l2).all().item<bool>()) return "the L2 penalty is not finite";
  for (const NamedTensor& named : state) {
    const torch::Tensor& grad = named.tensor.grad();
    if (grad.defined() && !torch::isfinite(grad).all().item<bool>()) {
      return "the summed gradient of " + named.name + " is not finite";
    }
  }
  return "a value is not finite";
}

}  // namespace hrere::train
