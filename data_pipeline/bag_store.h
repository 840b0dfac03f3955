#pragma once
// The HDF5 bag store: one file holding the training bags, the test sentences (as bags of
// one) with their entity-pair grouping, and the string tables. Layout (version 1):
//
//   attributes  format="hrere-bag-store", version, T, L, sources (JSON: input -> path, fnv1a64)
//   /vocabulary, /relations, /entities          UTF-8 string tables (ids are row numbers)
//   /word_vectors float32[V, d], /word_has_vector uint8[V]   (only with pretrained vectors)
//   /train/{words int32[N,T,L], lengths int32[N,T], head_spans int32[N,T,2],
//           tail_spans int32[N,T,2], heads int32[N], tails int32[N], labels int32[N]}
//   /test/...   the same with T = 1, one row per test sentence, ordered by entity pair
//   /test_pairs/{offsets int64[P+1], heads int32[P], tails int32[P], labels uint8[P,R]}
//
// Spans are [begin, end) word offsets. Bag datasets are chunked along N so a reader can
// stream them chunk by chunk.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "data_pipeline/bagging.h"
#include "data_pipeline/hdf5_file.h"

namespace hrere::data {

inline const std::string kBagStoreFormat = "hrere-bag-store";
// 2: fixed-width strings, checksummed chunks and metadata (docs/RELIABILITY.md)
inline constexpr std::int64_t kBagStoreVersion = 2;

struct BagStoreContents {
  int T = 0;
  int L = 0;
  std::vector<std::string> vocabulary;
  std::vector<std::string> relations;
  std::vector<std::string> entities;
  int vector_dim = 0;  // 0: no pretrained vectors
  std::vector<float> word_vectors;
  std::vector<std::uint8_t> word_has_vector;
  BagArrays train;
  BagArrays test;
  TestPairs test_pairs;
  std::string sources_json;  // {"train": {"path": ..., "fnv1a64": ...}, ...}
};

// Writes the store to `path`; callers write to a temporary name (AtomicOutput). The entity
// names are `entities` where given (prepare's name table), else `contents.entities`.
void write_bag_store(const std::string& path, const BagStoreContents& contents,
                     std::uint64_t chunk_bags, const StringList* entities = nullptr);

class BagStore {
 public:
  // Opens and validates a store; InputError names the file and what is wrong with it.
  static BagStore open(const std::string& path);

  const std::string& path() const { return file_.path(); }
  int T(const std::string& split) const;  // sentences per bag of `split` ("train", "test")
  int L() const { return L_; }
  std::int64_t size(const std::string& split) const;
  std::int64_t chunk_bags(const std::string& split) const;

  std::vector<std::string> vocabulary() const { return file_.read_strings("vocabulary"); }
  std::vector<std::string> relations() const { return file_.read_strings("relations"); }
  std::vector<std::string> entities() const { return file_.read_strings("entities"); }
  bool has_word_vectors() const { return file_.exists("word_vectors"); }
  // Pretrained vectors: V x dim floats (row-major) and which rows have one; empty without.
  struct WordVectorRows {
    int dim = 0;
    std::vector<float> values;
    std::vector<std::uint8_t> has_vector;
  };
  WordVectorRows word_vectors() const;
  std::string sources_json() const { return file_.string_attribute("sources").value_or("{}"); }

  // Bags [start, start + count) of `split`. Every id, length and span is checked against the
  // store's tables before it is returned: training indexes embeddings and shards with them,
  // so a damaged or foreign value must stop here as an InputError naming the row.
  BagArrays read(const std::string& split, std::int64_t start, std::int64_t count) const;
  TestPairs read_test_pairs() const;

 private:
  explicit BagStore(Hdf5File file) : file_(std::move(file)) {}
  void validate_split(const std::string& split);
  void check_ranges(const std::string& split, std::int64_t start, const BagArrays& bags) const;

  Hdf5File file_;
  int L_ = 0;
  std::int64_t vocabulary_size_ = 0, relation_count_ = 0, entity_count_ = 0;
  std::map<std::string, int> T_;
  std::map<std::string, std::int64_t> size_;
};

}  // namespace hrere::data
