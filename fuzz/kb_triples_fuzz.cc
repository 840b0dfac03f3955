// Harness: KB triples (data_pipeline/kb_reader.h, read_triples), as `hrere prepare` streams
// data.kb_train, kb_valid and kb_test, with and without data.skip_bad_lines.
#include "core/errors.h"
#include "data_pipeline/kb_reader.h"
#include "fuzz/harness.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = hrere::fuzz::write_input(data, size, ".txt");
  for (const bool skip : {true, false}) {
    try {
      hrere::data::BadLines bad_lines(skip);
      hrere::data::read_triples(path, bad_lines, [](const hrere::data::NamedTriple& t) {
        hrere::fuzz::check(!t.head.empty() && !t.relation.empty() && !t.tail.empty(),
                           "a triple has three non-empty names");
      });
    } catch (const hrere::InputError& e) {
      hrere::fuzz::rejected(e);
    }
  }
  return 0;
}
