#include "data_pipeline/bad_lines.h"

#include "core/errors.h"
#include "data_pipeline/text_file.h"
#include "data_pipeline/tokenize.h"

namespace hrere::data {

void BadLines::report(const std::string& file, std::size_t line, const std::string& reason) {
  if (!skip_) throw InputError(file, line, reason + " (use --skip-bad-lines to skip such lines)");
  ++count_;
  if (examples_.size() < kMaxExamples) examples_.push_back({file, line, reason});
}

void for_each_input_line(const std::string& path, BadLines& bad_lines,
                         const std::function<void(const std::string&, const LineReader&)>& visit) {
  LineReader reader(path);
  std::string line;
  while (reader.next(line)) {
    if (trim(line).empty()) continue;
    if (!is_valid_utf8(line)) {
      bad_lines.report(path, reader.line_number(), "invalid UTF-8");
      continue;
    }
    visit(line, reader);
  }
}

}  // namespace hrere::data
