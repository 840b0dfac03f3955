#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "core/atomic_output.h"
#include "core/hash.h"
#include "core/random.h"
#include "core/stopwatch.h"

namespace hrere::core {
namespace {

TEST(Fnv1a, MatchesThePublishedTestVectors) {
  Fnv1a empty;
  EXPECT_EQ(empty.value(), 0xcbf29ce484222325ULL);
  Fnv1a a;
  a.add_bytes("a", 1);
  EXPECT_EQ(a.value(), 0xaf63dc4c8601ec8cULL);
  Fnv1a foobar;
  foobar.add_bytes("foobar", 6);
  EXPECT_EQ(foobar.value(), 0x85944171f73967e8ULL);
}

TEST(Fnv1a, WordsAreEightByteRoundsAndTheTailIsBytes) {
  const std::string text = "0123456789abc";  // one word and a five-byte tail
  std::uint64_t word;
  std::memcpy(&word, text.data(), 8);
  Fnv1a expected;
  expected.add(word);
  expected.add_bytes(text.data() + 8, 5);
  Fnv1a words;
  words.add_words(text.data(), text.size());
  EXPECT_EQ(words.value(), expected.value());
  Fnv1a bytes;
  bytes.add_bytes(text.data(), text.size());
  EXPECT_NE(words.value(), bytes.value());  // a different hash, on purpose: it is faster
}

TEST(CounterRandom, SplitMixIsTheFinaliserOfTheAdvancedState) {
  // The first output of SplitMix64 seeded with 0 (Vigna's reference implementation).
  EXPECT_EQ(splitmix64(0), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(splitmix64(41), mix64(41 + kGoldenGamma));
  EXPECT_NE(mix(1, 2), mix(2, 1));
}

TEST(CounterRandom, UniformBelowStaysInRange) {
  for (std::uint64_t n : {1ULL, 2ULL, 7ULL, 1000003ULL}) {
    for (std::uint64_t key = 0; key < 1000; ++key) EXPECT_LT(uniform_below(splitmix64(key), n), n);
  }
  EXPECT_EQ(uniform_below(UINT64_MAX, 10), 9U);
}

TEST(Shuffle, IsAPermutationAndRepeatsForTheSameSeed) {
  std::vector<int> first(1000), second(1000);
  std::iota(first.begin(), first.end(), 0);
  second = first;
  std::mt19937_64 a(7), b(7);
  shuffle(first.begin(), first.end(), a);
  shuffle(second.begin(), second.end(), b);
  EXPECT_EQ(first, second);
  std::vector<int> sorted = first;
  std::sort(sorted.begin(), sorted.end());
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(sorted[i], i);
  EXPECT_NE(first[0] + first[1] + first[2], 0 + 1 + 2);
}

// Every one of the 3! orders of three items is equally likely: a biased draw (modulo on a
// small generator) would skew this. 60,000 shuffles, 10,000 expected per order; the bound is
// ~6 standard deviations, so the test fails only for a real bias.
TEST(Shuffle, AllOrdersOfThreeAreEquallyLikely) {
  std::mt19937_64 generator(11);
  std::vector<int> counts(9 * 9 * 9, 0);
  const int trials = 60000;
  for (int t = 0; t < trials; ++t) {
    int items[3] = {0, 1, 2};
    shuffle(items, items + 3, generator);
    ++counts[items[0] * 81 + items[1] * 9 + items[2]];
  }
  int orders = 0;
  for (int c : counts) {
    if (c == 0) continue;
    ++orders;
    EXPECT_NEAR(c, trials / 6, 600);
  }
  EXPECT_EQ(orders, 6);
}

// draw_below rejects the top of the range: with a generator whose first draw lands there, the
// second draw is the one used.
TEST(Shuffle, DrawBelowRejectsTheBiasedTail) {
  std::vector<std::uint64_t> draws = {UINT64_MAX, 12};
  std::size_t next = 0;
  auto generator = [&] { return draws[next++]; };
  EXPECT_EQ(draw_below(generator, 10), 2U);
  EXPECT_EQ(next, 2U);
}

TEST(Stopwatch, MeasuresElapsedTimeAndRestarts) {
  Stopwatch watch;
  ::usleep(20000);
  const double elapsed = watch.seconds();
  EXPECT_GE(elapsed, 0.019);
  watch.restart();
  EXPECT_LT(watch.seconds(), elapsed);
  double total = 1.0;
  {
    ScopedTimer timer(total);
    ::usleep(10000);
  }
  EXPECT_GE(total, 1.009);
}

TEST(AtomicOutput, TheFileAppearsOnlyOnCommit) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("hrere-core-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string path = (dir / "out.txt").string();
  write_text_file(path, "old\n");
  {
    AtomicOutput output(path);
    write_text_file(output.temp_path(), "new\n");
    // Dropped without commit: the old file stays and the temporary is removed.
  }
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "old");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);
  write_text_atomically(path, "new\n");
  std::ifstream again(path);
  std::getline(again, line);
  EXPECT_EQ(line, "new");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace hrere::core
