#include "core/schedule.h"

#include <sstream>
#include <utility>

namespace hrere::core {
namespace {

enum Bits : std::int64_t { kCheckpointTime = 1, kOutOfTime = 2 };

}  // namespace

std::string option_name(StopReason reason) {
  switch (reason) {
    case StopReason::kMaxSteps: return "--max-steps";
    case StopReason::kMaxMinutes: return "--max-minutes";
    case StopReason::kNone: break;
  }
  return "";
}

std::string describe_stop(StopReason reason, const CallLimits& limits) {
  std::ostringstream out;
  if (reason == StopReason::kMaxMinutes) {
    out << limits.max_minutes << " minutes";
  } else {
    out << limits.max_steps << " steps";
  }
  out << " (" << option_name(reason) << ")";
  return out.str();
}

Schedule::Schedule(ScheduleOptions options, Share share_rank0)
    : options_(options), share_rank0_(std::move(share_rank0)) {}

void Schedule::step_done() {
  ++steps_;
  if (options_.checkpoint_every_minutes <= 0 && options_.limits.max_minutes <= 0) return;
  std::int64_t bits = 0;
  if (options_.checkpoint_every_minutes > 0 &&
      since_checkpoint_.seconds() >= 60 * options_.checkpoint_every_minutes) {
    bits |= kCheckpointTime;
  }
  if (options_.limits.max_minutes > 0 &&
      since_start_.seconds() >= 60 * options_.limits.max_minutes) {
    bits |= kOutOfTime;
  }
  bits = share_rank0_(bits);  // every rank takes rank 0's reading
  checkpoint_time_ = (bits & kCheckpointTime) != 0;
  out_of_time_ = (bits & kOutOfTime) != 0;
}

bool Schedule::log_due(std::int64_t step) const {
  return options_.log_every_steps > 0 && step % options_.log_every_steps == 0;
}

bool Schedule::checkpoint_due(std::int64_t step) const {
  return (options_.checkpoint_every_steps > 0 && step % options_.checkpoint_every_steps == 0) ||
         checkpoint_time_;
}

StopReason Schedule::stop() const {
  if (options_.limits.max_steps > 0 && steps_ >= options_.limits.max_steps)
    return StopReason::kMaxSteps;
  if (out_of_time_) return StopReason::kMaxMinutes;
  return StopReason::kNone;
}

void Schedule::checkpointed() {
  since_checkpoint_.restart();
  checkpoint_time_ = false;
}

}  // namespace hrere::core
