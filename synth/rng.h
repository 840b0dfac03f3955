#pragma once
// The generator's randomness: xoshiro256** seeded through splitmix64, with integer-only
// distributions, and one independent stream per purpose and index.
#include <array>
#include <cstdint>

#include "core/random.h"

namespace hrere::synth {

// xoshiro256** with integer-only distributions, so the output bytes do not depend on the
// standard library or the floating-point unit. Draws are never two operands of one expression
// (f(rng.a(), rng.b()), x + rng.c()): C++ leaves their order unspecified and compilers differ.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) {
    for (std::uint64_t& word : state_) {
      seed += core::kGoldenGamma;
      word = core::mix64(seed);
    }
  }

  std::uint64_t next() {
    const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  std::uint64_t operator()() { return next(); }

  // Uniform in [0, n), n > 0; rejection keeps it unbiased.
  std::uint64_t below(std::uint64_t n) { return core::draw_below(*this, n); }

  // Uniform in [lo, hi].
  std::uint64_t between(std::uint64_t lo, std::uint64_t hi) { return lo + below(hi - lo + 1); }

  // True with probability p. p * 2^53 is exact, so the threshold is the same everywhere.
  bool chance(double p) {
    const auto threshold = static_cast<std::uint64_t>(p * 9007199254740992.0);
    return (next() >> 11) < threshold;
  }

  // In [0, n), skewed toward small values (density ~ 1/sqrt): a few big cities, many small.
  std::uint64_t skewed(std::uint64_t n) {
    const std::uint64_t u = next() >> 32;
    const std::uint64_t square = (u * u) >> 32;
    return (square * n) >> 32;
  }

  template <typename Container>
  const auto& pick(const Container& items) {
    return items[below(items.size())];
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::array<std::uint64_t, 4> state_{};
};

// Independent streams per purpose and index, so one part of the output does not shift when
// another part draws more or fewer numbers.
enum class Stream : std::uint64_t {
  kWorld = 1,
  kSelect,
  kVocabulary,
  kFirstNames,
  kNames,
  kTrainSentences,
  kTestSentences,
  kKbSplit,
  kVectors,
  kKbOnly,
};

inline Rng stream(std::uint64_t seed, Stream purpose, std::uint64_t index = 0) {
  return Rng(
      core::mix64(core::mix64(core::mix64(seed) ^ static_cast<std::uint64_t>(purpose)) ^ index));
}

}  // namespace hrere::synth
