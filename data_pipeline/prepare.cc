#include "data_pipeline/prepare.h"

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <unordered_map>

#include "core/atomic_output.h"
#include "data_pipeline/bag_store.h"
#include "data_pipeline/corpus_reader.h"
#include "core/errors.h"
#include "core/stopwatch.h"
#include "data_pipeline/kb_reader.h"
#include "data_pipeline/kb_store.h"
#include "data_pipeline/relations.h"
#include "data_pipeline/text_file.h"
#include "data_pipeline/vocabulary.h"

namespace hrere::data {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Names -> dense ids in order of first appearance.
class NameTable {
 public:
  std::int32_t add(const std::string& name) {
    auto [it, inserted] = ids_.emplace(name, static_cast<std::int32_t>(names_.size()));
    if (inserted) names_.push_back(name);
    return it->second;
  }
  const std::vector<std::string>& names() const { return names_; }
  // The names, leaving the table empty (the lookup index is freed, not copied).
  std::vector<std::string> release() {
    ids_ = {};
    return std::move(names_);
  }

 private:
  std::unordered_map<std::string, std::int32_t> ids_;
  std::vector<std::string> names_;
};

void check_options(const PrepareOptions& o) {
  auto require = [](bool ok, const std::string& message) {
    if (!ok) throw InputError("prepare: " + message);
  };
  require(!o.train_path.empty(), "data.train is not set");
  require(!o.test_path.empty(), "data.test is not set");
  require(!o.relations_path.empty(), "data.relations is not set");
  require(o.bag_size >= 1, "data.bag_size must be at least 1");
  require(o.max_length >= 1, "data.max_length must be at least 1");
  require(o.min_word_count >= 1, "data.min_word_count must be at least 1");
  require(o.chunk_bags >= 1, "data.chunk_bags must be at least 1");
  require(o.kb_train_path.empty() || !o.kb_valid_path.empty() || o.kb_test_path.empty(),
          "data.kb_test is set without data.kb_valid");
}

struct EncodeStats {
  std::int64_t truncated = 0;
};

std::vector<EncodedSentence> encode(const std::vector<Sentence>& sentences,
                                    const std::string& path, const RelationTable& relations,
                                    const Vocabulary& vocab, NameTable& entities, int L,
                                    BadLines& bad_lines, EncodeStats& stats) {
  std::vector<EncodedSentence> out;
  out.reserve(sentences.size());
  for (const Sentence& s : sentences) {
    const int label = relations.id_of(s.relation);
    if (label < 0) {
      bad_lines.report(path, s.line,
                       "unknown relation '" + s.relation +
                           "' (not in the relation2id file nor in data.relation_map)");
      continue;
    }
    EncodedSentence e;
    e.head = entities.add(s.head);
    e.tail = entities.add(s.tail);
    e.label = label;
    const std::size_t length = std::min<std::size_t>(s.words.size(), L);
    if (s.words.size() > length) ++stats.truncated;
    e.words.reserve(length);
    for (std::size_t i = 0; i < length; ++i) e.words.push_back(vocab.id_of(s.words[i]));
    e.head_span = s.head_span;
    e.tail_span = s.tail_span;
    out.push_back(std::move(e));
  }
  return out;
}

// Unordered entity pair key, so (h, t) and (t, h) match.
std::uint64_t pair_key(std::int32_t a, std::int32_t b) {
  const auto lo = static_cast<std::uint32_t>(std::min(a, b));
  const auto hi = static_cast<std::uint32_t>(std::max(a, b));
  return (static_cast<std::uint64_t>(lo) << 32) | hi;
}

// Removes the directory on failure when this run created it and nothing else is inside.
class OutputDirectory {
 public:
  explicit OutputDirectory(const std::string& path) : path_(path) {
    created_ = fs::create_directories(path_);
  }
  ~OutputDirectory() {
    std::error_code ignored;
    if (created_ && !kept_ && fs::is_empty(path_, ignored)) fs::remove(path_, ignored);
  }
  void keep() { kept_ = true; }

 private:
  fs::path path_;
  bool created_ = false;
  bool kept_ = false;
};

}  // namespace

KbFilter parse_kb_filter(const std::string& name) {
  if (name == "all") return KbFilter::kTrainAndTest;
  if (name == "test") return KbFilter::kTestOnly;
  if (name == "none") return KbFilter::kNone;
  throw InputError("unknown KB filter '" + name + "' (expected all, test or none)");
}

json prepare_data(const PrepareOptions& options, const std::string& out_dir) {
  const core::Stopwatch stopwatch;
  check_options(options);
  BadLines bad_lines(options.skip_bad_lines);
  const CorpusFormat format = parse_corpus_format(options.format);

  RelationTable relations = RelationTable::read(options.relations_path);
  relations.apply_remap(options.relation_map);
  const std::vector<Sentence> train = read_corpus(options.train_path, format, bad_lines);
  const std::vector<Sentence> test = read_corpus(options.test_path, format, bad_lines);
  if (train.empty()) throw InputError(options.train_path + ": no usable training sentences");

  std::unique_ptr<WordVectors> vectors;
  if (!options.word_vectors_path.empty()) {
    vectors = std::make_unique<WordVectors>(read_word_vectors(options.word_vectors_path));
  }
  const Vocabulary vocab = Vocabulary::build(train, test, options.min_word_count, vectors.get());

  NameTable entities;
  EncodeStats stats;
  const std::vector<EncodedSentence> train_encoded = encode(
      train, options.train_path, relations, vocab, entities, options.max_length, bad_lines, stats);
  const std::vector<EncodedSentence> test_encoded = encode(
      test, options.test_path, relations, vocab, entities, options.max_length, bad_lines, stats);

  BagStoreContents bags;
  bags.T = options.bag_size;
  bags.L = options.max_length;
  bags.vocabulary = vocab.words();
  bags.relations = relations.names();
  const std::vector<Bag> train_bags = make_training_bags(train_encoded, options.bag_size);
  const std::vector<Bag> test_bags = make_sentence_bags(test_encoded);
  bags.train = to_arrays(train_encoded, train_bags, options.bag_size, options.max_length);
  bags.test = to_arrays(test_encoded, test_bags, 1, options.max_length);
  bags.test_pairs = make_test_pairs(test_bags, relations.size());
  if (vectors) {
    bags.vector_dim = vectors->dim;
    vocab.gather_vectors(*vectors, bags.word_vectors, bags.word_has_vector);
  }

  json sources = {
      {"train", {{"path", options.train_path}, {"fnv1a64", file_checksum(options.train_path)}}},
      {"test", {{"path", options.test_path}, {"fnv1a64", file_checksum(options.test_path)}}},
      {"relations",
       {{"path", options.relations_path}, {"fnv1a64", file_checksum(options.relations_path)}}}};
  if (vectors) {
    sources["word_vectors"] = {{"path", options.word_vectors_path},
                               {"fnv1a64", file_checksum(options.word_vectors_path)}};
  }

  // The KB streams from its text files into the store (KbStoreWriter): memory holds the
  // name tables and one buffer, not the triples.
  OutputDirectory directory(out_dir);
  const fs::path dir(out_dir);
  json kb_report = nullptr;
  std::unique_ptr<core::AtomicOutput> kb_output;
  std::unique_ptr<KbStoreWriter> kb;
  NameTable kb_relations;
  std::map<std::string, std::int64_t> kb_removed;
  json kb_sources = json::object();
  const bool with_kb = !options.kb_train_path.empty();
  if (with_kb) {
    std::set<std::uint64_t> re_pairs;
    if (options.kb_filter == KbFilter::kTrainAndTest) {
      for (const EncodedSentence& s : train_encoded) re_pairs.insert(pair_key(s.head, s.tail));
    }
    if (options.kb_filter != KbFilter::kNone) {
      for (const EncodedSentence& s : test_encoded) re_pairs.insert(pair_key(s.head, s.tail));
    }
    kb_output = std::make_unique<core::AtomicOutput>((dir / kKbStoreFile).string());
    kb = std::make_unique<KbStoreWriter>(kb_output->temp_path());
    json kept = json::object(), removed = json::object();
    std::int64_t removed_total = 0;
    const std::vector<std::pair<std::string, std::string>> splits = {
        {"train", options.kb_train_path},
        {"valid", options.kb_valid_path},
        {"test", options.kb_test_path}};
    for (const auto& [split, path] : splits) {
      if (path.empty()) continue;
      kb->add_split(split);
      std::int64_t dropped = 0;
      read_triples(path, bad_lines, [&, split = split](const NamedTriple& t) {
        const std::int32_t h = entities.add(t.head);
        const std::int32_t tail = entities.add(t.tail);
        if (re_pairs.count(pair_key(h, tail))) {
          ++dropped;
          return;
        }
        kb->add(split, h, kb_relations.add(t.relation), tail);
      });
      kb_removed[split] = dropped;
      removed_total += dropped;
      kept[split] = kb->size(split);
      removed[split] = dropped;
      kb_sources[split] = {{"path", path}, {"fnv1a64", file_checksum(path)}};
    }
    if (kb->size("train") == 0) throw InputError(options.kb_train_path + ": no KB triples left");
    sources["kb"] = kb_sources;
    kb_report = {{"relations", kb_relations.names().size()},
                 {"triples_kept", kept},
                 {"triples_removed", removed},
                 {"triples_removed_total", removed_total},
                 {"filter", options.kb_filter == KbFilter::kTrainAndTest
                                ? "all"
                                : options.kb_filter == KbFilter::kTestOnly ? "test" : "none"}};
  }
  bags.entities = entities.release();
  bags.sources_json = sources.dump();
  if (kb) {
    kb->finish(bags.entities, kb_relations.names(), kb_removed, kb_sources.dump());
    kb.reset();  // closed before it is committed
  }

  json skipped_examples = json::array();
  for (const SkippedLine& s : bad_lines.examples()) {
    skipped_examples.push_back({{"file", s.file}, {"line", s.line}, {"reason", s.reason}});
  }

  core::AtomicOutput bag_output((dir / kBagStoreFile).string());
  write_bag_store(bag_output.temp_path(), bags, options.chunk_bags);

  json report = {
      {"sentences", {{"train", train_encoded.size()}, {"test", test_encoded.size()}}},
      {"bags",
       {{"train", bags.train.size()},
        {"test_sentences", bags.test.size()},
        {"test_pairs", bags.test_pairs.size()}}},
      {"bag_size", options.bag_size},
      {"max_length", options.max_length},
      {"truncated_sentences", stats.truncated},
      {"vocabulary", vocab.size()},
      {"word_vectors",
       vectors ? json{{"dim", vectors->dim},
                      {"covered", std::count(bags.word_has_vector.begin(),
                                             bags.word_has_vector.end(), 1)}}
               : json(nullptr)},
      {"entities", bags.entities.size()},
      {"relations", relations.size()},
      {"kb", kb_report},
      {"lines_skipped", bad_lines.count()},
      {"skipped_examples", skipped_examples},
      {"outputs",
       {{"bags", (dir / kBagStoreFile).string()},
        {"kb", with_kb ? json((dir / kKbStoreFile).string()) : json(nullptr)}}},
  };
  report["seconds"] = stopwatch.seconds();
  core::AtomicOutput report_output((dir / kPrepareReportFile).string());
  core::write_text_file(report_output.temp_path(), report.dump(2) + "\n");
  std::unique_ptr<core::AtomicOutput> config_output;
  if (!options.config_yaml.empty()) {
    config_output = std::make_unique<core::AtomicOutput>((dir / kPreparedConfigFile).string());
    core::write_text_file(config_output->temp_path(), options.config_yaml);
  }

  // Everything is written: publish the files together.
  bag_output.commit();
  if (kb_output) kb_output->commit();
  if (config_output) config_output->commit();
  report_output.commit();
  directory.keep();
  return report;
}

}  // namespace hrere::data
