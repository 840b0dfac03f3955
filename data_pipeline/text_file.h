#pragma once
// Line-by-line reading of the text inputs, tolerant of CRLF line endings.
#include <cstdint>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace hrere::data {

class LineReader {
 public:
  // Throws InputError when the file cannot be opened.
  explicit LineReader(const std::string& path);

  // Next line without its line ending; false at the end of the file.
  bool next(std::string& line);
  // 1-based number of the line last returned.
  std::size_t line_number() const { return line_number_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::ifstream in_;
  std::size_t line_number_ = 0;
};

// Splits on every `sep` (empty fields kept).
std::vector<std::string_view> split_fields(std::string_view line, char sep);
// Splits on runs of spaces and tabs (no empty fields).
std::vector<std::string_view> split_whitespace(std::string_view line);
std::string_view trim(std::string_view text);

// Freebase mids come as "/m/027rn" (KB dumps) and "m.027rn" (NYT10): one id space, spelled
// "m.027rn". Ids of other shapes pass through unchanged.
std::string normalize_entity_id(std::string_view id);

// FNV-1a 64-bit hash of a file's bytes, as 16 hex digits: recorded in the stores so a store
// can be traced to the exact inputs it was built from.
std::string file_checksum(const std::string& path);

}  // namespace hrere::data
