#include "core/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

#include "core/errors.h"

namespace hrere::log {
namespace {

spdlog::level::level_enum parse_level(const std::string& name) {
  if (name == "debug") return spdlog::level::debug;
  if (name == "info") return spdlog::level::info;
  if (name == "warn" || name == "warning") return spdlog::level::warn;
  if (name == "error") return spdlog::level::err;
  throw InputError("--log-level " + name + ": expected debug, info, warn or error");
}

spdlog::level::level_enum to_spdlog(Level level) {
  switch (level) {
    case Level::debug: return spdlog::level::debug;
    case Level::info: return spdlog::level::info;
    case Level::warn: return spdlog::level::warn;
    case Level::err: break;
  }
  return spdlog::level::err;
}

spdlog::logger& logger() {
  static spdlog::logger instance = [] {
    spdlog::logger made("hrere", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    made.set_pattern("[%Y-%m-%d %H:%M:%S] [%l] %v");
    made.set_level(spdlog::level::info);
    return made;
  }();
  return instance;
}

}  // namespace

bool enabled(Level level) { return logger().should_log(to_spdlog(level)); }

void write(Level level, const std::string& message) {
  logger().log(to_spdlog(level), message);
  if (level == Level::err) logger().flush();
}

void configure(int rank, const std::string& level) {
  const spdlog::level::level_enum chosen = parse_level(level);
  logger().set_pattern("[%Y-%m-%d %H:%M:%S] [rank " + std::to_string(rank) + "] [%l] %v");
  const bool quiet_rank = rank != 0 && chosen != spdlog::level::debug;
  logger().set_level(quiet_rank ? std::max(chosen, spdlog::level::warn) : chosen);
}

int launcher_rank() {
  for (const char* name : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "SLURM_PROCID", "PMI_RANK"}) {
    if (const char* value = std::getenv(name)) return std::atoi(value);
  }
  return 0;
}

}  // namespace hrere::log
