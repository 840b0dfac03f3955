#include "synth/line_file.h"

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace hrere::synth {

LineFile::LineFile(const std::filesystem::path& path, LineStyle style)
    : output_(path.string()), style_(style) {
  out_.open(output_.temp_path(), std::ios::binary | std::ios::trunc);
  if (!out_) {
    throw std::runtime_error("synth: cannot create " + output_.temp_path() + ": " +
                             std::strerror(errno));
  }
  buffer_.reserve(kChunk + 4096);
}

void LineFile::commit() {
  flush();
  out_.close();
  if (!out_) throw std::runtime_error("synth: cannot finish writing " + output_.temp_path());
  output_.commit();
}

void LineFile::flush() {
  out_.write(buffer_.data(), static_cast<std::streamsize>(buffer_.size()));
  if (!out_) throw std::runtime_error("synth: write failed on " + output_.temp_path());
  bytes_ += buffer_.size();
  buffer_.clear();
}

}  // namespace hrere::synth
