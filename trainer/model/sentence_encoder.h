#pragma once
// Sentence encoders of the language side (docs/ARCHITECTURE.md, Model): one vector z_i per
// sentence from its token features. Token features, sentence attention, classifier, losses
// and the data-parallel path are the same for every encoder; only this step changes.
//
//   bilstm  BiLSTM over the real tokens, forward + backward outputs added, tanh, word
//           attention (softmax over real tokens). HRERE's encoder (paper, Table 1).
//   cnn     one convolution over windows of tokens, max-pooled over the real tokens, tanh
//           (the CNN of Lin et al. 2016's CNN+ATT).
//   pcnn    the same convolution, max-pooled over each of the three pieces the two entities
//           cut the sentence into, concatenated, tanh (PCNN+ATT).
//
// Each encoder applies the input dropout to its token features itself, so the BiLSTM can give
// its two directions their own masks (per_direction_dropout).
//
// Every encoder sees only a sentence's first `length` tokens: the result does not depend on
// what the padding holds or how wide the group is padded (the language model sorts
// sentences by length and pads each group only to its longest one). Two BiLSTM options
// reproduce the reference's treatment of padding instead: full_length word attention counts
// the padding up to L, and backward_over_padding reads it.
#include <torch/torch.h>

#include <cstdint>
#include <memory>

#include "core/choice.h"

namespace hrere::train {

enum class EncoderKind { kBiLstm, kCnn, kPcnn };
constexpr core::Choices<EncoderKind, 3> choices(EncoderKind) {
  return {
      {{EncoderKind::kBiLstm, "bilstm"}, {EncoderKind::kCnn, "cnn"}, {EncoderKind::kPcnn, "pcnn"}}};
}

// How the BiLSTM's weights start: LibTorch's LSTM default (every weight and bias uniform in
// ±1/sqrt(hidden)), or as TensorFlow's LSTMCell, which the reference implementation uses:
// Glorot-uniform over the [input + hidden, 4 hidden] kernel, zero biases, forget gate bias 1.
enum class LstmInit { kTorch, kTensorflow };
constexpr core::Choices<LstmInit, 2> choices(LstmInit) {
  return {{{LstmInit::kTorch, "torch"}, {LstmInit::kTensorflow, "tensorflow"}}};
}

// What the BiLSTM's word attention normalises over: the real tokens alone, or all L positions
// as the reference's TensorFlow graph does, where each padding position has a zero state and
// so a score of 0: padding takes attention mass and shrinks the vectors of short sentences.
enum class WordAttention { kRealTokens, kFullLength };
constexpr core::Choices<WordAttention, 2> choices(WordAttention) {
  return {
      {{WordAttention::kRealTokens, "real_tokens"}, {WordAttention::kFullLength, "full_length"}}};
}

struct SentenceEncoderOptions {
  EncoderKind encoder = EncoderKind::kBiLstm;
  int lstm_hidden = 320;  // bilstm: hidden size per direction, = the size of z
  LstmInit lstm_init = LstmInit::kTorch;
  WordAttention word_attention = WordAttention::kRealTokens;
  // bilstm: the backward LSTM reads each sentence's padding up to L before its last token,
  // as an unpacked bidirectional LSTM over full-width arrays does; token features then come
  // at width L. By default it reads the real tokens alone.
  bool backward_over_padding = false;
  // bilstm: the forward and backward LSTMs each draw their own input dropout mask, as the
  // reference's two dropout-wrapped cells do. By default both read one dropped input.
  bool per_direction_dropout = false;
  int conv_filters = 230;    // cnn, pcnn: filters (Lin et al.); z has 230, or 3 x 230 for pcnn
  int conv_window = 3;       // cnn, pcnn: tokens each filter sees, centred (odd)
  double input_keep = 0.9;   // dropout keep probability of the token features (and, in the
                             //   language model, of the classifier's inputs)
  double output_keep = 0.7;  // dropout keep probability of the encoder's outputs
};

// A group of sentences padded to a common width W.
struct TokenFeatures {
  torch::Tensor x;               // float [N, W, d]: word and position embeddings, before
                                 //   the encoder's input dropout
  torch::Tensor lengths;         // int64 [N], each in [1, W]
  torch::Tensor head_positions;  // int64 [N, W]: distance to the head span shifted by L,
  torch::Tensor tail_positions;  //   so L marks the span (data::Batch)
  int max_length = 0;            // that L
};

class SentenceEncoder : public torch::nn::Module {
 public:
  // z [N, output_dim()].
  virtual torch::Tensor forward(const TokenFeatures& tokens) = 0;
  virtual std::int64_t output_dim() const = 0;
};

// The encoder `options.encoder` names, over token features of size `input_dim`.
std::shared_ptr<SentenceEncoder> make_sentence_encoder(const SentenceEncoderOptions& options,
                                                       std::int64_t input_dim);

// pcnn's pieces: 0 up to the end of the entity that comes first, 1 up to the end of the
// other, 2 after both. int64 [N, W], from the position ids (a token's piece is the number of
// entity spans it lies after).
torch::Tensor sentence_pieces(const torch::Tensor& head_positions,
                              const torch::Tensor& tail_positions, int max_length);

}  // namespace hrere::train
