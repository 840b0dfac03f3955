#pragma once
// What a long run tells its user while it works: a progress bar on the terminal (rank 0)
// and one JSON object per logging interval in RUN/metrics.jsonl.
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <string>

namespace hrere::train {

// "[#####.....] 1200/3000 epoch 3 loss 0.41 | 850 bags/s ETA 2m06s" on stderr, redrawn in
// place on a terminal; elsewhere (a Slurm log) one line at most every `log_seconds`.
class ProgressBar {
 public:
  ProgressBar(std::int64_t total_steps, bool enabled, double log_seconds = 30.0);
  // `done` steps of the total are complete; `detail` follows the counter.
  void update(std::int64_t done, const std::string& detail);
  // Ends the bar's line.
  void finish();

 private:
  using Clock = std::chrono::steady_clock;
  std::int64_t total_;
  bool enabled_;
  bool terminal_;
  double log_seconds_;
  Clock::time_point start_ = Clock::now();
  Clock::time_point last_print_{};
  std::int64_t first_done_ = -1;  // steps already done when this process started
  bool drawn_ = false;
};

// Formats seconds as "1h02m", "3m05s" or "12s".
std::string format_duration(double seconds);

// RUN/metrics.jsonl. A resumed run continues from a checkpoint at step s: lines of the
// interrupted run past s are dropped first, so the log reads as one uninterrupted run.
class MetricsLog {
 public:
  MetricsLog(std::string path, std::int64_t keep_through_step);
  void write(const nlohmann::json& line);  // one line, flushed at once
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::ofstream out_;
};

}  // namespace hrere::train
