// Writes the raw material of the seed corpora (fuzz/make_corpus.sh; docs/RELIABILITY.md,
// Fuzzing), without the LibTorch-linked `hrere` binary:
//
//   fuzz_seed_tool synth OUT_DIR
//       a tiny synthetic world (synth/synth.h) with word vectors of dimension 3
//   fuzz_seed_tool prepare OUT_DIR TRAIN TEST RELATION2ID KB_TRAIN [WORD_VECTORS]
//       bags.h5 and kb.h5 of `hrere prepare` (data_pipeline/prepare.h) with small chunks
//   fuzz_seed_tool embeddings OUT_FILE VERSION
//       a tiny embeddings export (kbe_shard/embeddings_file.h) of 3 entities, 2 relations
//       and rank 2 through the HDF5 layer: version 1 holds the entity table, version 2 is an
//       index whose shard files do not exist
#include <cstdlib>
#include <iostream>
#include <string>

#include "data_pipeline/hdf5_file.h"
#include "data_pipeline/prepare.h"
#include "synth/synth.h"

int main(int argc, char** argv) {
  const std::string command = argc > 2 ? argv[1] : "";
  if (command == "synth" && argc == 3) {
    hrere::synth::SynthOptions options;
    options.num_entities = 200;
    options.train_pairs = 6;
    options.test_pairs = 4;
    options.max_sentences_per_pair = 2;
    options.vocab_size = 20;
    options.write_vectors = true;
    options.vector_dim = 3;
    hrere::synth::generate_synthetic_world(options, argv[2]);
    return 0;
  }
  if (command == "prepare" && (argc == 7 || argc == 8)) {
    hrere::data::PrepareOptions options;
    options.train_path = argv[3];
    options.test_path = argv[4];
    options.relations_path = argv[5];
    options.kb_train_path = argv[6];
    if (argc == 8) options.word_vectors_path = argv[7];
    options.min_word_count = 1;
    options.bag_size = 2;
    options.max_length = 12;
    options.kb_filter = hrere::data::KbFilter::kNone;
    options.chunk_bags = 2;
    hrere::data::prepare_data(options, argv[2]);
    return 0;
  }
  if (command == "embeddings" && argc == 4) {
    const std::int64_t version = std::atoi(argv[3]);
    hrere::data::Hdf5File file = hrere::data::Hdf5File::create(argv[2]);
    hrere::data::write_schema(file, "hrere-kbe-embeddings", version);
    file.set_attribute("rank", std::int64_t{2});
    file.set_attribute("entity_tanh", std::int64_t{0});
    file.write_strings("entities", {"m.01", "m.02", "m.03"});
    file.write_strings("relations", {"/r/a", "/r/b"});
    const float entity[] = {0.5f, -1, 2, 0.25f, 1e-3f, 3};
    const float relation[] = {1, 2, 3, 4};
    if (version == 1) {
      file.write("entity_real", {3, 2}, entity, 2);
      file.write("entity_imag", {3, 2}, entity, 2);
    } else {
      file.set_attribute("export", "00000000000000aa");
      file.set_attribute("shards", std::int64_t{1});
    }
    file.write("relation_real", {2, 2}, relation, 2);
    file.write("relation_imag", {2, 2}, relation, 2);
    return 0;
  }
  std::cerr << "usage: fuzz_seed_tool synth OUT_DIR\n"
               "       fuzz_seed_tool prepare OUT_DIR TRAIN TEST RELATION2ID KB_TRAIN "
               "[WORD_VECTORS]\n"
               "       fuzz_seed_tool embeddings OUT_FILE VERSION\n";
  return 2;
}
