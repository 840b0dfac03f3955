// Tests of the synthetic world generator: they read the files it writes, the way the real
// data is read, and check them against the options and the world's composition rules.
// Suite names start with lower-case "synth" so that `ctest -R synth` selects them.
#include "synth/synth.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace hrere::synth {
namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> split(const std::string& text, const std::string& separator) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (std::size_t stop; (stop = text.find(separator, start)) != std::string::npos;
       start = stop + separator.size()) {
    parts.push_back(text.substr(start, stop - start));
  }
  parts.push_back(text.substr(start));
  return parts;
}

// Lines of a file whose lines are terminated by `terminator` (the last one included).
std::vector<std::string> terminated_lines(const std::string& text, const std::string& terminator) {
  EXPECT_TRUE(text.empty() ||
              (text.size() >= terminator.size() &&
               text.compare(text.size() - terminator.size(), terminator.size(), terminator) == 0))
      << "last line lacks its terminator";
  std::vector<std::string> lines = split(text, terminator);
  lines.pop_back();  // the empty remainder after the final terminator
  return lines;
}

// A scratch directory, removed with everything in it when the test ends.
class TempDir {
 public:
  explicit TempDir(const std::string& name)
      : path_(fs::temp_directory_path() /
              ("hrere_synth_test_" + name + "_" + std::to_string(::getpid()))) {
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }
  std::string str() const { return path_.string(); }

 private:
  fs::path path_;
};

struct TextLine {
  std::string head_mid, tail_mid, head, tail, relation, sentence;
};

// Parses train.txt (6 fields, " ###END###" closing the sentence) or test.txt (7 fields).
std::vector<TextLine> read_text(const fs::path& path, bool test) {
  const std::string text = read_file(path);
  EXPECT_EQ(text.find('\r'), std::string::npos) << path;
  EXPECT_NE(text.back(), '\n') << path << ": NYT10 files have no newline after the last line";
  std::vector<TextLine> out;
  for (const std::string& line : split(text, "\n")) {
    const std::vector<std::string> fields = split(line, "\t");
    if (test) {
      EXPECT_EQ(fields.size(), 7u) << line;
      if (fields.size() != 7) continue;
      EXPECT_EQ(fields[6], "###END###") << line;
      EXPECT_EQ(fields[5].find("###END###"), std::string::npos) << line;
      out.push_back({fields[0], fields[1], fields[2], fields[3], fields[4], fields[5]});
    } else {
      EXPECT_EQ(fields.size(), 6u) << line;
      if (fields.size() != 6) continue;
      const std::string end = " ###END###";
      const std::string& s = fields[5];
      EXPECT_TRUE(s.size() > end.size() && s.compare(s.size() - end.size(), end.size(), end) == 0)
          << line;
      out.push_back({fields[0], fields[1], fields[2], fields[3], fields[4],
                     s.substr(0, s.size() - std::min(s.size(), end.size()))});
    }
  }
  return out;
}

struct Triple {
  std::string head, relation, tail;
};

// Parses a KB file: head<TAB>relation<TAB>tail, every line ending in CRLF as in FB15k-237.
std::vector<Triple> read_kb(const fs::path& path) {
  std::vector<Triple> out;
  for (const std::string& line : terminated_lines(read_file(path), "\r\n")) {
    const std::vector<std::string> fields = split(line, "\t");
    EXPECT_EQ(fields.size(), 3u) << path << ": " << line;
    if (fields.size() == 3) out.push_back({fields[0], fields[1], fields[2]});
  }
  return out;
}

std::string kb_mid(const std::string& text_mid) { return "/m/" + text_mid.substr(2); }

std::string unordered_pair(const std::string& a, const std::string& b) {
  return std::min(a, b) + " " + std::max(a, b);
}

std::set<std::string> tokens_of(const std::string& sentence) {
  std::set<std::string> tokens;
  for (const std::string& token : split(sentence, " ")) tokens.insert(token);
  return tokens;
}

int relation_index(const std::string& name) {
  const auto& relations = synth_relations();
  for (std::size_t i = 0; i < relations.size(); ++i) {
    if (relations[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

// The stating phrase of a relation template: its words from one entity slot to the other.
std::string stating_phrase(const std::string& pattern, const std::string& head,
                           const std::string& tail) {
  std::vector<std::string> words = split(pattern, " ");
  std::size_t first = words.size(), last = 0;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (words[i] == "{H}" || words[i] == "{T}") {
      words[i] = words[i] == "{H}" ? head : tail;
      first = std::min(first, i);
      last = i;
    }
  }
  std::string phrase;
  for (std::size_t i = first; i <= last; ++i) phrase += (i > first ? " " : "") + words[i];
  return phrase;
}

// True when `sentence` states relation `index` (into synth_relations()) of head and tail.
bool states(const std::string& sentence, int index, const std::string& head,
            const std::string& tail) {
  const std::string padded = " " + sentence + " ";
  for (const std::string& pattern : synth_relations()[index].templates) {
    if (padded.find(" " + stating_phrase(pattern, head, tail) + " ") != std::string::npos) {
      return true;
    }
  }
  return false;
}

bool states_any(const std::string& sentence, const std::string& a, const std::string& b) {
  for (int r = 0; r < static_cast<int>(synth_relations().size()); ++r) {
    if (states(sentence, r, a, b) || states(sentence, r, b, a)) return true;
  }
  return false;
}

// Everything a test needs from one generated world.
struct Generated {
  SynthOptions options;
  SynthReport report;
  std::vector<TextLine> train, test;
  std::vector<Triple> kb_train, kb_valid, kb_test;
  std::vector<std::string> relation2id;
};

Generated generate(const SynthOptions& options, const TempDir& dir) {
  Generated g;
  g.options = options;
  g.report = generate_synthetic_world(options, dir.str());
  g.train = read_text(dir.path() / "train.txt", false);
  g.test = read_text(dir.path() / "test.txt", true);
  g.kb_train = read_kb(dir.path() / "kb" / "train.txt");
  g.kb_valid = read_kb(dir.path() / "kb" / "valid.txt");
  g.kb_test = read_kb(dir.path() / "kb" / "test.txt");
  g.relation2id = split(read_file(dir.path() / "relation2id.txt"), "\n");
  return g;
}

SynthOptions with_vectors() {
  SynthOptions options = synth_preset("default");
  options.write_vectors = true;
  return options;
}

// The default world, generated once for the tests that only read it.
class synthDefault : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir("default");
    world_ = new Generated(generate(with_vectors(), *dir_));
  }
  static void TearDownTestSuite() {
    delete world_;
    delete dir_;
  }
  static const Generated& world() { return *world_; }
  static const fs::path& dir() { return dir_->path(); }

 private:
  static TempDir* dir_;
  static Generated* world_;
};
TempDir* synthDefault::dir_ = nullptr;
Generated* synthDefault::world_ = nullptr;

std::map<std::string, std::string> files_under(const fs::path& root) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (entry.is_regular_file()) {
      files[fs::relative(entry.path(), root).string()] = read_file(entry.path());
    }
  }
  return files;
}

TEST(synth, SameSeedGivesIdenticalBytesAndAnotherSeedDifferentOnes) {
  TempDir a("seed_a"), b("seed_b"), c("seed_c");
  SynthOptions options = with_vectors();
  generate_synthetic_world(options, a.str());
  generate_synthetic_world(options, b.str());
  options.seed = 2;
  generate_synthetic_world(options, c.str());

  const auto first = files_under(a.path());
  const auto second = files_under(b.path());
  const auto other = files_under(c.path());
  ASSERT_EQ(first.size(), 9u);  // 4 text files, 3 KB files, vectors, manifest
  for (const auto& [name, bytes] : first) {
    ASSERT_TRUE(second.count(name)) << name;
    EXPECT_TRUE(bytes == second.at(name)) << name << " differs between runs with one seed";
  }
  EXPECT_EQ(first.size(), second.size());
  for (const char* name :
       {"train.txt", "test.txt", "kb/train.txt", "vectors.txt", "test_uninformative_pairs.txt"}) {
    EXPECT_NE(first.at(name), other.at(name)) << name << " is the same for seeds 1 and 2";
  }

  // Without vectors, an old vectors.txt must not be left to contradict the new world.
  options.write_vectors = false;
  generate_synthetic_world(options, c.str());
  EXPECT_FALSE(fs::exists(c.path() / "vectors.txt"));
}

TEST_F(synthDefault, TextLinesHaveTheNyt10FieldsAndNamesAsTokens) {
  const Generated& g = world();
  EXPECT_EQ(g.train.size(), g.report.train_sentences);
  EXPECT_EQ(g.test.size(), g.report.test_sentences);
  EXPECT_GT(g.train.size(), 1000u);
  const std::regex mid("m\\.0s[0-9b-z]{4,}");
  const std::regex name("[a-z]+(_[a-z]+)*");
  std::map<std::string, std::string> name_of_mid;
  std::set<std::string> all_names;
  for (const auto* lines : {&g.train, &g.test}) {
    for (const TextLine& line : *lines) {
      ASSERT_TRUE(std::regex_match(line.head_mid, mid)) << line.head_mid;
      ASSERT_TRUE(std::regex_match(line.tail_mid, mid)) << line.tail_mid;
      ASSERT_TRUE(std::regex_match(line.head, name)) << line.head;
      ASSERT_TRUE(std::regex_match(line.tail, name)) << line.tail;
      EXPECT_NE(line.head_mid, line.tail_mid);
      EXPECT_TRUE(line.relation == "NA" || relation_index(line.relation) >= 0) << line.relation;
      const std::set<std::string> tokens = tokens_of(line.sentence);
      EXPECT_TRUE(tokens.count(line.head)) << line.head << " not a token of: " << line.sentence;
      EXPECT_TRUE(tokens.count(line.tail)) << line.tail << " not a token of: " << line.sentence;
      EXPECT_EQ(line.sentence.find("  "), std::string::npos) << line.sentence;
      EXPECT_EQ(line.sentence.back(), '.') << line.sentence;
      // One mid, one name, everywhere.
      for (const auto& [m, n] : {std::pair{line.head_mid, line.head}, {line.tail_mid, line.tail}}) {
        const auto [it, fresh] = name_of_mid.emplace(m, n);
        EXPECT_EQ(it->second, n) << m << " has two names";
        all_names.insert(n);
      }
    }
  }
  EXPECT_EQ(all_names.size(), name_of_mid.size()) << "two entities share a name";
  EXPECT_EQ(name_of_mid.size(), g.report.named_entities);

  // Sentences also mention other entities (distractors).
  std::size_t with_distractor = 0;
  for (const TextLine& line : g.train) {
    for (const std::string& token : tokens_of(line.sentence)) {
      if (token != line.head && token != line.tail && all_names.count(token)) {
        ++with_distractor;
        break;
      }
    }
  }
  EXPECT_GT(with_distractor, g.train.size() / 50);
}

TEST_F(synthDefault, TrainAndTestPairsAreDisjointAndContiguous) {
  const Generated& g = world();
  auto pairs_of = [](const std::vector<TextLine>& lines) {
    std::set<std::string> pairs;
    std::string previous;
    for (const TextLine& line : lines) {
      const std::string pair = unordered_pair(line.head_mid, line.tail_mid);
      EXPECT_TRUE(pair == previous || !pairs.count(pair)) << "pair split up: " << pair;
      pairs.insert(pair);
      previous = pair;
    }
    return pairs;
  };
  const std::set<std::string> train = pairs_of(g.train);
  const std::set<std::string> test = pairs_of(g.test);
  EXPECT_EQ(train.size(), g.options.train_pairs);
  EXPECT_EQ(test.size(), g.options.test_pairs);
  for (const std::string& pair : test) EXPECT_FALSE(train.count(pair)) << pair;
}

// The KB files of a generated world: counts as reported, Freebase mids, relations the
// world's or (when asked for) KB-only ones, no RE pair, no repeated triple, held-out triples
// over entities train has.
void expect_kb_files_are_freebase_triples_without_any_re_pair(const Generated& g) {
  EXPECT_EQ(g.kb_train.size(), g.report.kb_train);
  EXPECT_EQ(g.kb_valid.size(), g.report.kb_valid);
  EXPECT_EQ(g.kb_test.size(), g.report.kb_test);
  EXPECT_GT(g.kb_valid.size(), 0u);
  EXPECT_GT(g.kb_test.size(), 0u);
  EXPECT_GT(g.report.kb_removed_facts, 0u);
  EXPECT_EQ(g.report.kb_facts,
            g.report.kb_train + g.report.kb_valid + g.report.kb_test + g.report.kb_removed_facts);

  std::set<std::string> re_pairs;
  for (const auto* lines : {&g.train, &g.test}) {
    for (const TextLine& line : *lines) {
      re_pairs.insert(unordered_pair(kb_mid(line.head_mid), kb_mid(line.tail_mid)));
    }
  }
  const std::regex mid("/m/0s[0-9b-z]{4,}");
  const std::regex kb_only("/synth/kb_only/relation_[0-9]{5}");
  std::set<std::string> train_entities;
  for (const Triple& t : g.kb_train) {
    train_entities.insert(t.head);
    train_entities.insert(t.tail);
  }
  std::set<std::string> seen, relations;
  for (const auto* kb : {&g.kb_train, &g.kb_valid, &g.kb_test}) {
    for (const Triple& t : *kb) {
      ASSERT_TRUE(std::regex_match(t.head, mid)) << t.head;
      ASSERT_TRUE(std::regex_match(t.tail, mid)) << t.tail;
      EXPECT_TRUE(relation_index(t.relation) >= 0 ||
                  (g.options.kb_only_relations > 0 && std::regex_match(t.relation, kb_only)))
          << t.relation;
      relations.insert(t.relation);
      EXPECT_FALSE(re_pairs.count(unordered_pair(t.head, t.tail)))
          << "RE pair in the KB: " << t.head << " " << t.relation << " " << t.tail;
      EXPECT_TRUE(seen.insert(t.head + " " + t.relation + " " + t.tail).second)
          << "duplicate triple";
      if (kb != &g.kb_train) {
        EXPECT_TRUE(train_entities.count(t.head) && train_entities.count(t.tail))
            << "held-out triple with an entity unseen in kb/train.txt";
      }
    }
  }
  EXPECT_EQ(relations.size(), g.report.kb_relations);
}

TEST_F(synthDefault, KbFilesAreFreebaseTriplesWithoutAnyRePair) {
  expect_kb_files_are_freebase_triples_without_any_re_pair(world());
  EXPECT_EQ(world().report.kb_relations, synth_relations().size());
}

// kb_only_relations / kb_only_facts add exactly that many facts over that many new relations
// (the kb-86m preset's Freebase shape), skewed toward the first relations, and leave the
// text and the world's own facts as they were.
TEST(synth, KbOnlyFactsAddFreebaseShapeWithoutTouchingTheWorld) {
  TempDir plain_dir("kb_plain"), extra_dir("kb_extra");
  const Generated plain = generate(synth_preset("default"), plain_dir);
  SynthOptions options = synth_preset("default");
  options.kb_only_relations = 40;
  options.kb_only_facts = 5000;
  const Generated extra = generate(options, extra_dir);

  expect_kb_files_are_freebase_triples_without_any_re_pair(extra);
  EXPECT_EQ(extra.report.kb_relations, synth_relations().size() + 40);
  EXPECT_EQ(extra.report.kb_facts, plain.report.kb_facts + 5000);
  EXPECT_EQ(read_file(extra_dir.path() / "train.txt"), read_file(plain_dir.path() / "train.txt"));
  EXPECT_EQ(read_file(extra_dir.path() / "test.txt"), read_file(plain_dir.path() / "test.txt"));

  // The world's facts land in the same splits; the KB-only ones come after them.
  std::map<std::string, int> relation_count;
  for (const auto& [with, without] : {std::pair{&extra.kb_train, &plain.kb_train},
                                      {&extra.kb_valid, &plain.kb_valid},
                                      {&extra.kb_test, &plain.kb_test}}) {
    std::vector<std::string> world_facts;
    for (const Triple& t : *with) {
      if (relation_index(t.relation) >= 0) {
        world_facts.push_back(t.head + " " + t.relation + " " + t.tail);
      } else {
        ++relation_count[t.relation];
      }
    }
    ASSERT_EQ(world_facts.size(), without->size());
    for (std::size_t i = 0; i < world_facts.size(); ++i) {
      const Triple& t = (*without)[i];
      EXPECT_EQ(world_facts[i], t.head + " " + t.relation + " " + t.tail) << i;
    }
  }
  EXPECT_EQ(relation_count.size(), 40u);
  EXPECT_GT(relation_count["/synth/kb_only/relation_00001"],
            4 * relation_count["/synth/kb_only/relation_00040"]);

  // Few facts over many relations: the report counts the relations the files use.
  TempDir sparse_dir("kb_sparse");
  SynthOptions sparse_options = options;
  sparse_options.kb_only_relations = 1000;
  sparse_options.kb_only_facts = 20;
  const Generated sparse = generate(sparse_options, sparse_dir);
  expect_kb_files_are_freebase_triples_without_any_re_pair(sparse);
  EXPECT_GT(sparse.report.kb_relations, synth_relations().size());
  EXPECT_LE(sparse.report.kb_relations, synth_relations().size() + 20);

  // Same options, same bytes.
  TempDir again_dir("kb_extra_again");
  generate(options, again_dir);
  EXPECT_EQ(read_file(again_dir.path() / "kb" / "train.txt"),
            read_file(extra_dir.path() / "kb" / "train.txt"));
}

TEST_F(synthDefault, Relation2idListsNaFirstAndEveryRelationUsed) {
  const std::vector<std::string>& lines = world().relation2id;
  ASSERT_FALSE(lines.empty());
  const std::size_t count = std::stoul(lines[0]);
  ASSERT_EQ(lines.size(), count + 1);
  ASSERT_EQ(count, synth_relations().size() + 1);
  ASSERT_EQ(count, world().report.relations);
  std::set<std::string> names;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const std::vector<std::string> fields = split(lines[i], " ");
    ASSERT_EQ(fields.size(), 2u) << lines[i];
    EXPECT_EQ(fields[1], std::to_string(i - 1));
    EXPECT_EQ(fields[0], i == 1 ? std::string("NA") : synth_relations()[i - 2].name);
    names.insert(fields[0]);
  }
  std::set<std::string> used;
  for (const auto* lines_of : {&world().train, &world().test}) {
    for (const TextLine& line : *lines_of) used.insert(line.relation);
  }
  for (const std::string& relation : used) EXPECT_TRUE(names.count(relation)) << relation;
  EXPECT_EQ(used.size(), names.size()) << "some relation has no RE pair";
}

TEST(synth, TemplatesStateRelationsWithWordsTheMentionTemplatesLack) {
  std::set<std::string> mention_words;
  for (const std::string& pattern : synth_mention_templates()) {
    for (const std::string& word : split(pattern, " ")) mention_words.insert(word);
  }
  for (const SynthRelation& relation : synth_relations()) {
    ASSERT_FALSE(relation.templates.empty()) << relation.name;
    for (const std::string& pattern : relation.templates) {
      const std::vector<std::string> words = split(pattern, " ");
      EXPECT_EQ(std::count(words.begin(), words.end(), "{H}"), 1) << pattern;
      EXPECT_EQ(std::count(words.begin(), words.end(), "{T}"), 1) << pattern;
      bool distinctive = false;
      for (const std::string& word : split(stating_phrase(pattern, "{H}", "{T}"), " ")) {
        distinctive = distinctive || (word[0] != '{' && !mention_words.count(word));
      }
      EXPECT_TRUE(distinctive) << pattern;
    }
  }
}

// Measured rates on the output, for two settings, against the configured ones.
class synthRates : public ::testing::TestWithParam<std::pair<double, double>> {};

TEST_P(synthRates, NoiseAndNaFractionsMatchTheOptions) {
  SynthOptions options = synth_preset("default");
  std::tie(options.noise_rate, options.na_fraction) = GetParam();
  TempDir dir("rates");
  const Generated g = generate(options, dir);

  std::set<std::string> uninformative;
  for (const std::string& line :
       terminated_lines(read_file(dir.path() / "test_uninformative_pairs.txt"), "\n")) {
    const std::vector<std::string> fields = split(line, "\t");
    uninformative.insert(fields[0] + " " + fields[1]);
  }
  std::size_t stating = 0, noise = 0;
  for (const auto* lines : {&g.train, &g.test}) {
    std::set<std::string> pairs, na_pairs;
    for (const TextLine& line : *lines) {
      const std::string pair = line.head_mid + " " + line.tail_mid;
      pairs.insert(pair);
      if (line.relation == "NA") {
        na_pairs.insert(pair);
        EXPECT_FALSE(states_any(line.sentence, line.head, line.tail)) << line.sentence;
      } else if (!uninformative.count(pair)) {
        const bool s = states(line.sentence, relation_index(line.relation), line.head, line.tail);
        ++(s ? stating : noise);
      }
    }
    // NA pairs are an exact share of the pairs, up to rounding.
    const double na = static_cast<double>(na_pairs.size()) / pairs.size();
    EXPECT_NEAR(na, options.na_fraction, 0.5 / pairs.size() + 1e-12);
  }
  EXPECT_EQ(stating, g.report.stating_sentences);
  EXPECT_EQ(noise, g.report.noise_sentences);
  // Per-sentence draws: ~2,500 of them give a standard error below 0.01.
  const double measured = static_cast<double>(noise) / (stating + noise);
  EXPECT_NEAR(measured, options.noise_rate, 0.04);
}

INSTANTIATE_TEST_SUITE_P(Settings, synthRates,
                         ::testing::Values(std::pair{0.3, 0.3}, std::pair{0.1, 0.6}));

const std::string kContains = "/location/location/contains";
const std::string kNationality = "/people/person/nationality";
const std::string kDivisionCountry = "/location/administrative_division/country";

// KB facts indexed for the world's composition rules:
//   nationality(p, c)                     <- place_of_birth(p, x) & contains(c, x)
//   contains(c, x)                        <- administrative_divisions(c, r) & contains(r, x)
//   administrative_division/country(r, c) <- contains(r, x) & contains(c, x)
class RuleIndex {
 public:
  explicit RuleIndex(const std::vector<const std::vector<Triple>*>& kbs) {
    for (const auto* kb : kbs) {
      for (const Triple& t : *kb) tails_[t.relation][t.head].insert(t.tail);
    }
  }

  bool implies(const std::string& h, const std::string& relation, const std::string& t) const {
    auto any_tail = [&](const std::string& head, const std::string& via, auto&& test) {
      for (const std::string& middle : tails(head, via)) {
        if (test(middle)) return true;
      }
      return false;
    };
    if (relation == kNationality) {
      return any_tail(h, "/people/person/place_of_birth",
                      [&](const std::string& city) { return has(t, kContains, city); });
    }
    if (relation == kContains) {
      return any_tail(h, "/location/country/administrative_divisions",
                      [&](const std::string& region) { return has(region, kContains, t); });
    }
    if (relation == kDivisionCountry) {
      return any_tail(h, kContains,
                      [&](const std::string& city) { return has(t, kContains, city); });
    }
    return false;
  }

 private:
  const std::set<std::string>& tails(const std::string& h, const std::string& relation) const {
    static const std::set<std::string> kNone;
    const auto rel = tails_.find(relation);
    if (rel == tails_.end()) return kNone;
    const auto head = rel->second.find(h);
    return head == rel->second.end() ? kNone : head->second;
  }
  bool has(const std::string& h, const std::string& relation, const std::string& t) const {
    return tails(h, relation).count(t) > 0;
  }

  std::map<std::string, std::map<std::string, std::set<std::string>>> tails_;
};

TEST_F(synthDefault, UninformativeTestPairsAreSilentButImpliedByTheKb) {
  const Generated& g = world();
  const RuleIndex rules({&g.kb_train});  // the facts KB training sees
  const std::vector<std::string> lines =
      terminated_lines(read_file(dir() / "test_uninformative_pairs.txt"), "\n");
  ASSERT_EQ(lines.size(), g.report.uninformative_test_pairs);
  const std::size_t related_test = g.options.test_pairs - g.report.test_na_pairs;
  EXPECT_NEAR(static_cast<double>(lines.size()) / related_test,
              g.options.uninformative_test_fraction, 0.5 / related_test + 1e-12);

  std::map<std::string, std::size_t> by_relation;
  for (const std::string& line : lines) {
    const std::vector<std::string> fields = split(line, "\t");
    ASSERT_EQ(fields.size(), 3u) << line;
    const std::string& relation = fields[2];
    ++by_relation[relation];

    std::size_t sentences = 0;
    for (const TextLine& text : g.test) {
      if (text.head_mid != fields[0] || text.tail_mid != fields[1]) continue;
      ++sentences;
      EXPECT_EQ(text.relation, relation);
      EXPECT_FALSE(states_any(text.sentence, text.head, text.tail)) << text.sentence;
    }
    EXPECT_GT(sentences, 0u) << line << " has no test sentence";
    EXPECT_TRUE(rules.implies(kb_mid(fields[0]), relation, kb_mid(fields[1])))
        << line << " does not follow from kb/train.txt";
  }
  EXPECT_EQ(by_relation.size(), 3u) << "every composition rule should be exercised";
}

TEST_F(synthDefault, NaPairsAreNotImpliedByTheKb) {
  const Generated& g = world();
  const RuleIndex rules({&g.kb_train, &g.kb_valid, &g.kb_test});
  std::size_t na_lines = 0;
  for (const auto* lines : {&g.train, &g.test}) {
    for (const TextLine& line : *lines) {
      if (line.relation != "NA") continue;
      ++na_lines;
      const std::string h = kb_mid(line.head_mid), t = kb_mid(line.tail_mid);
      for (const std::string& relation : {kNationality, kContains, kDivisionCountry}) {
        EXPECT_FALSE(rules.implies(h, relation, t) || rules.implies(t, relation, h))
            << "NA pair " << line.head << " " << line.tail << " is related by " << relation;
      }
    }
  }
  EXPECT_EQ(na_lines, g.report.na_sentences);
}

TEST_F(synthDefault, VectorsCoverEveryWordOfTheText) {
  const std::vector<std::string> lines = terminated_lines(read_file(dir() / "vectors.txt"), "\n");
  ASSERT_FALSE(lines.empty());
  const std::vector<std::string> header = split(lines[0], " ");
  ASSERT_EQ(header.size(), 2u);
  const std::size_t words = std::stoul(header[0]), dim = std::stoul(header[1]);
  EXPECT_EQ(dim, world().options.vector_dim);
  ASSERT_EQ(lines.size(), words + 1);
  EXPECT_EQ(words, world().report.vector_words);
  std::set<std::string> vocabulary;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const std::vector<std::string> fields = split(lines[i], " ");
    ASSERT_EQ(fields.size(), dim + 1) << lines[i];
    for (std::size_t d = 1; d <= dim; ++d) EXPECT_LE(std::fabs(std::stod(fields[d])), 1.0);
    EXPECT_TRUE(vocabulary.insert(fields[0]).second) << "duplicate word " << fields[0];
  }
  for (const TextLine& line : world().train) {
    for (const std::string& token : tokens_of(line.sentence)) {
      for (const std::string& word : split(token, "_")) {
        EXPECT_TRUE(vocabulary.count(word)) << word << " from " << token;
      }
    }
  }
}

TEST_F(synthDefault, ManifestRecordsOptionsAndCountsAndNoTempFilesRemain) {
  const nlohmann::json manifest = nlohmann::json::parse(read_file(dir() / "synth.json"));
  const Generated& g = world();
  EXPECT_EQ(manifest["options"]["seed"], g.options.seed);
  EXPECT_EQ(manifest["options"]["noise_rate"], g.options.noise_rate);
  EXPECT_EQ(manifest["counts"]["train_sentences"], g.train.size());
  EXPECT_EQ(manifest["counts"]["test_sentences"], g.test.size());
  EXPECT_EQ(manifest["counts"]["kb_train"], g.kb_train.size());
  EXPECT_EQ(manifest["counts"]["uninformative_test_pairs"], g.report.uninformative_test_pairs);
  EXPECT_EQ(g.report.stating_sentences + g.report.noise_sentences +
                g.report.uninformative_sentences + g.report.na_sentences,
            g.train.size() + g.test.size());
  for (const auto& entry : fs::recursive_directory_iterator(dir())) {
    EXPECT_EQ(entry.path().string().find(".tmp"), std::string::npos) << entry.path();
  }
}

TEST(synth, PresetsAreNamedAndUnknownOnesListTheValidNames) {
  EXPECT_EQ(synth_preset("default").num_entities, SynthOptions{}.num_entities);
  const SynthOptions bench = synth_preset("bench-1m");
  // Mean sentences per pair times pairs: the preset promises 1M+ sentences.
  EXPECT_GE((bench.train_pairs + bench.test_pairs) *
                (bench.min_sentences_per_pair + bench.max_sentences_per_pair) / 2,
            1'000'000u);
  EXPECT_EQ(synth_preset("kb-3m").num_entities, 3'000'000u);
  EXPECT_EQ(synth_preset("kb-30m").num_entities, 30'000'000u);
  EXPECT_EQ(synth_preset("kb-86m").num_entities, 86'000'000u);
  EXPECT_EQ(synth_preset("kb-86m").kb_only_relations + synth_relations().size(), 14'824u);
  EXPECT_EQ(synth_preset("kb-86m").kb_only_facts, 52'000'000u);
  for (const std::string& name : synth_preset_names()) EXPECT_NO_THROW(synth_preset(name));
  try {
    synth_preset("huge");
    FAIL() << "unknown preset accepted";
  } catch (const std::invalid_argument& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("huge"), std::string::npos) << message;
    for (const std::string& name : synth_preset_names()) {
      EXPECT_NE(message.find(name), std::string::npos) << message;
    }
  }
}

TEST(synth, BadOptionsAreRejectedByName) {
  TempDir dir("bad");
  auto rejects = [&](SynthOptions options, const std::string& field) {
    try {
      generate_synthetic_world(options, dir.str());
      ADD_FAILURE() << field << " accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
    }
  };
  SynthOptions options;
  options.noise_rate = 1.5;
  rejects(options, "noise_rate");
  options = {};
  options.min_sentences_per_pair = 5;
  options.max_sentences_per_pair = 2;
  rejects(options, "max_sentences_per_pair");
  options = {};
  options.num_entities = 10;
  rejects(options, "num_entities");
  options = {};
  options.kb_only_relations = 1000'001;
  rejects(options, "kb_only_relations");
  options = {};
  options.kb_only_relations = 1;
  options.kb_only_facts = 3000 * 1500;  // 1,500 distinct tails per head of 3,000 entities
  rejects(options, "kb_only_facts");

  // A world too small for the pairs asked for says so instead of looping or repeating pairs.
  options = {};
  options.num_entities = 200;
  options.train_pairs = 100000;
  try {
    generate_synthetic_world(options, dir.str());
    ADD_FAILURE() << "impossible request accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("num_entities"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir.path() / "train.txt"));
}

}  // namespace
}  // namespace hrere::synth
