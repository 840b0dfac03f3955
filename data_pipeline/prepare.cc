#include "data_pipeline/prepare.h"

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <set>

#include "core/atomic_output.h"
#include "core/errors.h"
#include "core/stopwatch.h"
#include "data_pipeline/bag_store.h"
#include "data_pipeline/corpus_reader.h"
#include "data_pipeline/kb_reader.h"
#include "data_pipeline/kb_store.h"
#include "data_pipeline/name_table.h"
#include "data_pipeline/relations.h"
#include "data_pipeline/text_file.h"
#include "data_pipeline/vocabulary.h"

namespace hrere::data {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

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

std::vector<EncodedSentence> encode(const std::vector<Sentence>& sentences, const std::string& path,
                                    const RelationTable& relations, const Vocabulary& vocab,
                                    NameTable& entities, int L, BadLines& bad_lines,
                                    EncodeStats& stats) {
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

// The RE corpus read, checked and encoded: what the bag store is made of.
struct EncodedCorpus {
  RelationTable relations;
  std::unique_ptr<WordVectors> vectors;
  Vocabulary vocabulary;
  NameTable entities;  // RE entities first; the KB adds its own after them
  std::vector<EncodedSentence> train, test;
  EncodeStats stats;
};

EncodedCorpus encode_corpus(const PrepareOptions& options, BadLines& bad_lines) {
  RelationTable relations = RelationTable::read(options.relations_path);
  relations.apply_remap(options.relation_map);
  const std::vector<Sentence> train = read_corpus(options.train_path, options.format, bad_lines);
  const std::vector<Sentence> test = read_corpus(options.test_path, options.format, bad_lines);
  if (train.empty()) throw InputError(options.train_path + ": no usable training sentences");
  std::unique_ptr<WordVectors> vectors;
  if (!options.word_vectors_path.empty()) {
    vectors = std::make_unique<WordVectors>(read_word_vectors(options.word_vectors_path));
  }
  Vocabulary vocabulary = Vocabulary::build(train, test, options.min_word_count, vectors.get());
  EncodedCorpus corpus{
      std::move(relations), std::move(vectors), std::move(vocabulary), {}, {}, {}, {}};
  corpus.train = encode(train, options.train_path, corpus.relations, corpus.vocabulary,
                        corpus.entities, options.max_length, bad_lines, corpus.stats);
  corpus.test = encode(test, options.test_path, corpus.relations, corpus.vocabulary,
                       corpus.entities, options.max_length, bad_lines, corpus.stats);
  return corpus;
}

BagStoreContents make_bag_contents(const EncodedCorpus& corpus, const PrepareOptions& options) {
  BagStoreContents bags;
  bags.T = options.bag_size;
  bags.L = options.max_length;
  bags.vocabulary = corpus.vocabulary.words();
  bags.relations = corpus.relations.names();
  const std::vector<Bag> train_bags = make_training_bags(corpus.train, options.bag_size);
  const std::vector<Bag> test_bags = make_sentence_bags(corpus.test);
  bags.train = to_arrays(corpus.train, train_bags, options.bag_size, options.max_length);
  bags.test = to_arrays(corpus.test, test_bags, 1, options.max_length);
  bags.test_pairs = make_test_pairs(test_bags, corpus.relations.size());
  if (corpus.vectors) {
    bags.vector_dim = corpus.vectors->dim;
    corpus.vocabulary.gather_vectors(*corpus.vectors, bags.word_vectors, bags.word_has_vector);
  }
  return bags;
}

json source_checksums(const PrepareOptions& options) {
  json sources = json::object();
  const std::vector<std::pair<std::string, std::string>> inputs = {
      {"train", options.train_path},
      {"test", options.test_path},
      {"relations", options.relations_path},
      {"word_vectors", options.word_vectors_path}};
  for (const auto& [name, path] : inputs) {
    if (!path.empty()) sources[name] = {{"path", path}, {"fnv1a64", file_checksum(path)}};
  }
  return sources;
}

// The KB store, streamed from its text files (memory holds the name tables and one buffer,
// not the triples) into a temporary file that prepare_data commits with the other outputs.
// Triples whose entity pair occurs in the RE data (as kb_filter says) are dropped.
class KbStream {
 public:
  KbStream(const PrepareOptions& options, const fs::path& dir, const EncodedCorpus& corpus)
      : options_(options),
        output_((dir / kKbStoreFile).string()),
        writer_(std::make_unique<KbStoreWriter>(output_.temp_path())) {
    if (options.kb_filter == KbFilter::kTrainAndTest) {
      for (const EncodedSentence& s : corpus.train) re_pairs_.insert(pair_key(s.head, s.tail));
    }
    if (options.kb_filter != KbFilter::kNone) {
      for (const EncodedSentence& s : corpus.test) re_pairs_.insert(pair_key(s.head, s.tail));
    }
  }

  // Reads every split; the KB's entities join `entities` after the RE ones.
  void read(NameTable& entities, BadLines& bad_lines) {
    const std::vector<std::pair<std::string, std::string>> splits = {
        {"train", options_.kb_train_path},
        {"valid", options_.kb_valid_path},
        {"test", options_.kb_test_path}};
    for (const auto& [split, path] : splits) {
      if (path.empty()) continue;
      writer_->add_split(split);
      std::int64_t dropped = 0;
      read_triples(path, bad_lines, [&, split = split](const NamedTriple& t) {
        const std::int32_t head = entities.add(t.head);
        const std::int32_t tail = entities.add(t.tail);
        if (re_pairs_.count(pair_key(head, tail))) {
          ++dropped;
          return;
        }
        writer_->add(split, head, relations_.add(t.relation), tail);
      });
      removed_[split] = dropped;
      sources_[split] = {{"path", path}, {"fnv1a64", file_checksum(path)}};
    }
    if (writer_->size("train") == 0) {
      throw InputError(options_.kb_train_path + ": no KB triples left");
    }
  }

  json sources() const { return sources_; }

  json report() const {
    json kept = json::object(), removed = json::object();
    std::int64_t removed_total = 0;
    for (const auto& [split, dropped] : removed_) {
      kept[split] = writer_->size(split);
      removed[split] = dropped;
      removed_total += dropped;
    }
    return {{"relations", relations_.size()},
            {"triples_kept", kept},
            {"triples_removed", removed},
            {"triples_removed_total", removed_total},
            {"filter", core::name_of(options_.kb_filter)}};
  }

  // Writes the name tables and closes the file, ready to commit.
  void finish(const StringList& entities) {
    writer_->finish(entities, relations_.strings(), removed_, sources_.dump());
    writer_.reset();
  }
  core::AtomicOutput& output() { return output_; }

 private:
  const PrepareOptions& options_;
  core::AtomicOutput output_;
  std::unique_ptr<KbStoreWriter> writer_;
  std::set<std::uint64_t> re_pairs_;
  NameTable relations_;
  std::map<std::string, std::int64_t> removed_;
  json sources_ = json::object();
};

json skipped_examples(const BadLines& bad_lines) {
  json examples = json::array();
  for (const SkippedLine& s : bad_lines.examples()) {
    examples.push_back({{"file", s.file}, {"line", s.line}, {"reason", s.reason}});
  }
  return examples;
}

json prepare_report(const EncodedCorpus& corpus, const BagStoreContents& bags,
                    const PrepareOptions& options, const json& kb_report, const BadLines& bad_lines,
                    const fs::path& dir) {
  const bool with_kb = !kb_report.is_null();
  return {
      {"sentences", {{"train", corpus.train.size()}, {"test", corpus.test.size()}}},
      {"bags",
       {{"train", bags.train.size()},
        {"test_sentences", bags.test.size()},
        {"test_pairs", bags.test_pairs.size()}}},
      {"bag_size", options.bag_size},
      {"max_length", options.max_length},
      {"truncated_sentences", corpus.stats.truncated},
      {"vocabulary", corpus.vocabulary.size()},
      {"word_vectors", corpus.vectors ? json{{"dim", corpus.vectors->dim},
                                             {"covered", std::count(bags.word_has_vector.begin(),
                                                                    bags.word_has_vector.end(), 1)}}
                                      : json(nullptr)},
      {"entities", corpus.entities.size()},
      {"relations", corpus.relations.size()},
      {"kb", kb_report},
      {"lines_skipped", bad_lines.count()},
      {"skipped_examples", skipped_examples(bad_lines)},
      {"outputs",
       {{"bags", (dir / kBagStoreFile).string()},
        {"kb", with_kb ? json((dir / kKbStoreFile).string()) : json(nullptr)}}},
  };
}

}  // namespace

json prepare_data(const PrepareOptions& options, const std::string& out_dir) {
  const core::Stopwatch stopwatch;
  check_options(options);
  BadLines bad_lines(options.skip_bad_lines);
  EncodedCorpus corpus = encode_corpus(options, bad_lines);
  BagStoreContents bags = make_bag_contents(corpus, options);
  json sources = source_checksums(options);

  OutputDirectory directory(out_dir);
  const fs::path dir(out_dir);
  std::unique_ptr<KbStream> kb;
  json kb_report = nullptr;
  if (!options.kb_train_path.empty()) {
    kb = std::make_unique<KbStream>(options, dir, corpus);
    kb->read(corpus.entities, bad_lines);
    sources["kb"] = kb->sources();
    kb_report = kb->report();
  }
  bags.sources_json = sources.dump();
  // The stores' entity tables come from the name table itself, never a list of strings.
  const StringList entities = corpus.entities.strings();
  if (kb) kb->finish(entities);

  core::AtomicOutput bag_output((dir / kBagStoreFile).string());
  write_bag_store(bag_output.temp_path(), bags, options.chunk_bags, &entities);
  json report = prepare_report(corpus, bags, options, kb_report, bad_lines, dir);
  report["seconds"] = stopwatch.seconds();
  core::AtomicOutput report_output((dir / kPrepareReportFile).string());
  core::write_text_file(report_output.temp_path(), report.dump(2) + "\n");
  std::unique_ptr<core::AtomicOutput> config_output;
  if (!options.config_yaml.empty()) {
    config_output = std::make_unique<core::AtomicOutput>((dir / kPreparedConfigFile).string());
    core::write_text_file(config_output->temp_path(), options.config_yaml);
  }

  // Everything is written and on disk (a full disk fails here, before anything is replaced):
  // publish the files together.
  for (const core::AtomicOutput* output :
       {&bag_output, kb ? &kb->output() : nullptr, config_output.get(), &report_output}) {
    if (output) core::sync_to_disk(output->temp_path());
  }
  bag_output.commit();
  if (kb) kb->output().commit();
  if (config_output) config_output->commit();
  report_output.commit();
  directory.keep();
  return report;
}

}  // namespace hrere::data
