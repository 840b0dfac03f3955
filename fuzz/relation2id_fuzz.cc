// Harness: relation2id.txt (data_pipeline/relations.h, RelationTable::read), then the remap
// of configs/nyt10.yaml's kind (data.relation_map) and lookups, as `hrere prepare` uses it.
#include <map>

#include "core/errors.h"
#include "data_pipeline/relations.h"
#include "fuzz/harness.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = hrere::fuzz::write_input(data, size, ".txt");
  try {
    hrere::data::RelationTable table = hrere::data::RelationTable::read(path);
    hrere::fuzz::check(table.size() > 0, "a relation table is not empty");
    const std::vector<std::string> names = table.names();
    std::map<std::string, std::string> remap{{"/people/person/nationality", "/new/label"}};
    if (names.size() > 1) remap[names.back()] = names.front();
    table.apply_remap(remap);
    for (const std::string& name : names) {
      const int id = table.id_of(name);
      hrere::fuzz::check(0 <= id && id < table.size(), "every name read has an id in range");
    }
  } catch (const hrere::InputError& e) {
    hrere::fuzz::rejected(e);
  }
  return 0;
}
