#pragma once
// The HDF5 KB store. Layout (version 1):
//
//   attributes  format="hrere-kb-store", version, sources (JSON), removed_<split> (triples
//               dropped because their entity pair occurs in the RE data)
//   /entities, /relations           UTF-8 string tables; entity ids match the bag store's
//   /triples/<split> int32[M, 3]    (head, relation, tail) ids; splits train, valid, test
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "data_pipeline/hdf5_file.h"

namespace hrere::data {

inline const std::string kKbStoreFormat = "hrere-kb-store";
inline constexpr std::int64_t kKbStoreVersion = 2;  // 2: as kBagStoreVersion 2

struct KbStoreContents {
  std::vector<std::string> entities;
  std::vector<std::string> relations;
  std::map<std::string, std::vector<std::int32_t>> triples;  // split -> M x 3
  std::map<std::string, std::int64_t> removed;               // split -> triples removed
  std::string sources_json;
};

// Writes a store whose triples arrive one at a time (prepare streams them from the text
// files): it holds one buffer of triples, whatever the size of the KB. Callers write to a
// temporary name (AtomicOutput).
class KbStoreWriter {
 public:
  explicit KbStoreWriter(const std::string& path);
  // Splits must be added before their triples; a split may stay empty.
  void add_split(const std::string& split);
  void add(const std::string& split, std::int32_t head, std::int32_t relation, std::int32_t tail);
  std::int64_t size(const std::string& split) const;  // triples added so far
  // Writes what is buffered, the name tables and the attributes.
  void finish(const StringList& entities, const StringList& relations,
              const std::map<std::string, std::int64_t>& removed, const std::string& sources_json);

 private:
  void flush(const std::string& split);
  Hdf5File file_;
  std::map<std::string, std::vector<std::int32_t>> pending_;  // split -> M x 3 buffered
  std::map<std::string, std::int64_t> size_;
};

// Writes a whole store to `path` (through KbStoreWriter).
void write_kb_store(const std::string& path, const KbStoreContents& contents);

class KbStore {
 public:
  static KbStore open(const std::string& path);

  const std::string& path() const { return file_.path(); }
  std::vector<std::string> entities() const { return file_.read_strings("entities"); }
  std::vector<std::string> relations() const { return file_.read_strings("relations"); }
  // The name tables' lengths, without reading the names.
  std::int64_t entity_count() const;
  std::int64_t relation_count() const;
  const std::vector<std::string>& splits() const { return splits_; }
  std::int64_t size(const std::string& split) const;
  // M x 3 row-major (head, relation, tail).
  std::vector<std::int32_t> triples(const std::string& split) const;
  // Rows [begin, begin + count) of the split, M x 3 row-major.
  std::vector<std::int32_t> triples(const std::string& split, std::int64_t begin,
                                    std::int64_t count) const;

 private:
  explicit KbStore(Hdf5File file) : file_(std::move(file)) {}
  Hdf5File file_;
  std::vector<std::string> splits_;
};

}  // namespace hrere::data
