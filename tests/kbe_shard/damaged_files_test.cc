// Damaged copies of every HDF5 file kind hrere writes and reads back (bag store, KB store,
// embeddings export, a checkpoint's entity shard; docs/RELIABILITY.md, Corrupt files): each
// copy, truncated or with one byte flipped, must either be refused with an InputError or
// read back exactly what the intact file holds (a flip in unused bytes). A crash, another
// exception or different numbers fail. The intact files are the committed fuzz seeds
// (fuzz/make_corpus.sh), written by this build's writers.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "core/errors.h"
#include "core/hash.h"
#include "data_pipeline/bag_store.h"
#include "data_pipeline/kb_store.h"
#include "kbe_shard/embeddings_file.h"
#include "kbe_shard/sharded_embedding.h"
#include "test_util.h"

namespace hrere::kbe {
namespace {

template <typename T>
void add(core::Fnv1a& hash, const std::vector<T>& values) {
  hash.add(values.size());
  hash.add_bytes(values.data(), values.size() * sizeof(T));
}

void add(core::Fnv1a& hash, const std::vector<std::string>& names) {
  hash.add(names.size());
  for (const std::string& name : names) hash.add_bytes(name.data(), name.size() + 1);
}

void add(core::Fnv1a& hash, const torch::Tensor& tensor) {
  if (!tensor.defined()) return hash.add(0);
  const torch::Tensor t = tensor.contiguous().cpu();
  hash.add_bytes(t.data_ptr(), t.numel() * t.element_size());
}

// Everything a reader of each kind hands to hrere, as one hash.
std::uint64_t read_bag_store(const std::string& path) {
  const data::BagStore store = data::BagStore::open(path);
  core::Fnv1a hash;
  add(hash, store.vocabulary());
  add(hash, store.relations());
  add(hash, store.entities());
  hash.add_bytes(store.sources_json().data(), store.sources_json().size());
  for (const std::string split : {"train", "test"}) {
    const data::BagArrays bags = store.read(split, 0, store.size(split));
    for (const auto* v : {&bags.words, &bags.lengths, &bags.head_spans, &bags.tail_spans,
                          &bags.heads, &bags.tails, &bags.labels}) {
      add(hash, *v);
    }
  }
  const data::TestPairs pairs = store.read_test_pairs();
  add(hash, pairs.offsets);
  add(hash, pairs.labels);
  if (store.has_word_vectors()) add(hash, store.word_vectors().values);
  return hash.value();
}

std::uint64_t read_kb_store(const std::string& path) {
  const data::KbStore store = data::KbStore::open(path);
  core::Fnv1a hash;
  add(hash, store.entities());
  add(hash, store.relations());
  for (const std::string& split : store.splits()) add(hash, store.triples(split));
  return hash.value();
}

std::uint64_t read_export(const std::string& path) {
  const KbeEmbeddings e = read_kbe_embeddings(path);
  core::Fnv1a hash;
  add(hash, e.entities);
  add(hash, e.relations);
  add(hash, e.entity);
  add(hash, e.relation);
  add(hash, e.inverse_relation);
  hash.add(e.entity_tanh);
  return hash.value();
}

std::uint64_t read_entity_shard(const std::string& path) {
  EmbeddingOptions options;  // the seed's table (fuzz/seed_tool_kbe.cc)
  options.num_rows = 5;
  options.dim = 4;
  EmbeddingShard shard(options, 0, 1);
  shard.load({path});
  core::Fnv1a hash;
  add(hash, shard.table());
  for (const auto& [name, state] : shard.optimizer().state()) add(hash, state);
  return hash.value();
}

std::vector<char> bytes_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

struct Outcome {
  int refused = 0;    // InputError
  int unchanged = 0;  // read back exactly as intact
};

// 16 truncations and 64 single-byte flips of `intact`, at seeded positions.
Outcome damage(const std::string& intact,
               const std::function<std::uint64_t(const std::string&)>& read,
               const testing::TempDir& dir) {
  const std::uint64_t expected = read(intact);
  const std::vector<char> bytes = bytes_of(intact);
  std::mt19937_64 random(bytes.size());
  Outcome outcome;
  for (int trial = 0; trial < 80; ++trial) {
    std::vector<char> copy = bytes;
    const std::size_t at = random() % bytes.size();
    if (trial < 16) {
      copy.resize(at);
    } else {
      copy[at] = static_cast<char>(copy[at] ^ (1 << (random() % 8)));
    }
    const std::string path = dir.write("damaged-" + std::to_string(trial) + ".h5",
                                       std::string(copy.begin(), copy.end()));
    try {
      EXPECT_EQ(read(path), expected) << intact << ": " << (trial < 16 ? "cut at " : "flip at ")
                                      << at << " read back different content";
      ++outcome.unchanged;
    } catch (const InputError&) {
      ++outcome.refused;
    }
  }
  return outcome;
}

TEST(DamagedFiles, AreRefusedOrReadBackUnchangedNeverWrong) {
  const std::string corpus = std::string(HRERE_SOURCE_DIR) + "/fuzz/corpus/";
  const std::vector<std::pair<std::string, std::function<std::uint64_t(const std::string&)>>>
      kinds = {{"bag_store/real.h5", read_bag_store},
               {"bag_store/synth_vectors.h5", read_bag_store},
               {"kb_store/real.h5", read_kb_store},
               {"embeddings/v1.h5", read_export},
               {"checkpoint_shard/whole.h5", read_entity_shard}};
  for (const auto& [file, read] : kinds) {
    testing::TempDir dir;
    const Outcome outcome = damage(corpus + file, read, dir);
    std::cout << file << ": " << outcome.refused << " of 80 damaged copies refused, "
              << outcome.unchanged << " read back unchanged\n";
  }
}

}  // namespace
}  // namespace hrere::kbe
