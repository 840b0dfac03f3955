// Writes the seeds of the checkpoint_shard harness (fuzz/make_corpus.sh): entity-table shard
// files as a checkpoint's knowledge folder holds them (kbe_shard/sharded_embedding.h).
//
//   fuzz_seed_tool_kbe OUT_DIR
//       OUT_DIR/whole.h5 (the one shard of 5 x 4 rows) and OUT_DIR/second_of_two.h5 (shard
//       1 of 2), with Adagrad state
#include <iostream>
#include <string>

#include "kbe_shard/sharded_embedding.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fuzz_seed_tool_kbe OUT_DIR\n";
    return 2;
  }
  hrere::kbe::EmbeddingOptions options;
  options.num_rows = 5;
  options.dim = 4;
  const std::string dir = argv[1];
  hrere::kbe::EmbeddingShard(options, 0, 1).save(dir + "/whole.h5");
  hrere::kbe::EmbeddingShard(options, 1, 2).save(dir + "/second_of_two.h5");
  return 0;
}
