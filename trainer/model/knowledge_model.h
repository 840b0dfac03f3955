#pragma once
// The knowledge side of HRERE (docs/ARCHITECTURE.md, Model): p(r | h, t; Theta_G) = softmax over
// the RE relations r (NA included) of Re(<tanh(e_h), w_r, conj(tanh(e_t))>), ComplEx with the
// entity table row-sharded (kbe_shard) and the relation vectors replicated.
//
// It starts from a `hrere pretrain` export: entity rows as pretrained, and w_r copied from
// the KB relation of the same name; RE relations the KB lacks, and NA, get random vectors.
// Entity rows learn with a row-wise (lazy) Adam at lr2, relation vectors with a dense Adam
// at lr2.
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "comm/communicator.h"
#include "kbe_shard/embeddings_file.h"
#include "kbe_shard/row_optimizer.h"
#include "kbe_shard/sharded_embedding.h"
#include "trainer/model/variants.h"

namespace hrere::train {

struct KnowledgeModelOptions {
  std::int64_t num_entities = 0;
  std::int64_t num_relations = 0;  // RE relations, NA = 0 included
  std::int64_t dim = 0;            // 2k
  double lr = 1e-5;
  bool train_entities = true;  // false: entity rows stay as pretrained (variant weston)
  // matched: only NA and the RE relations matched to a KB relation are scored; the logits of
  // the others are -inf (variants.h).
  KbRelations kb_relations = KbRelations::kAll;
  std::uint64_t seed = 0;
  torch::Device device = torch::kCPU;  // entity shard, relation vectors and their optimizers
};

class KnowledgeModel {
 public:
  KnowledgeModel(comm::Communicator& comm, const KnowledgeModelOptions& options);

  // Collective. Takes this rank's entity rows (`pretrained` read as this rank's shard) and
  // matching relation vectors from `pretrained`, whose entity names must equal `entities`
  // (the bag store's, same ids). Returns the RE relations
  // that found a KB relation of their name.
  std::vector<std::string> load_pretrained(const kbe::KbeEmbeddings& pretrained,
                                           const std::vector<std::string>& entities,
                                           const std::vector<std::string>& relations);

  // Collective. Relation logits [B, R] of the pairs (heads[b], tails[b]) (int64 [B]); -inf
  // for the relations it does not score (kb_relations: matched).
  torch::Tensor logits(const torch::Tensor& heads, const torch::Tensor& tails);

  // Collective. Applies the gradients of the logits computed since the last step.
  void step();
  // Drops those gradients instead, unapplied (no communication; every rank must call it
  // for the same step).
  void discard_step();

  // Relation vectors and their optimizer state into / out of a checkpoint archive; the
  // entity shard goes to files beside it (collective).
  void save(torch::serialize::OutputArchive& archive, const std::string& shard_dir) const;
  void load(torch::serialize::InputArchive& archive, const std::string& shard_dir);

  // The relation vectors [R, 2k], replicated on every rank (data parallelism sums their
  // gradients and checks them with the language model's parameters).
  torch::Tensor& relation_vectors() { return relations_; }
  // Collective. The whole entity table [N, 2k] on every rank (tests; N x 2k memory each).
  torch::Tensor entity_table() { return entities_.gather_full(); }
  // Seconds spent exchanging entity rows and their gradients with other ranks so far.
  double exchange_seconds() const { return entities_.exchange_seconds(); }

  const KnowledgeModelOptions& options() const { return options_; }

 private:
  torch::Tensor entity_vectors(const torch::Tensor& ids);

  KnowledgeModelOptions options_;
  kbe::ShardedEmbedding entities_;
  torch::Tensor relations_;  // [R, 2k], requires grad
  torch::Tensor unscored_;   // bool [R]: relations whose logit is -inf; undefined: none
  kbe::RowOptimizer relation_optimizer_;
};

}  // namespace hrere::train
