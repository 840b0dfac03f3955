// Harness: an embeddings export (embeddings.h5 of `hrere pretrain`) from mutated bytes, read
// and validated as joint training reads train.kbe_embeddings (kbe_shard/embeddings_file.h,
// read_kbe_embeddings), whole and as one shard of two. The seeds are version 1 files (the
// whole table inside) and a version 2 index whose shard files are absent.
#include "core/errors.h"
#include "fuzz/harness.h"
#include "kbe_shard/embeddings_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = hrere::fuzz::write_input(data, size, ".h5");
  try {
    const hrere::kbe::KbeEmbeddings whole = hrere::kbe::read_kbe_embeddings(path);
    hrere::fuzz::check(whole.entity.dim() == 2 &&
                           whole.entity.size(0) == static_cast<std::int64_t>(whole.entities.size()),
                       "one entity row per entity name");
    hrere::kbe::read_kbe_embeddings_shard(path, 1, 2);
  } catch (const hrere::InputError& e) {
    hrere::fuzz::rejected(e);
  }
  return 0;
}
