#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "core/atomic_output.h"
#include "core/checkpoint_folder.h"
#include "core/choice.h"
#include "core/errors.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/random.h"
#include "core/schedule.h"
#include "core/stopwatch.h"

namespace hrere::core {

enum class Shade { kLight, kDark, kNone };
constexpr Choices<Shade, 3> choices(Shade) {
  return {{{Shade::kLight, "light"}, {Shade::kDark, "dark"}, {Shade::kNone, "none"}}};
}

namespace {

TEST(Choice, EveryNameParsesToItsEnumeratorAndBack) {
  for (const std::string& name : choice_names<Shade>()) {
    const std::optional<Shade> value = parse_choice<Shade>(name);
    ASSERT_TRUE(value) << name;
    EXPECT_EQ(name_of(*value), name);
  }
  EXPECT_EQ(choice_names<Shade>(), (std::vector<std::string>{"light", "dark", "none"}));
  EXPECT_FALSE(parse_choice<Shade>("Dark"));  // names are exact
  EXPECT_FALSE(parse_choice<Shade>(""));
  EXPECT_EQ(either(choice_names<Shade>()), "light, dark or none");
  EXPECT_EQ(either({"only"}), "only");
}

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

// IndexPermutation is a bijection of [0, n) for sizes at and between powers of two, the
// same for the same key and another for another key.
TEST(IndexPermutation, IsABijectionThatDependsOnlyOnTheKey) {
  for (const std::uint64_t n : {1ULL, 2ULL, 3ULL, 5ULL, 16ULL, 17ULL, 1000ULL, 65537ULL}) {
    const IndexPermutation permutation(n, 42);
    std::vector<bool> hit(n, false);
    for (std::uint64_t i = 0; i < n; ++i) {
      const std::uint64_t position = permutation(i);
      ASSERT_LT(position, n) << "n = " << n;
      ASSERT_FALSE(hit[position]) << "n = " << n << ": position " << position << " twice";
      hit[position] = true;
      EXPECT_EQ(IndexPermutation(n, 42)(i), position);
    }
  }
  const IndexPermutation a(1000, 1), b(1000, 2);
  int same = 0;
  for (std::uint64_t i = 0; i < 1000; ++i) same += a(i) == b(i);
  EXPECT_LT(same, 10);  // two independent permutations share about one fixed point
}

// Where index 0 goes over 60,000 keys is uniform over 6 positions (as the shuffle test above),
// and neighbouring indices do not stay together: the epoch order mixes the store's order.
TEST(IndexPermutation, PositionsAreUniformAndNeighboursScatter) {
  std::vector<int> counts(6, 0);
  const int trials = 60000;
  for (int key = 0; key < trials; ++key) ++counts[IndexPermutation(6, key)(0)];
  for (int c : counts) EXPECT_NEAR(c, trials / 6, 600);
  const std::uint64_t n = 1 << 20;
  const IndexPermutation permutation(n, 7);
  int close = 0;
  for (std::uint64_t i = 0; i + 1 < 10000; ++i) {
    const auto gap =
        static_cast<std::int64_t>(permutation(i + 1)) - static_cast<std::int64_t>(permutation(i));
    close += std::abs(gap) < static_cast<std::int64_t>(n / 100);
  }
  EXPECT_LT(close, 400);  // 2% of pairs expected within n / 100 of each other: ~200
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

TEST(AtomicOutput, RemovesTemporariesThatDeadProcessesOfThisHostLeft) {
  namespace fs = std::filesystem;
  const fs::path dir =
      fs::temp_directory_path() / ("hrere-core-sweep-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string path = (dir / "kb.h5").string();
  // A process that has exited: its pid is free (and unlikely to be reused within the test).
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ASSERT_GT(child, 0);
  ::waitpid(child, nullptr, 0);
  char host[256] = {};
  ASSERT_EQ(::gethostname(host, sizeof(host) - 1), 0);
  const std::string ours = path + ".tmp." + host + ".";
  const std::string dead = ours + std::to_string(child);
  const std::string alive = ours + "1";  // init runs as long as the machine does
  const std::string other_host = path + ".tmp.some-other-node." + std::to_string(child);
  const std::string other_file =
      (dir / "bags.h5.tmp.").string() + host + "." + std::to_string(child);
  for (const auto& file : {dead, alive, other_host, other_file}) write_text_file(file, "x\n");

  AtomicOutput output(path);
  EXPECT_FALSE(fs::exists(dead)) << "a dead process's temporary was kept";
  EXPECT_TRUE(fs::exists(alive)) << "a live process's temporary was removed";
  EXPECT_TRUE(fs::exists(other_host)) << "another host's temporary was removed";
  EXPECT_TRUE(fs::exists(other_file)) << "another file's temporary was removed";
  EXPECT_EQ(output.temp_path(), ours + std::to_string(::getpid()));
  fs::remove_all(dir);
}

std::string read_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// Every state a hard stop can leave during a commit reads as the old or the new checkpoint.
TEST(CheckpointFolder, AStopAtAnyPointLeavesTheOldOrTheNewFolder) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("hrere-ckpt-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const std::string path = (dir / "checkpoint").string();
  const CheckpointFolder folder(path);
  EXPECT_FALSE(committed_folder(path));
  folder.stage();
  write_text_file(folder.staging() + "/state", "1\n");
  EXPECT_FALSE(committed_folder(path));  // staged, not committed: nothing to read yet
  folder.commit();
  EXPECT_EQ(read_line(*committed_folder(path) + "/state"), "1");
  EXPECT_FALSE(fs::exists(folder.staging()));

  folder.stage();
  write_text_file(folder.staging() + "/state", "2\n");
  // A stop between the two renames of commit(): only FOLDER.old and FOLDER.tmp exist.
  fs::rename(path, path + ".old");
  EXPECT_EQ(read_line(*committed_folder(path) + "/state"), "1");
  fs::rename(path + ".old", path);
  folder.commit();
  EXPECT_EQ(read_line(*committed_folder(path) + "/state"), "2");
  EXPECT_FALSE(fs::exists(path + ".old"));
  fs::remove_all(dir);
}

TEST(CheckpointFolder, NumberedFoldersSortPruneAndSkipStaging) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("hrere-steps-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const std::string parent = dir.string();
  for (std::int64_t step : {12, 3, 100, 40}) {
    const CheckpointFolder folder(numbered_folder(parent, step));
    folder.stage();
    folder.commit();
  }
  EXPECT_EQ(fs::path(numbered_folder(parent, 12)).filename(), "step-0000000012");
  CheckpointFolder(numbered_folder(parent, 7)).stage();    // stopped before its commit
  CheckpointFolder(numbered_folder(parent, 500)).stage();  // a commit still in progress
  fs::rename(numbered_folder(parent, 40), numbered_folder(parent, 40) + ".old");
  fs::create_directories(dir / "step-x1");  // a foreign name
  std::vector<std::int64_t> steps;
  for (const auto& [step, path] : numbered_folders(parent)) steps.push_back(step);
  EXPECT_EQ(steps, (std::vector<std::int64_t>{3, 12, 40, 100}));
  EXPECT_EQ(numbered_folders(parent)[2].second, numbered_folder(parent, 40) + ".old");

  prune_numbered_folders(parent, 2);
  steps.clear();
  for (const auto& [step, path] : numbered_folders(parent)) steps.push_back(step);
  EXPECT_EQ(steps, (std::vector<std::int64_t>{40, 100}));
  EXPECT_FALSE(fs::exists(numbered_folder(parent, 7) + ".tmp"));  // stale staging pruned
  EXPECT_TRUE(fs::exists(numbered_folder(parent, 500) + ".tmp"));
  fs::remove_all(dir);
}

TEST(Schedule, StepRulesFollowTheGlobalStep) {
  ScheduleOptions options;
  options.log_every_steps = 3;
  options.checkpoint_every_steps = 4;
  options.limits.max_steps = 5;
  int shared = 0;
  Schedule schedule(options, [&](std::int64_t bits) {
    ++shared;
    return bits;
  });
  for (std::int64_t step = 11; step <= 15; ++step) {  // a resumed run: steps 11.. in this call
    EXPECT_EQ(schedule.stop(), StopReason::kNone);
    schedule.step_done();
    EXPECT_EQ(schedule.log_due(step), step % 3 == 0) << step;
    EXPECT_EQ(schedule.checkpoint_due(step), step % 4 == 0) << step;
  }
  EXPECT_EQ(schedule.stop(), StopReason::kMaxSteps);
  EXPECT_EQ(option_name(schedule.stop()), "--max-steps");
  EXPECT_EQ(shared, 0);  // no time rule: no collective
}

// Rank 0's clock decides: a rank whose own clock has not run out still stops, and one whose
// clock has run out does not, when rank 0 says otherwise.
TEST(Schedule, TimeRulesFollowRankZerosClock) {
  ScheduleOptions options;
  options.limits.max_minutes = 1e-6;  // 60 microseconds: out of time at once
  options.checkpoint_every_minutes = 1e-6;
  Schedule late(options, [](std::int64_t) { return std::int64_t{0}; });  // rank 0: not yet
  ::usleep(1000);
  late.step_done();
  EXPECT_EQ(late.stop(), StopReason::kNone);
  EXPECT_FALSE(late.checkpoint_due(1));

  options.limits.max_minutes = 1e6;
  options.checkpoint_every_minutes = 1e6;
  Schedule early(options, [](std::int64_t) { return std::int64_t{3}; });  // rank 0: both due
  early.step_done();
  EXPECT_EQ(early.stop(), StopReason::kMaxMinutes);
  EXPECT_EQ(option_name(early.stop()), "--max-minutes");
  EXPECT_TRUE(early.checkpoint_due(1));
  early.checkpointed();
  EXPECT_FALSE(early.checkpoint_due(1));
}

std::string logged(int rank, const std::string& level) {
  log::configure(rank, level);
  ::testing::internal::CaptureStderr();
  log::debug("a debug line");
  log::info("an info line");
  log::warn("a warning from rank {}", rank);
  log::error("an error");
  return ::testing::internal::GetCapturedStderr();
}

TEST(Log, Rank0PrintsInfoOtherRanksOnlyWarningsAndErrors) {
  const std::string rank0 = logged(0, "info");
  EXPECT_NE(rank0.find("] [rank 0] [info] an info line\n"), std::string::npos) << rank0;
  EXPECT_NE(rank0.find("] [rank 0] [warning] a warning from rank 0\n"), std::string::npos);
  EXPECT_EQ(rank0.find("debug line"), std::string::npos);

  const std::string rank1 = logged(1, "info");
  EXPECT_EQ(rank1.find("info line"), std::string::npos) << rank1;
  EXPECT_NE(rank1.find("] [rank 1] [warning] a warning from rank 1\n"), std::string::npos);
  EXPECT_NE(rank1.find("] [rank 1] [error] an error\n"), std::string::npos);

  const std::string quiet = logged(0, "error");
  EXPECT_EQ(quiet.find("warning"), std::string::npos) << quiet;
  EXPECT_NE(quiet.find("[error] an error"), std::string::npos);

  const std::string debug = logged(2, "debug");  // debugging: every rank says everything
  EXPECT_NE(debug.find("] [rank 2] [debug] a debug line"), std::string::npos) << debug;

  EXPECT_THROW(log::configure(0, "verbose"), InputError);
}

TEST(Log, TheLauncherNamesTheRank) {
  for (const char* name : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "SLURM_PROCID", "PMI_RANK"}) {
    ::unsetenv(name);
  }
  EXPECT_EQ(log::launcher_rank(), 0);
  ::setenv("SLURM_PROCID", "3", 1);
  EXPECT_EQ(log::launcher_rank(), 3);
  ::setenv("OMPI_COMM_WORLD_RANK", "5", 1);  // mpirun inside a Slurm allocation
  EXPECT_EQ(log::launcher_rank(), 5);
  ::unsetenv("SLURM_PROCID");
  ::unsetenv("OMPI_COMM_WORLD_RANK");
}

}  // namespace
}  // namespace hrere::core
