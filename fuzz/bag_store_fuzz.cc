// Harness: a bag store (bags.h5) from mutated bytes, opened and read as `hrere inspect` does
// (app/store_summary.h, summarize_store, which validates it with data::BagStore::open and
// reads every split), then read as training does: chunk sizes and the word vectors.
#include "app/store_summary.h"
#include "core/errors.h"
#include "data_pipeline/bag_store.h"
#include "fuzz/harness.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = hrere::fuzz::write_input(data, size, ".h5");
  try {
    hrere::train::format_summary(hrere::train::summarize_store(path));
    const hrere::data::BagStore store = hrere::data::BagStore::open(path);
    for (const std::string split : {"train", "test"}) {
      hrere::fuzz::check(store.chunk_bags(split) > 0, "a split has chunks of at least one bag");
    }
    const auto vectors = store.word_vectors();
    hrere::fuzz::check(
        vectors.values.size() == vectors.has_vector.size() * static_cast<std::size_t>(vectors.dim),
        "word vectors are V x dim");
  } catch (const hrere::InputError& e) {
    hrere::fuzz::rejected(e);
  }
  return 0;
}
