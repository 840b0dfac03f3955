#include "trainer/config.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <climits>
#include <cstdlib>

#include "comm/device.h"
#include "comm/routing_communicator.h"
#include "data_pipeline/corpus_reader.h"
#include "data_pipeline/input_error.h"

namespace hrere::train {
namespace {

using data::InputError;

struct Section {
  const char* name;
  std::vector<Field> fields;
};

std::vector<Section> sections(Config& c) {
  return {{"data", c.data.fields()},
          {"loader", c.loader.fields()},
          {"model", c.model.fields()},
          {"train", c.train.fields()},
          {"kbe", c.kbe.fields()},
          {"dist", c.dist.fields()}};
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
    std::string found = node.IsScalar() ? "'" + node.Scalar() + "'"
                        : node.IsMap()  ? std::string("a mapping")
                        : node.IsSequence() ? std::string("a list")
                                            : std::string("nothing");
    throw InputError(where + ": " + key + ": expected " + expected + ", found " + found);
  };
  std::visit(
      [&](auto* target) {
        using T = std::remove_pointer_t<decltype(target)>;
        if constexpr (std::is_same_v<T, std::string>) {
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
            if (text == "true") *target = true;
            else if (text == "false") *target = false;
            else fail("true or false");
          } else if constexpr (std::is_same_v<T, double>) {
            char* end = nullptr;
            errno = 0;
            const double value = std::strtod(text.c_str(), &end);
            if (text.empty() || errno != 0 || end != text.c_str() + text.size()) fail("a number");
            *target = value;
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
  throw InputError(where + ": unknown section '" + name + "' (known sections: " +
                   known_names(all) + ")");
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

void validate(const Config& c) {
  auto require = [](bool ok, const std::string& key, const std::string& rule) {
    if (!ok) throw InputError("config: " + key + " " + rule);
  };
  auto require_name = [](auto parse, const std::string& value, const std::string& key) {
    try {
      parse(value);
    } catch (const InputError& e) {
      throw InputError("config: " + key + ": " + e.what());
    }
  };
  require_name(data::parse_corpus_format, c.data.format, "data.format");
  require_name(data::parse_kb_filter, c.data.kb_filter, "data.kb_filter");
  require(c.data.bag_size >= 1, "data.bag_size", "must be at least 1");
  require(c.data.max_length >= 1, "data.max_length", "must be at least 1");
  require(c.data.min_word_count >= 1, "data.min_word_count", "must be at least 1");
  require(c.data.chunk_bags >= 1, "data.chunk_bags", "must be at least 1");
  require(c.loader.shuffle_window >= 0, "loader.shuffle_window", "must not be negative");
  require(c.loader.prefetch_batches >= 1, "loader.prefetch_batches", "must be at least 1");
  require(c.model.word_dim >= 1 && c.model.position_dim >= 0 && c.model.lstm_hidden >= 1 &&
              c.model.classifier_hidden >= 1,
          "model sizes", "must be positive");
  require(c.model.input_keep > 0 && c.model.input_keep <= 1, "model.input_keep", "must be in (0, 1]");
  require(c.model.output_keep > 0 && c.model.output_keep <= 1, "model.output_keep", "must be in (0, 1]");
  const std::string& v = c.train.variant;
  require(v == "base" || v == "naive" || v == "full" || v == "weston", "train.variant",
          "must be base, naive, full or weston (found '" + v + "')");
  require(c.train.epochs >= 1, "train.epochs", "must be at least 1");
  require(c.train.batch_size >= 1, "train.batch_size", "must be at least 1");
  require(c.train.lr_language > 0 && c.train.lr_knowledge > 0, "train learning rates", "must be positive");
  require(c.train.l2 >= 0, "train.l2", "must not be negative");
  require(c.train.alpha >= 0 && c.train.alpha <= 1, "train.alpha", "must be in [0, 1]");
  require(c.train.threads >= 1, "train.threads", "must be at least 1");
  require(c.train.dev_fraction >= 0 && c.train.dev_fraction < 1, "train.dev_fraction",
          "must be in [0, 1)");
  require(c.train.log_every >= 1, "train.log_every", "must be at least 1");
  require(c.train.checkpoint_every >= 0, "train.checkpoint_every", "must not be negative");
  require(c.train.keep_checkpoints >= 1, "train.keep_checkpoints", "must be at least 1");
  require(c.train.eval_batch_size >= 1, "train.eval_batch_size", "must be at least 1");
  require(c.kbe.dim >= 2 && c.kbe.dim % 2 == 0, "kbe.dim", "must be a positive even number");
  require(c.kbe.loss == "1vsall" || c.kbe.loss == "negative", "kbe.loss",
          "must be 1vsall or negative (found '" + c.kbe.loss + "')");
  require(c.kbe.optimizer == "adagrad" || c.kbe.optimizer == "adam", "kbe.optimizer",
          "must be adagrad or adam (found '" + c.kbe.optimizer + "')");
  require(c.kbe.regularizer == "n3" || c.kbe.regularizer == "l2" || c.kbe.regularizer == "none",
          "kbe.regularizer", "must be n3, l2 or none (found '" + c.kbe.regularizer + "')");
  require(c.kbe.negatives >= 1, "kbe.negatives", "must be at least 1");
  require(c.kbe.lr > 0, "kbe.lr", "must be positive");
  require(c.kbe.regularization >= 0 && c.kbe.init_std > 0, "kbe.regularization, kbe.init_std",
          "must not be negative, must be positive");
  require(c.kbe.batch_size >= 1 && c.kbe.epochs >= 1 && c.kbe.eval_batch >= 1 &&
              c.kbe.log_every >= 1 && c.kbe.threads >= 1,
          "kbe.batch_size, epochs, eval_batch, log_every, threads", "must be at least 1");
  require(c.dist.bucket_mib > 0, "dist.bucket_mib", "must be positive");
  require(c.dist.checksum_every >= 0, "dist.checksum_every", "must not be negative");
  require(c.dist.heartbeat_s > 0 && c.dist.lost_after_s > 2 * c.dist.heartbeat_s,
          "dist.heartbeat_s, dist.lost_after_s",
          "must be positive, lost_after_s more than twice heartbeat_s");
  require(c.dist.backend == "auto" || c.dist.backend == "mpi" || c.dist.backend == "nccl",
          "dist.backend", "must be auto, mpi or nccl (found '" + c.dist.backend + "')");
  require(c.dist.backend != "nccl" || comm::nccl_built(), "dist.backend",
          "nccl: this build has no NCCL communicator (built where CMake finds a CUDA LibTorch "
          "and NCCL); use auto or mpi");
  // Probed at load time, so a GPU asked of a machine or build without one stops every
  // command (even `hrere config`) with exit 2 before any work starts.
  for (const auto& [key, spec] : {std::pair<const char*, const std::string&>{"train.device", c.train.device},
                                  {"kbe.device", c.kbe.device}}) {
    try {
      comm::resolve_device(spec);
    } catch (const comm::DeviceError& e) {
      throw InputError(std::string("config: ") + key + ": " + e.what());
    }
  }
  require(c.kbe.eval_every >= 0 && c.kbe.checkpoint_every >= 0,
          "kbe.eval_every, kbe.checkpoint_every", "must not be negative");
  require(c.kbe.checkpoint_every_steps >= 0 && c.kbe.checkpoint_every_minutes >= 0 &&
              c.kbe.eval_max_triples >= 0,
          "kbe.checkpoint_every_steps, kbe.checkpoint_every_minutes, kbe.eval_max_triples",
          "must not be negative");
  require(c.kbe.sampled_eval_candidates() >= 0, "kbe.eval_candidates",
          "must be all or a positive number of sampled candidates (found '" +
              c.kbe.eval_candidates + "')");
}

void emit_value(YAML::Emitter& out, const FieldPointer& value) {
  std::visit(
      [&](auto* v) {
        using T = std::remove_pointer_t<decltype(v)>;
        if constexpr (std::is_same_v<T, StringMap>) {
          out << YAML::BeginMap;
          for (const auto& [from, to] : *v) out << YAML::Key << from << YAML::Value << to;
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

std::vector<Field> DataConfig::fields() {
  return {{"format", &format},           {"train", &train},
          {"test", &test},               {"relations", &relations},
          {"relation_map", &relation_map}, {"word_vectors", &word_vectors},
          {"min_word_count", &min_word_count}, {"bag_size", &bag_size},
          {"max_length", &max_length},   {"kb_train", &kb_train},
          {"kb_valid", &kb_valid},       {"kb_test", &kb_test},
          {"kb_filter", &kb_filter},     {"skip_bad_lines", &skip_bad_lines},
          {"chunk_bags", &chunk_bags},   {"prepared", &prepared}};
}

data::PrepareOptions DataConfig::prepare_options() const {
  data::PrepareOptions o;
  o.format = format;
  o.train_path = train;
  o.test_path = test;
  o.relations_path = relations;
  o.relation_map = relation_map;
  o.word_vectors_path = word_vectors;
  o.min_word_count = min_word_count;
  o.bag_size = bag_size;
  o.max_length = max_length;
  o.kb_train_path = kb_train;
  o.kb_valid_path = kb_valid;
  o.kb_test_path = kb_test;
  o.kb_filter = data::parse_kb_filter(kb_filter);
  o.skip_bad_lines = skip_bad_lines;
  o.chunk_bags = chunk_bags;
  return o;
}

std::vector<Field> DistConfig::fields() {
  return {{"bucket_mib", &bucket_mib},
          {"checksum_every", &checksum_every},
          {"heartbeat_s", &heartbeat_s},
          {"lost_after_s", &lost_after_s},
          {"backend", &backend},
          {"overlap", &overlap}};
}

std::vector<Field> LoaderConfig::fields() {
  return {{"shuffle_window", &shuffle_window}, {"prefetch_batches", &prefetch_batches}};
}

std::vector<Field> ModelConfig::fields() {
  return {{"word_dim", &word_dim},       {"position_dim", &position_dim},
          {"lstm_hidden", &lstm_hidden}, {"classifier_hidden", &classifier_hidden},
          {"input_keep", &input_keep},   {"output_keep", &output_keep},
          {"train_word_vectors", &train_word_vectors}};
}

std::int64_t KbeConfig::sampled_eval_candidates() const {
  if (eval_candidates == "all") return 0;
  const bool digits = !eval_candidates.empty() && eval_candidates.size() < 12 &&
                      eval_candidates.find_first_not_of("0123456789") == std::string::npos;
  return digits && std::stoll(eval_candidates) > 0 ? std::stoll(eval_candidates) : -1;
}

std::vector<Field> KbeConfig::fields() {
  return {{"dim", &dim},
          {"loss", &loss},
          {"negatives", &negatives},
          {"optimizer", &optimizer},
          {"lr", &lr},
          {"regularizer", &regularizer},
          {"regularization", &regularization},
          {"init_std", &init_std},
          {"entity_tanh", &entity_tanh},
          {"batch_size", &batch_size},
          {"epochs", &epochs},
          {"seed", &seed},
          {"eval_every", &eval_every},
          {"eval_batch", &eval_batch},
          {"eval_candidates", &eval_candidates},
          {"eval_max_triples", &eval_max_triples},
          {"log_every", &log_every},
          {"checkpoint_every", &checkpoint_every},
          {"checkpoint_every_steps", &checkpoint_every_steps},
          {"checkpoint_every_minutes", &checkpoint_every_minutes},
          {"threads", &threads},
          {"device", &device}};
}

std::vector<Field> TrainConfig::fields() {
  return {{"variant", &variant},       {"epochs", &epochs},
          {"batch_size", &batch_size}, {"lr_language", &lr_language},
          {"lr_knowledge", &lr_knowledge}, {"l2", &l2},
          {"alpha", &alpha},           {"seed", &seed},
          {"threads", &threads},       {"device", &device},
          {"dev_fraction", &dev_fraction},
          {"log_every", &log_every},   {"checkpoint_every", &checkpoint_every},
          {"keep_checkpoints", &keep_checkpoints}, {"eval_batch_size", &eval_batch_size},
          {"kbe_embeddings", &kbe_embeddings}};
}

Config load_config(const std::string& path, const std::vector<std::string>& overrides) {
  Config config;
  if (!path.empty()) read_file(config, path);
  for (const std::string& assignment : overrides) apply_override(config, assignment);
  validate(config);
  return config;
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
