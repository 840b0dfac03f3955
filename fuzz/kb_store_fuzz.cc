// Harness: a KB store (kb.h5) from mutated bytes, opened and read as `hrere inspect` does
// (app/store_summary.h, summarize_store, which validates it with data::KbStore::open), then
// read as `hrere pretrain` does: the name tables and every split's triples.
#include "app/store_summary.h"
#include "core/errors.h"
#include "data_pipeline/kb_store.h"
#include "fuzz/harness.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = hrere::fuzz::write_input(data, size, ".h5");
  try {
    hrere::train::format_summary(hrere::train::summarize_store(path));
    const hrere::data::KbStore store = hrere::data::KbStore::open(path);
    store.entities();
    store.relations();
    for (const std::string& split : store.splits()) {
      hrere::fuzz::check(
          store.triples(split).size() == static_cast<std::size_t>(store.size(split)) * 3,
          "a split holds size x 3 ids");
    }
  } catch (const hrere::InputError& e) {
    hrere::fuzz::rejected(e);
  }
  return 0;
}
