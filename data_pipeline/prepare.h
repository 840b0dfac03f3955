#pragma once
// `hrere prepare`: raw RE corpus + KB triples -> bags.h5 + kb.h5 + prepare.json.
#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "core/choice.h"
#include "data_pipeline/corpus_reader.h"

namespace hrere::data {

enum class KbFilter {
  kTrainAndTest,  // drop KB triples whose entity pair occurs anywhere in the RE data (paper)
  kTestOnly,      // only pairs of the RE test set
  kNone,
};
constexpr core::Choices<KbFilter, 3> choices(KbFilter) {
  return {
      {{KbFilter::kTrainAndTest, "all"}, {KbFilter::kTestOnly, "test"}, {KbFilter::kNone, "none"}}};
}

struct PrepareOptions {
  CorpusFormat format = CorpusFormat::kNyt10;
  std::string train_path;
  std::string test_path;
  std::string relations_path;                       // relation2id.txt
  std::map<std::string, std::string> relation_map;  // corpus name -> label name
  std::string word_vectors_path;                    // optional
  int min_word_count = 2;
  int bag_size = 5;           // T
  int max_length = 100;       // L
  std::string kb_train_path;  // optional: without it no KB store is written
  std::string kb_valid_path;
  std::string kb_test_path;
  KbFilter kb_filter = KbFilter::kTrainAndTest;
  bool skip_bad_lines = false;
  std::int64_t chunk_bags = 64;  // bags per HDF5 chunk: the loader's unit of reading
  // The caller's resolved configuration, published as config.yaml with the other outputs
  // (none when empty).
  std::string config_yaml;
};

// Output file names inside the prepare directory.
inline const std::string kBagStoreFile = "bags.h5";
inline const std::string kKbStoreFile = "kb.h5";
inline const std::string kPrepareReportFile = "prepare.json";
inline const std::string kPreparedConfigFile = "config.yaml";

// Reads, checks, bags and writes everything; all outputs appear together or not at all.
// Returns the report that is also written to out_dir/prepare.json.
nlohmann::json prepare_data(const PrepareOptions& options, const std::string& out_dir);

}  // namespace hrere::data
