#pragma once
// What happens to a malformed input line: by default an InputError naming the file and line;
// with skipping on, the line is counted and a few examples are kept for the report.
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace hrere::data {

class LineReader;

struct SkippedLine {
  std::string file;
  std::size_t line = 0;
  std::string reason;
};

class BadLines {
 public:
  explicit BadLines(bool skip) : skip_(skip) {}

  // Throws InputError("file:line: reason") unless skipping; then records the line.
  void report(const std::string& file, std::size_t line, const std::string& reason);

  std::size_t count() const { return count_; }
  const std::vector<SkippedLine>& examples() const { return examples_; }

 private:
  static constexpr std::size_t kMaxExamples = 20;
  bool skip_;
  std::size_t count_ = 0;
  std::vector<SkippedLine> examples_;
};

// Calls `visit(line, reader)` for every line of `path` that is not blank and is valid UTF-8;
// an invalid one is reported to `bad_lines`. What every text reader does first.
void for_each_input_line(const std::string& path, BadLines& bad_lines,
                         const std::function<void(const std::string&, const LineReader&)>& visit);

}  // namespace hrere::data
