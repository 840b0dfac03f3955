#pragma once
// The YAML configuration: typed sections, strict parsing (an unknown key or a wrong type is
// an error naming the key, the file and the line), `--set section.key=value` overrides and
// the fully resolved form that every command writes into its output folder. yaml-cpp stays
// in this layer: libraries take the plain option structs built from these sections.
#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "data_pipeline/prepare.h"

namespace hrere::train {

using StringMap = std::map<std::string, std::string>;
using FieldPointer =
    std::variant<std::string*, int*, std::int64_t*, double*, bool*, StringMap*>;
struct Field {
  const char* name;
  FieldPointer value;
};

// Inputs of `hrere prepare` (DESIGN.md section 3). Relative paths are taken from the
// directory the command runs in.
struct DataConfig {
  std::string format = "nyt10";
  std::string train;
  std::string test;
  std::string relations;
  StringMap relation_map;
  std::string word_vectors;
  int min_word_count = 2;
  int bag_size = 5;      // T
  int max_length = 100;  // L
  std::string kb_train;
  std::string kb_valid;
  std::string kb_test;
  std::string kb_filter = "all";
  bool skip_bad_lines = false;
  std::int64_t chunk_bags = 64;
  // Folder written by `hrere prepare` that training reads; empty: `hrere train` prepares
  // the inputs above into RUN/data first.
  std::string prepared;

  std::vector<Field> fields();
  data::PrepareOptions prepare_options() const;
};

struct LoaderConfig {
  std::int64_t shuffle_window = 4096;
  int prefetch_batches = 4;

  std::vector<Field> fields();
};

// Language-model sizes, paper Table 1 by default.
struct ModelConfig {
  int word_dim = 300;
  int position_dim = 25;
  int lstm_hidden = 320;
  int classifier_hidden = 190;
  double input_keep = 0.9;
  double output_keep = 0.7;
  // Pretrained word vectors stay fixed during training (as in the reference) unless set.
  bool train_word_vectors = false;

  std::vector<Field> fields();
};

// Optimisation, paper Table 1 by default.
struct TrainConfig {
  std::string variant = "full";  // base | naive | full | weston
  int epochs = 30;
  std::int64_t batch_size = 128;  // global: split evenly over the ranks
  double lr_language = 5e-4;
  double lr_knowledge = 1e-5;
  double l2 = 3e-4;
  double alpha = 0.6;
  std::int64_t seed = 2017;
  int threads = 2;
  // Share of the training bags (whole store chunks, chosen by seed) held out as a dev set,
  // evaluated at every epoch end to keep the best epoch; 0 trains on everything.
  double dev_fraction = 0.0;
  std::int64_t log_every = 10;         // steps between metrics.jsonl lines
  std::int64_t checkpoint_every = 0;   // steps between checkpoints (0: epoch ends only)
  int keep_checkpoints = 3;            // newest checkpoints kept
  std::int64_t eval_batch_size = 512;  // test sentences encoded together

  std::vector<Field> fields();
};

struct Config {
  DataConfig data;
  LoaderConfig loader;
  ModelConfig model;
  TrainConfig train;
};

// Reads `path` (empty: defaults only), then applies each "section.key=value" override in
// order, then validates. Errors are data::InputError naming file, line and key.
Config load_config(const std::string& path, const std::vector<std::string>& overrides);

// The resolved configuration as YAML, loadable by load_config.
std::string to_yaml(Config config);

}  // namespace hrere::train
