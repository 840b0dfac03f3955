#pragma once
// The HRERE variants (docs/ARCHITECTURE.md, Model) as losses and as the inference rule.
//
//   base    J_L                     language model alone
//   naive   J_L + J_G               both sides on the RE labels, no coupling
//   full    J_L + J_G + w J_D       J_D = CE(p_L, r*), r* = argmax_r p_G (paper eq. 3);
//                                   w = train.agreement_weight, 1 as in the paper
//   weston  J_L + J_G, entity rows frozen: the KB side keeps its pretrained entities and only
//           fits the RE relation vectors; the two meet only at inference
//
// Inference (all but base): p = alpha * p_L + (1 - alpha) * p_G (paper eq. 5).
//
// A KB rarely has a counterpart for every RE relation. With train.kb_relations: matched the
// knowledge side scores only the relations it knows, NA and those matched to a KB relation
// (its logit for any other is -inf), and speaks only where it knows:
//   - J_G and J_D count only bags whose label it knows (each still weighs 1/B, so the terms
//     add up over data-parallel ranks as before);
//   - inference keeps p_L for the relations it does not know and, within the set K it knows,
//     shares out the mass the language model gives K: p(r) = alpha p_L(r) + (1 - alpha)
//     p_L(K) p_G(r) for r in K. That is a distribution over all relations whose ranks compare
//     across relations; with every relation known, p_L(K) = 1 and it is eq. 5.
//
// The reference implementation feeds probabilities where J_D expects logits and combines
// logits instead of probabilities; we follow the paper's equations.
#include <torch/torch.h>

#include <string>

#include "core/choice.h"

namespace hrere::train {

enum class Variant { kBase, kNaive, kFull, kWeston };

constexpr core::Choices<Variant, 4> choices(Variant) {
  return {{{Variant::kBase, "base"},
           {Variant::kNaive, "naive"},
           {Variant::kFull, "full"},
           {Variant::kWeston, "weston"}}};
}
inline bool uses_knowledge(Variant v) { return v != Variant::kBase; }

// Which RE relations the knowledge side scores (see above).
enum class KbRelations { kAll, kMatched };
constexpr core::Choices<KbRelations, 2> choices(KbRelations) {
  return {{{KbRelations::kAll, "all"}, {KbRelations::kMatched, "matched"}}};
}

struct LossTerms {
  torch::Tensor language;   // J_L
  torch::Tensor knowledge;  // J_G (zero for base)
  torch::Tensor agreement;  // J_D (zero unless full)
  torch::Tensor total() const { return language + knowledge + agreement; }
};

// Batch-mean losses of `variant` from language logits [B, R], knowledge logits [B, R]
// (undefined for base; -inf for the relations the knowledge side does not know) and
// labels [B]; the agreement term comes scaled by agreement_weight (train.agreement_weight).
LossTerms variant_loss(Variant variant, const torch::Tensor& language_logits,
                       const torch::Tensor& knowledge_logits, const torch::Tensor& labels,
                       double agreement_weight = 1.0);

// alpha * softmax(language_logits) + (1 - alpha) * softmax(knowledge_logits), with the
// knowledge side's share confined to the relations it knows (above); softmax of
// language_logits alone when knowledge_logits is undefined.
torch::Tensor combined_probabilities(const torch::Tensor& language_logits,
                                     const torch::Tensor& knowledge_logits, double alpha);

}  // namespace hrere::train
