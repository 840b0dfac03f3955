#include "data_pipeline/kb_reader.h"

#include "data_pipeline/text_file.h"
#include "data_pipeline/tokenize.h"

namespace hrere::data {

void read_triples(const std::string& path, BadLines& bad_lines,
                  const std::function<void(const NamedTriple&)>& visit) {
  LineReader reader(path);
  NamedTriple triple;
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
    triple.head = normalize_entity_id(fields[0]);
    triple.relation.assign(fields[1]);
    triple.tail = normalize_entity_id(fields[2]);
    visit(triple);
  }
}

}  // namespace hrere::data
