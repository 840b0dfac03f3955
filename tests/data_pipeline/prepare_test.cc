// prepare on the real data and on crafted inputs; store round trips and schema checks.
#include "data_pipeline/prepare.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "core/errors.h"
#include "data_pipeline/bag_store.h"
#include "data_pipeline/kb_store.h"
#include "data_pipeline/text_file.h"
#include "synth/synth.h"
#include "test_util.h"

namespace hrere::data {
namespace {

namespace fs = std::filesystem;
using hrere::testing::shared_data;
using hrere::testing::TempDir;

const std::map<std::string, std::string> kUnlistedAsNa = {
    {"/business/company_shareholder/major_shareholder_of", "NA"},
    {"/people/ethnicity/people", "NA"},
    {"/sports/sports_team_location/teams", "NA"}};

PrepareOptions real_data_options() {
  PrepareOptions o;
  o.train_path = shared_data("nyt10-partial/train.txt");
  o.test_path = shared_data("nyt10-partial/test.txt");
  o.relations_path = shared_data("nyt10-partial/relation2id.txt");
  o.relation_map = kUnlistedAsNa;
  o.kb_train_path = shared_data("fb15k-237/train.txt");
  o.kb_valid_path = shared_data("fb15k-237/valid.txt");
  o.kb_test_path = shared_data("fb15k-237/test.txt");
  return o;
}

// The expected report, computed straight from the raw lines (tab split only): the bagging
// rule max(1, ceil(n / T)) per (relation, head, tail) group and KB triples whose pair, in
// either direction, occurs in the RE data.
struct Expected {
  std::int64_t train_bags = 0;
  std::int64_t test_pairs = 0;
  std::map<std::string, std::int64_t> removed;
};

Expected expected_from_raw_files(const PrepareOptions& o, bool test_pairs_only) {
  auto fields = [](const std::string& line) {
    std::vector<std::string> out;
    for (auto f : split_fields(line, '\t')) out.emplace_back(f);
    return out;
  };
  Expected e;
  std::map<std::tuple<std::string, std::string, std::string>, int> groups;
  std::set<std::pair<std::string, std::string>> re_pairs, test_pairs;
  std::string line;
  for (std::ifstream in(o.train_path); std::getline(in, line);) {
    auto f = fields(line);
    const std::string relation = o.relation_map.count(f[4]) ? o.relation_map.at(f[4]) : f[4];
    ++groups[{relation, f[0], f[1]}];
    if (!test_pairs_only) re_pairs.insert(std::minmax(f[0], f[1]));
  }
  for (std::ifstream in(o.test_path); std::getline(in, line);) {
    auto f = fields(line);
    re_pairs.insert(std::minmax(f[0], f[1]));
    test_pairs.insert({f[0], f[1]});
  }
  for (const auto& [key, n] : groups) e.train_bags += std::max(1, (n + 4) / 5);
  e.test_pairs = static_cast<std::int64_t>(test_pairs.size());
  for (const auto& [split, path] :
       {std::pair{"train", o.kb_train_path}, std::pair{"valid", o.kb_valid_path},
        std::pair{"test", o.kb_test_path}}) {
    for (std::ifstream in(path); std::getline(in, line);) {
      auto f = fields(line);
      const std::string tail(trim(f[2]));  // the files end lines with CRLF
      const std::string h = "m." + f[0].substr(3), t = "m." + tail.substr(3);
      e.removed[split] += re_pairs.count(std::minmax(h, t));
    }
  }
  return e;
}

TEST(Prepare, RealDataReportMatchesTheRules) {
  TempDir dir;
  const PrepareOptions options = real_data_options();
  const nlohmann::json report = prepare_data(options, dir.file("out"));
  const Expected expected = expected_from_raw_files(options, false);
  EXPECT_EQ(report["sentences"]["train"], 10230);
  EXPECT_EQ(report["sentences"]["test"], 9703);
  EXPECT_EQ(report["bags"]["train"], expected.train_bags);
  EXPECT_EQ(report["bags"]["test_sentences"], 9703);
  EXPECT_EQ(report["bags"]["test_pairs"], expected.test_pairs);
  for (const auto& [split, removed] : expected.removed) {
    EXPECT_EQ(report["kb"]["triples_removed"][split], removed) << split;
  }
  EXPECT_EQ(report["kb"]["triples_kept"]["train"].get<std::int64_t>() +
                report["kb"]["triples_removed"]["train"].get<std::int64_t>(),
            272115);
  EXPECT_EQ(report["lines_skipped"], 0);
  // The report says how long it took; how fast prepare is, is a benchmark's business.
  EXPECT_GT(report["seconds"].get<double>(), 0.0);

  const BagStore bags = BagStore::open(dir.file("out/bags.h5"));
  const KbStore kb = KbStore::open(dir.file("out/kb.h5"));
  EXPECT_EQ(bags.entities(), kb.entities());  // one entity id space for RE and KB
  EXPECT_EQ(bags.size("train"), expected.train_bags);
  EXPECT_EQ(kb.size("valid"), report["kb"]["triples_kept"]["valid"].get<std::int64_t>());
  const std::string sources = bags.sources_json();
  EXPECT_NE(sources.find(file_checksum(options.train_path)), std::string::npos);
}

TEST(Prepare, KbFilterTestOnlyRemovesFewer) {
  TempDir dir;
  PrepareOptions options = real_data_options();
  options.kb_filter = KbFilter::kTestOnly;
  const nlohmann::json report = prepare_data(options, dir.file("out"));
  const Expected expected = expected_from_raw_files(options, true);
  for (const auto& [split, removed] : expected.removed) {
    EXPECT_EQ(report["kb"]["triples_removed"][split], removed) << split;
  }
  options.kb_filter = KbFilter::kNone;
  EXPECT_EQ(prepare_data(options, dir.file("none"))["kb"]["triples_removed_total"], 0);
}

TEST(Prepare, StoreRoundTripKeepsEverySentence) {
  TempDir dir;
  const std::string train =
      dir.write("train.txt",
                "m.1\tm.2\tparis\tfrance\t/loc/in\tparis is in france . ###END###\n"
                "m.1\tm.2\tparis\tfrance\t/loc/in\tthe city of paris , france ###END###\n"
                "m.3\tm.2\tlyon\tfrance\tNA\tlyon and france and lyon and france ###END###\n");
  const std::string test =
      dir.write("test.txt",
                "m.3\tm.2\tlyon\tfrance\t/loc/in\tlyon , france .\t###END###\n"
                "m.1\tm.2\tparis\tfrance\tNA\tparis ; france\t###END###\n"
                "m.3\tm.2\tlyon\tfrance\tNA\tin lyon -lrb- france -rrb-\t###END###\n");
  PrepareOptions o;
  o.train_path = train;
  o.test_path = test;
  o.relations_path = dir.write("rel.txt", "2\nNA 0\n/loc/in 1\n");
  o.min_word_count = 1;
  o.bag_size = 3;
  o.max_length = 6;
  o.chunk_bags = 1;
  prepare_data(o, dir.file("out"));
  const BagStore store = BagStore::open(dir.file("out/bags.h5"));
  EXPECT_EQ(store.T("train"), 3);
  EXPECT_EQ(store.T("test"), 1);
  EXPECT_EQ(store.L(), 6);
  EXPECT_EQ(store.chunk_bags("train"), 1);
  const std::vector<std::string> vocab = store.vocabulary();
  const BagArrays trainbags = store.read("train", 0, store.size("train"));
  ASSERT_EQ(trainbags.size(), 2);
  // Bag 0: sentences 0, 1, 0; sentence 1 "the city of paris , france" has 6 words.
  auto word = [&](const BagArrays& b, int bag, int t, int i) {
    return vocab.at(b.words[(bag * b.T + t) * b.L + i]);
  };
  EXPECT_EQ(word(trainbags, 0, 1, 3), "paris");
  EXPECT_EQ(trainbags.lengths[1], 6);
  EXPECT_EQ(trainbags.head_spans[2], 3);
  EXPECT_EQ(trainbags.tail_spans[3], 6);
  EXPECT_EQ(word(trainbags, 0, 2, 0), "paris");  // repeated first sentence
  EXPECT_EQ(trainbags.lengths[3], 6);            // "lyon and france and lyon and france" cut to L
  EXPECT_EQ(store.relations()[trainbags.labels[0]], "/loc/in");
  const std::vector<std::string> entities = store.entities();
  EXPECT_EQ(entities[trainbags.heads[1]], "m.3");

  const BagArrays testbags = store.read("test", 0, store.size("test"));
  ASSERT_EQ(testbags.size(), 3);
  EXPECT_EQ(entities[testbags.heads[0]], "m.1");  // sorted by pair: (m.1, m.2) first
  EXPECT_EQ(testbags.lengths[2], 5);              // "in lyon ( france )"
  EXPECT_EQ(word(testbags, 2, 0, 2), "<unk>");    // words unseen in training
  const TestPairs pairs = store.read_test_pairs();
  EXPECT_EQ(pairs.offsets, (std::vector<std::int64_t>{0, 1, 3}));
  EXPECT_EQ(pairs.labels, (std::vector<std::uint8_t>{1, 0, 0, 1}));
}

TEST(Prepare, ErrorsLeaveNoOutputBehind) {
  TempDir dir;
  PrepareOptions o = real_data_options();
  o.relation_map.clear();  // train.txt has labels relation2id.txt lacks
  try {
    prepare_data(o, dir.file("out"));
    FAIL() << "unknown relation accepted";
  } catch (const InputError& e) {
    EXPECT_NE(
        std::string(e.what()).find("train.txt:1165: unknown relation '/people/ethnicity/people'"),
        std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(fs::exists(dir.file("out")));

  // An existing store survives a failed re-run untouched, with the config it was made from.
  o.relation_map = kUnlistedAsNa;
  o.config_yaml = "data:\n  bag_size: 5\n";
  prepare_data(o, dir.file("out"));
  const auto before = fs::file_size(dir.file("out/bags.h5"));
  o.kb_train_path = dir.write("bad_kb.txt", "/m/a\t/r\n");
  o.config_yaml = "data:\n  bag_size: 7\n";
  EXPECT_THROW(prepare_data(o, dir.file("out")), InputError);
  EXPECT_EQ(fs::file_size(dir.file("out/bags.h5")), before);
  std::ifstream config(dir.file("out/config.yaml"));
  std::stringstream config_text;
  config_text << config.rdbuf();
  EXPECT_EQ(config_text.str(), "data:\n  bag_size: 5\n");
  EXPECT_NO_THROW(BagStore::open(dir.file("out/bags.h5")));
  for (const auto& entry : fs::directory_iterator(dir.file("out"))) {
    EXPECT_EQ(entry.path().string().find(".tmp"), std::string::npos) << entry.path();
  }
}

TEST(Prepare, SkipBadLinesCountsThem) {
  TempDir dir;
  PrepareOptions o = real_data_options();
  o.relation_map.clear();
  o.skip_bad_lines = true;
  const nlohmann::json report = prepare_data(o, dir.file("out"));
  EXPECT_EQ(report["lines_skipped"], 11 + 8 + 13);  // the three unlisted relations' lines
  EXPECT_EQ(report["sentences"]["train"], 10230 - 32);
  EXPECT_EQ(report["skipped_examples"][0]["line"], 1165);
}

// Schema checks: foreign, truncated, older and newer files are refused with a clear message.
std::string open_error(const std::string& path) {
  try {
    BagStore::open(path);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(BagStoreSchema, RejectsForeignTruncatedAndOtherVersions) {
  TempDir dir;
  PrepareOptions o = real_data_options();
  o.kb_train_path.clear();
  prepare_data(o, dir.file("out"));
  const std::string good = dir.file("out/bags.h5");

  EXPECT_NE(open_error(dir.write("text.h5", "not hdf5 at all")).find("not an HDF5 file"),
            std::string::npos);
  EXPECT_NE(open_error(dir.file("missing.h5")).find("cannot open"), std::string::npos);

  {  // truncated copy
    std::ifstream in(good, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    dir.write("truncated.h5", bytes.substr(0, bytes.size() / 2));
  }
  EXPECT_NE(open_error(dir.file("truncated.h5")), "");

  auto store_with = [&](const std::string& name, const std::string& format, std::int64_t version) {
    Hdf5File file = Hdf5File::create(dir.file(name));
    write_schema(file, format, version);
    return dir.file(name);
  };
  EXPECT_NE(
      open_error(store_with("foreign.h5", "something-else", 1)).find("not an hrere-bag-store file"),
      std::string::npos);
  EXPECT_NE(
      open_error(store_with("old.h5", kBagStoreFormat, 0)).find("older than this build reads"),
      std::string::npos);
  EXPECT_NE(
      open_error(store_with("new.h5", kBagStoreFormat, 99)).find("newer than this build reads"),
      std::string::npos);
  {
    Hdf5File file = Hdf5File::create(dir.file("damaged.h5"));
    write_schema(file, kBagStoreFormat, kBagStoreVersion);
    file.set_attribute("T", std::int64_t{5});
    file.set_attribute("L", std::int64_t{100});
  }
  EXPECT_NE(open_error(dir.file("damaged.h5")).find("missing"), std::string::npos);
  EXPECT_THROW(KbStore::open(good), InputError);  // a bag store is not a KB store
}

// A small valid store: two training bags of T = 2, two test sentences of one pair.
BagStoreContents small_store() {
  BagStoreContents c;
  c.T = 2;
  c.L = 3;
  c.vocabulary = {"<pad>", "a", "b", "c"};
  c.relations = {"NA", "born_in"};
  c.entities = {"e0", "e1", "e2"};
  auto bags = [](int n, int T) {
    BagArrays b;
    b.T = T;
    b.L = 3;
    for (int i = 0; i < n * T; ++i) {
      b.words.insert(b.words.end(), {1, 2, 3});
      b.lengths.push_back(3);
      b.head_spans.insert(b.head_spans.end(), {0, 1});
      b.tail_spans.insert(b.tail_spans.end(), {2, 3});
    }
    for (int i = 0; i < n; ++i) {
      b.heads.push_back(0);
      b.tails.push_back(2);
      b.labels.push_back(1);
    }
    return b;
  };
  c.train = bags(2, 2);
  c.test = bags(2, 1);
  c.test_pairs.offsets = {0, 2};
  c.test_pairs.heads = {0};
  c.test_pairs.tails = {2};
  c.test_pairs.labels = {0, 1};
  return c;
}

// Training indexes embeddings, shards and losses with the ids in a store: a value outside
// the store's own tables is refused where it is read, naming the dataset and the row.
TEST(BagStoreSchema, ValuesOutsideTheTablesAreRefusedWithTheirRow) {
  TempDir dir;
  const std::string good = dir.file("good.h5");
  write_bag_store(good, small_store(), 1);
  const BagStore store = BagStore::open(good);
  EXPECT_EQ(store.read("train", 0, 2).words, small_store().train.words);
  EXPECT_EQ(store.read_test_pairs().offsets, (std::vector<std::int64_t>{0, 2}));

  auto read_error = [&](const std::string& name, auto&& damage, const std::string& split) {
    BagStoreContents c = small_store();
    damage(c);
    const std::string path = dir.file(name + ".h5");
    write_bag_store(path, c, 1);
    try {
      const BagStore damaged = BagStore::open(path);
      if (split == "test_pairs") {
        damaged.read_test_pairs();
      } else {
        damaged.read(split, 0, damaged.size(split));
      }
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("read without an error");
  };
  EXPECT_EQ(read_error(
                "word", [](auto& c) { c.train.words[7] = 4; }, "train"),
            dir.file("word.h5") +
                ": /train/words row 1 holds 4, expected an id in [0, 4) (damaged bag store)");
  EXPECT_EQ(read_error(
                "head", [](auto& c) { c.train.heads[1] = -1; }, "train"),
            dir.file("head.h5") +
                ": /train/heads row 1 holds -1, expected an id in [0, 3) (damaged bag store)");
  EXPECT_NE(read_error(
                "tail", [](auto& c) { c.test.tails[0] = 3; }, "test")
                .find("/test/tails row 0 holds 3"),
            std::string::npos);
  EXPECT_NE(read_error(
                "label", [](auto& c) { c.train.labels[0] = 2; }, "train")
                .find("/train/labels row 0 holds 2, expected an id in [0, 2)"),
            std::string::npos);
  EXPECT_NE(read_error(
                "length", [](auto& c) { c.train.lengths[3] = 4; }, "train")
                .find("/train/lengths row 1 holds 4, expected a length in [1, 3]"),
            std::string::npos);
  EXPECT_NE(read_error(
                "span", [](auto& c) { c.train.tail_spans[3] = 2; }, "train")
                .find("/train/tail_spans row 0 holds 2"),
            std::string::npos);
  EXPECT_NE(read_error(
                "pair_label", [](auto& c) { c.test_pairs.labels[1] = 7; }, "test_pairs")
                .find("/test_pairs/labels pair 0 holds 7, expected 0 or 1"),
            std::string::npos);
  EXPECT_NE(read_error(
                "offsets",
                [](auto& c) {
                  c.test_pairs.offsets = {0, 1};
                },
                "test_pairs")
                .find("/test_pairs/offsets do not span the 2 test sentences"),
            std::string::npos);
  EXPECT_NE(read_error(
                "pair_head", [](auto& c) { c.test_pairs.heads = {9}; }, "test_pairs")
                .find("/test_pairs pair 0 names entity 9"),
            std::string::npos);
}

}  // namespace
}  // namespace hrere::data

namespace hrere::data {
namespace {

// The synthetic world is written in the real formats: the real readers take every line.
TEST(Prepare, SyntheticWorldParsesWithTheRealReaders) {
  hrere::testing::TempDir dir;
  const synth::SynthReport world =
      synth::generate_synthetic_world(synth::synth_preset("default"), dir.file("world"));
  PrepareOptions o;
  o.train_path = dir.file("world/train.txt");
  o.test_path = dir.file("world/test.txt");
  o.relations_path = dir.file("world/relation2id.txt");
  o.kb_train_path = dir.file("world/kb/train.txt");
  o.kb_valid_path = dir.file("world/kb/valid.txt");
  o.kb_test_path = dir.file("world/kb/test.txt");
  const nlohmann::json report = prepare_data(o, dir.file("prepared"));  // strict: no skipping
  EXPECT_EQ(report["lines_skipped"], 0);
  EXPECT_EQ(report["sentences"]["train"], world.train_sentences);
  EXPECT_EQ(report["sentences"]["test"], world.test_sentences);
  EXPECT_EQ(report["bags"]["test_pairs"], world.test_pairs);
  EXPECT_EQ(report["kb"]["triples_kept"]["train"], world.kb_train);
  // The generator already removed the RE pairs from its KB; prepare finds none left.
  EXPECT_EQ(report["kb"]["triples_removed_total"], 0);
}

}  // namespace
}  // namespace hrere::data
