#include "data_pipeline/relations.h"

#include <charconv>
#include <map>
#include <string_view>

#include "core/errors.h"
#include "data_pipeline/text_file.h"

namespace hrere::data {
namespace {

// The whole of `text` as a decimal number (std::stol would accept "5x" as 5).
bool parse_long(std::string_view text, long& value) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc() && end == text.data() + text.size();
}

}  // namespace

RelationTable RelationTable::read(const std::string& path) {
  LineReader reader(path);
  RelationTable table;
  std::string line;
  long expected = -1;
  // Names by id, collected before names_ is sized: the count line may be damaged (a count
  // past what the file holds must not allocate that many names).
  std::map<long, std::string> by_id;
  while (reader.next(line)) {
    const std::vector<std::string_view> fields = split_whitespace(line);
    if (fields.empty()) continue;
    if (expected < 0) {
      if (fields.size() != 1)
        throw InputError(path, reader.line_number(), "expected the relation count");
      if (!parse_long(fields[0], expected) || expected < 0) {
        throw InputError(path, reader.line_number(),
                         "expected the relation count, found '" + std::string(fields[0]) + "'");
      }
      continue;
    }
    if (fields.size() != 2) throw InputError(path, reader.line_number(), "expected `name id`");
    long id = -1;
    if (!parse_long(fields[1], id) || id < 0 || id >= expected) {
      throw InputError(path, reader.line_number(),
                       "relation id '" + std::string(fields[1]) + "' is not in 0.." +
                           std::to_string(expected - 1));
    }
    const std::string name(fields[0]);
    if (by_id.count(id)) {
      throw InputError(path, reader.line_number(),
                       "relation id " + std::to_string(id) + " given twice");
    }
    if (!table.ids_.emplace(name, static_cast<int>(id)).second) {
      throw InputError(path, reader.line_number(), "relation '" + name + "' given twice");
    }
    by_id.emplace(id, name);
  }
  if (expected <= 0) throw InputError(path + ": no relations");
  if (static_cast<long>(by_id.size()) != expected) {
    long missing = 0;
    while (by_id.count(missing)) ++missing;
    throw InputError(path + ": relation id " + std::to_string(missing) + " missing");
  }
  // Distinct ids in [0, expected), as many as expected: exactly 0 .. expected - 1, in order.
  for (auto& entry : by_id) table.names_.push_back(std::move(entry.second));
  if (table.names_[0] != "NA")
    throw InputError(path + ": relation id 0 must be NA, found '" + table.names_[0] + "'");
  return table;
}

void RelationTable::apply_remap(const std::map<std::string, std::string>& remap) {
  for (const auto& [from, to] : remap) {
    auto target = ids_.find(to);
    int id;
    if (target != ids_.end()) {
      id = target->second;
    } else {
      id = size();
      names_.push_back(to);
      ids_.emplace(to, id);
    }
    ids_[from] = id;
  }
}

int RelationTable::id_of(const std::string& name) const {
  auto it = ids_.find(name);
  return it == ids_.end() ? -1 : it->second;
}

}  // namespace hrere::data
