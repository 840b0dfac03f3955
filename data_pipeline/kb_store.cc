#include "data_pipeline/kb_store.h"

#include "core/errors.h"

namespace hrere::data {
namespace {
const std::vector<std::string> kKbSplits = {"train", "valid", "test"};
}

namespace {
// Triples per buffer (and per HDF5 chunk): 64Ki x 12 B.
constexpr std::size_t kFlushTriples = 65536;
}  // namespace

KbStoreWriter::KbStoreWriter(const std::string& path) : file_(Hdf5File::create(path)) {}

void KbStoreWriter::add_split(const std::string& split) {
  file_.create_growing<std::int32_t>("triples/" + split, {3}, kFlushTriples);
  pending_[split].reserve(3 * kFlushTriples);
  size_[split] = 0;
}

void KbStoreWriter::add(const std::string& split, std::int32_t head, std::int32_t relation,
                        std::int32_t tail) {
  std::vector<std::int32_t>& buffer = pending_.at(split);
  buffer.insert(buffer.end(), {head, relation, tail});
  ++size_[split];
  if (buffer.size() >= 3 * kFlushTriples) flush(split);
}

std::int64_t KbStoreWriter::size(const std::string& split) const {
  const auto found = size_.find(split);
  return found == size_.end() ? 0 : found->second;
}

void KbStoreWriter::flush(const std::string& split) {
  std::vector<std::int32_t>& buffer = pending_.at(split);
  if (!buffer.empty()) file_.append_rows("triples/" + split, buffer.size() / 3, buffer.data());
  buffer.clear();
}

void KbStoreWriter::finish(const StringList& entities, const StringList& relations,
                           const std::map<std::string, std::int64_t>& removed,
                           const std::string& sources_json) {
  for (const auto& entry : pending_) flush(entry.first);
  write_schema(file_, kKbStoreFormat, kKbStoreVersion);
  file_.set_attribute("sources", sources_json);
  file_.write_strings("entities", entities);
  file_.write_strings("relations", relations);
  for (const auto& [split, count] : removed) file_.set_attribute("removed_" + split, count);
  file_.close();
}

void write_kb_store(const std::string& path, const KbStoreContents& contents) {
  KbStoreWriter writer(path);
  for (const auto& [split, triples] : contents.triples) {
    writer.add_split(split);
    for (std::size_t i = 0; i + 2 < triples.size(); i += 3) {
      writer.add(split, triples[i], triples[i + 1], triples[i + 2]);
    }
  }
  writer.finish(strings_of(contents.entities), strings_of(contents.relations), contents.removed,
                contents.sources_json);
}

KbStore KbStore::open(const std::string& path) {
  KbStore store(Hdf5File::open(path));
  require_schema(store.file_, kKbStoreFormat, kKbStoreVersion);
  for (const char* table : {"entities", "relations"}) {
    if (!store.file_.exists(table))
      throw InputError(path + ": damaged KB store, /" + std::string(table) + " missing");
  }
  for (const std::string& split : kKbSplits) {
    if (!store.file_.exists("triples/" + split)) continue;
    const std::vector<std::uint64_t> dims = store.file_.dims("triples/" + split);
    if (dims.size() != 2 || dims[1] != 3)
      throw InputError(path + ": /triples/" + split + " is not an [M, 3] table");
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

std::vector<std::int32_t> KbStore::triples(const std::string& split, std::int64_t begin,
                                           std::int64_t count) const {
  std::vector<std::int32_t> rows(static_cast<std::size_t>(3 * count));
  if (count == 0) return rows;
  file_.read_rows("triples/" + split, static_cast<std::uint64_t>(begin),
                  static_cast<std::uint64_t>(count), rows.data());
  return rows;
}

std::int64_t KbStore::entity_count() const {
  return static_cast<std::int64_t>(file_.dims("entities").at(0));
}

std::int64_t KbStore::relation_count() const {
  return static_cast<std::int64_t>(file_.dims("relations").at(0));
}

}  // namespace hrere::data
