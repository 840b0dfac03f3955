#pragma once
// Counter-based randomness: every random number is a pure function of (seed, indices), so
// initial rows, negative samples and epoch orders do not depend on the number of ranks, on
// which rank draws them, or on what was drawn before (a resumed run needs no generator state).
#include <cmath>
#include <cstdint>
#include <iterator>
#include <utility>

namespace hrere::core {

// SplitMix64's finaliser: a bijective 64-bit mixer with good avalanche.
inline std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// One SplitMix64 output: the finaliser of x advanced by the golden-ratio increment.
constexpr std::uint64_t kGoldenGamma = 0x9e3779b97f4a7c15ULL;
inline std::uint64_t splitmix64(std::uint64_t x) { return mix64(x + kGoldenGamma); }

// Hash of an ordered pair; chain it for more indices: mix(mix(seed, a), b).
inline std::uint64_t mix(std::uint64_t a, std::uint64_t b) { return splitmix64(a ^ splitmix64(b)); }

// Uniform in [0, n) from 64 random bits (multiply-shift: no modulo bias worth naming).
inline std::uint64_t uniform_below(std::uint64_t bits, std::uint64_t n) {
  return static_cast<std::uint64_t>((static_cast<unsigned __int128>(bits) * n) >> 64);
}

// Uniform in (0, 1] from the top 53 bits.
inline double unit_interval(std::uint64_t bits) {
  return static_cast<double>((bits >> 11) + 1) * 0x1.0p-53;
}

// Two independent standard normals from one key (Box-Muller).
inline void normal_pair(std::uint64_t key, float* first, float* second) {
  const double radius = std::sqrt(-2.0 * std::log(unit_interval(splitmix64(key))));
  const double angle = 6.283185307179586 * unit_interval(splitmix64(key + 1));
  *first = static_cast<float>(radius * std::cos(angle));
  *second = static_cast<float>(radius * std::sin(angle));
}

// Uniform in [0, n) from a 64-bit generator, exactly: draws past the largest multiple of n
// are rejected.
template <typename Generator>
std::uint64_t draw_below(Generator& generator, std::uint64_t n) {
  const std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  std::uint64_t draw;
  do {
    draw = generator();
  } while (draw >= limit);
  return draw % n;
}

// A pseudo-random permutation of [0, n) evaluated one index at a time: a keyed Feistel
// network over the smallest even number of bits that covers n, walking values that land
// outside [0, n) on through the network until they land inside (a cycle of the network's
// permutation always returns to the index's own range). A rank finds where its own rows go
// without the n-entry table a shuffle needs. At most 4n values exist in the network's domain,
// so a walk takes fewer than 4 passes on average.
class IndexPermutation {
 public:
  IndexPermutation(std::uint64_t n, std::uint64_t key) : n_(n) {
    while (half_bits_ < 32 && (std::uint64_t{1} << (2 * half_bits_)) < n) ++half_bits_;
    mask_ = (std::uint64_t{1} << half_bits_) - 1;
    for (int round = 0; round < kRounds; ++round) {
      round_keys_[round] = mix(key, static_cast<std::uint64_t>(round));
    }
  }

  std::uint64_t size() const { return n_; }
  // The position of `index` (< size()).
  std::uint64_t operator()(std::uint64_t index) const {
    std::uint64_t value = index;
    do {
      value = network(value);
    } while (value >= n_);
    return value;
  }

 private:
  static constexpr int kRounds = 6;
  std::uint64_t network(std::uint64_t value) const {
    std::uint64_t left = value >> half_bits_, right = value & mask_;
    for (const std::uint64_t round_key : round_keys_) {
      const std::uint64_t next = left ^ (splitmix64(round_key ^ right) & mask_);
      left = right;
      right = next;
    }
    return (left << half_bits_) | right;
  }

  std::uint64_t n_;
  int half_bits_ = 1;
  std::uint64_t mask_ = 1;
  std::uint64_t round_keys_[kRounds] = {};
};

// Fisher-Yates with draw_below: std::shuffle's output differs between standard libraries,
// and an epoch's order must be the same on every machine of a run.
template <typename RandomIt, typename Generator>
void shuffle(RandomIt first, RandomIt last, Generator& generator) {
  const auto n = static_cast<std::uint64_t>(last - first);
  for (std::uint64_t i = n; i > 1; --i) {
    using Offset = typename std::iterator_traits<RandomIt>::difference_type;
    std::swap(first[static_cast<Offset>(i - 1)],
              first[static_cast<Offset>(draw_below(generator, i))]);
  }
}

}  // namespace hrere::core
