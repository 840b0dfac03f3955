#pragma once
// Turning encoded sentences into fixed-size bags (docs/ARCHITECTURE.md, Data flow).
#include <cstdint>
#include <vector>

#include "data_pipeline/tokenize.h"

namespace hrere::data {

struct EncodedSentence {
  std::int32_t head = 0;  // entity id
  std::int32_t tail = 0;
  std::int32_t label = 0;           // relation id
  std::vector<std::int32_t> words;  // word ids, already cut to at most L
  Span head_span;
  Span tail_span;
};

struct Bag {
  std::int32_t head = 0;
  std::int32_t tail = 0;
  std::int32_t label = 0;
  std::vector<std::size_t> sentences;  // indices into the encoded sentences
};

// Training bags: sentences grouped by (relation, head, tail) in order of first appearance.
// A group of n < T sentences is repeated until it fills T; a larger group is cut into
// consecutive chunks of T, the last bag being the group's final T sentences. A group of n
// sentences thus gives max(1, ceil(n / T)) bags.
std::vector<Bag> make_training_bags(const std::vector<EncodedSentence>& sentences, int T);

// Test sentences as bags of one, ordered by (head, tail) (stable), so that each entity
// pair's sentences are contiguous; the paper scores a test sentence as a bag of T copies of
// itself, which the model computes once.
std::vector<Bag> make_sentence_bags(const std::vector<EncodedSentence>& sentences);

// Entity pairs over sentence bags ordered as make_sentence_bags orders them (the Lin et al.
// protocol): pair p covers sentence bags [offsets[p], offsets[p+1]) and is labelled with
// every relation its sentences carry (NA only when they carry nothing else).
struct TestPairs {
  std::vector<std::int64_t> offsets;  // pairs + 1
  std::vector<std::int32_t> heads;
  std::vector<std::int32_t> tails;
  std::vector<std::uint8_t> labels;  // pairs x relations, multi-hot
  std::int64_t size() const { return static_cast<std::int64_t>(heads.size()); }
};
TestPairs make_test_pairs(const std::vector<Bag>& sentence_bags, int num_relations);

// Bags in the flat row-major layout of the bag store.
struct BagArrays {
  int T = 0;
  int L = 0;
  std::vector<std::int32_t> words;       // N x T x L, 0-padded
  std::vector<std::int32_t> lengths;     // N x T
  std::vector<std::int32_t> head_spans;  // N x T x 2, [begin, end)
  std::vector<std::int32_t> tail_spans;  // N x T x 2
  std::vector<std::int32_t> heads;       // N
  std::vector<std::int32_t> tails;       // N
  std::vector<std::int32_t> labels;      // N
  std::int64_t size() const { return static_cast<std::int64_t>(heads.size()); }
};
BagArrays to_arrays(const std::vector<EncodedSentence>& sentences, const std::vector<Bag>& bags,
                    int T, int L);

}  // namespace hrere::data
