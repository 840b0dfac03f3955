#pragma once
// Random loader batches for trainer tests: no store needed.
#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "data_pipeline/loader.h"

namespace hrere::train::testing {

constexpr int kL = 12;  // sentence width of random batches
constexpr int kVocabulary = 30;

// B bags of T sentences with random words, lengths and one-token entity spans at random
// places (padding holds 0), entity pairs drawn from [0, entities) and labels b % relations.
inline data::Batch random_batch(std::int64_t B, std::int64_t T, std::uint64_t seed,
                                std::int64_t entities = 3, int relations = 4) {
  torch::manual_seed(seed);
  auto draw = [](std::int64_t n) { return torch::randint(n, {1}).item<std::int64_t>(); };
  data::BagArrays arrays;
  arrays.T = static_cast<int>(T);
  arrays.L = kL;
  for (std::int64_t i = 0; i < B * T; ++i) {
    const int length = 2 + static_cast<int>(draw(kL - 1));
    for (int w = 0; w < kL; ++w) {
      arrays.words.push_back(w < length ? 2 + static_cast<int>(draw(kVocabulary - 2)) : 0);
    }
    arrays.lengths.push_back(length);
    const int head = static_cast<int>(draw(length));
    const int tail = (head + 1 + static_cast<int>(draw(length - 1))) % length;  // another token
    arrays.head_spans.insert(arrays.head_spans.end(), {head, head + 1});
    arrays.tail_spans.insert(arrays.tail_spans.end(), {tail, tail + 1});
  }
  for (std::int64_t b = 0; b < B; ++b) {
    arrays.heads.push_back(static_cast<int>(draw(entities)));
    arrays.tails.push_back(static_cast<int>(draw(entities)));
    arrays.labels.push_back(static_cast<int>(b % relations));
  }
  std::vector<data::BagRef> refs;
  for (std::int64_t b = 0; b < B; ++b) refs.push_back({&arrays, b, b});
  return data::make_batch(refs);
}

}  // namespace hrere::train::testing
