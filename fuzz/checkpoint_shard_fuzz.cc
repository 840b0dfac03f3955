// Harness: an entity-table shard file from mutated bytes, as a checkpoint's knowledge folder
// (trainer/checkpoint.h, knowledge/) holds them and `train --resume` loads them
// (kbe_shard/sharded_embedding.h, EmbeddingShard::load): into one rank's whole table and into
// the second of two ranks. The archive beside it (state.pt) is LibTorch's own format and is
// not fuzzed here. Seeds: fuzz_seed_tool_kbe.
#include "core/errors.h"
#include "fuzz/harness.h"
#include "kbe_shard/sharded_embedding.h"

namespace {

// The table of the seeds (fuzz/seed_tool_kbe.cc).
hrere::kbe::EmbeddingOptions seed_options() {
  hrere::kbe::EmbeddingOptions options;
  options.num_rows = 5;
  options.dim = 4;
  return options;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = hrere::fuzz::write_input(data, size, ".h5");
  for (const auto& [rank, ranks] : {std::pair{0, 1}, std::pair{1, 2}}) {
    try {
      hrere::kbe::EmbeddingShard shard(seed_options(), rank, ranks);
      shard.load({path});
    } catch (const hrere::InputError& e) {
      hrere::fuzz::rejected(e);
    }
  }
  return 0;
}
