#pragma once
// When a training loop logs, checkpoints and stops: one policy for `hrere train` and
// `hrere pretrain`. Step rules depend on the global step alone; time rules on rank 0's
// clock, which `share_rank0` hands to every rank (a broadcast), so all ranks decide alike
// and their collectives stay in step. Epoch-level rules (evaluation, best epoch, epoch-end
// checkpoints) stay with each loop.
#include <cstdint>
#include <functional>
#include <string>

#include "core/stopwatch.h"

namespace hrere::core {

// How long one call of a command may train (--max-steps, --max-minutes): it then stops,
// checkpointed, and a later call continues with --resume, e.g. within a Slurm time limit.
struct CallLimits {
  std::int64_t max_steps = 0;  // steps in this call; 0: no limit
  double max_minutes = 0;      // wall-clock minutes of this call; 0: no limit
};

struct ScheduleOptions {
  std::int64_t log_every_steps = 0;         // 0: no log line inside an epoch
  std::int64_t checkpoint_every_steps = 0;  // 0: not by steps
  double checkpoint_every_minutes = 0;      // 0: not by time
  CallLimits limits;
};

enum class StopReason { kNone, kMaxSteps, kMaxMinutes };
// The command-line option behind a stop: "--max-steps", "--max-minutes" ("" for kNone).
std::string option_name(StopReason reason);
// The limit reached, for messages: "3 steps (--max-steps)", "5 minutes (--max-minutes)".
std::string describe_stop(StopReason reason, const CallLimits& limits);

class Schedule {
 public:
  // share_rank0(bits): rank 0's bits on every rank (collective; the identity on one rank).
  using Share = std::function<std::int64_t(std::int64_t)>;
  Schedule(ScheduleOptions options, Share share_rank0);

  // Collective when a time rule is set. Counts a step of this call and reads rank 0's clock
  // for the time rules.
  void step_done();
  bool log_due(std::int64_t step) const;
  bool checkpoint_due(std::int64_t step) const;
  StopReason stop() const;
  // Restarts the clock of checkpoint_every_minutes.
  void checkpointed();

  std::int64_t steps() const { return steps_; }

 private:
  ScheduleOptions options_;
  Share share_rank0_;
  Stopwatch since_start_, since_checkpoint_;
  std::int64_t steps_ = 0;
  bool checkpoint_time_ = false, out_of_time_ = false;
};

}  // namespace hrere::core
