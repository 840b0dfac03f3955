#pragma once
// The YAML configuration: typed sections, strict parsing (an unknown key or a wrong type is
// an error naming the key, the file and the line), `--set section.key=value` overrides and
// the fully resolved form that every command writes into its output folder. yaml-cpp stays
// in this layer. A section that configures a library derives from that library's option
// struct, so each setting and its default are declared once, in the library; the section
// adds only its keys' table and the settings that are the application's own.
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "comm/routing_communicator.h"
#include "core/choice.h"
#include "data_pipeline/loader.h"
#include "data_pipeline/prepare.h"
#include "kbe_shard/pretrain.h"
#include "trainer/model/language_model.h"
#include "trainer/model/variants.h"

namespace hrere::train {

using StringMap = std::map<std::string, std::string>;

// An enum-valued key, seen through its names (core/choice.h): the config file holds a name,
// the section holds the enumerator.
struct ChoicePointer {
  std::vector<std::string> names;
  std::function<std::string()> get;
  std::function<bool(const std::string&)> set;  // false: not one of `names`
};
template <typename E>
ChoicePointer choice(E* target) {
  return {core::choice_names<E>(), [target] { return std::string(core::name_of(*target)); },
          [target](const std::string& name) {
            const auto value = core::parse_choice<E>(name);
            if (value) *target = *value;
            return value.has_value();
          }};
}

using FieldPointer = std::variant<std::string*, int*, std::int64_t*, std::uint64_t*, double*, bool*,
                                  StringMap*, ChoicePointer>;

// What a number may be, or a text for rules that validate() checks across keys (an enum's
// names are its rule). Checked when a config is loaded and printed by
// `hrere config --describe`.
struct Rule {
  double min = -1e308, max = 1e308;
  bool min_open = false, max_open = false;  // exclude the bound itself
  std::string text;                         // the rule in words, where it is not a range
};
Rule any();
Rule at_least(double min);
Rule positive();
Rule non_negative();
Rule between(double min, double max, bool min_open, bool max_open);
Rule checked_elsewhere(std::string text);

// One configuration key, declared once: its name, where its value (and, through the
// struct's initialiser, its default and type) lives, what it may be, and one line of help.
struct Field {
  const char* name;
  FieldPointer value;
  Rule rule;
  const char* help;
};

// Inputs of `hrere prepare` (docs/ARCHITECTURE.md, Data flow). Relative paths are taken from the
// directory the command runs in.
struct DataConfig : data::PrepareOptions {
  // Folder written by `hrere prepare` that training reads; empty: `hrere train` prepares
  // the inputs above into RUN/data first.
  std::string prepared;

  std::vector<Field> fields();
};

// The loader's shuffling and prefetching; the rest of data::LoaderOptions is set per use.
struct LoaderConfig : data::LoaderOptions {
  std::vector<Field> fields();
};

// Language-model sizes, paper Table 1 by default; the vocabulary, relation and length sizes
// come from the prepared store.
struct ModelConfig : LanguageModelOptions {
  // Pretrained word vectors stay fixed during training (as in the reference) unless set.
  bool train_word_vectors = false;

  std::vector<Field> fields();
};

// What a step with a non-finite loss term or gradient does: end the run with a message
// naming the step and the term (exit 4), or skip the update and count it in metrics.jsonl.
enum class OnNonFinite { kStop, kSkip };
constexpr core::Choices<OnNonFinite, 2> choices(OnNonFinite) {
  return {{{OnNonFinite::kStop, "stop"}, {OnNonFinite::kSkip, "skip"}}};
}

// Optimisation, paper Table 1 by default.
struct TrainConfig {
  Variant variant = Variant::kFull;
  int epochs = 30;
  std::int64_t batch_size = 128;  // global: split evenly over the ranks
  double lr_language = 5e-4;
  double lr_knowledge = 1e-5;
  double l2 = 3e-4;
  double alpha = 0.6;
  // Which RE relations the knowledge side scores: all, or NA and those matched to a KB
  // relation by name (trainer/model/variants.h).
  KbRelations kb_relations = KbRelations::kAll;
  // Weight of J_D in full's loss J_L + J_G + w J_D (0 is naive's loss).
  double agreement_weight = 1.0;
  std::int64_t seed = 2017;
  int threads = 2;
  // cpu | cuda (this rank's GPU: local rank modulo the visible GPUs) | cuda:N
  std::string device = "cpu";
  // Share of the training bags (whole store chunks, chosen by seed) held out as a dev set,
  // evaluated at every epoch end to keep the best epoch; 0 trains on everything.
  double dev_fraction = 0.0;
  // Early stopping: training ends once this many epochs in a row gave no better dev score
  // than the best epoch, whose weights (best/) are evaluated; 0 runs every epoch.
  int patience = 0;
  std::int64_t log_every = 10;          // steps between metrics.jsonl lines
  std::int64_t checkpoint_every = 0;    // steps between checkpoints (0: epoch ends only)
  double checkpoint_every_minutes = 0;  // and minutes, on rank 0's clock (0: not by time)
  int keep_checkpoints = 3;             // newest checkpoints kept
  std::int64_t eval_batch_size = 512;   // test sentences encoded together
  OnNonFinite on_nonfinite = OnNonFinite::kStop;
  // embeddings.h5 of a `hrere pretrain` run on the same prepared data: where the knowledge
  // side of the joint variants (naive, full, weston) starts.
  std::string kbe_embeddings;

  std::vector<Field> fields();
};

// KB-embedding pretraining (`hrere pretrain`): ComplEx over the prepared KB store. The
// command-line limits, resume flag and the resolved device of kbe::PretrainOptions are set
// by the command, not the file.
struct KbeConfig : kbe::PretrainOptions {
  // Link prediction ranks against every KB entity ("all") or against N candidates sampled
  // per evaluation batch (as PBG and DGL-KE do at Freebase scale); eval.sampled_candidates
  // once loaded.
  std::string eval_candidates = "all";
  std::string device_spec = "cpu";  // key `device`: cpu | cuda | cuda:N, as train.device

  std::vector<Field> fields();
  // eval_candidates as a number: 0 for "all", -1 for neither "all" nor a positive number.
  std::int64_t sampled_eval_candidates() const;
};

// Data-parallel training (`hrere train` under mpirun or srun; docs/DISTRIBUTED.md). With one
// process these settings change nothing.
struct DistConfig {
  // Gradients are all-reduced in flat buckets of at most this many MiB: fewer, larger
  // messages than one per parameter, without a second copy of every gradient at once.
  double bucket_mib = 25;
  // Steps between replica checksums, which stop the run if the language-model replicas are
  // no longer bit-identical (0: never).
  std::int64_t checksum_every = 100;
  // Seconds between heartbeats of each rank, and the silence after which the other ranks
  // declare a rank lost and stop instead of waiting in a collective forever.
  double heartbeat_s = 2;
  double lost_after_s = 30;
  // Transport of the collectives: auto (NCCL for GPU tensors where the build has it, MPI
  // for host tensors) | mpi (GPU tensors staged through host memory) | nccl (GPU tensors
  // must go through NCCL; an error where the build lacks it).
  comm::Backend backend = comm::Backend::kAuto;
  // Start each gradient bucket's all-reduce from backward, as soon as its gradients exist,
  // instead of after the whole backward (same sums; false measures the difference).
  bool overlap = true;

  std::vector<Field> fields();
};

struct Config {
  DataConfig data;
  LoaderConfig loader;
  ModelConfig model;
  TrainConfig train;
  KbeConfig kbe;
  DistConfig dist;
};

// Reads `path` (empty: defaults only), then applies each "section.key=value" override in
// order, then validates. Errors are InputError naming file, line and key.
Config load_config(const std::string& path, const std::vector<std::string>& overrides);

// The resolved configuration as YAML, loadable by load_config.
std::string to_yaml(Config config);

// Every key with its type, default, allowed values and help, as a Markdown table (the
// README's configuration reference is this output).
std::string describe_config();

}  // namespace hrere::train
