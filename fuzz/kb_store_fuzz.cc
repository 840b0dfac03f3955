// Harness: a KB store (kb.h5) from mutated bytes, opened and read as `hrere inspect` does
// (app/store_summary.h, summarize_store, which validates it with data::KbStore::open), then
// read as `hrere pretrain` does: the name tables' lengths and every split's triples in row
// blocks (kbe_shard/kb_partition.h), then whole as `hrere inspect` does.
#include "app/store_summary.h"
#include "core/errors.h"
#include "data_pipeline/kb_store.h"
#include "fuzz/harness.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = hrere::fuzz::write_input(data, size, ".h5");
  try {
    hrere::train::format_summary(hrere::train::summarize_store(path));
    const hrere::data::KbStore store = hrere::data::KbStore::open(path);
    store.entity_count();
    store.relation_count();
    store.entities();
    store.relations();
    for (const std::string& split : store.splits()) {
      const std::int64_t half = store.size(split) / 2;
      hrere::fuzz::check(store.triples(split, 0, half).size() +
                                 store.triples(split, half, store.size(split) - half).size() ==
                             static_cast<std::size_t>(store.size(split)) * 3,
                         "two row blocks hold size x 3 ids");
      hrere::fuzz::check(
          store.triples(split).size() == static_cast<std::size_t>(store.size(split)) * 3,
          "a split holds size x 3 ids");
    }
  } catch (const hrere::InputError& e) {
    hrere::fuzz::rejected(e);
  }
  return 0;
}
