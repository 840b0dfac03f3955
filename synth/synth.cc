#include "synth/synth.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <system_error>

#include "synth/line_file.h"
#include "synth/relations.h"
#include "synth/text.h"
#include "synth/world.h"
#include "synth/writers.h"

namespace hrere::synth {
namespace {

namespace fs = std::filesystem;

std::size_t count_na(const std::vector<Pair>& pairs) {
  return static_cast<std::size_t>(
      std::count_if(pairs.begin(), pairs.end(), [](const Pair& p) { return p.relation == kNA; }));
}

void require(bool ok, const std::string& option, const std::string& rule) {
  if (!ok) throw std::invalid_argument("synth option " + option + " " + rule);
}

void require_fraction(double value, const std::string& option) {
  require(value >= 0.0 && value <= 1.0, option,
          "must be in [0, 1], got " + nlohmann::json(value).dump());
}

}  // namespace

std::vector<std::string> synth_preset_names() {
  return {"default", "bench-1m", "kb-3m", "kb-30m", "kb-86m"};
}

SynthOptions synth_preset(const std::string& name) {
  SynthOptions options;
  if (name == "default") return options;
  if (name == "bench-1m") {  // ~1.2M sentences for throughput runs
    options.num_entities = 400000;
    options.train_pairs = 240000;
    options.test_pairs = 60000;
    options.max_sentences_per_pair = 7;
    options.vocab_size = 20000;
    return options;
  }
  if (name == "kb-3m") {  // the paper's KB scale: 3M entities, ~9M facts
    options.num_entities = 3000000;
    options.train_pairs = 20000;
    options.test_pairs = 5000;
    options.vocab_size = 5000;
    return options;
  }
  if (name == "kb-30m") {  // ten times kb-3m: the KB scaling curve of `prepare`
    options = synth_preset("kb-3m");
    options.num_entities = 30000000;
    return options;
  }
  if (name == "kb-86m") {  // Freebase-86M's shape (docs/SCALING.md): the whole-KB runs
    options = synth_preset("kb-3m");
    options.num_entities = 86000000;
    // The world's facts give ~286M triples over 13 relations; Freebase-86M (as DGL-KE uses
    // it) has 338M over 14,824.
    options.kb_only_relations = 14824 - (kNumRelations - 1);
    options.kb_only_facts = 52000000;
    return options;
  }
  std::string valid;
  for (const std::string& preset : synth_preset_names()) {
    valid += (valid.empty() ? "" : ", ") + preset;
  }
  throw std::invalid_argument("unknown synth preset '" + name + "' (valid presets: " + valid + ")");
}

void validate_synth_options(const SynthOptions& o) {
  // Ids must fit in 32 bits; below 200 the world has too few entities of some types.
  require(o.num_entities >= 200 && o.num_entities <= 1'000'000'000, "num_entities",
          "must be in [200, 1000000000], got " + std::to_string(o.num_entities));
  require(o.train_pairs >= 1, "train_pairs", "must be at least 1");
  require(o.test_pairs >= 1, "test_pairs", "must be at least 1");
  require(o.min_sentences_per_pair >= 1, "min_sentences_per_pair", "must be at least 1");
  require(o.max_sentences_per_pair >= o.min_sentences_per_pair && o.max_sentences_per_pair <= 10000,
          "max_sentences_per_pair",
          "must be in [min_sentences_per_pair, 10000], got " +
              std::to_string(o.max_sentences_per_pair));
  require_fraction(o.na_fraction, "na_fraction");
  require_fraction(o.noise_rate, "noise_rate");
  require_fraction(o.uninformative_test_fraction, "uninformative_test_fraction");
  require_fraction(o.distractor_rate, "distractor_rate");
  require_fraction(o.kb_valid_fraction, "kb_valid_fraction");
  require_fraction(o.kb_test_fraction, "kb_test_fraction");
  require(o.kb_valid_fraction + o.kb_test_fraction <= 0.5, "kb_test_fraction",
          "plus kb_valid_fraction must not exceed 0.5");
  require(o.kb_only_relations <= 1'000'000, "kb_only_relations",
          "must be at most 1000000, got " + std::to_string(o.kb_only_relations));
  require(o.kb_only_facts <= 4'000'000'000, "kb_only_facts",
          "must be at most 4000000000, got " + std::to_string(o.kb_only_facts));
  // Each head's KB-only facts must differ in (relation, tail): ask for at most half of them.
  const std::size_t facts_per_head = (o.kb_only_facts + o.num_entities - 1) / o.num_entities;
  require(facts_per_head <= o.kb_only_relations * (o.num_entities - 1) / 2, "kb_only_facts",
          "needs more distinct facts per entity than kb_only_relations x num_entities allows "
          "(at most half of them)");
  require(o.vocab_size >= 10 && o.vocab_size <= 10'000'000, "vocab_size",
          "must be in [10, 10000000], got " + std::to_string(o.vocab_size));
  require(o.max_filler_run <= 100, "max_filler_run",
          "must be at most 100, got " + std::to_string(o.max_filler_run));
  require(!o.write_vectors || (o.vector_dim >= 1 && o.vector_dim <= 10000), "vector_dim",
          "must be in [1, 10000], got " + std::to_string(o.vector_dim));
}

SynthReport generate_synthetic_world(const SynthOptions& options, const std::string& out_dir) {
  validate_synth_options(options);
  const fs::path dir(out_dir);
  std::error_code error;
  fs::create_directories(dir / "kb", error);
  if (error) {
    throw std::runtime_error("synth: cannot create " + (dir / "kb").string() + ": " +
                             error.message());
  }

  const World world = build_world(options);
  const Selection selection = select_pairs(world, options);
  const Vocabulary vocabulary(options);
  const Names names(world, selection, vocabulary, options);

  SynthReport report;
  report.entities = world.entities();
  report.named_entities = names.ids().size();
  report.relations = kNumRelations;
  report.train_pairs = selection.train.size();
  report.test_pairs = selection.test.size();
  report.train_na_pairs = count_na(selection.train);
  report.test_na_pairs = count_na(selection.test);

  write_relation2id(dir, report);
  SentenceWriter sentences(names, vocabulary, options);
  for (bool test : {false, true}) {
    LineFile file(dir / (test ? "test.txt" : "train.txt"), LineStyle::kLfBetween);
    sentences.write(test ? selection.test : selection.train, test, file, report);
    file.commit();
    (test ? report.test_sentences : report.train_sentences) = file.lines();
    report.bytes_written += file.bytes();
  }
  write_uninformative(dir, selection.test, report);
  write_kb(dir, world, selection, options, report);
  if (options.write_vectors) {
    write_vectors(dir, vocabulary, names, options, report);
  } else {
    fs::remove(dir / "vectors.txt");  // a stale one would not match this world
  }
  write_manifest(dir, options, report);
  return report;
}

}  // namespace hrere::synth
