#include "trainer/config.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/errors.h"
#include "test_util.h"

namespace hrere::train {
namespace {

// Sections derive from the libraries' option structs, so a key sets the library's own
// field (no copy between them); enum keys hold the enumerator once loaded, are written back
// by name, and load again to the same values.
TEST(Config, KeysSetTheLibrariesOptionsAndRoundTrip) {
  const Config c = load_config(
      "", {"kbe.loss=negative", "kbe.optimizer=adam", "kbe.lr=0.3", "kbe.regularizer=l2",
           "kbe.regularization=0.2", "kbe.eval_batch=64", "kbe.eval_candidates=1000", "kbe.seed=7",
           "data.format=jsonl", "data.kb_filter=test", "data.train=t.txt", "train.variant=weston",
           "dist.backend=mpi", "model.lstm_hidden=8", "loader.shuffle_window=3"});
  const kbe::PretrainOptions& pretrain = c.kbe;
  EXPECT_EQ(pretrain.mode, kbe::LossMode::kNegative);
  EXPECT_EQ(pretrain.optimizer.kind, kbe::OptimizerKind::kAdam);
  EXPECT_EQ(pretrain.optimizer.lr, 0.3);
  EXPECT_EQ(pretrain.regularizer, kbe::Regularizer::kL2);
  EXPECT_EQ(pretrain.regularization_weight, 0.2);
  EXPECT_EQ(pretrain.eval.batch, 64);
  EXPECT_EQ(pretrain.eval.sampled_candidates, 1000);
  EXPECT_EQ(pretrain.eval.seed, 7u);
  const data::PrepareOptions& prepare = c.data;
  EXPECT_EQ(prepare.format, data::CorpusFormat::kJsonLines);
  EXPECT_EQ(prepare.kb_filter, data::KbFilter::kTestOnly);
  EXPECT_EQ(prepare.train_path, "t.txt");
  EXPECT_EQ(c.train.variant, Variant::kWeston);
  EXPECT_EQ(c.dist.backend, comm::Backend::kMpi);
  EXPECT_EQ(static_cast<const LanguageModelOptions&>(c.model).lstm_hidden, 8);
  EXPECT_EQ(static_cast<const data::LoaderOptions&>(c.loader).shuffle_window, 3);

  const std::string yaml = to_yaml(c);
  EXPECT_NE(yaml.find("variant: \"weston\""), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("loss: \"negative\""), std::string::npos) << yaml;
  testing::TempDir dir;
  EXPECT_EQ(to_yaml(load_config(dir.write("config.yaml", yaml), {})), yaml);
}

std::string load_error(const std::vector<std::string>& assignments) {
  try {
    load_config("", assignments);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

// The rule declared with each key is what loading enforces, in the words --describe prints.
TEST(Config, EachKeysRuleIsEnforcedAndDescribed) {
  EXPECT_EQ(load_error({"train.alpha=1.5"}), "config: train.alpha must be in [0, 1] (found 1.5)");
  EXPECT_EQ(load_error({"model.input_keep=0"}),
            "config: model.input_keep must be in (0, 1] (found 0)");
  EXPECT_EQ(load_error({"kbe.lr=0"}), "config: kbe.lr must be positive (found 0)");
  EXPECT_EQ(load_error({"train.epochs=0"}), "config: train.epochs must be at least 1 (found 0)");
  EXPECT_EQ(load_error({"kbe.eval_every=-1"}),
            "config: kbe.eval_every must be non-negative (found -1)");
  EXPECT_EQ(load_error({"train.variant=fancy"}),
            "--set train.variant=fancy: train.variant: expected base, naive, full or weston, "
            "found 'fancy'");
  EXPECT_EQ(load_error({"kbe.dim=7"}), "config: kbe.dim must be a positive even number");
  EXPECT_EQ(load_error({"train.alpha=1"}), "");
  EXPECT_EQ(load_error({"train.agreement_weight=-1"}),
            "config: train.agreement_weight must be non-negative (found -1)");
  EXPECT_EQ(load_error({"train.variant=naive", "train.agreement_weight=0.5"}),
            "config: train.agreement_weight weighs J_D, which only train.variant full has");
  EXPECT_EQ(load_error({"train.agreement_weight=0.5"}), "");  // full is the default variant
  for (const auto& [key, value] :
       {std::pair<std::string, std::string>{"model.lstm_init", "tensorflow"},
        {"model.word_attention", "full_length"},
        {"model.backward_over_padding", "true"},
        {"model.per_direction_dropout", "true"}}) {
    EXPECT_EQ(load_error({"model.encoder=pcnn", key + "=" + value}),
              "config: " + key + " applies to model.encoder bilstm only");
    EXPECT_EQ(load_error({key + "=" + value}), "");  // bilstm is the default encoder
  }
  EXPECT_EQ(load_error({"model.encoder=cnn", "model.lstm_init=torch"}), "");  // the default

  const std::string reference = describe_config();
  EXPECT_NE(reference.find("| `train.alpha` | number | `0.6` | in [0, 1] | "), std::string::npos)
      << reference;
  EXPECT_NE(
      reference.find("| `train.variant` | string | `\"full\"` | base, naive, full or weston |"),
      std::string::npos);
  EXPECT_NE(reference.find("| `kbe.batch_size` | integer | `250` | at least 1 |"),
            std::string::npos);
  // One row per key, after the two header lines.
  std::size_t rows = 0;
  for (char c : reference) rows += c == '\n';
  Config config;
  std::size_t keys = config.data.fields().size() + config.loader.fields().size() +
                     config.model.fields().size() + config.train.fields().size() +
                     config.kbe.fields().size() + config.dist.fields().size();
  EXPECT_EQ(rows, keys + 2);
}

}  // namespace
}  // namespace hrere::train
