#pragma once
// LineFile, the buffered writer of every output file, in the line-break style of the real
// file that the output imitates.
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "core/atomic_output.h"

namespace hrere::synth {

enum class LineStyle {
  kLfBetween,  // NYT10 text files: "\n" between lines, none after the last
  kCrlfAfter,  // FB15k-237 KB files: "\r\n" after every line
  kLfAfter,    // our own files
};

// A buffered line writer into an AtomicOutput: the file appears under its final name only on
// commit(), so a failed run never leaves a half-written file there.
class LineFile {
 public:
  LineFile(const std::filesystem::path& path, LineStyle style);

  // Returns the buffer to append one line's text to; end_line() finishes it.
  std::string& begin_line() {
    if (style_ == LineStyle::kLfBetween && lines_ > 0) buffer_ += '\n';
    ++lines_;
    return buffer_;
  }
  void end_line() {
    if (style_ == LineStyle::kCrlfAfter) buffer_ += "\r\n";
    if (style_ == LineStyle::kLfAfter) buffer_ += '\n';
    if (buffer_.size() >= kChunk) flush();
  }
  void write_line(std::string_view text) {
    begin_line() += text;
    end_line();
  }

  std::size_t lines() const { return lines_; }
  std::size_t bytes() const { return bytes_; }

  void commit();

 private:
  static constexpr std::size_t kChunk = 1 << 20;

  void flush();

  core::AtomicOutput output_;  // declared before out_, so the stream closes before cleanup
  std::ofstream out_;
  LineStyle style_;
  std::string buffer_;
  std::size_t lines_ = 0;
  std::size_t bytes_ = 0;
};

}  // namespace hrere::synth
