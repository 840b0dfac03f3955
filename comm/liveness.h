#pragma once
// Notices when another rank of the job has died, so the survivors stop with a message naming
// it instead of waiting forever in a collective (MPI and NCCL never time out on their own).
//
// Every rank runs a RankLiveness that rewrites its heartbeat file `dir/rank-<R>` every
// interval and reads its peers' files. Files in the run folder, not messages, because:
// - the run folder must be on a file system all nodes share anyway (checkpoints live there);
// - it needs nothing from the launcher, so it works under mpirun and srun alike (Slurm by
//   default does not kill the other tasks of a step when one of them dies);
// - a thread that sends MPI messages beside the trainer's collectives needs MPI_THREAD_MULTIPLE.
//
// A peer is judged by whether its file changes, measured on this node's steady clock, never
// by timestamps written on another node: the nodes' clocks differ. The file is reopened for
// every look, which under NFS close-to-open consistency shows the content last closed.
//
// Files travel over the file system's network, collectives over the job's: when only the
// latter fails (a cut link between nodes), every heartbeat keeps changing while every rank
// waits forever. So each heartbeat also says how long its rank has been blocked in one
// collective (BlockedInCollective), and a rank that has been blocked for lost_after_s while
// every peer reports being blocked too stops: no rank is computing, so none will ever
// complete the collective. A duration, not a timestamp, so clocks still need not agree.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace hrere::comm {

// Exit status of a rank stopped because a peer was lost.
constexpr int kExitRankLost = 3;

struct LivenessOptions {
  std::string dir;  // shared by all ranks of the job; created if missing
  int rank = 0;
  int size = 1;
  double interval_s = 2;     // between heartbeats (and looks at the peers)
  double lost_after_s = 30;  // a peer whose file stays unchanged this long is lost
};

// Why this rank stops: a peer went silent, or all ranks are stuck in communication.
struct LostRank {
  int rank = 0;           // the silent peer; kAllBlocked when every rank is blocked instead
  double silent_s = 0;    // how long its file has not changed (or this rank has been blocked)
  std::string last_seen;  // "pid 123 on host x", or "never started" without a file; for
                          // kAllBlocked, the hosts of the ranks, in rank order
  static constexpr int kAllBlocked = -1;
};

// Marks the calling thread as blocked in a collective for the guard's lifetime. The
// communicators put one around each call that waits for other ranks; nested guards count
// as the outermost one.
class BlockedInCollective {
 public:
  BlockedInCollective();
  ~BlockedInCollective();
  BlockedInCollective(const BlockedInCollective&) = delete;
  BlockedInCollective& operator=(const BlockedInCollective&) = delete;

  // How long this process has been blocked in the current collective; negative when it is
  // not in one.
  static double seconds();
};

using LostRankHandler = std::function<void(const LostRank&)>;

// The handler for real runs: writes to stderr which rank was lost and how to go on, then
// std::_Exit(kExitRankLost). _Exit because the main thread may be blocked inside MPI, where
// no orderly shutdown can reach it; checkpoints are written atomically, so no complete one
// is lost. `rank` and `size` are this process's, for the message.
LostRankHandler exit_on_lost_rank(int rank, int size);

class RankLiveness {
 public:
  // Writes the first heartbeat (throws if `dir` cannot be created or written) and starts
  // the background thread. `on_lost` is called on that thread, at most once: after it the
  // thread stops looking at peers but keeps beating, so no one takes this rank for dead.
  // It must not destroy this RankLiveness.
  RankLiveness(LivenessOptions options, LostRankHandler on_lost);
  // Stops the thread and marks this rank `done`, a clean finish its peers will not report;
  // not when unwinding from an exception, which leaves the peers to report this rank.
  ~RankLiveness();
  RankLiveness(const RankLiveness&) = delete;
  RankLiveness& operator=(const RankLiveness&) = delete;

  // Stops the thread without marking `done`, as if the process had died (for tests).
  void abandon();

 private:
  struct Peer {
    int rank = 0;
    std::string content;  // last content read; empty before the file was first seen
    std::chrono::steady_clock::time_point changed_at;
    // Only a `done` written while this monitor watched counts: one left in the folder by an
    // earlier run must not hide a rank that never started.
    bool changed_since_start = false;
  };

  void run();
  void stop();
  // Rewrites this rank's file atomically; false if that failed.
  bool beat(const char* state);
  // Reads the peers' files in rank order; the first peer silent for lost_after_s, if any.
  std::optional<LostRank> find_lost_peer();
  // After find_lost_peer: every rank blocked in a collective for about lost_after_s, if so.
  std::optional<LostRank> find_all_blocked() const;

  const LivenessOptions options_;
  const LostRankHandler on_lost_;
  const std::string host_;
  long long beats_ = 0;
  std::vector<Peer> peers_;
  bool abandoned_ = false;

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace hrere::comm
