#include "data_pipeline/kb_store.h"

#include "data_pipeline/input_error.h"

namespace hrere::data {
namespace {
const std::vector<std::string> kKbSplits = {"train", "valid", "test"};
}

void write_kb_store(const std::string& path, const KbStoreContents& contents) {
  Hdf5File file = Hdf5File::create(path);
  write_schema(file, kKbStoreFormat, kKbStoreVersion);
  file.set_attribute("sources", contents.sources_json);
  file.write_strings("entities", contents.entities);
  file.write_strings("relations", contents.relations);
  for (const auto& [split, triples] : contents.triples) {
    const std::uint64_t m = triples.size() / 3;
    file.write("triples/" + split, {m, 3}, triples.data(), 65536);
  }
  for (const auto& [split, removed] : contents.removed) {
    file.set_attribute("removed_" + split, removed);
  }
}

KbStore KbStore::open(const std::string& path) {
  KbStore store(Hdf5File::open(path));
  require_schema(store.file_, kKbStoreFormat, kKbStoreVersion);
  for (const char* table : {"entities", "relations"}) {
    if (!store.file_.exists(table)) throw InputError(path + ": damaged KB store, /" + std::string(table) + " missing");
  }
  for (const std::string& split : kKbSplits) {
    if (!store.file_.exists("triples/" + split)) continue;
    const std::vector<std::uint64_t> dims = store.file_.dims("triples/" + split);
    if (dims.size() != 2 || dims[1] != 3) throw InputError(path + ": /triples/" + split + " is not an [M, 3] table");
    store.splits_.push_back(split);
  }
  if (store.splits_.empty()) throw InputError(path + ": KB store without triples");
  return store;
}

std::int64_t KbStore::size(const std::string& split) const {
  return static_cast<std::int64_t>(file_.dims("triples/" + split).at(0));
}

std::vector<std::int32_t> KbStore::triples(const std::string& split) const {
  return file_.read<std::int32_t>("triples/" + split);
}

}  // namespace hrere::data
