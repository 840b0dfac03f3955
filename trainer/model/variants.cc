#include "trainer/model/variants.h"

#include "comm/device.h"
#include "core/errors.h"

namespace hrere::train {
namespace {
// Where the knowledge side scores a relation: every logit but -inf. A NaN counts as known,
// so it reaches the loss and the scores (and train.on_nonfinite) instead of hiding.
torch::Tensor knows(const torch::Tensor& knowledge_logits) {
  return knowledge_logits.isneginf().logical_not();
}
}  // namespace

LossTerms variant_loss(Variant variant, const torch::Tensor& language_logits,
                       const torch::Tensor& knowledge_logits, const torch::Tensor& labels,
                       double agreement_weight) {
  namespace F = torch::nn::functional;
  LossTerms terms;
  const torch::Tensor y = comm::to_device(labels, language_logits.device());
  terms.language = F::cross_entropy(language_logits, y);
  terms.knowledge = torch::zeros({}, language_logits.options());
  terms.agreement = torch::zeros({}, language_logits.options());
  if (!uses_knowledge(variant)) return terms;
  // Bags whose label the knowledge side knows; the others stand in with NA (known, so their
  // loss is finite) and are weighted out.
  const torch::Tensor known = knows(knowledge_logits.detach());
  const torch::Tensor label_known = known.gather(1, y.unsqueeze(1)).squeeze(1);
  const torch::Tensor weight = label_known.to(language_logits.scalar_type());
  const double batch = static_cast<double>(y.size(0));
  const auto per_bag = F::CrossEntropyFuncOptions().reduction(torch::kNone);
  terms.knowledge =
      (F::cross_entropy(knowledge_logits, y.where(label_known, torch::zeros_like(y)), per_bag) *
       weight)
          .sum() /
      batch;
  if (variant == Variant::kFull) {
    const torch::Tensor kb_choice = knowledge_logits.detach().argmax(1);
    terms.agreement = agreement_weight *
                      (F::cross_entropy(language_logits, kb_choice, per_bag) * weight).sum() /
                      batch;
  }
  return terms;
}

torch::Tensor combined_probabilities(const torch::Tensor& language_logits,
                                     const torch::Tensor& knowledge_logits, double alpha) {
  const torch::Tensor p_language = torch::softmax(language_logits, 1);
  if (!knowledge_logits.defined()) return p_language;
  const torch::Tensor known = knows(knowledge_logits);
  const torch::Tensor known_mass = (p_language * known).sum(1, /*keepdim=*/true);  // p_L(K)
  const torch::Tensor mixed =
      alpha * p_language + (1 - alpha) * known_mass * torch::softmax(knowledge_logits, 1);
  return mixed.where(known, p_language);
}

}  // namespace hrere::train
