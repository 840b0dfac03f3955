#pragma once
// The language side of HRERE (docs/ARCHITECTURE.md, Model): p(r | S; Theta_L) for a bag S of
// sentences about one entity pair.
//
//   token      = word embedding ++ head-position embedding ++ tail-position embedding
//   sentence   = the sentence encoder (model.encoder: HRERE's BiLSTM with word attention, or
//                the CNN / PCNN baselines; trainer/model/sentence_encoder.h) -> z_i
//   bag        = selective attention over tanh(z_i) with a diagonal matrix A and a query q
//   classifier = ReLU, dropout, batch norm, hidden layer (batch norm, ReLU, dropout), logits
//
// Sentences are sorted by length and encoded in groups, each padded only to its own longest
// sentence.
//
// Sentences are encoded once however often a bag holds them: a batch is first reduced to its
// distinct sentences, and bags address them through slots. This is exact in evaluation (a
// test sentence scored as a bag of T copies of itself equals scoring it once) and saves the
// repeated work of oversampled training bags, whose copies then share one dropout mask.
#include <torch/torch.h>

#include <cstdint>

#include "comm/communicator.h"
#include "data_pipeline/loader.h"
#include "trainer/model/sentence_encoder.h"
#include "trainer/replication/sync_batch_norm.h"

namespace hrere::train {

// How the two position embeddings start and whether they train: learned (normal, trained),
// or fixed_uniform as the reference: drawn uniformly from [0, 1) and never trained.
enum class PositionEmbeddings { kLearned, kFixedUniform };
constexpr core::Choices<PositionEmbeddings, 2> choices(PositionEmbeddings) {
  return {{{PositionEmbeddings::kLearned, "learned"},
           {PositionEmbeddings::kFixedUniform, "fixed_uniform"}}};
}

// How a learned embedding table starts (word rows that pretrained vectors fill are
// overwritten): scaled_normal N(0, 1/dim), so a vector has norm about 1 and the LSTM starts
// out of saturation; normal N(0, 1), LibTorch's Embedding start (and so the port's);
// uniform U(-1, 1), the usual start of TensorFlow text models that learn their vectors.
enum class EmbeddingInit { kScaledNormal, kNormal, kUniform };
constexpr core::Choices<EmbeddingInit, 3> choices(EmbeddingInit) {
  return {{{EmbeddingInit::kScaledNormal, "scaled_normal"},
           {EmbeddingInit::kNormal, "normal"},
           {EmbeddingInit::kUniform, "uniform"}}};
}

// How the classifier's two layers' biases start: zero, or as the reference's TensorFlow
// xavier_initializer draws a 1-D variable of n entries, uniform in ±sqrt(3/n).
enum class ClassifierBiasInit { kZero, kXavier };
constexpr core::Choices<ClassifierBiasInit, 2> choices(ClassifierBiasInit) {
  return {{{ClassifierBiasInit::kZero, "zero"}, {ClassifierBiasInit::kXavier, "xavier"}}};
}

struct LanguageModelOptions : SentenceEncoderOptions {
  std::int64_t vocab_size = 0;
  std::int64_t num_relations = 0;  // including NA = 0
  int max_length = 100;            // L: position ids lie in [0, 2L]
  int word_dim = 300;
  EmbeddingInit word_init = EmbeddingInit::kScaledNormal;
  int position_dim = 25;
  PositionEmbeddings position_embeddings = PositionEmbeddings::kLearned;
  // Learned tables only. N(0, 1) by default: on nyt10-partial it gains 0.11 of base's P@10%
  // over N(0, 1/position_dim), on test and on dev alike (docs/RESULTS.md).
  EmbeddingInit position_init = EmbeddingInit::kNormal;
  int classifier_hidden = 190;
  ClassifierBiasInit classifier_bias_init = ClassifierBiasInit::kZero;
  // Weight of each training batch in the classifier's batch-norm running statistics, which
  // evaluation uses: LibTorch's 0.1 by default; the reference's TensorFlow layers use a
  // decay of 0.99, i.e. 0.01, so after a few hundred steps their statistics still lean on
  // the start (mean 0, variance 1).
  double batch_norm_momentum = 0.1;
  // Training encodes every bag slot on its own, as the reference does: each copy of an
  // oversampled sentence draws its own dropout masks. By default a batch's distinct sentences
  // are encoded once and share them (fewer rows to encode). Evaluation has no dropout and
  // always encodes distinct sentences once.
  bool per_copy_dropout = false;
};

// Sentences to encode, padded to a common width W <= L.
struct Sentences {
  torch::Tensor words;           // int64 [N, W], 0 = padding
  torch::Tensor lengths;         // int64 [N], each in [1, W]
  torch::Tensor head_positions;  // int64 [N, W], in [0, 2L]
  torch::Tensor tail_positions;  // int64 [N, W]
  std::int64_t size() const { return words.size(0); }
};

// Bag b holds the encoded sentences slots[b, j] for which mask[b, j] is true; a sentence may
// fill several slots (its weight in the bag's attention counts each).
struct BagSlots {
  torch::Tensor slots;  // int64 [B, S]
  torch::Tensor mask;   // bool [B, S]
};

// A batch reduced to its distinct sentences, cut to the longest of them; with `deduplicate`
// false, every slot is a sentence of its own.
struct DistinctSentences {
  Sentences sentences;
  BagSlots bags;
};
DistinctSentences distinct_sentences(const data::Batch& batch, bool deduplicate = true);

class LanguageModelImpl : public torch::nn::Module {
 public:
  explicit LanguageModelImpl(const LanguageModelOptions& options);

  // z_i for every sentence: [N, sentence_dim()], on device(). The sentences may be on the host
  // (they move once) or on device().
  torch::Tensor encode(const Sentences& sentences);
  // Relation logits [B, R] of bags over encoded sentences `z` (slots may be on the host).
  torch::Tensor classify(const torch::Tensor& z, const BagSlots& bags);
  // Relation logits [B, R] of a loader batch (on the host: deduplicated there), on device().
  torch::Tensor forward(const data::Batch& batch);

  // Where the parameters live (after `->to(device)`).
  torch::Device device() const { return sentence_query_.device(); }
  // The size of z.
  std::int64_t sentence_dim() const { return encoder_->output_dim(); }

  // Starts the word embedding from `vectors` [V, word_dim] where `has_vector` [V] is set;
  // frozen unless `trainable`.
  void load_word_vectors(const torch::Tensor& vectors, const torch::Tensor& has_vector,
                         bool trainable);
  // The squared L2 norm of the trainable parameters, halved (the reference's regulariser:
  // its gradient is the parameter itself). Embedding tables are left out: the reference
  // keeps them fixed, so its lambda never applied to them, and a lambda tuned for the
  // network's weights would pull learned word vectors to zero.
  torch::Tensor l2_penalty();

  // Reads the weights of an archive that `save` wrote, or one written before model.encoder
  // existed, when the BiLSTM was the only encoder and its parts sat at the top level.
  void load(torch::serialize::InputArchive& archive) override;

  // Data parallelism: batch-norm statistics from now on span the batches of all ranks of
  // `comm` (see sync_batch_norm.h).
  void synchronize_batch_norm(comm::Communicator& comm);

  const LanguageModelOptions& options() const { return options_; }

 private:
  LanguageModelOptions options_;
  torch::nn::Embedding word_embedding_{nullptr};
  torch::nn::Embedding head_position_embedding_{nullptr};
  torch::nn::Embedding tail_position_embedding_{nullptr};
  torch::Tensor encode_group(const Sentences& sentences);
  Sentences widened_to_max_length(const Sentences& sentences) const;

  std::shared_ptr<SentenceEncoder> encoder_;
  torch::Tensor sentence_diag_;   // [H]: diagonal of A
  torch::Tensor sentence_query_;  // [H]: q
  SyncBatchNorm1d bag_norm_{nullptr};
  torch::nn::Linear hidden_{nullptr};
  SyncBatchNorm1d hidden_norm_{nullptr};
  torch::nn::Linear output_{nullptr};
  torch::nn::Dropout input_dropout_{nullptr};
};
TORCH_MODULE(LanguageModel);

}  // namespace hrere::train
