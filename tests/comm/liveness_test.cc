// RankLiveness tests. One process plays every rank of a small world, each with its own
// monitor over a fresh folder; a rank dies by abandoning its monitor (no `done` written).
// Intervals are short (beat every 0.05 s, lost after 0.5 s) so each test takes about 2 s.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <fstream>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "comm/liveness.h"
#include "test_util.h"

namespace hrere::comm {
namespace {

using hrere::testing::TempDir;

constexpr double kInterval = 0.05;
constexpr double kLostAfter = 0.5;
// Long enough for a loss to be noticed (kLostAfter plus a beat) on a busy machine.
constexpr double kReportWithin = 2.0;

LivenessOptions fast_options(const TempDir& dir, int rank, int size) {
  return {dir.path().string(), rank, size, kInterval, kLostAfter};
}

// Collects the handler's calls so a test waits for them instead of guessing a sleep. Must
// outlive the monitors that call it.
class LostRankRecorder {
 public:
  LostRankHandler handler() {
    return [this](const LostRank& lost) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        calls_.push_back(lost);
      }
      called_.notify_all();
    };
  }

  // Whether the handler has been called at least `count` times within `timeout_s`.
  bool wait_for_calls(std::size_t count, double timeout_s) {
    std::unique_lock<std::mutex> lock(mutex_);
    return called_.wait_for(lock, std::chrono::duration<double>(timeout_s),
                            [&] { return calls_.size() >= count; });
  }

  std::vector<LostRank> calls() {
    std::lock_guard<std::mutex> lock(mutex_);
    return calls_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable called_;
  std::vector<LostRank> calls_;
};

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(LivenessTest, AbandonedRankIsReportedOnceWithItsPid) {
  TempDir dir;
  LostRankRecorder seen_by_0, seen_by_1;
  RankLiveness rank0(fast_options(dir, 0, 2), seen_by_0.handler());
  RankLiveness rank1(fast_options(dir, 1, 2), seen_by_1.handler());

  rank1.abandon();
  ASSERT_TRUE(seen_by_0.wait_for_calls(1, kReportWithin));
  const LostRank lost = seen_by_0.calls().at(0);
  EXPECT_EQ(lost.rank, 1);
  EXPECT_GE(lost.silent_s, kLostAfter);
  EXPECT_TRUE(contains(lost.last_seen, "pid " + std::to_string(getpid()) + " on host "))
      << lost.last_seen;

  EXPECT_FALSE(seen_by_0.wait_for_calls(2, 10 * kInterval)) << "reported more than once";
  EXPECT_TRUE(seen_by_1.calls().empty());
}

TEST(LivenessTest, RankThatFinishedCleanlyIsNotReported) {
  TempDir dir;
  LostRankRecorder seen_by_0, seen_by_1;
  RankLiveness rank0(fast_options(dir, 0, 2), seen_by_0.handler());
  auto rank1 = std::make_unique<RankLiveness>(fast_options(dir, 1, 2), seen_by_1.handler());

  rank1.reset();
  EXPECT_FALSE(seen_by_0.wait_for_calls(1, 1.5));
  EXPECT_TRUE(seen_by_1.calls().empty());
}

TEST(LivenessTest, RankThatNeverStartedIsReportedAsNeverStarted) {
  TempDir dir;
  LostRankRecorder seen_by_0;
  RankLiveness rank0(fast_options(dir, 0, 2), seen_by_0.handler());

  ASSERT_TRUE(seen_by_0.wait_for_calls(1, kReportWithin));
  const LostRank lost = seen_by_0.calls().at(0);
  EXPECT_EQ(lost.rank, 1);
  EXPECT_GE(lost.silent_s, kLostAfter);
  EXPECT_EQ(lost.last_seen, "never started");
}

TEST(LivenessTest, LivePeersAreNeverReported) {
  TempDir dir;
  LostRankRecorder seen_by_0, seen_by_1;
  RankLiveness rank0(fast_options(dir, 0, 2), seen_by_0.handler());
  RankLiveness rank1(fast_options(dir, 1, 2), seen_by_1.handler());

  EXPECT_FALSE(seen_by_0.wait_for_calls(1, 4 * kLostAfter));
  EXPECT_TRUE(seen_by_1.calls().empty());
}

TEST(LivenessTest, InAWorldOfThreeTheAbandonedRankIsNamed) {
  TempDir dir;
  LostRankRecorder seen_by_0, seen_by_1, seen_by_2;
  RankLiveness rank0(fast_options(dir, 0, 3), seen_by_0.handler());
  RankLiveness rank1(fast_options(dir, 1, 3), seen_by_1.handler());
  RankLiveness rank2(fast_options(dir, 2, 3), seen_by_2.handler());

  rank2.abandon();
  ASSERT_TRUE(seen_by_0.wait_for_calls(1, kReportWithin));
  ASSERT_TRUE(seen_by_1.wait_for_calls(1, kReportWithin));
  EXPECT_EQ(seen_by_0.calls().at(0).rank, 2);
  EXPECT_EQ(seen_by_1.calls().at(0).rank, 2);
  EXPECT_TRUE(seen_by_2.calls().empty());
}

TEST(LivenessTest, DoneLeftByAnEarlierRunDoesNotHideARankThatNeverStarted) {
  TempDir dir;
  dir.write("rank-1", "7 4242 oldnode done\n");
  LostRankRecorder seen_by_0;
  RankLiveness rank0(fast_options(dir, 0, 2), seen_by_0.handler());

  ASSERT_TRUE(seen_by_0.wait_for_calls(1, kReportWithin));
  EXPECT_EQ(seen_by_0.calls().at(0).rank, 1);
  EXPECT_EQ(seen_by_0.calls().at(0).last_seen, "pid 4242 on host oldnode");
}

TEST(LivenessTest, RankUnwindingFromAnExceptionIsReported) {
  TempDir dir;
  LostRankRecorder seen_by_0, seen_by_1;
  RankLiveness rank0(fast_options(dir, 0, 2), seen_by_0.handler());
  try {
    RankLiveness rank1(fast_options(dir, 1, 2), seen_by_1.handler());
    throw std::runtime_error("rank 1 failed");
  } catch (const std::runtime_error&) {
  }

  ASSERT_TRUE(seen_by_0.wait_for_calls(1, kReportWithin));
  EXPECT_EQ(seen_by_0.calls().at(0).rank, 1);
}

TEST(LivenessTest, RejectsARankOutsideTheWorld) {
  TempDir dir;
  LostRankRecorder recorder;
  EXPECT_THROW(RankLiveness(fast_options(dir, 2, 2), recorder.handler()), std::invalid_argument);
  EXPECT_THROW(RankLiveness(fast_options(dir, -1, 2), recorder.handler()), std::invalid_argument);
}

TEST(BlockedInCollectiveTest, MeasuresTheOutermostGuardOnly) {
  EXPECT_LT(BlockedInCollective::seconds(), 0);
  {
    const BlockedInCollective outer;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    {
      const BlockedInCollective inner;
      EXPECT_GE(BlockedInCollective::seconds(), 0.1);
    }
    EXPECT_GE(BlockedInCollective::seconds(), 0.1) << "the inner guard ended the outer one";
  }
  EXPECT_LT(BlockedInCollective::seconds(), 0);
}

// Both monitors of this process share its one BlockedInCollective state: two ranks that
// both wait in a collective while their heartbeats go on, as over a cut link.
TEST(LivenessTest, RanksAllBlockedInACollectiveAreReportedByEach) {
  TempDir dir;
  LostRankRecorder seen_by_0, seen_by_1;
  RankLiveness rank0(fast_options(dir, 0, 2), seen_by_0.handler());
  RankLiveness rank1(fast_options(dir, 1, 2), seen_by_1.handler());
  const BlockedInCollective blocked;

  ASSERT_TRUE(seen_by_0.wait_for_calls(1, kReportWithin));
  ASSERT_TRUE(seen_by_1.wait_for_calls(1, kReportWithin));
  const LostRank lost = seen_by_0.calls().at(0);
  EXPECT_EQ(lost.rank, LostRank::kAllBlocked);
  EXPECT_GE(lost.silent_s, kLostAfter);
  EXPECT_EQ(std::count(lost.last_seen.begin(), lost.last_seen.end(), ','), 1) << lost.last_seen;
  EXPECT_EQ(seen_by_1.calls().at(0).rank, LostRank::kAllBlocked);
}

// Rank 1 beats as a rank that computes (not blocked) would: waiting for it is no stall.
TEST(LivenessTest, ABlockedRankWaitsForAPeerThatComputes) {
  TempDir dir;
  std::atomic<bool> stop{false};
  std::thread computing_peer([&] {
    for (long beat = 1; !stop; ++beat) {
      std::ofstream(dir.path() / "rank-1") << beat << " 99 peerhost alive -1\n";
      std::this_thread::sleep_for(std::chrono::duration<double>(kInterval));
    }
  });
  LostRankRecorder seen_by_0;
  {
    RankLiveness rank0(fast_options(dir, 0, 2), seen_by_0.handler());
    const BlockedInCollective blocked;
    EXPECT_FALSE(seen_by_0.wait_for_calls(1, 4 * kLostAfter));
  }
  stop = true;
  computing_peer.join();
}

TEST(LivenessDeathTest, DefaultHandlerNamesTheLostRankAndExits) {
  const LostRank lost{1, 31, "pid 1234 on host node7"};
  EXPECT_EXIT(exit_on_lost_rank(0, 2)(lost), ::testing::ExitedWithCode(kExitRankLost),
              "rank 1 of 2 \\(pid 1234 on host node7\\) has sent no heartbeat for 31 s: "
              "it died or hangs\\. Stopping rank 0 .*--resume");
}

TEST(LivenessDeathTest, DefaultHandlerReportsRanksAllBlockedAndExits) {
  const LostRank lost{LostRank::kAllBlocked, 31, "node1, node2"};
  EXPECT_EXIT(exit_on_lost_rank(1, 2)(lost), ::testing::ExitedWithCode(kExitRankLost),
              "every rank of 2 has been blocked in a collective for 31 s .*hosts node1, node2\\)"
              ": the network between the ranks is down.* Stopping rank 1;");
}

}  // namespace
}  // namespace hrere::comm
