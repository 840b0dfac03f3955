#include "trainer/model/language_model.h"

#include <gtest/gtest.h>

#include <array>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "comm/device.h"
#include "test_util.h"
#include "trainer/model/random_batch.h"

namespace hrere::train {
namespace {

using testing::kL;
using testing::random_batch;

LanguageModelOptions tiny_options(EncoderKind encoder = EncoderKind::kBiLstm) {
  LanguageModelOptions o;
  o.encoder = encoder;
  o.conv_filters = 4;
  o.conv_window = 3;
  o.vocab_size = testing::kVocabulary;
  o.num_relations = 4;
  o.max_length = kL;
  o.word_dim = 6;
  o.position_dim = 3;
  o.lstm_hidden = 5;
  o.classifier_hidden = 4;
  return o;
}

// Every slot of a batch as its own sentence, and the bags over them: the computation
// without deduplication.
Sentences every_slot(const data::Batch& batch) {
  const std::int64_t N = batch.words.size(0) * batch.words.size(1);
  return {batch.words.reshape({N, kL}), batch.lengths.reshape({N}),
          batch.head_positions.reshape({N, kL}), batch.tail_positions.reshape({N, kL})};
}
BagSlots slots_of_every_slot(const data::Batch& batch) {
  const std::int64_t B = batch.words.size(0), T = batch.words.size(1);
  return {torch::arange(B * T).view({B, T}), torch::ones({B, T}, torch::kBool)};
}

// The device of the device-parameterised tests (HRERE_TEST_DEVICE, cpu by default).
torch::Device test_device() { return comm::resolve_device(hrere::testing::test_device_spec()); }

// Each sentence encoder, named for test names.
const auto kEncoders =
    ::testing::Values(EncoderKind::kBiLstm, EncoderKind::kCnn, EncoderKind::kPcnn);
std::string encoder_name(const ::testing::TestParamInfo<EncoderKind>& info) {
  return core::name_of(info.param);
}

// A tiny model with each encoder in evaluation mode (dropout off, batch norm deterministic),
// seeded, on the test device; batches stay on the host, as the loader makes them.
class EvalModel : public ::testing::TestWithParam<EncoderKind> {
 protected:
  void SetUp() override {
    torch::manual_seed(1);
    model_ = LanguageModel(tiny_options(GetParam()));
    model_->to(test_device());
    model_->eval();
  }
  LanguageModel model_{nullptr};
  torch::NoGradGuard no_grad_;
};
INSTANTIATE_TEST_SUITE_P(Encoders, EvalModel, kEncoders, encoder_name);

TEST_P(EvalModel, PaddingCannotChangeTheOutput) {
  LanguageModel& model = model_;
  const data::Batch batch = random_batch(6, 3, 2);
  const torch::Tensor reference = model->forward(batch);

  // Garbage where padding was: words and positions past each sentence's length.
  data::Batch noisy = batch;
  noisy.words = batch.words.clone();
  noisy.head_positions = batch.head_positions.clone();
  const torch::Tensor past_end = torch::arange(kL).view({1, 1, kL}) >= batch.lengths.unsqueeze(2);
  noisy.words.masked_fill_(past_end, 7);
  noisy.head_positions.masked_fill_(past_end, 3);
  EXPECT_TRUE(torch::allclose(model->forward(noisy), reference, 1e-5, 1e-6));

  // The same sentences encoded at the full width L instead of the longest length.
  const DistinctSentences distinct = distinct_sentences(batch);
  Sentences wide = distinct.sentences;
  const std::int64_t extra = kL - wide.words.size(1);
  ASSERT_GT(extra, -1);
  wide.words = torch::constant_pad_nd(wide.words, {0, extra}, 0);
  wide.head_positions = torch::constant_pad_nd(wide.head_positions, {0, extra}, 0);
  wide.tail_positions = torch::constant_pad_nd(wide.tail_positions, {0, extra}, 0);
  EXPECT_TRUE(torch::allclose(model->encode(wide), model->encode(distinct.sentences), 1e-5, 1e-6));
}

TEST_P(EvalModel, DistinctSentencesKeepEachBagsMultiplicity) {
  // Bag 0 holds sentences a, b, a (an oversampled pair of two), bag 1 holds b three times.
  data::Batch batch = random_batch(2, 3, 3);
  batch.words[0][2] = batch.words[0][0];
  batch.lengths[0][2] = batch.lengths[0][0];
  batch.head_positions[0][2] = batch.head_positions[0][0];
  batch.tail_positions[0][2] = batch.tail_positions[0][0];
  batch.head_spans[0][2] = batch.head_spans[0][0];
  batch.tail_spans[0][2] = batch.tail_spans[0][0];
  for (int t = 0; t < 3; ++t) {
    for (auto* field : {&batch.words, &batch.lengths, &batch.head_positions, &batch.tail_positions,
                        &batch.head_spans, &batch.tail_spans}) {
      (*field)[1][t] = (*field)[0][1];
    }
  }
  const DistinctSentences distinct = distinct_sentences(batch);
  EXPECT_EQ(distinct.sentences.size(), 2);
  EXPECT_TRUE(
      torch::equal(distinct.bags.slots, torch::tensor({{0, 1, 0}, {1, 1, 1}}, torch::kInt64)));
  EXPECT_EQ(distinct.sentences.words.size(1),
            distinct.sentences.lengths.max().item<std::int64_t>());

  // The logits equal those of encoding all six slots separately.
  LanguageModel& model = model_;
  EXPECT_TRUE(torch::allclose(
      model->forward(batch),
      model->classify(model->encode(every_slot(batch)), slots_of_every_slot(batch)), 1e-5, 1e-6));
}

// model.per_copy_dropout: training encodes every slot on its own (each copy of a sentence
// draws its own dropout masks), evaluation still encodes distinct sentences once.
TEST(LanguageModel, PerCopyDropoutEncodesEverySlotInTrainingOnly) {
  data::Batch batch = random_batch(3, 4, 5);
  for (auto* field : {&batch.words, &batch.lengths, &batch.head_positions, &batch.tail_positions,
                      &batch.head_spans, &batch.tail_spans}) {
    for (int t = 1; t < 4; ++t) (*field)[0][t] = (*field)[0][0];  // bag 0: one sentence, 4 copies
  }
  const DistinctSentences every = distinct_sentences(batch, /*deduplicate=*/false);
  EXPECT_EQ(every.sentences.size(), 12);
  EXPECT_TRUE(torch::equal(every.bags.slots, torch::arange(12).view({3, 4})));
  EXPECT_EQ(distinct_sentences(batch).sentences.size(), 9);

  // Two models with the same weights; each forward gets fresh ones, since a training
  // forward moves the batch-norm statistics.
  auto model = [](bool per_copy, bool training) {
    LanguageModelOptions o = tiny_options();
    o.per_copy_dropout = per_copy;
    torch::manual_seed(3);
    LanguageModel m(o);
    m->train(training);
    return m;
  };
  auto logits = [&](LanguageModel m) {
    torch::manual_seed(7);
    return m->forward(batch);
  };
  LanguageModel by_hand = model(true, true);
  torch::manual_seed(7);
  const torch::Tensor by_slot = by_hand->classify(by_hand->encode(every.sentences), every.bags);
  EXPECT_TRUE(torch::allclose(logits(model(true, true)), by_slot, 1e-6, 1e-6));
  EXPECT_FALSE(torch::allclose(logits(model(false, true)), by_slot, 1e-4, 1e-4));
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::allclose(logits(model(true, false)), logits(model(false, false)), 1e-6, 1e-6));
}

TEST_P(EvalModel, ASentenceAsTCopiesEqualsItOnce) {
  LanguageModel& model = model_;
  const data::Batch batch = random_batch(8, 1, 6);
  const torch::Tensor once = model->forward(batch);
  data::Batch copies = batch;  // the paper's protocol: T = 5 copies of each sentence
  for (auto* field : {&copies.words, &copies.lengths, &copies.head_positions,
                      &copies.tail_positions, &copies.head_spans, &copies.tail_spans}) {
    std::vector<std::int64_t> repeat(field->dim(), 1);
    repeat[1] = 5;
    *field = field->repeat(repeat);
  }
  ASSERT_EQ(copies.words.size(1), 5);
  // Encode the 40 slots without deduplication, as the straightforward computation does.
  EXPECT_TRUE(torch::allclose(
      model->classify(model->encode(every_slot(copies)), slots_of_every_slot(copies)), once, 1e-5,
      1e-6));
}

TEST_P(EvalModel, MaskedSlotsDoNotCount) {
  LanguageModel& model = model_;
  const torch::Tensor z = torch::randn({4, model->sentence_dim()});
  const BagSlots padded{torch::tensor({{0, 1, 3}}, torch::kInt64),
                        torch::tensor({{true, true, false}}, torch::kBool)};
  const BagSlots exact{torch::tensor({{0, 1}}, torch::kInt64), torch::ones({1, 2}, torch::kBool)};
  EXPECT_TRUE(torch::allclose(model->classify(z, padded), model->classify(z, exact), 1e-6, 1e-7));
}

// Central finite differences of `loss` with respect to some entries of `parameter`.
void expect_gradient_matches(const std::function<torch::Tensor()>& loss, torch::Tensor parameter,
                             const char* name) {
  parameter.mutable_grad() = torch::Tensor();
  loss().backward();
  const torch::Tensor analytic = parameter.grad().clone().flatten();
  const torch::Tensor flat = parameter.detach().view(-1);
  const std::int64_t n = std::min<std::int64_t>(flat.numel(), 6);
  for (std::int64_t i = 0; i < n; ++i) {
    const double h = 1e-6;
    const double saved = flat[i].item<double>();
    double plus, minus;
    {
      torch::NoGradGuard no_grad;
      flat[i] = saved + h;
      plus = loss().item<double>();
      flat[i] = saved - h;
      minus = loss().item<double>();
      flat[i] = saved;
    }
    const double numeric = (plus - minus) / (2 * h);
    EXPECT_NEAR(analytic[i].item<double>(), numeric, 1e-6 + 1e-5 * std::abs(numeric))
        << name << "[" << i << "]";
  }
}

class Gradients : public ::testing::TestWithParam<EncoderKind> {};
INSTANTIATE_TEST_SUITE_P(Encoders, Gradients, kEncoders, encoder_name);

TEST_P(Gradients, AttentionEncoderAndLossGradientsMatchFiniteDifferences) {
  torch::manual_seed(8);
  LanguageModel model(tiny_options(GetParam()));
  model->to(torch::kFloat64);
  model->to(test_device());
  model->eval();  // dropout off, batch norm deterministic
  const data::Batch batch = random_batch(4, 3, 9);
  const torch::Tensor labels = batch.labels.to(test_device());
  auto loss = [&] {
    return torch::nn::functional::cross_entropy(model->forward(batch), labels) +
           3e-4 * model->l2_penalty();
  };
  std::vector<std::string> names = {"sentence_diag", "sentence_query", "hidden.weight",
                                    "output.bias", "head_position_embedding.weight"};
  if (GetParam() == EncoderKind::kBiLstm) {
    names.insert(names.end(), {"encoder.word_query", "encoder.lstm_backward.weight_ih_l0"});
  } else {
    names.insert(names.end(), {"encoder.conv.weight", "encoder.conv.bias"});
  }
  const auto params = model->named_parameters();
  for (const std::string& name : names) {
    ASSERT_TRUE(params.contains(name)) << name;
    expect_gradient_matches(loss, params[name], name.c_str());
  }
}

// Position ids of a sentence of `length` tokens (padded to kL) with one-token entities at
// `head` and `tail`, as the loader computes them.
Sentences one_sentence(const std::vector<std::int64_t>& words, std::int64_t head,
                       std::int64_t tail) {
  const auto length = static_cast<std::int64_t>(words.size());
  auto positions = [&](std::int64_t entity) {
    torch::Tensor p = torch::zeros({1, kL}, torch::kInt64);
    for (std::int64_t i = 0; i < length; ++i) p[0][i] = i - entity + kL;
    return p;
  };
  torch::Tensor w = torch::zeros({1, kL}, torch::kInt64);
  w[0].narrow(0, 0, length).copy_(torch::tensor(words, torch::kInt64));
  return {w, torch::tensor({length}, torch::kInt64), positions(head), positions(tail)};
}

TEST(SentencePieces, FollowTheEntitySpansInEitherOrder) {
  const Sentences s = one_sentence({5, 6, 7, 8, 9, 10}, /*head=*/1, /*tail=*/4);
  const torch::Tensor expected = torch::tensor({{0, 0, 1, 1, 1, 2}}, torch::kInt64);
  EXPECT_TRUE(torch::equal(sentence_pieces(s.head_positions, s.tail_positions, kL).narrow(1, 0, 6),
                           expected));
  EXPECT_TRUE(torch::equal(sentence_pieces(s.tail_positions, s.head_positions, kL).narrow(1, 0, 6),
                           expected));
}

// pcnn: z is three blocks of conv_filters, one max-pool per piece. A word whose whole
// convolution window lies in one piece moves only that piece's block; a piece without
// tokens pools to 0.
TEST(Pcnn, EachPieceHasItsOwnBlockAndAnEmptyPiecePoolsToZero) {
  torch::manual_seed(4);
  LanguageModel model(tiny_options(EncoderKind::kPcnn));
  model->eval();
  torch::NoGradGuard no_grad;
  const std::int64_t F = 4;
  ASSERT_EQ(model->sentence_dim(), 3 * F);
  const std::vector<std::int64_t> words = {3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  const torch::Tensor z = model->encode(one_sentence(words, 2, 5));  // pieces 0-2, 3-5, 6-9
  // Which blocks some replacement of `token` changes (a replacement need not move a max).
  auto changed_blocks = [&](std::size_t token) {
    std::vector<bool> changed(3, false);
    for (std::int64_t word = 2; word < testing::kVocabulary; ++word) {
      std::vector<std::int64_t> other = words;
      other[token] = word;
      const torch::Tensor moved = model->encode(one_sentence(other, 2, 5));
      for (int p = 0; p < 3; ++p) {
        if (!torch::equal(moved.narrow(1, p * F, F), z.narrow(1, p * F, F))) changed[p] = true;
      }
    }
    return changed;
  };
  EXPECT_EQ(changed_blocks(0), (std::vector<bool>{true, false, false}));
  EXPECT_EQ(changed_blocks(4), (std::vector<bool>{false, true, false}));
  EXPECT_EQ(changed_blocks(8), (std::vector<bool>{false, false, true}));

  const torch::Tensor last = model->encode(one_sentence(words, 2, 9));  // nothing after the tail
  EXPECT_TRUE(torch::equal(last.narrow(1, 2 * F, F), torch::zeros({1, F})));
  EXPECT_FALSE(torch::equal(last.narrow(1, F, F), torch::zeros({1, F})));
}

// Archives written before model.encoder existed hold the BiLSTM's parts at the top level;
// they still load, into the same weights.
TEST(LanguageModel, ArchivesWithTheBiLstmAtTheTopLevelStillLoad) {
  torch::manual_seed(2);
  LanguageModel saved(tiny_options());
  torch::serialize::OutputArchive old_layout;
  auto write_module = [&](const std::string& name, const torch::nn::Module& module) {
    torch::serialize::OutputArchive child_archive;
    module.save(child_archive);
    old_layout.write(name, child_archive);
  };
  const auto top_level = saved->named_children();
  for (const auto& child : top_level) {
    if (child.key() != "encoder") write_module(child.key(), *child.value());
  }
  // The encoder's parameters and modules straight into the top level; its input dropout
  // (stateless) has the name of the model's own, which the old layout held once.
  const auto& encoder = *top_level["encoder"];
  for (const auto& p : encoder.named_parameters(/*recurse=*/false)) {
    old_layout.write(p.key(), p.value());
  }
  for (const auto& child : encoder.named_children()) {
    if (!top_level.contains(child.key())) write_module(child.key(), *child.value());
  }
  for (const auto& p : saved->named_parameters(/*recurse=*/false)) {
    old_layout.write(p.key(), p.value());
  }
  for (const auto& b : saved->named_buffers(/*recurse=*/false)) {
    old_layout.write(b.key(), b.value(), /*is_buffer=*/true);
  }
  std::ostringstream bytes;
  old_layout.save_to(bytes);
  torch::manual_seed(3);
  LanguageModel loaded(tiny_options());
  torch::serialize::InputArchive archive;
  std::istringstream in(bytes.str());
  archive.load_from(in);
  loaded->load(archive);
  const auto expected = saved->named_parameters();
  for (const auto& p : loaded->named_parameters()) {
    EXPECT_TRUE(torch::equal(p.value(), expected[p.key()])) << p.key();
  }
  EXPECT_TRUE(loaded->named_parameters().contains("encoder.lstm_forward.weight_hh_l0"));
}

// model.lstm_init tensorflow starts both LSTMs as TensorFlow's LSTMCell: weights within the
// Glorot bound of the [input + hidden, 4 hidden] kernel, and of the biases' sum only the
// forget gate's is non-zero, at 1.
TEST(LanguageModel, TensorflowLstmInitIsGlorotWithForgetBiasOne) {
  LanguageModelOptions o = tiny_options();
  o.lstm_init = LstmInit::kTensorflow;
  torch::manual_seed(4);
  LanguageModel model(o);
  const auto parameters = model->named_parameters();
  const std::int64_t H = o.lstm_hidden, input = o.word_dim + 2 * o.position_dim;
  const double bound = std::sqrt(6.0 / static_cast<double>(input + 5 * H));
  for (const std::string lstm : {"encoder.lstm_forward.", "encoder.lstm_backward."}) {
    for (const std::string weight : {"weight_ih_l0", "weight_hh_l0"}) {
      const torch::Tensor w = parameters[lstm + weight];
      EXPECT_LE(w.abs().max().item<double>(), bound) << lstm << weight;
      EXPECT_GT(w.abs().max().item<double>(), 0.5 * bound) << lstm << weight;  // drawn, not 0
    }
    const torch::Tensor bias = parameters[lstm + "bias_ih_l0"] + parameters[lstm + "bias_hh_l0"];
    torch::Tensor expected = torch::zeros({4 * H});
    expected.narrow(0, H, H).fill_(1.0);
    EXPECT_TRUE(torch::equal(bias, expected)) << lstm << bias;
  }
  // The default stays LibTorch's: biases drawn, not a forget bias of 1.
  torch::manual_seed(4);
  LanguageModel torch_init(tiny_options());
  const torch::Tensor bias = torch_init->named_parameters()["encoder.lstm_forward.bias_ih_l0"];
  EXPECT_LT(bias.abs().max().item<double>(), 1.0 / std::sqrt(static_cast<double>(H)) + 1e-6);
  EXPECT_GT(bias.abs().max().item<double>(), 0.0);
}

// model.word_attention full_length normalises the word attention over all L positions, as
// the reference's graph does: each of the L - length padding positions has a zero state and
// score 0. So a sentence's vector is its real_tokens vector times S / (S + L - length), S
// the real tokens' summed exp(score): one factor for every coordinate, 1 where length = L,
// and 1/factor - 1 grows in proportion to L - length.
TEST(SentenceEncoder, FullLengthWordAttentionCountsPaddingUpToL) {
  torch::NoGradGuard no_grad;
  constexpr std::int64_t kWidth = 6, kLongL = 20;
  torch::manual_seed(6);
  const torch::Tensor zeros = torch::zeros({3, kWidth}, torch::kInt64);
  const TokenFeatures tokens{torch::randn({3, kWidth, 4}), torch::tensor({6, 3, 1}, torch::kInt64),
                             zeros, zeros, 0};
  auto encode = [&](WordAttention attention, int max_length) {
    SentenceEncoderOptions o;
    o.lstm_hidden = 5;
    o.word_attention = attention;
    torch::manual_seed(5);  // the same weights for every call
    const auto encoder = make_sentence_encoder(o, 4);
    encoder->eval();
    TokenFeatures at = tokens;
    at.max_length = max_length;
    return encoder->forward(at);
  };
  const torch::Tensor real = encode(WordAttention::kRealTokens, kWidth);
  const torch::Tensor at_width = encode(WordAttention::kFullLength, kWidth);
  const torch::Tensor at_long = encode(WordAttention::kFullLength, kLongL);
  EXPECT_TRUE(torch::allclose(at_width[0], real[0], 1e-6, 1e-7));  // no padding up to L
  // 1 / factor, where full_length's vector is factor x the real_tokens one.
  auto inverse_factor = [&](const torch::Tensor& full, std::int64_t n) {
    const double factor = (full[n].dot(real[n]) / real[n].dot(real[n])).item<double>();
    EXPECT_TRUE(torch::allclose(full[n], real[n] * factor, 1e-5, 1e-6)) << n;
    return 1.0 / factor;
  };
  EXPECT_GT(inverse_factor(at_long, 0), 1.0);
  const std::vector<std::int64_t> lengths = {6, 3, 1};
  for (std::int64_t n : {1, 2}) {
    const double padding_at_width = static_cast<double>(kWidth - lengths[n]);
    const double padding_at_long = static_cast<double>(kLongL - lengths[n]);
    EXPECT_NEAR((inverse_factor(at_long, n) - 1) / (inverse_factor(at_width, n) - 1),
                padding_at_long / padding_at_width, 1e-3)
        << n;
  }
}

// model.per_direction_dropout: the two LSTMs read independently dropped inputs. The backward
// LSTM is made the forward one with its cell-gate rows negated, so on a one-token sentence
// (where both read the same token from a zero state) it outputs exactly minus the forward
// output when both read the same input: z = tanh(forward + backward) is then 0, and stays 0
// in training only while the two share a dropout mask.
TEST(SentenceEncoder, PerDirectionDropoutGivesEachLstmItsOwnInputMask) {
  torch::NoGradGuard no_grad;
  constexpr std::int64_t kHidden = 5, kInput = 8, kSentences = 16;
  const torch::Tensor zeros = torch::zeros({kSentences, 1}, torch::kInt64);
  torch::manual_seed(9);
  const TokenFeatures tokens{torch::randn({kSentences, 1, kInput}),
                             torch::ones({kSentences}, torch::kInt64), zeros, zeros, 1};
  auto largest_output = [&](bool per_direction, bool training) {
    SentenceEncoderOptions o;
    o.lstm_hidden = kHidden;
    o.input_keep = 0.5;
    o.output_keep = 1.0;
    o.per_direction_dropout = per_direction;
    const auto encoder = make_sentence_encoder(o, kInput);
    auto parameters = encoder->named_parameters();
    for (const char* name : {"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"}) {
      torch::Tensor backward = parameters[std::string("lstm_backward.") + name];
      backward.copy_(parameters[std::string("lstm_forward.") + name]);
      backward.narrow(0, 2 * kHidden, kHidden).neg_();  // gates in the order i, f, g, o
    }
    encoder->train(training);
    torch::manual_seed(10);
    return encoder->forward(tokens).abs().max().item<double>();
  };
  EXPECT_LT(largest_output(false, false), 1e-6);
  EXPECT_LT(largest_output(true, false), 1e-6);  // no dropout in evaluation
  EXPECT_LT(largest_output(false, true), 1e-6);
  EXPECT_GT(largest_output(true, true), 1e-2);
}

// model.backward_over_padding: the backward LSTM reads each sentence's padding up to L
// before its last token. A sentence cut to its length is widened with the loader's own
// padding, so it encodes as at full width; only a sentence with padding to read differs from
// the default.
TEST(LanguageModel, BackwardOverPaddingReadsThePaddingUpToL) {
  torch::NoGradGuard no_grad;
  LanguageModelOptions o = tiny_options();
  o.backward_over_padding = true;
  torch::manual_seed(7);
  LanguageModel reading(o);
  torch::manual_seed(7);
  LanguageModel skipping(tiny_options());
  reading->eval();
  skipping->eval();
  const Sentences all = every_slot(random_batch(4, 2, 5));
  int with_padding = 0;
  for (std::int64_t n = 0; n < all.size(); ++n) {
    const std::int64_t length = all.lengths[n].item<std::int64_t>();
    auto sentence = [&](std::int64_t width) {
      auto row = [&](const torch::Tensor& t) { return t.narrow(0, n, 1).narrow(1, 0, width); };
      return Sentences{row(all.words), all.lengths.narrow(0, n, 1), row(all.head_positions),
                       row(all.tail_positions)};
    };
    const torch::Tensor z = reading->encode(sentence(length));
    EXPECT_TRUE(torch::allclose(z, reading->encode(sentence(kL)), 1e-5, 1e-6)) << n;
    EXPECT_EQ(torch::allclose(z, skipping->encode(sentence(length)), 1e-5, 1e-6), length == kL)
        << n;
    with_padding += length < kL;
  }
  EXPECT_GT(with_padding, 0);
}

// model.batch_norm_momentum is the weight of a training batch in the running statistics:
// from the start (mean 0), one step leaves momentum x the batch mean, so the same step at
// 0.25 leaves 2.5 times what it leaves at LibTorch's 0.1.
TEST(LanguageModel, BatchNormMomentumWeighsEachTrainingBatch) {
  const data::Batch batch = random_batch(6, 2, 3);
  auto running_means_after_a_step = [&](double momentum) {
    LanguageModelOptions o = tiny_options();
    o.batch_norm_momentum = momentum;
    torch::manual_seed(8);
    LanguageModel model(o);
    model->train();
    model->forward(batch);
    const auto buffers = model->named_buffers();
    return std::vector<torch::Tensor>{buffers["bag_norm.running_mean"],
                                      buffers["hidden_norm.running_mean"]};
  };
  const auto at_default = running_means_after_a_step(0.1);
  const auto at_quarter = running_means_after_a_step(0.25);
  for (std::size_t i = 0; i < at_default.size(); ++i) {
    EXPECT_GT(at_default[i].abs().max().item<double>(), 0.0) << i;
    EXPECT_TRUE(torch::allclose(at_quarter[i], at_default[i] * 2.5, 1e-5, 1e-7)) << i;
  }
}

// model.position_embeddings fixed_uniform: both tables are drawn from [0, 1) and never train.
TEST(LanguageModel, FixedUniformPositionEmbeddingsDoNotTrain) {
  LanguageModelOptions o = tiny_options();
  o.position_embeddings = PositionEmbeddings::kFixedUniform;
  torch::manual_seed(9);
  LanguageModel model(o);
  model->train();
  model->forward(random_batch(4, 2, 4)).sum().backward();
  for (const std::string table :
       {"head_position_embedding.weight", "tail_position_embedding.weight"}) {
    const torch::Tensor w = model->named_parameters()[table];
    EXPECT_FALSE(w.requires_grad()) << table;
    EXPECT_FALSE(w.grad().defined()) << table;
    EXPECT_GE(w.min().item<double>(), 0.0) << table;
    EXPECT_LT(w.max().item<double>(), 1.0) << table;
    EXPECT_GT(w.max().item<double>(), 0.5) << table;  // drawn over the range, not zeros
  }
  torch::manual_seed(9);
  LanguageModel learned(tiny_options());
  EXPECT_TRUE(learned->named_parameters()["head_position_embedding.weight"].requires_grad());
}

// model.word_init and model.position_init: the three starts have the spread they name (over
// wide tables, so the sample statistics are tight), and the word padding row stays zero.
TEST(LanguageModel, EmbeddingInitDrawsTheNamedDistribution) {
  auto tables = [](EmbeddingInit word_init, EmbeddingInit position_init) {
    LanguageModelOptions o = tiny_options();
    o.vocab_size = 2000;
    o.word_dim = 50;
    o.word_init = word_init;
    o.max_length = 1000;  // 2001 position rows
    o.position_dim = 40;
    o.position_init = position_init;
    torch::manual_seed(10);
    LanguageModel model(o);
    auto params = model->named_parameters();
    return std::array<torch::Tensor, 3>{params["word_embedding.weight"].detach().clone(),
                                        params["head_position_embedding.weight"].detach().clone(),
                                        params["tail_position_embedding.weight"].detach().clone()};
  };
  const double unbounded = std::numeric_limits<double>::infinity();
  for (const auto& [init, unit_std, bound] :
       {std::tuple<EmbeddingInit, double, double>{EmbeddingInit::kScaledNormal, 0.0, unbounded},
        {EmbeddingInit::kNormal, 1.0, unbounded},
        {EmbeddingInit::kUniform, 1 / std::sqrt(3.0), 1.0}}) {
    const auto other =
        init == EmbeddingInit::kNormal ? EmbeddingInit::kUniform : EmbeddingInit::kNormal;
    const torch::Tensor words = tables(init, other)[0];
    const auto positions = tables(other, init);
    EXPECT_TRUE(torch::equal(words[0], torch::zeros({50}))) << static_cast<int>(init);
    for (const auto& [table, dim] :
         {std::pair{words.narrow(0, 1, 1999), 50}, {positions[1], 40}, {positions[2], 40}}) {
      const double std = unit_std > 0 ? unit_std : 1 / std::sqrt(static_cast<double>(dim));
      EXPECT_NEAR(table.std().item<double>(), std, 0.02 * std) << static_cast<int>(init);
      EXPECT_NEAR(table.mean().item<double>(), 0.0, 0.02 * std) << static_cast<int>(init);
      EXPECT_LE(table.abs().max().item<double>(), bound) << static_cast<int>(init);
    }
  }
  const auto normal = tables(EmbeddingInit::kNormal, EmbeddingInit::kNormal);
  for (const torch::Tensor& table : normal) {
    EXPECT_GT(table.abs().max().item<double>(), 3.0);  // not bounded
  }
}

// model.classifier_bias_init: both classifier biases start at zero, or drawn within the bound
// TensorFlow's xavier_initializer gives a vector of n entries, sqrt(3/n).
TEST(LanguageModel, ClassifierBiasInitDrawsWithinTheXavierBound) {
  auto biases = [](ClassifierBiasInit init) {
    LanguageModelOptions o = tiny_options();
    o.classifier_bias_init = init;
    torch::manual_seed(11);
    LanguageModel model(o);
    const auto parameters = model->named_parameters();
    return std::vector<torch::Tensor>{parameters["hidden.bias"], parameters["output.bias"]};
  };
  for (const torch::Tensor& bias : biases(ClassifierBiasInit::kZero)) {
    EXPECT_TRUE(torch::equal(bias, torch::zeros_like(bias)));
  }
  for (const torch::Tensor& bias : biases(ClassifierBiasInit::kXavier)) {
    const double bound = std::sqrt(3.0 / static_cast<double>(bias.size(0)));
    EXPECT_LE(bias.abs().max().item<double>(), bound);
    EXPECT_GT(bias.abs().max().item<double>(), 0.5 * bound);  // drawn, not 0
    EXPECT_TRUE(bias.requires_grad());
  }
}

TEST(LanguageModel, WordVectorsLoadAndFreeze) {
  LanguageModel model(tiny_options());
  const torch::Tensor vectors = torch::randn({30, 6});
  torch::Tensor has = torch::zeros({30}, torch::kUInt8);
  has[3] = 1;
  const torch::Tensor before = model->named_parameters()["word_embedding.weight"].detach().clone();
  model->load_word_vectors(vectors, has, /*trainable=*/false);
  const torch::Tensor after = model->named_parameters()["word_embedding.weight"];
  EXPECT_TRUE(torch::equal(after[3], vectors[3]));
  EXPECT_TRUE(torch::equal(after[4], before[4]));
  EXPECT_FALSE(after.requires_grad());
  EXPECT_THROW(model->load_word_vectors(torch::randn({30, 7}), has, false), c10::Error);
}

}  // namespace
}  // namespace hrere::train
