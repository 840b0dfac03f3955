#include "data_pipeline/bad_lines.h"

#include "core/errors.h"

namespace hrere::data {

void BadLines::report(const std::string& file, std::size_t line, const std::string& reason) {
  if (!skip_) throw InputError(file, line, reason + " (use --skip-bad-lines to skip such lines)");
  ++count_;
  if (examples_.size() < kMaxExamples) examples_.push_back({file, line, reason});
}

}  // namespace hrere::data
