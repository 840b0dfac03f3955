// Harness: OpenNRE JSON lines (data_pipeline/corpus_reader.h, read_jsonl), tokenised and
// searched for the entity names like NYT10 text, as `hrere prepare` reads data.format=jsonl,
// with and without data.skip_bad_lines.
#include "core/errors.h"
#include "data_pipeline/corpus_reader.h"
#include "fuzz/harness.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = hrere::fuzz::write_input(data, size, ".jsonl");
  for (const bool skip : {true, false}) {
    try {
      hrere::data::BadLines bad_lines(skip);
      for (const hrere::data::Sentence& s :
           hrere::data::read_corpus(path, hrere::data::CorpusFormat::kJsonLines, bad_lines)) {
        const int words = static_cast<int>(s.words.size());
        for (const hrere::data::Span& span : {s.head_span, s.tail_span}) {
          hrere::fuzz::check(0 <= span.begin && span.begin < span.end && span.end <= words,
                             "an entity span lies inside the sentence and is not empty");
        }
      }
    } catch (const hrere::InputError& e) {
      hrere::fuzz::rejected(e);
    }
  }
  return 0;
}
