#include "trainer/config.h"

#include <gtest/gtest.h>

#include <string>

#include "core/errors.h"
#include "kbe_shard/pretrain.h"
#include "trainer/pretraining.h"

namespace hrere::train {
namespace {

// The libraries' option structs and the config sections declare defaults for the same
// settings; they must agree, so a library used directly trains what `hrere` would.
TEST(Config, DefaultsAgreeWithTheLibraries) {
  const Config config;
  const kbe::PretrainOptions library;
  const kbe::PretrainOptions from_config = pretrain_options(config.kbe, false, 0);
  EXPECT_EQ(from_config.dim, library.dim);
  EXPECT_EQ(from_config.mode, library.mode);
  EXPECT_EQ(from_config.negatives, library.negatives);
  EXPECT_EQ(from_config.optimizer.kind, library.optimizer.kind);
  EXPECT_EQ(from_config.optimizer.lr, library.optimizer.lr);
  EXPECT_EQ(from_config.regularizer, library.regularizer);
  EXPECT_EQ(from_config.regularization_weight, library.regularization_weight);
  EXPECT_EQ(from_config.init_std, library.init_std);
  EXPECT_EQ(from_config.entity_tanh, library.entity_tanh);
  EXPECT_EQ(from_config.batch_size, library.batch_size);
  EXPECT_EQ(from_config.epochs, library.epochs);
  EXPECT_EQ(from_config.seed, library.seed);
  EXPECT_EQ(from_config.eval_every, library.eval_every);
  EXPECT_EQ(from_config.eval.batch, library.eval.batch);
  EXPECT_EQ(from_config.eval.sampled_candidates, library.eval.sampled_candidates);
  EXPECT_EQ(from_config.eval_max_triples, library.eval_max_triples);
  EXPECT_EQ(from_config.log_every, library.log_every);
  EXPECT_EQ(from_config.checkpoint_every, library.checkpoint_every);
  EXPECT_EQ(from_config.checkpoint_every_steps, library.checkpoint_every_steps);
  EXPECT_EQ(from_config.checkpoint_every_minutes, library.checkpoint_every_minutes);
  EXPECT_EQ(from_config.threads, library.threads);

  const data::PrepareOptions prepare;
  const data::PrepareOptions prepare_from_config = config.data.prepare_options();
  EXPECT_EQ(prepare_from_config.format, prepare.format);
  EXPECT_EQ(prepare_from_config.min_word_count, prepare.min_word_count);
  EXPECT_EQ(prepare_from_config.bag_size, prepare.bag_size);
  EXPECT_EQ(prepare_from_config.max_length, prepare.max_length);
  EXPECT_EQ(prepare_from_config.kb_filter, prepare.kb_filter);
  EXPECT_EQ(prepare_from_config.chunk_bags, prepare.chunk_bags);
}

std::string load_error(const std::string& assignment) {
  try {
    load_config("", {assignment});
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

// The rule declared with each key is what loading enforces, in the words --describe prints.
TEST(Config, EachKeysRuleIsEnforcedAndDescribed) {
  EXPECT_EQ(load_error("train.alpha=1.5"), "config: train.alpha must be in [0, 1] (found 1.5)");
  EXPECT_EQ(load_error("model.input_keep=0"), "config: model.input_keep must be in (0, 1] (found 0)");
  EXPECT_EQ(load_error("kbe.lr=0"), "config: kbe.lr must be positive (found 0)");
  EXPECT_EQ(load_error("train.epochs=0"), "config: train.epochs must be at least 1 (found 0)");
  EXPECT_EQ(load_error("kbe.eval_every=-1"), "config: kbe.eval_every must be non-negative (found -1)");
  EXPECT_EQ(load_error("train.variant=fancy"),
            "config: train.variant must be base, naive, full or weston (found 'fancy')");
  EXPECT_EQ(load_error("kbe.dim=7"), "config: kbe.dim must be a positive even number");
  EXPECT_EQ(load_error("train.alpha=1"), "");

  const std::string reference = describe_config();
  EXPECT_NE(reference.find("| `train.alpha` | number | `0.6` | in [0, 1] | "),
            std::string::npos)
      << reference;
  EXPECT_NE(reference.find("| `train.variant` | string | `\"full\"` | base, naive, full or weston |"),
            std::string::npos);
  EXPECT_NE(reference.find("| `kbe.batch_size` | integer | `250` | at least 1 |"), std::string::npos);
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
