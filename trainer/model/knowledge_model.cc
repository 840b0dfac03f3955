#include "trainer/model/knowledge_model.h"

#include <algorithm>
#include <limits>

#include "core/errors.h"
#include "kbe_shard/complex.h"

namespace hrere::train {
namespace {

kbe::OptimizerOptions adam(double lr) {
  kbe::OptimizerOptions o;
  o.kind = kbe::OptimizerKind::kAdam;
  o.lr = lr;
  o.eps = 1e-8;  // torch::optim::Adam's default, as on the language side
  return o;
}

kbe::EmbeddingOptions entity_options(const KnowledgeModelOptions& o) {
  kbe::EmbeddingOptions e;
  e.num_rows = o.num_entities;
  e.dim = o.dim;
  e.seed = o.seed;
  e.optimizer = adam(o.lr);
  e.device = o.device;
  return e;
}

}  // namespace

KnowledgeModel::KnowledgeModel(comm::Communicator& comm, const KnowledgeModelOptions& options)
    : options_(options),
      entities_(comm, entity_options(options)),
      relation_optimizer_(adam(options.lr), options.num_relations, options.dim, options.device) {
  TORCH_CHECK(options.dim > 0 && options.dim % 2 == 0, "ComplEx needs an even dimension");
  // Drawn on the host, so every device starts from the same values.
  relations_ = (torch::randn({options.num_relations, options.dim}) * 1e-3)
                   .to(options.device)
                   .set_requires_grad(true);
}

std::vector<std::string> KnowledgeModel::load_pretrained(
    const kbe::KbeEmbeddings& pretrained, const std::vector<std::string>& entities,
    const std::vector<std::string>& relations) {
  if (pretrained.entities != entities || pretrained.entity.size(1) != options_.dim ||
      pretrained.entity.size(0) != entities_.shard().ownership().local_rows()) {
    throw InputError("KB embeddings: " + std::to_string(pretrained.entities.size()) +
                     " entities of dimension " + std::to_string(pretrained.entity.size(1)) +
                     " do not match the bag store's " + std::to_string(entities.size()) +
                     " entities of dimension " + std::to_string(options_.dim));
  }
  torch::NoGradGuard no_grad;
  entities_.shard().assign_local(pretrained.entity);
  // Relations without a pretrained vector start at the pretrained vectors' scale, so their
  // logits are neither drowned out nor dominant.
  const double scale =
      pretrained.relation.numel() > 1 ? pretrained.relation.std().item<double>() : 1e-3;
  // Drawn on the host (the same values on every device).
  relations_.copy_(torch::empty(relations_.sizes()).normal_(0.0, scale));
  std::vector<std::string> matched;
  for (std::size_t r = 0; r < relations.size(); ++r) {
    const auto it =
        std::find(pretrained.relations.begin(), pretrained.relations.end(), relations[r]);
    if (it == pretrained.relations.end()) continue;
    relations_[static_cast<std::int64_t>(r)].copy_(
        pretrained.relation[it - pretrained.relations.begin()]);
    matched.push_back(relations[r]);
  }
  if (options_.kb_relations == KbRelations::kMatched) {
    std::vector<std::uint8_t> unscored(relations.size(), 1);
    unscored[0] = 0;  // NA
    for (const std::string& name : matched) {
      unscored[std::find(relations.begin(), relations.end(), name) - relations.begin()] = 0;
    }
    unscored_ = torch::tensor(unscored, torch::kBool).to(options_.device);
  }
  return matched;
}

torch::Tensor KnowledgeModel::entity_vectors(const torch::Tensor& ids) {
  if (options_.train_entities) return torch::tanh(entities_.lookup(ids));
  torch::NoGradGuard frozen;
  return torch::tanh(entities_.lookup(ids));
}

torch::Tensor KnowledgeModel::logits(const torch::Tensor& heads, const torch::Tensor& tails) {
  const torch::Tensor h = entity_vectors(heads).unsqueeze(1);  // [B, 1, D]
  const torch::Tensor t = entity_vectors(tails).unsqueeze(1);
  const torch::Tensor scores = kbe::complex_score(h, relations_.unsqueeze(0), t);  // [B, R]
  if (!unscored_.defined()) return scores;
  return scores.masked_fill(unscored_, -std::numeric_limits<double>::infinity());
}

void KnowledgeModel::step() {
  if (options_.train_entities) entities_.step();
  if (relations_.grad().defined()) {
    torch::NoGradGuard no_grad;
    torch::Tensor weights = relations_.detach();
    relation_optimizer_.update_all(weights, relations_.grad());
    relations_.mutable_grad() = torch::Tensor();
  }
}

void KnowledgeModel::discard_step() {
  entities_.discard_gradients();
  relations_.mutable_grad() = torch::Tensor();
}

void KnowledgeModel::save(torch::serialize::OutputArchive& archive,
                          const std::string& shard_dir) const {
  archive.write("knowledge_relations", relations_.detach(), /*is_buffer=*/true);
  for (const auto& [name, tensor] : relation_optimizer_.state()) {
    archive.write("knowledge_relations_" + name, tensor, /*is_buffer=*/true);
  }
  entities_.save(shard_dir, "entities");
}

void KnowledgeModel::load(torch::serialize::InputArchive& archive, const std::string& shard_dir) {
  torch::NoGradGuard no_grad;
  // A fresh tensor for every read: reading into a defined tensor keeps its dtype.
  auto read = [&archive](const std::string& key) {
    torch::Tensor value;
    archive.read(key, value, /*is_buffer=*/true);
    return value;
  };
  relations_.copy_(read("knowledge_relations"));
  for (const auto& [name, tensor] : relation_optimizer_.state()) {
    torch::Tensor(tensor).copy_(read("knowledge_relations_" + name));
  }
  entities_.load(shard_dir, "entities");
}

}  // namespace hrere::train
