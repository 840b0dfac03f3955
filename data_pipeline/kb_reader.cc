#include "data_pipeline/kb_reader.h"

#include "data_pipeline/text_file.h"
#include "data_pipeline/tokenize.h"

namespace hrere::data {

std::vector<NamedTriple> read_triples(const std::string& path, BadLines& bad_lines) {
  LineReader reader(path);
  std::vector<NamedTriple> out;
  std::string line;
  while (reader.next(line)) {
    if (trim(line).empty()) continue;
    if (!is_valid_utf8(line)) {
      bad_lines.report(path, reader.line_number(), "invalid UTF-8");
      continue;
    }
    const std::vector<std::string_view> fields = split_whitespace(line);
    if (fields.size() != 3) {
      bad_lines.report(path, reader.line_number(),
                       "expected `head relation tail`, found " + std::to_string(fields.size()) +
                           " fields");
      continue;
    }
    out.push_back({normalize_entity_id(fields[0]), std::string(fields[1]),
                   normalize_entity_id(fields[2])});
  }
  return out;
}

}  // namespace hrere::data
