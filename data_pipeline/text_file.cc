#include "data_pipeline/text_file.h"

#include <cctype>
#include <cstdio>

#include "core/errors.h"
#include "core/hash.h"

namespace hrere::data {

LineReader::LineReader(const std::string& path) : path_(path), in_(path, std::ios::binary) {
  if (!in_) throw InputError(path + ": cannot open file for reading");
}

bool LineReader::next(std::string& line) {
  if (!std::getline(in_, line)) return false;
  ++line_number_;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return true;
}

std::vector<std::string_view> split_fields(std::string_view line, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t stop = line.find(sep, start);
    if (stop == std::string_view::npos) {
      out.push_back(line.substr(start));
      return out;
    }
    out.push_back(line.substr(start, stop - start));
    start = stop + 1;
  }
}

std::vector<std::string_view> split_whitespace(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    const std::size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

std::string normalize_entity_id(std::string_view id) {
  // "/m/027rn" -> "m.027rn"; the namespace is one letter in Freebase ("m", "g").
  if (id.size() > 3 && id[0] == '/' && id[2] == '/') {
    std::string out(id.substr(1));
    out[1] = '.';
    return out;
  }
  return std::string(id);
}

std::string file_checksum(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot open file for reading");
  core::Fnv1a hash;
  char buffer[1 << 16];
  while (in) {
    in.read(buffer, sizeof buffer);
    hash.add_bytes(buffer, static_cast<std::size_t>(in.gcount()));
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash.value()));
  return hex;
}

}  // namespace hrere::data
