#include "model/language_model.h"

#include <gtest/gtest.h>

#include <functional>

#include "comm/device.h"
#include "model/random_batch.h"
#include "test_util.h"

namespace hrere::train {
namespace {

using testing::kL;
using testing::random_batch;

LanguageModelOptions tiny_options() {
  LanguageModelOptions o;
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

// A tiny model in evaluation mode (dropout off, batch norm deterministic), seeded, on the
// test device; batches stay on the host, as the loader makes them.
class EvalModel : public ::testing::Test {
 protected:
  void SetUp() override {
    torch::manual_seed(1);
    model_ = LanguageModel(tiny_options());
    model_->to(test_device());
    model_->eval();
  }
  LanguageModel model_{nullptr};
  torch::NoGradGuard no_grad_;
};

TEST_F(EvalModel, PaddingCannotChangeTheOutput) {
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

TEST_F(EvalModel, DistinctSentencesKeepEachBagsMultiplicity) {
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

TEST_F(EvalModel, ASentenceAsTCopiesEqualsItOnce) {
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

TEST_F(EvalModel, MaskedSlotsDoNotCount) {
  LanguageModel& model = model_;
  const torch::Tensor z = torch::randn({4, 5});
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

TEST(LanguageModel, AttentionAndLossGradientsMatchFiniteDifferences) {
  torch::manual_seed(8);
  LanguageModel model(tiny_options());
  model->to(torch::kFloat64);
  model->to(test_device());
  model->eval();  // dropout off, batch norm deterministic
  const data::Batch batch = random_batch(4, 3, 9);
  const torch::Tensor labels = batch.labels.to(test_device());
  auto loss = [&] {
    return torch::nn::functional::cross_entropy(model->forward(batch), labels) +
           3e-4 * model->l2_penalty();
  };
  const auto params = model->named_parameters();
  for (const char* name :
       {"word_query", "sentence_diag", "sentence_query", "hidden.weight", "output.bias",
        "lstm_backward.weight_ih_l0", "head_position_embedding.weight"}) {
    expect_gradient_matches(loss, params[name], name);
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
