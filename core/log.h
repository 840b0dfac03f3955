#pragma once
// Levelled log lines on stderr, tagged with the time and the rank (spdlog):
//   [2026-12-01 12:00:00] [rank 1] [warning] message
// Rank 0 prints from the chosen level (--log-level, default info); the other ranks print
// warnings and errors only, unless the level is debug, where every rank prints everything.
// Command results (summaries, reports) are not log lines: they go to stdout.
#include <spdlog/spdlog.h>

#include <string>
#include <utility>

namespace hrere::log {

// Sets the rank tag and the level: debug, info, warn (or warning) or error; another name is
// an InputError. Before it is called, lines go to stderr without a rank, from level info.
void configure(int rank, const std::string& level);

// This process's rank as the launcher tells it (Open MPI, PMIx, Slurm, MPICH), 0 without
// one: known before MPI starts, so even commands that never start MPI tag their lines.
int launcher_rank();

// The one logger every line goes through (thread-safe: the liveness monitor logs too).
spdlog::logger& logger();

// log::info("resuming {} at step {}", path, step): a format string checked at compile time
// and its arguments, at the level the name says. An error is flushed at once: an exit may
// follow.
template <spdlog::level::level_enum Level>
struct At {
  template <typename... Args>
  void operator()(spdlog::format_string_t<Args...> format, Args&&... args) const {
    logger().log(Level, format, std::forward<Args>(args)...);
    if (Level >= spdlog::level::err) logger().flush();
  }
};
inline constexpr At<spdlog::level::debug> debug;
inline constexpr At<spdlog::level::info> info;
inline constexpr At<spdlog::level::warn> warn;
inline constexpr At<spdlog::level::err> error;

}  // namespace hrere::log
