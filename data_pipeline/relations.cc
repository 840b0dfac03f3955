#include "data_pipeline/relations.h"

#include "core/errors.h"
#include "data_pipeline/text_file.h"

namespace hrere::data {

RelationTable RelationTable::read(const std::string& path) {
  LineReader reader(path);
  RelationTable table;
  std::string line;
  long expected = -1;
  while (reader.next(line)) {
    const std::vector<std::string_view> fields = split_whitespace(line);
    if (fields.empty()) continue;
    if (expected < 0) {
      if (fields.size() != 1)
        throw InputError(path, reader.line_number(), "expected the relation count");
      try {
        expected = std::stol(std::string(fields[0]));
      } catch (const std::exception&) {
        throw InputError(path, reader.line_number(),
                         "expected the relation count, found '" + std::string(fields[0]) + "'");
      }
      table.names_.resize(expected);
      continue;
    }
    if (fields.size() != 2) throw InputError(path, reader.line_number(), "expected `name id`");
    long id = -1;
    try {
      id = std::stol(std::string(fields[1]));
    } catch (const std::exception&) {
    }
    if (id < 0 || id >= expected) {
      throw InputError(path, reader.line_number(),
                       "relation id '" + std::string(fields[1]) + "' is not in 0.." +
                           std::to_string(expected - 1));
    }
    const std::string name(fields[0]);
    if (!table.names_[id].empty()) {
      throw InputError(path, reader.line_number(),
                       "relation id " + std::to_string(id) + " given twice");
    }
    if (!table.ids_.emplace(name, static_cast<int>(id)).second) {
      throw InputError(path, reader.line_number(), "relation '" + name + "' given twice");
    }
    table.names_[id] = name;
  }
  if (expected <= 0) throw InputError(path + ": no relations");
  for (long id = 0; id < expected; ++id) {
    if (table.names_[id].empty())
      throw InputError(path + ": relation id " + std::to_string(id) + " missing");
  }
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
