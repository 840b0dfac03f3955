#pragma once
// Levelled log lines on stderr, tagged with the time and the rank (spdlog):
//   [2026-12-01 12:00:00] [rank 1] [warning] message
// Rank 0 prints from the chosen level (--log-level, default info); the other ranks print
// warnings and errors only, unless the level is debug, where every rank prints everything.
// Command results (summaries, reports) are not log lines: they go to stdout.
//
// spdlog stays inside log.cc: LibTorch's headers bring their own, newer fmt, which Debian's
// spdlog cannot compile against. A call formats its message here with whichever fmt the
// translation unit sees (header-only: FMT_HEADER_ONLY for every target, as LibTorch exports
// no fmt symbols; the versions live in separate inline namespaces), and only the finished
// string reaches spdlog.
#include <fmt/format.h>

#include <string>
#include <utility>

namespace hrere::log {

enum class Level { debug, info, warn, err };

// Sets the rank tag and the level: debug, info, warn (or warning) or error; another name is
// an InputError. Before it is called, lines go to stderr without a rank, from level info.
void configure(int rank, const std::string& level);

// This process's rank as the launcher tells it (Open MPI, PMIx, Slurm, MPICH), 0 without
// one: known before MPI starts, so even commands that never start MPI tag their lines.
int launcher_rank();

// Whether a line of this level is printed (so a skipped line is never formatted).
bool enabled(Level level);

// Prints one finished line; errors are flushed at once.
void write(Level level, const std::string& message);

template <Level L>
struct At {
  template <typename... Args>
  void operator()(fmt::format_string<Args...> format, Args&&... args) const {
    if (enabled(L)) write(L, fmt::format(format, std::forward<Args>(args)...));
  }
};
inline constexpr At<Level::debug> debug;
inline constexpr At<Level::info> info;
inline constexpr At<Level::warn> warn;
inline constexpr At<Level::err> error;

}  // namespace hrere::log
