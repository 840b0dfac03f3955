#include "trainer/model/sentence_encoder.h"

#include <cmath>
#include <limits>
#include <vector>

namespace hrere::train {
namespace {

// [N, W]: true at each sentence's real tokens.
torch::Tensor real_tokens(const torch::Tensor& lengths, std::int64_t width) {
  return torch::arange(width, lengths.options()).unsqueeze(0) < lengths.unsqueeze(1);
}

// x [N, W, ...] with each row's first lengths[n] entries reversed and its padding in place.
torch::Tensor reverse_real_tokens(const torch::Tensor& x, const torch::Tensor& lengths) {
  const std::int64_t W = x.size(1);
  const torch::Tensor position = torch::arange(W, lengths.options()).unsqueeze(0);
  torch::Tensor index =
      torch::where(real_tokens(lengths, W), lengths.unsqueeze(1) - 1 - position, position);
  for (std::int64_t d = 2; d < x.dim(); ++d) index = index.unsqueeze(d);
  return x.gather(1, index.expand_as(x));
}

// The BiLSTM is two unidirectional LSTMs; the backward one reads each sentence's real tokens
// reversed with its padding left at the end, so in both directions padding only follows the
// real tokens and cannot reach their outputs (unless backward_over_padding asks for it). That lets
// sentences of different lengths share one unpacked LSTM call, whose CPU kernel projects all time
// steps in one large GEMM (the packed kernel projects step by step, about 6x less efficient here).
class BiLstmEncoder : public SentenceEncoder {
 public:
  BiLstmEncoder(const SentenceEncoderOptions& o, std::int64_t input_dim)
      : hidden_(o.lstm_hidden),
        word_attention_(o.word_attention),
        backward_over_padding_(o.backward_over_padding),
        per_direction_dropout_(o.per_direction_dropout) {
    const auto lstm_options = torch::nn::LSTMOptions(input_dim, hidden_);
    forward_ = register_module("lstm_forward", torch::nn::LSTM(lstm_options));
    backward_ = register_module("lstm_backward", torch::nn::LSTM(lstm_options));
    word_query_ = register_parameter("word_query", torch::empty({hidden_}));
    input_dropout_ = register_module("input_dropout", torch::nn::Dropout(1.0 - o.input_keep));
    dropout_ = register_module("output_dropout", torch::nn::Dropout(1.0 - o.output_keep));
    torch::NoGradGuard no_grad;
    const double bound = std::sqrt(3.0 / static_cast<double>(hidden_));
    word_query_.uniform_(-bound, bound);
    if (o.lstm_init == LstmInit::kTensorflow) {
      for (torch::nn::LSTM* lstm : {&forward_, &backward_}) start_as_tensorflow(**lstm, input_dim);
    }
  }

  torch::Tensor forward(const TokenFeatures& s) override {
    const torch::Tensor x = input_dropout_(s.x);
    const torch::Tensor backward_x = per_direction_dropout_ ? input_dropout_(s.x) : x;
    // [W, N, d] is the LSTM's native layout.
    const torch::Tensor forward = std::get<0>(forward_(x.transpose(0, 1))).transpose(0, 1);
    TORCH_CHECK(!backward_over_padding_ || s.x.size(1) == s.max_length,
                "backward_over_padding needs token features of width L = ", s.max_length);
    auto reversed = [&](const torch::Tensor& t) {
      return backward_over_padding_ ? t.flip(1) : reverse_real_tokens(t, s.lengths);
    };
    const torch::Tensor backward =
        reversed(std::get<0>(backward_(reversed(backward_x).transpose(0, 1))).transpose(0, 1));
    const torch::Tensor h = torch::tanh(dropout_(forward) + dropout_(backward));  // [N, W, H]
    const std::int64_t W = h.size(1);
    torch::Tensor scores = h.matmul(word_query_)
                               .masked_fill(real_tokens(s.lengths, W).logical_not(),
                                            -std::numeric_limits<float>::infinity());
    if (word_attention_ == WordAttention::kFullLength) {
      // The L - length padding positions each score exp(0) = 1 and add a zero state, so one
      // extra column with the log of their count (-inf where there is none) stands for all.
      const torch::Tensor padding = (s.max_length - s.lengths).to(scores.dtype()).log();
      scores = torch::cat({scores, padding.unsqueeze(1)}, 1);
    }
    return torch::softmax(scores, 1).narrow(1, 0, W).unsqueeze(1).bmm(h).squeeze(1);
  }

  std::int64_t output_dim() const override { return hidden_; }

 private:
  // TensorFlow's LSTMCell start (LstmInit). Its one kernel [input + hidden, 4 hidden] is
  // LibTorch's two weight matrices side by side, so both draw from the kernel's Glorot
  // bound; of the two LibTorch biases, whose sum acts, one carries the forget bias.
  void start_as_tensorflow(torch::nn::LSTMImpl& lstm, std::int64_t input_dim) const {
    const double bound = std::sqrt(6.0 / static_cast<double>(input_dim + 5 * hidden_));
    auto parameters = lstm.named_parameters();
    parameters["weight_ih_l0"].uniform_(-bound, bound);
    parameters["weight_hh_l0"].uniform_(-bound, bound);
    parameters["bias_hh_l0"].zero_();
    torch::Tensor bias = parameters["bias_ih_l0"];
    bias.zero_();
    bias.narrow(0, hidden_, hidden_).fill_(1.0);  // gates in the order input, forget, cell, output
  }

  std::int64_t hidden_;
  WordAttention word_attention_;
  bool backward_over_padding_;
  bool per_direction_dropout_;
  torch::nn::LSTM forward_{nullptr};
  torch::nn::LSTM backward_{nullptr};
  torch::Tensor word_query_;  // [H]: word attention
  torch::nn::Dropout input_dropout_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
};

// cnn (one piece) and pcnn (three). Padding tokens are zeroed before the convolution, so a
// window reaching past a sentence's end sees what the convolution's own zero padding gives
// at its start, and only real tokens' windows enter the max-pool.
class ConvEncoder : public SentenceEncoder {
 public:
  ConvEncoder(const SentenceEncoderOptions& o, std::int64_t input_dim, int pieces)
      : filters_(o.conv_filters), pieces_(pieces) {
    TORCH_CHECK(o.conv_window % 2 == 1, "the convolution window must be odd, not ", o.conv_window);
    conv_ = register_module(
        "conv", torch::nn::Conv1d(torch::nn::Conv1dOptions(input_dim, filters_, o.conv_window)
                                      .padding(o.conv_window / 2)));
    input_dropout_ = register_module("input_dropout", torch::nn::Dropout(1.0 - o.input_keep));
    dropout_ = register_module("output_dropout", torch::nn::Dropout(1.0 - o.output_keep));
    torch::NoGradGuard no_grad;
    torch::nn::init::xavier_uniform_(conv_->weight);
    conv_->bias.zero_();
  }

  torch::Tensor forward(const TokenFeatures& s) override {
    const torch::Tensor real = real_tokens(s.lengths, s.x.size(1));
    const torch::Tensor x = input_dropout_(s.x).masked_fill(real.logical_not().unsqueeze(2), 0);
    const torch::Tensor c = conv_(x.transpose(1, 2)).transpose(1, 2);  // [N, W, F]
    const torch::Tensor piece =
        pieces_ == 1 ? torch::zeros_like(s.lengths).unsqueeze(1)
                     : sentence_pieces(s.head_positions, s.tail_positions, s.max_length);
    std::vector<torch::Tensor> pooled;
    for (int p = 0; p < pieces_; ++p) {
      const torch::Tensor in = real.logical_and(piece == p);  // [N, W]
      const torch::Tensor max =
          c.masked_fill(in.logical_not().unsqueeze(2), -std::numeric_limits<float>::infinity())
              .amax(1);
      // A piece without tokens (an entity at the sentence's end) pools to 0.
      pooled.push_back(torch::where(in.any(1, /*keepdim=*/true), max, torch::zeros_like(max)));
    }
    return dropout_(torch::tanh(torch::cat(pooled, 1)));
  }

  std::int64_t output_dim() const override { return filters_ * pieces_; }

 private:
  std::int64_t filters_;
  int pieces_;
  torch::nn::Conv1d conv_{nullptr};
  torch::nn::Dropout input_dropout_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
};

}  // namespace

torch::Tensor sentence_pieces(const torch::Tensor& head_positions,
                              const torch::Tensor& tail_positions, int max_length) {
  return (head_positions > max_length).to(torch::kInt64) +
         (tail_positions > max_length).to(torch::kInt64);
}

std::shared_ptr<SentenceEncoder> make_sentence_encoder(const SentenceEncoderOptions& options,
                                                       std::int64_t input_dim) {
  switch (options.encoder) {
    case EncoderKind::kBiLstm: return std::make_shared<BiLstmEncoder>(options, input_dim);
    case EncoderKind::kCnn: return std::make_shared<ConvEncoder>(options, input_dim, 1);
    case EncoderKind::kPcnn: return std::make_shared<ConvEncoder>(options, input_dim, 3);
  }
  TORCH_CHECK(false, "unknown sentence encoder");
}

}  // namespace hrere::train
