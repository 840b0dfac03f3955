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
inline constexpr std::int64_t kKbStoreVersion = 1;

struct KbStoreContents {
  std::vector<std::string> entities;
  std::vector<std::string> relations;
  std::map<std::string, std::vector<std::int32_t>> triples;  // split -> M x 3
  std::map<std::string, std::int64_t> removed;               // split -> triples removed
  std::string sources_json;
};

// Writes the store to `path`; callers write to a temporary name (AtomicOutput).
void write_kb_store(const std::string& path, const KbStoreContents& contents);

class KbStore {
 public:
  static KbStore open(const std::string& path);

  const std::string& path() const { return file_.path(); }
  std::vector<std::string> entities() const { return file_.read_strings("entities"); }
  std::vector<std::string> relations() const { return file_.read_strings("relations"); }
  const std::vector<std::string>& splits() const { return splits_; }
  std::int64_t size(const std::string& split) const;
  // M x 3 row-major (head, relation, tail).
  std::vector<std::int32_t> triples(const std::string& split) const;

 private:
  explicit KbStore(Hdf5File file) : file_(std::move(file)) {}
  Hdf5File file_;
  std::vector<std::string> splits_;
};

}  // namespace hrere::data
