#include "comm/liveness.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "core/log.h"

namespace hrere::comm {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "unknown";
  return name;
}

fs::path heartbeat_path(const std::string& dir, int rank) {
  return fs::path(dir) / ("rank-" + std::to_string(rank));
}

// The whole file, or "" when there is none (not yet written, or removed).
std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A heartbeat file holds one line: "<beat counter> <pid> <host> <alive|done> <blocked s>",
// the last negative when the rank is not blocked in a collective.
struct Heartbeat {
  std::string pid, host, state;
  double blocked_s = -1;
};

Heartbeat parse(const std::string& content) {
  std::istringstream line(content);
  long long beat = 0;
  Heartbeat heartbeat;
  line >> beat >> heartbeat.pid >> heartbeat.host >> heartbeat.state >> heartbeat.blocked_s;
  if (!line) heartbeat.blocked_s = -1;
  return heartbeat;
}

// Steady-clock time (ns since its epoch) the outermost BlockedInCollective began; 0: none.
std::atomic<long long> blocked_since_ns{0};
std::atomic<int> blocked_depth{0};

long long steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

std::string describe(const std::string& content) {
  if (content.empty()) return "never started";
  const Heartbeat heartbeat = parse(content);
  return "pid " + heartbeat.pid + " on host " + heartbeat.host;
}

}  // namespace

BlockedInCollective::BlockedInCollective() {
  if (blocked_depth.fetch_add(1) == 0) blocked_since_ns.store(steady_ns());
}

BlockedInCollective::~BlockedInCollective() {
  if (blocked_depth.fetch_sub(1) == 1) blocked_since_ns.store(0);
}

double BlockedInCollective::seconds() {
  const long long since = blocked_since_ns.load();
  if (since == 0) return -1;
  return static_cast<double>(steady_ns() - since) * 1e-9;
}

LostRankHandler exit_on_lost_rank(int rank, int size) {
  return [rank, size](const LostRank& lost) {
    if (lost.rank == LostRank::kAllBlocked) {
      log::error(
          "every rank of {} has been blocked in a collective for {:.0f} s while their heartbeats "
          "go on (ranks on hosts {}): the network between the ranks is down, or a collective was "
          "called on some ranks only. Stopping rank {}; continue from the last checkpoint with "
          "--resume.",
          size, lost.silent_s, lost.last_seen, rank);
      std::_Exit(kExitRankLost);
    }
    log::error(
        "rank {} of {} ({}) has sent no heartbeat for {:.0f} s: it died or hangs. Stopping rank "
        "{} instead of waiting in a collective forever; continue from the last checkpoint with "
        "--resume.",
        lost.rank, size, lost.last_seen, lost.silent_s, rank);
    std::_Exit(kExitRankLost);
  };
}

RankLiveness::RankLiveness(LivenessOptions options, LostRankHandler on_lost)
    : options_(std::move(options)), on_lost_(std::move(on_lost)), host_(host_name()) {
  if (options_.size < 1 || options_.rank < 0 || options_.rank >= options_.size) {
    throw std::invalid_argument("liveness: rank " + std::to_string(options_.rank) +
                                " is not in a world of size " + std::to_string(options_.size));
  }
  if (!(options_.interval_s > 0) || !(options_.lost_after_s > 0)) {
    throw std::invalid_argument("liveness: interval_s and lost_after_s must be positive");
  }
  if (!on_lost_) throw std::invalid_argument("liveness: no handler for a lost rank");

  fs::create_directories(options_.dir);
  if (!beat("alive")) {
    throw std::runtime_error("liveness: cannot write the heartbeat file " +
                             heartbeat_path(options_.dir, options_.rank).string());
  }
  const auto now = Clock::now();
  for (int rank = 0; rank < options_.size; ++rank) {
    if (rank == options_.rank) continue;
    peers_.push_back({rank, read_file(heartbeat_path(options_.dir, rank)), now, false});
  }
  thread_ = std::thread(&RankLiveness::run, this);
}

RankLiveness::~RankLiveness() {
  stop();
  // Unwinding from an exception is no clean finish: peers still waiting for this rank in a
  // collective must learn it is gone. A failed write only costs a report from a peer.
  if (!abandoned_ && std::uncaught_exceptions() == 0) beat("done");
}

void RankLiveness::abandon() {
  abandoned_ = true;
  stop();
}

void RankLiveness::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void RankLiveness::run() {
  const std::chrono::duration<double> interval(options_.interval_s);
  bool reported = false;
  std::unique_lock<std::mutex> lock(mutex_);
  while (!wake_.wait_for(lock, interval, [this] { return stopping_; })) {
    lock.unlock();
    // A failed beat is left alone: if the file system stays away, the peers report this rank.
    beat("alive");
    if (!reported) {
      auto lost = find_lost_peer();
      if (!lost) lost = find_all_blocked();
      if (lost) {
        reported = true;
        on_lost_(*lost);
      }
    }
    lock.lock();
  }
}

bool RankLiveness::beat(const char* state) {
  // Written beside the heartbeat file and renamed over it, so a reader never sees half a line.
  const fs::path temp =
      fs::path(options_.dir) / (".rank-" + std::to_string(options_.rank) + ".tmp");
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    out << ++beats_ << ' ' << getpid() << ' ' << host_ << ' ' << state << ' '
        << BlockedInCollective::seconds() << '\n';
    out.close();
    if (!out) return false;
  }
  std::error_code error;
  fs::rename(temp, heartbeat_path(options_.dir, options_.rank), error);
  return !error;
}

std::optional<LostRank> RankLiveness::find_lost_peer() {
  // Each file is read just before its peer is judged, so a pause of this thread alone (a
  // stopped process, a slow file system) is not taken for silence of the peers.
  const auto now = Clock::now();
  for (Peer& peer : peers_) {
    const std::string content = read_file(heartbeat_path(options_.dir, peer.rank));
    if (!content.empty() && content != peer.content) {
      peer.content = content;
      peer.changed_at = now;
      peer.changed_since_start = true;
    }
    if (peer.changed_since_start && parse(peer.content).state == "done") continue;
    const double silent_s = std::chrono::duration<double>(now - peer.changed_at).count();
    if (silent_s >= options_.lost_after_s) {
      return LostRank{peer.rank, silent_s, describe(peer.content)};
    }
  }
  return std::nullopt;
}

std::optional<LostRank> RankLiveness::find_all_blocked() const {
  const double own_s = BlockedInCollective::seconds();
  if (own_s < options_.lost_after_s) return std::nullopt;
  // A peer's file is up to two intervals old (its beat, then this look), so its blocked time
  // may trail this rank's by that much even when both began waiting together.
  const double peer_min_s = options_.lost_after_s - 2 * options_.interval_s;
  std::string hosts;
  for (int rank = 0; rank < options_.size; ++rank) {
    if (!hosts.empty()) hosts += ", ";
    if (rank == options_.rank) {
      hosts += host_;
      continue;
    }
    const Peer& peer = peers_[rank < options_.rank ? rank : rank - 1];
    const Heartbeat heartbeat = parse(peer.content);
    if (heartbeat.state != "alive" || heartbeat.blocked_s < peer_min_s) return std::nullopt;
    hosts += heartbeat.host;
  }
  return LostRank{LostRank::kAllBlocked, own_s, hosts};
}

}  // namespace hrere::comm
