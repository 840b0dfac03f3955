#include "trainer/model/language_model.h"

#include "comm/device.h"
#include "core/hash.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>
#include <vector>

namespace hrere::train {
namespace {

// One sentence of a batch as the model sees it: its words and where its entities are.
struct SentenceKey {
  const std::int64_t* words;
  std::int64_t length;
  const std::int64_t* head_span;
  const std::int64_t* tail_span;

  bool operator==(const SentenceKey& o) const {
    return length == o.length && std::equal(words, words + length, o.words) &&
           std::equal(head_span, head_span + 2, o.head_span) &&
           std::equal(tail_span, tail_span + 2, o.tail_span);
  }
};

struct SentenceKeyHash {
  std::size_t operator()(const SentenceKey& k) const {
    core::Fnv1a hash;
    for (std::int64_t i = 0; i < k.length; ++i) hash.add(static_cast<std::uint64_t>(k.words[i]));
    for (int i = 0; i < 2; ++i) {
      hash.add(static_cast<std::uint64_t>(k.head_span[i]));
      hash.add(static_cast<std::uint64_t>(k.tail_span[i]));
    }
    return static_cast<std::size_t>(hash.value());
  }
};

// Draws a [rows, dim] embedding table as `init` names (language_model.h).
void init_embedding(torch::Tensor& weight, EmbeddingInit init) {
  switch (init) {
    case EmbeddingInit::kScaledNormal:
      torch::nn::init::normal_(weight, 0.0, 1.0 / std::sqrt(static_cast<double>(weight.size(1))));
      break;
    case EmbeddingInit::kNormal: torch::nn::init::normal_(weight); break;
    case EmbeddingInit::kUniform: weight.uniform_(-1.0, 1.0); break;
  }
}

}  // namespace

DistinctSentences distinct_sentences(const data::Batch& batch, bool deduplicate) {
  const std::int64_t B = batch.words.size(0), T = batch.words.size(1), L = batch.words.size(2);
  const auto words = batch.words.contiguous();
  const auto lengths = batch.lengths.contiguous();
  const auto head_spans = batch.head_spans.contiguous();
  const auto tail_spans = batch.tail_spans.contiguous();

  std::unordered_map<SentenceKey, std::int64_t, SentenceKeyHash> ids;
  ids.reserve(B * T);
  std::vector<std::int64_t> rows;  // flat row in [B*T] of each distinct sentence
  torch::Tensor slots = torch::empty({B, T}, torch::kInt64);
  std::int64_t* slot = slots.data_ptr<std::int64_t>();
  std::int64_t width = 1;
  for (std::int64_t i = 0; i < B * T; ++i) {
    const SentenceKey key{
        words.data_ptr<std::int64_t>() + i * L, lengths.data_ptr<std::int64_t>()[i],
        head_spans.data_ptr<std::int64_t>() + i * 2, tail_spans.data_ptr<std::int64_t>() + i * 2};
    const std::int64_t next = static_cast<std::int64_t>(rows.size());
    const std::int64_t found = deduplicate ? ids.emplace(key, next).first->second : next;
    if (found == next) {
      rows.push_back(i);
      width = std::max(width, key.length);
    }
    slot[i] = found;
  }
  const torch::Tensor index = torch::tensor(rows, torch::kInt64);
  auto pick = [&](const torch::Tensor& t) {
    return t.reshape({B * T, L}).index_select(0, index).narrow(1, 0, width).contiguous();
  };
  DistinctSentences out;
  out.sentences.words = pick(batch.words);
  out.sentences.head_positions = pick(batch.head_positions);
  out.sentences.tail_positions = pick(batch.tail_positions);
  out.sentences.lengths = batch.lengths.reshape({B * T}).index_select(0, index);
  out.bags.slots = slots;
  out.bags.mask = torch::ones({B, T}, torch::kBool);
  return out;
}

LanguageModelImpl::LanguageModelImpl(const LanguageModelOptions& o) : options_(o) {
  TORCH_CHECK(o.vocab_size > 0 && o.num_relations > 1 && o.max_length > 0,
              "language model needs a vocabulary, at least two relations and L > 0");
  const std::int64_t positions = 2 * static_cast<std::int64_t>(o.max_length) + 1;
  word_embedding_ = register_module(
      "word_embedding",
      torch::nn::Embedding(torch::nn::EmbeddingOptions(o.vocab_size, o.word_dim).padding_idx(0)));
  head_position_embedding_ =
      register_module("head_position_embedding", torch::nn::Embedding(positions, o.position_dim));
  tail_position_embedding_ =
      register_module("tail_position_embedding", torch::nn::Embedding(positions, o.position_dim));
  encoder_ = register_module("encoder", make_sentence_encoder(o, o.word_dim + 2 * o.position_dim));
  const std::int64_t H = encoder_->output_dim();
  sentence_diag_ = register_parameter("sentence_diag", torch::empty({H}));
  sentence_query_ = register_parameter("sentence_query", torch::empty({H}));
  bag_norm_ = register_module("bag_norm", SyncBatchNorm1d(H, o.batch_norm_momentum));
  hidden_ = register_module("hidden", torch::nn::Linear(H, o.classifier_hidden));
  hidden_norm_ =
      register_module("hidden_norm", SyncBatchNorm1d(o.classifier_hidden, o.batch_norm_momentum));
  output_ = register_module("output", torch::nn::Linear(o.classifier_hidden, o.num_relations));
  input_dropout_ = register_module("input_dropout", torch::nn::Dropout(1.0 - o.input_keep));

  torch::NoGradGuard no_grad;
  init_embedding(word_embedding_->weight, o.word_init);
  word_embedding_->weight[0].zero_();
  for (auto* table : {&head_position_embedding_, &tail_position_embedding_}) {
    torch::Tensor& weight = (*table)->weight;
    if (o.position_embeddings == PositionEmbeddings::kFixedUniform) {
      weight.uniform_(0.0, 1.0);
      weight.set_requires_grad(false);
    } else {
      init_embedding(weight, o.position_init);
    }
  }
  const double bound = std::sqrt(3.0 / H);
  for (auto* v : {&sentence_diag_, &sentence_query_}) v->uniform_(-bound, bound);
  for (auto* layer : {&hidden_, &output_}) {
    torch::nn::init::xavier_uniform_((*layer)->weight);
    torch::Tensor& bias = (*layer)->bias;
    if (o.classifier_bias_init == ClassifierBiasInit::kXavier) {
      const double bias_bound = std::sqrt(3.0 / static_cast<double>(bias.size(0)));
      bias.uniform_(-bias_bound, bias_bound);
    } else {
      bias.zero_();
    }
  }
}

torch::Tensor LanguageModelImpl::encode(const Sentences& host) {
  // Sorted by length, groups pad little; each group is one LSTM call per direction. The
  // plan is made from the lengths on the host, then the sentences move to the model's
  // device once (a no-op for sentences already there).
  constexpr std::int64_t kGroup = 128;
  const std::int64_t N = host.size();
  const torch::Tensor lengths = host.lengths.cpu();
  const torch::Tensor order = lengths.argsort(/*dim=*/0, /*descending=*/true);
  const torch::Tensor sorted_lengths = order.numel() ? lengths.index_select(0, order) : lengths;
  const torch::Device device = this->device();
  const Sentences s{comm::to_device(host.words, device), comm::to_device(lengths, device),
                    comm::to_device(host.head_positions, device),
                    comm::to_device(host.tail_positions, device)};
  const torch::Tensor order_here = comm::to_device(order, device);
  const auto* widths = sorted_lengths.data_ptr<std::int64_t>();
  std::vector<torch::Tensor> parts;
  for (std::int64_t first = 0; first < N; first += kGroup) {
    const torch::Tensor rows = order_here.slice(0, first, std::min(N, first + kGroup));
    const std::int64_t width = widths[first];
    auto pick = [&](const torch::Tensor& t) { return t.index_select(0, rows).narrow(1, 0, width); };
    parts.push_back(encode_group({pick(s.words), s.lengths.index_select(0, rows),
                                  pick(s.head_positions), pick(s.tail_positions)}));
  }
  return torch::cat(parts).index_select(0, order_here.argsort());
}

// backward_over_padding: the backward LSTM reads the padding up to L, so a group of width W
// is widened to L as the loader pads: word 0, and positions that keep counting away from the
// entities (which lie inside the sentence, so before column W) up to the clamp at 2L.
Sentences LanguageModelImpl::widened_to_max_length(const Sentences& s) const {
  const std::int64_t W = s.words.size(1), L = options_.max_length;
  if (W == L) return s;
  const torch::Tensor steps = torch::arange(1, L - W + 1, s.words.options()).unsqueeze(0);
  auto positions = [&](const torch::Tensor& p) {
    return torch::cat({p, (p.narrow(1, W - 1, 1) + steps).clamp_max(2 * L)}, 1);
  };
  return {torch::constant_pad_nd(s.words, {0, L - W}, 0), s.lengths, positions(s.head_positions),
          positions(s.tail_positions)};
}

torch::Tensor LanguageModelImpl::encode_group(const Sentences& group) {
  const Sentences s = options_.backward_over_padding ? widened_to_max_length(group) : group;
  const torch::Tensor x =
      torch::cat({word_embedding_(s.words), head_position_embedding_(s.head_positions),
                  tail_position_embedding_(s.tail_positions)},
                 2);
  return encoder_->forward({x, s.lengths, s.head_positions, s.tail_positions, options_.max_length});
}

torch::Tensor LanguageModelImpl::classify(const torch::Tensor& z, const BagSlots& bags) {
  const std::int64_t B = bags.slots.size(0), S = bags.slots.size(1), H = z.size(1);
  const torch::Tensor r = torch::tanh(z);
  const torch::Tensor flat = comm::to_device(bags.slots.reshape({B * S}), z.device());
  const torch::Tensor mask = comm::to_device(bags.mask, z.device());
  const torch::Tensor scores = (r * sentence_diag_).matmul(sentence_query_);  // [N]
  const torch::Tensor beta =
      torch::softmax(scores.index_select(0, flat).view({B, S}).masked_fill(
                         mask.logical_not(), -std::numeric_limits<float>::infinity()),
                     1);
  torch::Tensor h = beta.unsqueeze(1).bmm(r.index_select(0, flat).view({B, S, H})).squeeze(1);
  h = bag_norm_(input_dropout_(torch::relu(h)));
  h = input_dropout_(torch::relu(hidden_norm_(hidden_(h))));
  return output_(h);
}

torch::Tensor LanguageModelImpl::forward(const data::Batch& batch) {
  const DistinctSentences distinct =
      distinct_sentences(batch, !(options_.per_copy_dropout && is_training()));
  return classify(encode(distinct.sentences), distinct.bags);
}

void LanguageModelImpl::load_word_vectors(const torch::Tensor& vectors,
                                          const torch::Tensor& has_vector, bool trainable) {
  TORCH_CHECK(vectors.dim() == 2 && vectors.size(0) == options_.vocab_size &&
                  vectors.size(1) == options_.word_dim,
              "word vectors are [", vectors.size(0), ", ", vectors.size(1), "], the model needs [",
              options_.vocab_size, ", ", options_.word_dim,
              "] (model.word_dim must match the file)");
  torch::NoGradGuard no_grad;
  auto& weight = word_embedding_->weight;
  const torch::Tensor rows = has_vector.to(torch::kBool).nonzero().squeeze(1);
  weight.index_copy_(0, rows, vectors.to(weight.dtype()).index_select(0, rows));
  weight.set_requires_grad(trainable);
}

void LanguageModelImpl::load(torch::serialize::InputArchive& archive) {
  torch::serialize::InputArchive encoder;
  if (options_.encoder != EncoderKind::kBiLstm || archive.try_read("encoder", encoder)) {
    torch::nn::Module::load(archive);
    return;
  }
  // The earlier layout: the BiLSTM encoder's own names (lstm_forward, lstm_backward,
  // word_query) at the top level beside the rest.
  for (auto& parameter : named_parameters(/*recurse=*/false)) {
    archive.read(parameter.key(), parameter.value());
  }
  for (auto& buffer : named_buffers(/*recurse=*/false)) {
    archive.read(buffer.key(), buffer.value(), /*is_buffer=*/true);
  }
  for (const auto& child : named_children()) {
    if (child.value() == encoder_) {
      encoder_->load(archive);
      continue;
    }
    torch::serialize::InputArchive child_archive;
    archive.read(child.key(), child_archive);
    child.value()->load(child_archive);
  }
}

void LanguageModelImpl::synchronize_batch_norm(comm::Communicator& comm) {
  bag_norm_->synchronize(&comm);
  hidden_norm_->synchronize(&comm);
}

torch::Tensor LanguageModelImpl::l2_penalty() {
  torch::Tensor total = torch::zeros({}, sentence_query_.options());
  for (const auto& p : parameters()) {
    const bool embedding = p.is_same(word_embedding_->weight) ||
                           p.is_same(head_position_embedding_->weight) ||
                           p.is_same(tail_position_embedding_->weight);
    if (p.requires_grad() && !embedding) total = total + p.pow(2).sum();
  }
  return total / 2;
}

}  // namespace hrere::train
