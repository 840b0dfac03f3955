#include "app/config.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "app/pretraining.h"
#include "core/errors.h"
#include "kbe_shard/pretrain.h"

namespace hrere::train {
namespace {

// The libraries' option structs and the config sections declare defaults for the same
// settings; they must agree, so a library used directly trains what `hrere` would.
// The settings both declare, in one order, to compare as a whole.
std::vector<double> shared_settings(const kbe::PretrainOptions& o) {
  return {static_cast<double>(o.dim),
          static_cast<double>(o.mode),
          static_cast<double>(o.negatives),
          static_cast<double>(o.optimizer.kind),
          o.optimizer.lr,
          static_cast<double>(o.regularizer),
          o.regularization_weight,
          o.init_std,
          static_cast<double>(o.entity_tanh),
          static_cast<double>(o.batch_size),
          static_cast<double>(o.epochs),
          static_cast<double>(o.seed),
          static_cast<double>(o.eval_every),
          static_cast<double>(o.eval.batch),
          static_cast<double>(o.eval.sampled_candidates),
          static_cast<double>(o.eval_max_triples),
          static_cast<double>(o.log_every),
          static_cast<double>(o.checkpoint_every),
          static_cast<double>(o.checkpoint_every_steps),
          o.checkpoint_every_minutes,
          static_cast<double>(o.threads)};
}

std::vector<std::string> shared_settings(const data::PrepareOptions& o) {
  return {o.format,
          std::to_string(o.min_word_count),
          std::to_string(o.bag_size),
          std::to_string(o.max_length),
          std::to_string(static_cast<int>(o.kb_filter)),
          std::to_string(o.chunk_bags)};
}

// The libraries' option structs and the config sections declare defaults for the same
// settings; they must agree, so a library used directly trains what `hrere` would.
TEST(Config, DefaultsAgreeWithTheLibraries) {
  const Config config;
  EXPECT_EQ(shared_settings(pretrain_options(config.kbe, false, {})),
            shared_settings(kbe::PretrainOptions()));
  EXPECT_EQ(shared_settings(config.data.prepare_options()),
            shared_settings(data::PrepareOptions()));
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
  EXPECT_EQ(load_error("model.input_keep=0"),
            "config: model.input_keep must be in (0, 1] (found 0)");
  EXPECT_EQ(load_error("kbe.lr=0"), "config: kbe.lr must be positive (found 0)");
  EXPECT_EQ(load_error("train.epochs=0"), "config: train.epochs must be at least 1 (found 0)");
  EXPECT_EQ(load_error("kbe.eval_every=-1"),
            "config: kbe.eval_every must be non-negative (found -1)");
  EXPECT_EQ(load_error("train.variant=fancy"),
            "config: train.variant must be base, naive, full or weston (found 'fancy')");
  EXPECT_EQ(load_error("kbe.dim=7"), "config: kbe.dim must be a positive even number");
  EXPECT_EQ(load_error("train.alpha=1"), "");

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
