#include "data_pipeline/tokenize.h"

#include <gtest/gtest.h>

namespace hrere::data {
namespace {

using Words = std::vector<std::string>;

TEST(SplitToken, FollowsReferenceRules) {
  EXPECT_EQ(split_token("-lrb-"), Words{"("});
  EXPECT_EQ(split_token("-rrb-"), Words{")"});
  EXPECT_EQ(split_token("new_york"), (Words{"new", "york"}));
  EXPECT_EQ(split_token("high-end"), (Words{"high", "end"}));
  EXPECT_EQ(split_token("mr."), Words{"mr."});
  EXPECT_EQ(split_token("n't"), Words{"n't"});
  EXPECT_EQ(split_token("11,166-foot"), (Words{"11", "166", "foot"}));
  EXPECT_EQ(split_token("1914-99"), Words{"1914-99"});  // no letter: kept whole
  EXPECT_EQ(split_token("#"), Words{});
  EXPECT_EQ(split_token(","), Words{","});
}

TEST(TokenizeSentence, ExactTokensGiveSpans) {
  auto t = tokenize_sentence("the karl_lagerfeld label in paris .", "karl_lagerfeld", "paris");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->words, (Words{"the", "karl", "lagerfeld", "label", "in", "paris", "."}));
  EXPECT_EQ(t->head, (Span{1, 3}));
  EXPECT_EQ(t->tail, (Span{5, 6}));
}

TEST(TokenizeSentence, NameFoundAsWordRunWhenNotATokenOfItsOwn) {
  // From nyt10-partial: the tail "los_angeles_dodgers" is written "los_angeles dodgers".
  auto t = tokenize_sentence("the los_angeles dodgers of los_angeles are upset", "los_angeles",
                             "los_angeles_dodgers");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->head, (Span{1, 3}));
  EXPECT_EQ(t->tail, (Span{1, 4}));
}

TEST(TokenizeSentence, NestedRunPrefersAFreeOccurrence) {
  // Head is located by search; its first run sits inside the tail mention, a later one is free.
  auto t =
      tokenize_sentence("the new_york_times reported from new york", "new_york", "new_york_times");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->tail, (Span{1, 4}));
  EXPECT_EQ(t->head, (Span{6, 8}));
}

TEST(TokenizeSentence, MissingEntityIsReported) {
  EXPECT_FALSE(tokenize_sentence("nothing to see here", "paris", "france"));
  EXPECT_FALSE(tokenize_sentence("paris only", "paris", "france"));
}

TEST(Utf8, ValidAndInvalid) {
  EXPECT_TRUE(is_valid_utf8("risqu\xc3\xa9 image"));
  EXPECT_TRUE(is_valid_utf8("\xe2\x82\xac and \xf0\x9f\x98\x80"));
  EXPECT_FALSE(is_valid_utf8("bad \xc3"));       // cut-off sequence
  EXPECT_FALSE(is_valid_utf8("bad \xff byte"));  // never valid
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));       // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));   // surrogate
}

}  // namespace
}  // namespace hrere::data
