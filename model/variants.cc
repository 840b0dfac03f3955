#include "model/variants.h"

#include "comm/device.h"
#include "core/errors.h"

namespace hrere::train {

LossTerms variant_loss(Variant variant, const torch::Tensor& language_logits,
                       const torch::Tensor& knowledge_logits, const torch::Tensor& labels) {
  namespace F = torch::nn::functional;
  LossTerms terms;
  const torch::Tensor y = comm::to_device(labels, language_logits.device());
  terms.language = F::cross_entropy(language_logits, y);
  terms.knowledge = torch::zeros({}, language_logits.options());
  terms.agreement = torch::zeros({}, language_logits.options());
  if (!uses_knowledge(variant)) return terms;
  terms.knowledge = F::cross_entropy(knowledge_logits, y);
  if (variant == Variant::kFull) {
    terms.agreement = F::cross_entropy(language_logits, knowledge_logits.detach().argmax(1));
  }
  return terms;
}

torch::Tensor combined_probabilities(const torch::Tensor& language_logits,
                                     const torch::Tensor& knowledge_logits, double alpha) {
  const torch::Tensor p_language = torch::softmax(language_logits, 1);
  if (!knowledge_logits.defined()) return p_language;
  return alpha * p_language + (1 - alpha) * torch::softmax(knowledge_logits, 1);
}

}  // namespace hrere::train
