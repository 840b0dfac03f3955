#include "data_pipeline/bagging.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <tuple>

namespace hrere::data {

std::vector<Bag> make_training_bags(const std::vector<EncodedSentence>& sentences, int T) {
  using Key = std::tuple<std::int32_t, std::int32_t, std::int32_t>;
  std::map<Key, std::size_t> group_of;
  std::vector<std::vector<std::size_t>> groups;
  for (std::size_t i = 0; i < sentences.size(); ++i) {
    const EncodedSentence& s = sentences[i];
    auto [it, inserted] = group_of.emplace(Key{s.label, s.head, s.tail}, groups.size());
    if (inserted) groups.emplace_back();
    groups[it->second].push_back(i);
  }
  std::vector<Bag> bags;
  for (const std::vector<std::size_t>& group : groups) {
    const EncodedSentence& first = sentences[group.front()];
    auto add_bag = [&](std::vector<std::size_t> members) {
      bags.push_back({first.head, first.tail, first.label, std::move(members)});
    };
    const std::size_t n = group.size();
    if (n <= static_cast<std::size_t>(T)) {
      std::vector<std::size_t> members;
      for (int k = 0; k < T; ++k) members.push_back(group[k % n]);
      add_bag(std::move(members));
      continue;
    }
    std::size_t start = 0;
    for (; start + T < n; start += T) {
      add_bag(std::vector<std::size_t>(group.begin() + start, group.begin() + start + T));
    }
    add_bag(std::vector<std::size_t>(group.end() - T, group.end()));
  }
  return bags;
}

std::vector<Bag> make_sentence_bags(const std::vector<EncodedSentence>& sentences) {
  std::vector<std::size_t> order(sentences.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return std::tie(sentences[a].head, sentences[a].tail) <
           std::tie(sentences[b].head, sentences[b].tail);
  });
  std::vector<Bag> bags;
  bags.reserve(order.size());
  for (std::size_t i : order) {
    bags.push_back({sentences[i].head, sentences[i].tail, sentences[i].label, {i}});
  }
  return bags;
}

TestPairs make_test_pairs(const std::vector<Bag>& sentence_bags, int num_relations) {
  TestPairs pairs;
  for (std::size_t i = 0; i < sentence_bags.size(); ++i) {
    const Bag& bag = sentence_bags[i];
    const bool new_pair =
        pairs.heads.empty() || pairs.heads.back() != bag.head || pairs.tails.back() != bag.tail;
    if (new_pair) {
      pairs.offsets.push_back(static_cast<std::int64_t>(i));
      pairs.heads.push_back(bag.head);
      pairs.tails.push_back(bag.tail);
      pairs.labels.resize(pairs.labels.size() + num_relations, 0);
    }
    pairs.labels[(pairs.heads.size() - 1) * num_relations + bag.label] = 1;
  }
  pairs.offsets.push_back(static_cast<std::int64_t>(sentence_bags.size()));
  // NA (relation 0) only labels pairs that have no other relation.
  for (std::int64_t p = 0; p < pairs.size(); ++p) {
    std::uint8_t* row = pairs.labels.data() + p * num_relations;
    if (std::any_of(row + 1, row + num_relations, [](std::uint8_t v) { return v != 0; }))
      row[0] = 0;
  }
  return pairs;
}

BagArrays to_arrays(const std::vector<EncodedSentence>& sentences, const std::vector<Bag>& bags,
                    int T, int L) {
  BagArrays out;
  out.T = T;
  out.L = L;
  const std::size_t n = bags.size();
  out.words.assign(n * T * L, 0);
  out.lengths.assign(n * T, 0);
  out.head_spans.assign(n * T * 2, 0);
  out.tail_spans.assign(n * T * 2, 0);
  out.heads.reserve(n);
  out.tails.reserve(n);
  out.labels.reserve(n);
  for (std::size_t b = 0; b < n; ++b) {
    const Bag& bag = bags[b];
    out.heads.push_back(bag.head);
    out.tails.push_back(bag.tail);
    out.labels.push_back(bag.label);
    for (int k = 0; k < T; ++k) {
      const EncodedSentence& s = sentences[bag.sentences[k]];
      const std::size_t slot = b * T + k;
      const std::size_t length = std::min<std::size_t>(s.words.size(), L);
      std::copy_n(s.words.begin(), length, out.words.begin() + slot * L);
      out.lengths[slot] = static_cast<std::int32_t>(length);
      out.head_spans[slot * 2] = s.head_span.begin;
      out.head_spans[slot * 2 + 1] = s.head_span.end;
      out.tail_spans[slot * 2] = s.tail_span.begin;
      out.tail_spans[slot * 2 + 1] = s.tail_span.end;
    }
  }
  return out;
}

}  // namespace hrere::data
