#include "trainer/config.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <sstream>

#include "comm/device.h"
#include "comm/routing_communicator.h"
#include "core/errors.h"

namespace hrere::train {
namespace {

struct Section {
  const char* name;
  std::vector<Field> fields;
};

std::vector<Section> sections(Config& c) {
  return {{"data", c.data.fields()},   {"loader", c.loader.fields()}, {"model", c.model.fields()},
          {"train", c.train.fields()}, {"kbe", c.kbe.fields()},       {"dist", c.dist.fields()}};
}

template <typename Named>
std::string known_names(const std::vector<Named>& items) {
  std::string out;
  for (const Named& item : items) out += (out.empty() ? "" : ", ") + std::string(item.name);
  return out;
}

// Where a value came from, for messages: "file:line" or "--set key=value".
std::string location(const std::string& file, const YAML::Node& node) {
  return file + ":" + std::to_string(node.Mark().line + 1);
}

std::int64_t parse_integer(const std::string& text, bool& ok) {
  char* end = nullptr;
  errno = 0;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  ok = !text.empty() && errno == 0 && end == text.c_str() + text.size();
  return value;
}

// Assigns `node` to the field; `where` and `key` name it in errors.
void assign(const Field& field, const YAML::Node& node, const std::string& where,
            const std::string& key) {
  auto fail = [&](const std::string& expected) {
    std::string found = node.IsScalar()     ? "'" + node.Scalar() + "'"
                        : node.IsMap()      ? std::string("a mapping")
                        : node.IsSequence() ? std::string("a list")
                                            : std::string("nothing");
    throw InputError(where + ": " + key + ": expected " + expected + ", found " + found);
  };
  std::visit(
      [&](auto target) {
        using T = std::remove_pointer_t<decltype(target)>;
        if constexpr (std::is_same_v<T, ChoicePointer>) {
          if (!node.IsScalar() || !target.set(node.Scalar())) fail(core::either(target.names));
        } else if constexpr (std::is_same_v<T, std::string>) {
          if (node.IsNull()) {
            target->clear();
          } else if (node.IsScalar()) {
            *target = node.Scalar();
          } else {
            fail("a string");
          }
        } else if constexpr (std::is_same_v<T, StringMap>) {
          if (node.IsNull()) {
            target->clear();
            return;
          }
          if (!node.IsMap()) fail("a mapping of names to names");
          StringMap values;
          for (const auto& entry : node) {
            if (!entry.second.IsScalar()) fail("a mapping of names to names");
            values[entry.first.Scalar()] = entry.second.Scalar();
          }
          *target = std::move(values);
        } else {
          if (!node.IsScalar()) fail("a single value");
          const std::string& text = node.Scalar();
          if constexpr (std::is_same_v<T, bool>) {
            if (text == "true")
              *target = true;
            else if (text == "false")
              *target = false;
            else
              fail("true or false");
          } else if constexpr (std::is_same_v<T, double>) {
            char* end = nullptr;
            errno = 0;
            const double value = std::strtod(text.c_str(), &end);
            if (text.empty() || errno != 0 || end != text.c_str() + text.size()) fail("a number");
            *target = value;
          } else if constexpr (std::is_same_v<T, std::uint64_t>) {
            bool ok = false;
            const std::int64_t value = parse_integer(text, ok);
            if (!ok || value < 0) fail("a non-negative integer");
            *target = static_cast<T>(value);
          } else {
            bool ok = false;
            const std::int64_t value = parse_integer(text, ok);
            if (!ok) fail("an integer");
            if constexpr (std::is_same_v<T, int>) {
              if (value < INT_MIN || value > INT_MAX) fail("an integer in the 32-bit range");
            }
            *target = static_cast<T>(value);
          }
        }
      },
      field.value);
}

const Section& find_section(const std::vector<Section>& all, const std::string& name,
                            const std::string& where) {
  for (const Section& s : all) {
    if (name == s.name) return s;
  }
  throw InputError(where + ": unknown section '" + name + "' (known sections: " + known_names(all) +
                   ")");
}

const Field& find_field(const Section& section, const std::string& key, const std::string& where) {
  for (const Field& f : section.fields) {
    if (key == f.name) return f;
  }
  throw InputError(where + ": unknown key '" + section.name + "." + key + "' (known keys of " +
                   section.name + ": " + known_names(section.fields) + ")");
}

void read_file(Config& config, const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    throw InputError(path + ": cannot open config file");
  } catch (const YAML::Exception& e) {
    throw InputError(path + ":" + std::to_string(e.mark.line + 1) + ": invalid YAML: " + e.msg);
  }
  if (root.IsNull()) return;
  if (!root.IsMap()) throw InputError(path + ": a config file is a mapping of sections");
  std::vector<Section> all = sections(config);
  for (const auto& section : root) {
    const std::string section_name = section.first.Scalar();
    const std::string where = location(path, section.first);
    const Section& known = find_section(all, section_name, where);
    if (!section.second.IsMap() && !section.second.IsNull()) {
      throw InputError(where + ": section '" + section_name + "' must be a mapping of keys");
    }
    for (const auto& entry : section.second) {
      const std::string key = entry.first.Scalar();
      const Field& field = find_field(known, key, location(path, entry.first));
      assign(field, entry.second, location(path, entry.second), section_name + "." + key);
    }
  }
}

void apply_override(Config& config, const std::string& assignment) {
  const std::string where = "--set " + assignment;
  const std::size_t equals = assignment.find('=');
  const std::size_t dot = assignment.find('.');
  if (equals == std::string::npos || dot == std::string::npos || dot > equals) {
    throw InputError(where + ": expected section.key=value");
  }
  const std::string section = assignment.substr(0, dot);
  const std::string key = assignment.substr(dot + 1, equals - dot - 1);
  YAML::Node value;
  try {
    value = YAML::Load(assignment.substr(equals + 1));
  } catch (const YAML::Exception& e) {
    throw InputError(where + ": invalid value: " + e.msg);
  }
  std::vector<Section> all = sections(config);
  assign(find_field(find_section(all, section, where), key, where), value, where,
         section + "." + key);
}

std::string number_text(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

std::string rule_text(const Field& field) {
  const Rule& rule = field.rule;
  if (!rule.text.empty()) return rule.text;
  if (const auto* names = std::get_if<ChoicePointer>(&field.value))
    return core::either(names->names);
  const bool low = rule.min > -1e308, high = rule.max < 1e308;
  if (low && high) {
    return std::string("in ") + (rule.min_open ? "(" : "[") + number_text(rule.min) + ", " +
           number_text(rule.max) + (rule.max_open ? ")" : "]");
  }
  if (low && rule.min == 0) return rule.min_open ? "positive" : "non-negative";
  if (low) return (rule.min_open ? "above " : "at least ") + number_text(rule.min);
  return "";
}

// The range of one number field, with the value it has after loading and overrides (an
// enum's names were checked as it was read).
void check_rule(const Field& field, const std::string& key) {
  const Rule& rule = field.rule;
  std::visit(
      [&](auto v) {
        using T = std::remove_pointer_t<decltype(v)>;
        if constexpr (std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) {
          const double x = static_cast<double>(*v);
          const bool ok = (rule.min_open ? x > rule.min : x >= rule.min) &&
                          (rule.max_open ? x < rule.max : x <= rule.max);
          if (!ok) {
            throw InputError("config: " + key + " must be " + rule_text(field) + " (found " +
                             number_text(x) + ")");
          }
        }
      },
      field.value);
}

// Each field's own rule, then the rules that span keys or need the machine.
void validate(Config& c) {
  for (const Section& section : sections(c)) {
    for (const Field& field : section.fields) {
      check_rule(field, std::string(section.name) + "." + field.name);
    }
  }
  auto require = [](bool ok, const std::string& key, const std::string& rule) {
    if (!ok) throw InputError("config: " + key + " " + rule);
  };
  require(c.train.patience == 0 || c.train.dev_fraction > 0, "train.patience",
          "needs a dev split to watch: set train.dev_fraction > 0");
  require(c.train.agreement_weight == 1 || c.train.variant == Variant::kFull,
          "train.agreement_weight", "weighs J_D, which only train.variant full has");
  require(c.kbe.dim >= 2 && c.kbe.dim % 2 == 0, "kbe.dim", "must be a positive even number");
  require(c.model.conv_window % 2 == 1, "model.conv_window", "must be a positive odd number");
  // The BiLSTM's switches change nothing under a CNN encoder, so a run that sets one there
  // would not be what its config says.
  const SentenceEncoderOptions bilstm_defaults;
  for (const auto& [key, is_set] :
       {std::pair<const char*, bool>{"model.lstm_init",
                                     c.model.lstm_init != bilstm_defaults.lstm_init},
        {"model.word_attention", c.model.word_attention != bilstm_defaults.word_attention},
        {"model.backward_over_padding",
         c.model.backward_over_padding != bilstm_defaults.backward_over_padding},
        {"model.per_direction_dropout",
         c.model.per_direction_dropout != bilstm_defaults.per_direction_dropout}}) {
    require(!is_set || c.model.encoder == EncoderKind::kBiLstm, key,
            "applies to model.encoder bilstm only");
  }
  require(c.dist.lost_after_s > 2 * c.dist.heartbeat_s, "dist.lost_after_s",
          "must be more than twice dist.heartbeat_s");
  require(c.dist.backend != comm::Backend::kNccl || comm::nccl_built(), "dist.backend",
          "nccl: this build has no NCCL communicator (built where CMake finds a CUDA LibTorch "
          "and NCCL); use auto or mpi");
  // Probed at load time, so a GPU asked of a machine or build without one stops every
  // command (even `hrere config`) with exit 2 before any work starts.
  for (const auto& [key, spec] :
       {std::pair<const char*, const std::string&>{"train.device", c.train.device},
        {"kbe.device", c.kbe.device_spec}}) {
    try {
      comm::resolve_device(spec);
    } catch (const comm::DeviceError& e) {
      throw InputError(std::string("config: ") + key + ": " + e.what());
    }
  }
  require(c.kbe.sampled_eval_candidates() >= 0, "kbe.eval_candidates",
          "must be all or a positive number of sampled candidates (found '" +
              c.kbe.eval_candidates + "')");
  c.kbe.eval.sampled_candidates = c.kbe.sampled_eval_candidates();
  c.kbe.eval.seed = c.kbe.seed;
}

const char* type_name(const FieldPointer& value) {
  return std::visit(
      [](auto v) -> const char* {
        using T = std::remove_pointer_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, ChoicePointer>) {
          return "string";
        }
        if constexpr (std::is_same_v<T, StringMap>) return "mapping";
        if constexpr (std::is_same_v<T, bool>) return "bool";
        if constexpr (std::is_same_v<T, double>) return "number";
        return "integer";
      },
      value);
}

void emit_value(YAML::Emitter& out, const FieldPointer& value) {
  std::visit(
      [&](auto v) {
        using T = std::remove_pointer_t<decltype(v)>;
        if constexpr (std::is_same_v<T, ChoicePointer>) {
          out << YAML::DoubleQuoted << v.get();
        } else if constexpr (std::is_same_v<T, StringMap>) {
          out << YAML::BeginMap;
          // Quoted: a plain scalar would carry control characters (DEL, CR) unescaped, and
          // they read back as other keys (found by fuzz/config_fuzz.cc).
          for (const auto& [from, to] : *v) {
            out << YAML::Key << YAML::DoubleQuoted << from << YAML::Value << YAML::DoubleQuoted
                << to;
          }
          out << YAML::EndMap;
        } else if constexpr (std::is_same_v<T, std::string>) {
          out << YAML::DoubleQuoted << *v;
        } else if constexpr (std::is_same_v<T, double>) {
          out << YAML::Precision(17) << *v;
        } else {
          out << *v;
        }
      },
      value);
}

}  // namespace

Rule any() { return Rule(); }
Rule at_least(double min) {
  Rule rule;
  rule.min = min;
  return rule;
}
Rule positive() {
  Rule rule = at_least(0);
  rule.min_open = true;
  return rule;
}
Rule non_negative() { return at_least(0); }
Rule between(double min, double max, bool min_open, bool max_open) {
  Rule rule;
  rule.min = min;
  rule.max = max;
  rule.min_open = min_open;
  rule.max_open = max_open;
  return rule;
}
Rule checked_elsewhere(std::string text) {
  Rule rule;
  rule.text = std::move(text);
  return rule;
}

std::vector<Field> DataConfig::fields() {
  return {
      {"format", choice(&format), any(),
       "corpus format: nyt10 (Lin et al. text release) or jsonl (OpenNRE)"},
      {"train", &train_path, any(), "RE training corpus file"},
      {"test", &test_path, any(), "RE test corpus file"},
      {"relations", &relations_path, any(),
       "relation2id.txt (count line, then `name id`; id 0 is NA)"},
      {"relation_map", &relation_map, any(),
       "`corpus name: label name`; a target absent from relation2id gets a new id"},
      {"word_vectors", &word_vectors_path, any(),
       "word2vec (with header) or GloVe text vectors; empty: vocabulary from training words"},
      {"min_word_count", &min_word_count, at_least(1),
       "training words seen fewer times map to `<unk>` (unless they have a vector)"},
      {"bag_size", &bag_size, at_least(1), "T, sentences per training bag"},
      {"max_length", &max_length, at_least(1), "L, tokens per sentence (longer ones are cut)"},
      {"kb_train", &kb_train_path, any(),
       "KB training triples `head relation tail`; empty: no KB store is written"},
      {"kb_valid", &kb_valid_path, any(), "KB validation triples"},
      {"kb_test", &kb_test_path, any(), "KB test triples"},
      {"kb_filter", choice(&kb_filter), any(),
       "drop KB triples whose entity pair occurs in the RE data: all (train and test, the "
       "paper), test, none"},
      {"skip_bad_lines", &skip_bad_lines, any(),
       "skip and count malformed lines instead of failing (also --skip-bad-lines)"},
      {"chunk_bags", &chunk_bags, at_least(1), "bags per HDF5 chunk, the loader's unit of reading"},
      {"prepared", &prepared, any(),
       "a folder written by `hrere prepare` for train to read; empty: train prepares the "
       "inputs above into RUN/data"}};
}

std::vector<Field> DistConfig::fields() {
  return {{"bucket_mib", &bucket_mib, positive(), "largest gradient all-reduce bucket (MiB)"},
          {"checksum_every", &checksum_every, non_negative(),
           "steps between replica checksums, which stop a run whose replicas differ (0: never)"},
          {"heartbeat_s", &heartbeat_s, positive(), "seconds between rank heartbeats"},
          {"lost_after_s", &lost_after_s, checked_elsewhere("more than twice heartbeat_s"),
           "silence after which the other ranks stop and name the lost rank (also the bound on "
           "NCCL's set-up)"},
          {"backend", choice(&backend), any(),
           "transport of GPU tensors: auto (NCCL where built, else MPI through host memory), mpi, "
           "nccl (an error where the build has none); host tensors always use MPI"},
          {"overlap", &overlap, any(),
           "start each gradient bucket's all-reduce during backward, as soon as its gradients "
           "exist; same sums either way"}};
}

std::vector<Field> LoaderConfig::fields() {
  return {{"shuffle_window", &shuffle_window, non_negative(),
           "bags shuffled together within a rank's share (0: the whole share)"},
          {"prefetch_batches", &prefetch_batches, at_least(1),
           "batches the prefetch thread prepares ahead"}};
}

std::vector<Field> ModelConfig::fields() {
  return {{"word_dim", &word_dim, at_least(1), "word embedding size (Table 1)"},
          {"word_init", choice(&word_init), any(),
           "how word vectors without a pretrained row start: scaled_normal (N(0, 1/word_dim): "
           "norm about 1), normal (N(0, 1), LibTorch's Embedding) or uniform (U(-1, 1), as "
           "TensorFlow text models often do)"},
          {"position_dim", &position_dim, non_negative(), "size of each position embedding"},
          {"position_embeddings", choice(&position_embeddings), any(),
           "learned (normal start, trained) or fixed_uniform (as the reference: drawn uniformly "
           "from [0, 1) and never trained)"},
          {"position_init", choice(&position_init), any(),
           "how learned position embeddings start: scaled_normal (N(0, 1/position_dim)), normal "
           "(N(0, 1), LibTorch's Embedding and the port's) or uniform (U(-1, 1))"},
          {"encoder", choice(&encoder), any(),
           "sentence encoder: bilstm (HRERE's, with word attention), cnn or pcnn (the CNN+ATT "
           "and PCNN+ATT baselines of Lin et al. 2016; pcnn max-pools the three pieces the two "
           "entities cut a sentence into); attention, classifier and losses stay the same"},
          {"lstm_hidden", &lstm_hidden, at_least(1), "BiLSTM hidden size per direction"},
          {"lstm_init", choice(&lstm_init), any(),
           "how the BiLSTM's weights start: torch (LibTorch's default, uniform in ±1/√hidden) "
           "or tensorflow (as the reference's LSTMCell: Glorot-uniform kernel, zero biases, "
           "forget gate bias 1)"},
          {"word_attention", choice(&word_attention), any(),
           "what the BiLSTM's word attention normalises over: real_tokens, or full_length (all "
           "max_length positions, as the reference's TensorFlow graph: padding has a zero state "
           "and score 0, so it takes attention mass from short sentences)"},
          {"backward_over_padding", &backward_over_padding, any(),
           "the BiLSTM's backward LSTM reads each sentence's padding up to max_length before its "
           "last token, as an unpacked bidirectional LSTM does (slower: every sentence is "
           "encoded at full width); by default it reads the real tokens alone"},
          {"per_direction_dropout", &per_direction_dropout, any(),
           "the BiLSTM's forward and backward LSTMs each draw their own input dropout mask, as "
           "the reference's two dropout-wrapped cells do; by default both read one dropped "
           "input"},
          {"conv_filters", &conv_filters, at_least(1),
           "cnn and pcnn: convolution filters (z has this size, three times it for pcnn)"},
          {"conv_window", &conv_window, checked_elsewhere("a positive odd number"),
           "cnn and pcnn: tokens each filter sees, centred on its token"},
          {"classifier_hidden", &classifier_hidden, at_least(1), "classifier hidden layer size"},
          {"classifier_bias_init", choice(&classifier_bias_init), any(),
           "how the classifier's hidden and output biases start: zero, or xavier (as the "
           "reference's TensorFlow xavier_initializer draws a vector of n entries: uniform in "
           "±√(3/n))"},
          {"input_keep", &input_keep, between(0, 1, true, false),
           "dropout keep probability on the encoder and classifier inputs"},
          {"output_keep", &output_keep, between(0, 1, true, false),
           "dropout keep probability on the encoder's outputs (BiLSTM states, pooled filters)"},
          {"batch_norm_momentum", &batch_norm_momentum, between(0, 1, true, false),
           "weight of each training batch in the classifier's batch-norm running statistics, "
           "which evaluation uses (0.1 as LibTorch; the reference's TensorFlow decay of 0.99 is "
           "0.01)"},
          {"per_copy_dropout", &per_copy_dropout, any(),
           "training encodes every bag slot on its own, so each copy of an oversampled sentence "
           "draws its own dropout masks, as the reference does (slower); by default a batch's "
           "distinct sentences are encoded once"},
          {"train_word_vectors", &train_word_vectors, any(),
           "keep training pretrained word vectors (by default they stay fixed, as in the "
           "reference)"}};
}

std::int64_t KbeConfig::sampled_eval_candidates() const {
  if (eval_candidates == "all") return 0;
  const bool digits = !eval_candidates.empty() && eval_candidates.size() < 12 &&
                      eval_candidates.find_first_not_of("0123456789") == std::string::npos;
  return digits && std::stoll(eval_candidates) > 0 ? std::stoll(eval_candidates) : -1;
}

std::vector<Field> KbeConfig::fields() {
  return {{"dim", &dim, checked_elsewhere("a positive even number"),
           "ComplEx dimension (real + imaginary coordinates)"},
          {"loss", choice(&mode), any(),
           "1vsall (cross entropy over all entities, reciprocal relations; Lacroix et al. 2018) "
           "or negative (logistic loss on corrupted triples; Trouillon et al. 2016)"},
          {"negatives", &negatives, at_least(1), "corrupted triples per positive (loss: negative)"},
          {"optimizer", choice(&optimizer.kind), any(),
           "row-wise adagrad or lazy adam on entity rows; dense on relations"},
          {"lr", &optimizer.lr, positive(), "learning rate"},
          {"regularizer", choice(&regularizer), any(), "regularizer"},
          {"regularization", &regularization_weight, non_negative(), "regularizer weight"},
          {"init_std", &init_std, positive(), "standard deviation of the initial rows"},
          {"entity_tanh", &entity_tanh, any(),
           "tanh on entity vectors, as the joint model applies (pretrain with it for full)"},
          {"batch_size", &batch_size, at_least(1), "global batch of triples, split over the ranks"},
          {"epochs", &epochs, at_least(1), "epochs"},
          {"seed", &seed, any(), "seed of initial rows, batches, negatives and sampled candidates"},
          {"eval_every", &eval_every, non_negative(), "epochs between validation runs (0: none)"},
          {"eval_batch", &eval.batch, at_least(1), "triples ranked at a time"},
          {"eval_candidates", &eval_candidates, checked_elsewhere("all or a positive number"),
           "rank against every KB entity (all) or N candidates sampled per evaluation batch (the "
           "PBG / DGL-KE protocol at Freebase scale; higher MRR, reported as such)"},
          {"eval_max_triples", &eval_max_triples, non_negative(),
           "evaluate a seeded subset of this many triples (0: all)"},
          {"log_every", &log_every, at_least(1), "steps between metrics lines"},
          {"checkpoint_every", &checkpoint_every, non_negative(),
           "epochs between checkpoints (0: only at the end)"},
          {"checkpoint_every_steps", &checkpoint_every_steps, non_negative(),
           "also checkpoint inside an epoch every this many steps (0: not by steps)"},
          {"checkpoint_every_minutes", &checkpoint_every_minutes, non_negative(),
           "also checkpoint after this many minutes on rank 0's clock (0: not by time)"},
          {"threads", &threads, at_least(1), "LibTorch threads per rank"},
          {"device", &device_spec, checked_elsewhere("cpu, cuda or cuda:N"),
           "where pretraining and link prediction compute, as train.device"}};
}

std::vector<Field> TrainConfig::fields() {
  return {{"variant", choice(&variant), any(),
           "base (J_L), naive (J_L + J_G), full (J_L + J_G + J_D) or weston (J_L + J_G, entity "
           "rows frozen)"},
          {"epochs", &epochs, at_least(1), "epochs"},
          {"batch_size", &batch_size, at_least(1), "global batch of bags, split over the ranks"},
          {"lr_language", &lr_language, positive(), "Adam learning rate of the language model"},
          {"lr_knowledge", &lr_knowledge, positive(), "Adam learning rate of the KB embeddings"},
          {"l2", &l2, non_negative(), "λ of λ/2‖Θ_L‖² on the network weights"},
          {"alpha", &alpha, between(0, 1, false, false),
           "inference weight α of p_L in α p_L + (1 − α) p_G"},
          {"kb_relations", choice(&kb_relations), any(),
           "relations the knowledge side scores: all, or matched (NA and the RE relations "
           "matched to a KB relation by name; J_G and J_D count only bags with those labels, and "
           "p_L alone scores the rest)"},
          {"agreement_weight", &agreement_weight, non_negative(),
           "weight w of J_D in full's loss J_L + J_G + w J_D (0: naive's loss; only full has "
           "J_D)"},
          {"seed", &seed, any(), "seed of initial weights, batches and dropout"},
          {"threads", &threads, at_least(1), "LibTorch threads per rank"},
          {"device", &device, checked_elsewhere("cpu, cuda or cuda:N"),
           "where training, evaluation and prediction compute: cpu, cuda (the rank's GPU: local "
           "rank modulo the GPUs it sees) or cuda:N"},
          {"dev_fraction", &dev_fraction, between(0, 1, false, true),
           "share of training bags (whole store chunks, by seed) held out as a dev set; the best "
           "dev epoch's weights are kept as best/ and evaluated"},
          {"patience", &patience, non_negative(),
           "early stopping: end training after this many epochs in a row without a better dev "
           "score (needs train.dev_fraction > 0; 0: run every epoch)"},
          {"log_every", &log_every, at_least(1), "steps per metrics.jsonl line"},
          {"checkpoint_every", &checkpoint_every, non_negative(),
           "steps between checkpoints (0: at epoch ends only; epoch ends always checkpoint)"},
          {"checkpoint_every_minutes", &checkpoint_every_minutes, non_negative(),
           "also checkpoint after this many minutes on rank 0's clock (0: not by time)"},
          {"keep_checkpoints", &keep_checkpoints, at_least(1), "newest checkpoints kept"},
          {"eval_batch_size", &eval_batch_size, at_least(1),
           "test sentences encoded together in evaluation"},
          {"on_nonfinite", choice(&on_nonfinite), any(),
           "a step whose loss terms or summed gradients are not finite: stop (exit 4, naming the "
           "step and the term; checkpoints stay as they were) or skip its update (counted as "
           "skipped_nonfinite in metrics.jsonl)"},
          {"kbe_embeddings", &kbe_embeddings, any(),
           "embeddings.h5 of a `hrere pretrain` run on the same prepared data; required by naive, "
           "full and weston"}};
}

Config load_config(const std::string& path, const std::vector<std::string>& overrides) {
  Config config;
  if (!path.empty()) read_file(config, path);
  for (const std::string& assignment : overrides) apply_override(config, assignment);
  validate(config);
  return config;
}

std::string describe_config() {
  Config defaults;
  std::ostringstream out;
  out << "| key | type | default | allowed | meaning |\n|---|---|---|---|---|\n";
  for (const Section& section : sections(defaults)) {
    for (const Field& field : section.fields) {
      // Defaults as a reader writes them (0.6, not the 17 digits to_yaml keeps).
      YAML::Emitter value;
      value << YAML::Flow;
      if (auto* number = std::get_if<double*>(&field.value)) {
        value << number_text(**number);
      } else {
        emit_value(value, field.value);
      }
      out << "| `" << section.name << "." << field.name << "` | " << type_name(field.value)
          << " | `" << value.c_str() << "` | " << rule_text(field) << " | " << field.help << " |\n";
    }
  }
  return out.str();
}

std::string to_yaml(Config config) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  for (const Section& section : sections(config)) {
    out << YAML::Key << section.name << YAML::Value << YAML::BeginMap;
    for (const Field& field : section.fields) {
      out << YAML::Key << field.name << YAML::Value;
      emit_value(out, field.value);
    }
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace hrere::train
