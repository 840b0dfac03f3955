#include "data_pipeline/kb_reader.h"

#include "data_pipeline/text_file.h"
#include "data_pipeline/tokenize.h"

namespace hrere::data {

void read_triples(const std::string& path, BadLines& bad_lines,
                  const std::function<void(const NamedTriple&)>& visit) {
  NamedTriple triple;
  for_each_input_line(path, bad_lines, [&](const std::string& line, const LineReader& reader) {
    const std::vector<std::string_view> fields = split_whitespace(line);
    if (fields.size() != 3) {
      bad_lines.report(
          path, reader.line_number(),
          "expected `head relation tail`, found " + std::to_string(fields.size()) + " fields");
      return;
    }
    triple.head = normalize_entity_id(fields[0]);
    triple.relation.assign(fields[1]);
    triple.tail = normalize_entity_id(fields[2]);
    visit(triple);
  });
}

}  // namespace hrere::data
