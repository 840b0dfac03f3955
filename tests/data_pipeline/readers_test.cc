// Readers on the real NYT10 / FB15k-237 files and on crafted bad inputs.
#include <gtest/gtest.h>

#include "core/errors.h"
#include "data_pipeline/corpus_reader.h"
#include "data_pipeline/kb_reader.h"
#include "data_pipeline/relations.h"
#include "data_pipeline/text_file.h"
#include "data_pipeline/vocabulary.h"
#include "test_util.h"

namespace hrere::data {
namespace {

using hrere::testing::shared_data;
using hrere::testing::TempDir;

const std::string kGoodTrainLine =
    "m.01\tm.02\tkarl_lagerfeld\tparis\t/people/person/place_lived\t"
    "karl_lagerfeld lives in paris . ###END###\n";

// Runs `read` on `text` and returns the InputError message ("" if none was thrown).
template <typename Read>
std::string error_of(const std::string& text, Read read) {
  TempDir dir;
  const std::string path = dir.write("input.txt", text);
  try {
    BadLines strict(false);
    read(path, strict);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(Nyt10Reader, ReadsTheRealTrainAndTestFiles) {
  BadLines strict(false);
  const auto train = read_nyt10(shared_data("nyt10-partial/train.txt"), strict);
  const auto test = read_nyt10(shared_data("nyt10-partial/test.txt"), strict);
  EXPECT_EQ(train.size(), 10230u);  // every line of the slice is usable
  EXPECT_EQ(test.size(), 9703u);
  const Sentence& first = train.front();
  EXPECT_EQ(first.head, "m.017tl9");
  EXPECT_EQ(first.relation, "/people/person/place_lived");
  EXPECT_NE(first.words.back(), "###END###");
  EXPECT_EQ(first.words[first.head_span.begin], "karl");
  EXPECT_EQ(first.words[first.tail_span.begin], "paris");
  for (const auto* corpus : {&train, &test}) {
    for (const Sentence& s : *corpus) {
      ASSERT_LT(s.head_span.begin, s.head_span.end);
      ASSERT_LE(s.tail_span.end, static_cast<int>(s.words.size()));
    }
  }
}

TEST(Nyt10Reader, AcceptsCrlfAndSevenFieldTestLines) {
  TempDir dir;
  const std::string path =
      dir.write("t.txt", "m.01\tm.02\ta\tb\tNA\ta met b .\t###END###\r\n\r\n" + kGoodTrainLine);
  BadLines strict(false);
  const auto sentences = read_nyt10(path, strict);
  ASSERT_EQ(sentences.size(), 2u);
  EXPECT_EQ(sentences[0].words, (std::vector<std::string>{"a", "met", "b", "."}));
  EXPECT_EQ(sentences[1].line, 3u);
}

TEST(Nyt10Reader, BadLinesNameFileAndLine) {
  const auto read = [](const std::string& path, BadLines& bad) { read_nyt10(path, bad); };
  EXPECT_NE(
      error_of(kGoodTrainLine + "m.01\tm.02\tonly four\n", read).find("input.txt:2: expected 6"),
      std::string::npos);
  EXPECT_NE(error_of("m.01\tm.02\ta\tb\tNA\t ###END###\n", read).find(":1: empty sentence"),
            std::string::npos);
  EXPECT_NE(error_of("m.01\tm.02\ta\tb\tNA\tc d e ###END###\n", read).find(":1: entity name 'a'"),
            std::string::npos);
  EXPECT_NE(error_of("m.01\tm.02\ta\tb\tNA\ta \xff b ###END###\n", read).find(":1: invalid UTF-8"),
            std::string::npos);
  EXPECT_NE(error_of("m.01\tm.02\ta\tb\tNA\ta b\tEND\n", read).find(":1: expected 6"),
            std::string::npos);
}

TEST(Nyt10Reader, SkippingCountsBadLinesAndKeepsTheRest) {
  TempDir dir;
  const std::string path = dir.write(
      "t.txt", kGoodTrainLine + "garbage\n" + kGoodTrainLine + "m.1\tm.2\tx\ty\tNA\tno names\n");
  BadLines skipping(true);
  EXPECT_EQ(read_nyt10(path, skipping).size(), 2u);
  EXPECT_EQ(skipping.count(), 2u);
  ASSERT_EQ(skipping.examples().size(), 2u);
  EXPECT_EQ(skipping.examples()[0].line, 2u);
  EXPECT_EQ(skipping.examples()[1].line, 4u);
}

TEST(JsonLinesReader, ReadsOpenNreRecords) {
  TempDir dir;
  const std::string path = dir.write(
      "t.jsonl",
      R"({"text": "the los angeles dodgers play in los angeles .", "relation": "/sports/sports_team/location", "h": {"id": "m.0d", "name": "los angeles dodgers", "pos": [4, 23]}, "t": {"id": "/m/030", "name": "los angeles", "pos": [33, 44]}})"
      "\n");
  BadLines strict(false);
  const auto sentences = read_jsonl(path, strict);
  ASSERT_EQ(sentences.size(), 1u);
  EXPECT_EQ(sentences[0].tail, "m.030");
  EXPECT_EQ(sentences[0].head_span, (Span{1, 4}));
  EXPECT_EQ(sentences[0].tail_span, (Span{6, 8}));  // the free run, not the one inside the head
  const auto read = [](const std::string& p, BadLines& bad) { read_jsonl(p, bad); };
  EXPECT_NE(error_of("{\"text\": \"a b\"}\n", read).find(":1: bad JSON record"), std::string::npos);
  EXPECT_NE(error_of("{not json\n", read).find(":1: bad JSON record"), std::string::npos);
}

TEST(RelationTable, ReadsRealFileAndAppliesRemap) {
  RelationTable table = RelationTable::read(shared_data("nyt10-partial/relation2id.txt"));
  EXPECT_EQ(table.size(), 53);
  EXPECT_EQ(table.id_of("NA"), 0);
  EXPECT_EQ(table.id_of("/people/person/place_of_birth"), 8);
  EXPECT_EQ(table.id_of("/people/ethnicity/people"), -1);
  table.apply_remap({{"/people/ethnicity/people", "NA"}, {"/x/old", "/x/new"}});
  EXPECT_EQ(table.id_of("/people/ethnicity/people"), 0);
  EXPECT_EQ(table.id_of("/x/old"), 53);
  EXPECT_EQ(table.id_of("/x/new"), 53);
  EXPECT_EQ(table.names().back(), "/x/new");
}

TEST(RelationTable, RejectsMalformedFiles) {
  auto error = [](const std::string& text) {
    TempDir dir;
    try {
      RelationTable::read(dir.write("r.txt", text));
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(error("2\nNA 0\nfoo 5\n").find("r.txt:3: relation id '5'"), std::string::npos);
  EXPECT_NE(error("2\nNA 0\nNA 1\n").find("r.txt:3: relation 'NA' given twice"), std::string::npos);
  EXPECT_NE(error("2\nfoo 0\nNA 1\n").find("must be NA"), std::string::npos);
  EXPECT_NE(error("3\nNA 0\nfoo 1\n").find("relation id 2 missing"), std::string::npos);
  EXPECT_NE(error("x\n").find("r.txt:1: expected the relation count"), std::string::npos);
  // A damaged count line (found by fuzzing): no allocation of its size, no partial numbers.
  EXPECT_NE(error("-5\nNA 0\n").find("r.txt:1: expected the relation count, found '-5'"),
            std::string::npos);
  EXPECT_NE(error("1000000000000\nNA 0\n").find("relation id 1 missing"), std::string::npos);
  EXPECT_NE(error("2x\nNA 0\n").find("r.txt:1: expected the relation count"), std::string::npos);
  EXPECT_NE(error("2\nNA 0\nfoo 1x\n").find("r.txt:3: relation id '1x'"), std::string::npos);
}

TEST(TripleReader, ReadsRealFb15k237WithCrlfAndNormalisedMids) {
  BadLines strict(false);
  std::vector<NamedTriple> triples;
  read_triples(shared_data("fb15k-237/train.txt"), strict,
               [&](const NamedTriple& t) { triples.push_back(t); });
  ASSERT_EQ(triples.size(), 272115u);
  EXPECT_EQ(triples[0].head, "m.027rn");
  EXPECT_EQ(triples[0].relation, "/location/country/form_of_government");
  EXPECT_EQ(triples[0].tail, "m.06cx9");  // no trailing '\r' from the CRLF file
}

TEST(TripleReader, BadLines) {
  const auto read = [](const std::string& p, BadLines& bad) {
    read_triples(p, bad, [](const NamedTriple&) {});
  };
  EXPECT_NE(error_of("/m/a\t/r\t/m/b\n/m/a\t/r\n", read)
                .find("input.txt:2: expected `head relation tail`"),
            std::string::npos);
}

TEST(EntityIds, BothFreebaseSpellingsAreOneId) {
  EXPECT_EQ(normalize_entity_id("/m/027rn"), "m.027rn");
  EXPECT_EQ(normalize_entity_id("m.027rn"), "m.027rn");
  EXPECT_EQ(normalize_entity_id("/g/11b"), "g.11b");
  EXPECT_EQ(normalize_entity_id("Q42"), "Q42");
}

TEST(WordVectors, Word2vecAndGloveFormats) {
  TempDir dir;
  const WordVectors w2v = read_word_vectors(dir.write("w.txt", "2 3\nparis 1 2 3\nfrance 4 5 6\n"));
  EXPECT_EQ(w2v.dim, 3);
  EXPECT_EQ(w2v.words, (std::vector<std::string>{"paris", "france"}));
  EXPECT_FLOAT_EQ(w2v.values[5], 6.0f);
  const WordVectors glove = read_word_vectors(dir.write("g.txt", "paris 1 2\nfrance 3 4\n"));
  EXPECT_EQ(glove.dim, 2);
  EXPECT_EQ(glove.words.size(), 2u);
  try {
    read_word_vectors(dir.write("bad.txt", "paris 1 2\nfrance 3\n"));
    FAIL() << "dimension mismatch accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.txt:2: expected a word and 2 numbers"),
              std::string::npos);
  }
  // nan and inf would reach the loss as it: they are refused where they are.
  for (const char* number : {"nan", "inf", "-inf", "1e999"}) {
    try {
      read_word_vectors(dir.write("nan.txt", std::string("paris 1 2\nfrance 3 ") + number + "\n"));
      ADD_FAILURE() << number << " accepted";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("nan.txt:2: '" + std::string(number) +
                                           "' is not a finite number"),
                std::string::npos)
          << e.what();
    }
  }
  // A damaged word2vec header (found by fuzzing): an InputError, no allocation of its size.
  for (const std::string header : {"-1 2", "2 3000000000"}) {
    EXPECT_THROW(read_word_vectors(dir.write("h.txt", header + "\nparis 1 2\n")), InputError);
  }
  const WordVectors huge = read_word_vectors(dir.write("c.txt", "1000000000000 2\nparis 1 2\n"));
  EXPECT_EQ(huge.words.size(), 1u);
}

TEST(Vocabulary, MinCountAndVectorCoverage) {
  Sentence a, b;
  a.words = {"paris", "paris", "rare"};
  b.words = {"unseen", "other"};
  const Vocabulary counted = Vocabulary::build({a}, {b}, 2, nullptr);
  EXPECT_EQ(counted.words(), (std::vector<std::string>{"<pad>", "<unk>", "paris"}));
  EXPECT_EQ(counted.id_of("rare"), Vocabulary::kUnknown);

  WordVectors vectors;
  vectors.dim = 1;
  vectors.words = {"rare", "unseen"};
  vectors.values = {0.5f, 0.25f};
  const Vocabulary with_vectors = Vocabulary::build({a}, {b}, 2, &vectors);
  EXPECT_NE(with_vectors.id_of("rare"), Vocabulary::kUnknown);    // rare but has a vector
  EXPECT_NE(with_vectors.id_of("unseen"), Vocabulary::kUnknown);  // test-only, has a vector
  EXPECT_EQ(with_vectors.id_of("other"), Vocabulary::kUnknown);
  std::vector<float> rows;
  std::vector<std::uint8_t> has;
  with_vectors.gather_vectors(vectors, rows, has);
  EXPECT_FLOAT_EQ(rows[with_vectors.id_of("unseen")], 0.25f);
  EXPECT_EQ(has[with_vectors.id_of("paris")], 0);
}

}  // namespace
}  // namespace hrere::data
