#include "data_pipeline/bagging.h"

#include <gtest/gtest.h>

namespace hrere::data {
namespace {

std::vector<EncodedSentence> group_of(int n, std::int32_t head = 1, std::int32_t label = 3) {
  std::vector<EncodedSentence> out(n);
  for (int i = 0; i < n; ++i) {
    out[i].head = head;
    out[i].tail = 2;
    out[i].label = label;
    out[i].words = {i + 10};
  }
  return out;
}

TEST(TrainingBags, CountIsMaxOneCeilNOverT) {
  const int T = 5;
  for (int n = 1; n <= 23; ++n) {
    const auto bags = make_training_bags(group_of(n), T);
    EXPECT_EQ(bags.size(), static_cast<std::size_t>(std::max(1, (n + T - 1) / T))) << "n=" << n;
    for (const Bag& bag : bags) EXPECT_EQ(bag.sentences.size(), static_cast<std::size_t>(T));
  }
}

TEST(TrainingBags, SmallGroupIsRepeatedLargeGroupIsChunkedWithFinalTail) {
  const auto small = make_training_bags(group_of(2), 5);
  EXPECT_EQ(small[0].sentences, (std::vector<std::size_t>{0, 1, 0, 1, 0}));
  const auto large = make_training_bags(group_of(12), 5);
  ASSERT_EQ(large.size(), 3u);
  EXPECT_EQ(large[0].sentences, (std::vector<std::size_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(large[1].sentences, (std::vector<std::size_t>{5, 6, 7, 8, 9}));
  EXPECT_EQ(large[2].sentences, (std::vector<std::size_t>{7, 8, 9, 10, 11}));  // last T
}

TEST(TrainingBags, GroupsByRelationHeadAndTail) {
  auto sentences = group_of(3, 1, 3);
  auto other_label = group_of(2, 1, 4);
  auto other_head = group_of(1, 9, 3);
  sentences.insert(sentences.end(), other_label.begin(), other_label.end());
  sentences.insert(sentences.end(), other_head.begin(), other_head.end());
  const auto bags = make_training_bags(sentences, 5);
  ASSERT_EQ(bags.size(), 3u);
  EXPECT_EQ(bags[0].label, 3);
  EXPECT_EQ(bags[1].label, 4);
  EXPECT_EQ(bags[1].sentences, (std::vector<std::size_t>{3, 4, 3, 4, 3}));
  EXPECT_EQ(bags[2].head, 9);
}

TEST(TestPairs, SentencesSortedByPairAndLabelsMultiHot) {
  std::vector<EncodedSentence> s(5);
  const std::int32_t pairs[5][3] = {{2, 3, 1}, {1, 2, 0}, {2, 3, 4}, {1, 2, 0}, {2, 3, 0}};
  for (int i = 0; i < 5; ++i) {
    s[i].head = pairs[i][0];
    s[i].tail = pairs[i][1];
    s[i].label = pairs[i][2];
  }
  const auto bags = make_sentence_bags(s);
  std::vector<std::size_t> order;
  for (const Bag& b : bags) order.push_back(b.sentences[0]);
  EXPECT_EQ(order, (std::vector<std::size_t>{1, 3, 0, 2, 4}));  // stable within a pair
  const TestPairs p = make_test_pairs(bags, 5);
  ASSERT_EQ(p.size(), 2);
  EXPECT_EQ(p.offsets, (std::vector<std::int64_t>{0, 2, 5}));
  EXPECT_EQ(std::vector<std::uint8_t>(p.labels.begin(), p.labels.begin() + 5),
            (std::vector<std::uint8_t>{1, 0, 0, 0, 0}));  // only NA
  EXPECT_EQ(std::vector<std::uint8_t>(p.labels.begin() + 5, p.labels.end()),
            (std::vector<std::uint8_t>{0, 1, 0, 0, 1}));  // NA dropped next to real labels
}

TEST(BagArrays, PadsCutsAndKeepsSpans) {
  std::vector<EncodedSentence> s(2);
  s[0].words = {5, 6, 7};
  s[0].head_span = {0, 1};
  s[0].tail_span = {2, 3};
  s[1].words = {8};
  const auto arrays = to_arrays(s, {{0, 0, 0, {0, 1}}}, 2, 4);
  EXPECT_EQ(arrays.words, (std::vector<std::int32_t>{5, 6, 7, 0, 8, 0, 0, 0}));
  EXPECT_EQ(arrays.lengths, (std::vector<std::int32_t>{3, 1}));
  EXPECT_EQ(arrays.tail_spans[0], 2);
  EXPECT_EQ(arrays.tail_spans[1], 3);
}

}  // namespace
}  // namespace hrere::data
