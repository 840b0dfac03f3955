#include "trainer/progress.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <sstream>
#include <vector>

#include "core/atomic_output.h"
#include "core/errors.h"

namespace hrere::train {

std::string format_duration(double seconds) {
  const auto s = static_cast<std::int64_t>(seconds + 0.5);
  char text[32];
  if (s >= 3600) {
    std::snprintf(text, sizeof text, "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s % 3600 / 60));
  } else if (s >= 60) {
    std::snprintf(text, sizeof text, "%lldm%02llds", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  } else {
    std::snprintf(text, sizeof text, "%llds", static_cast<long long>(s));
  }
  return text;
}

ProgressBar::ProgressBar(std::int64_t total_steps, bool enabled, double log_seconds)
    : total_(std::max<std::int64_t>(total_steps, 1)),
      enabled_(enabled),
      terminal_(isatty(STDERR_FILENO) != 0),
      log_seconds_(log_seconds) {}

void ProgressBar::update(std::int64_t done, const std::string& detail) {
  if (!enabled_) return;
  const Clock::time_point now = Clock::now();
  if (first_done_ < 0) {
    first_done_ = done;
    start_ = now;
  }
  const bool last = done >= total_;
  if (!terminal_ && !last && drawn_ &&
      std::chrono::duration<double>(now - last_print_).count() < log_seconds_) {
    return;
  }
  last_print_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const std::int64_t progressed = done - first_done_;
  std::string eta = "--";
  if (progressed > 0) eta = format_duration(elapsed / progressed * (total_ - done));
  constexpr int kWidth = 24;
  const int filled = static_cast<int>(kWidth * std::min(done, total_) / total_);
  std::ostringstream line;
  line << '[' << std::string(filled, '#') << std::string(kWidth - filled, '.') << "] " << done
       << '/' << total_ << ' ' << detail << " ETA " << eta;
  if (terminal_) {
    std::cerr << "\r\033[K" << line.str() << std::flush;
  } else {
    std::cerr << line.str() << '\n' << std::flush;
  }
  drawn_ = true;
}

void ProgressBar::finish() {
  if (enabled_ && terminal_ && drawn_) std::cerr << '\n';
  drawn_ = false;
}

MetricsLog::MetricsLog(std::string path, std::int64_t keep_through_step) : path_(std::move(path)) {
  std::vector<std::string> kept;
  {
    std::ifstream in(path_);
    std::string line;
    while (std::getline(in, line)) {
      const auto entry = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (!entry.is_discarded() && entry.value("step", std::int64_t{0}) <= keep_through_step) {
        kept.push_back(line);
      }
    }
  }
  std::string text;
  for (const std::string& line : kept) text += line + '\n';
  core::write_text_atomically(path_, text);
  out_.open(path_, std::ios::app);
  if (!out_) throw InputError(path_ + ": cannot open for writing");
}

void MetricsLog::write(const nlohmann::json& line) {
  out_ << line.dump() << '\n' << std::flush;
  if (!out_) throw OutputError(path_ + ": cannot write: " + std::strerror(errno));
}

}  // namespace hrere::train
