// Harness: NYT10 text lines (data_pipeline/corpus_reader.h, read_nyt10), which tokenises each
// sentence and searches it for the head and tail names (data_pipeline/tokenize.h), as
// `hrere prepare` reads train.txt and test.txt, with and without data.skip_bad_lines.
#include "core/errors.h"
#include "data_pipeline/corpus_reader.h"
#include "fuzz/harness.h"

namespace {

void check_spans(const std::vector<hrere::data::Sentence>& sentences) {
  for (const hrere::data::Sentence& s : sentences) {
    const int words = static_cast<int>(s.words.size());
    for (const hrere::data::Span& span : {s.head_span, s.tail_span}) {
      hrere::fuzz::check(0 <= span.begin && span.begin < span.end && span.end <= words,
                         "an entity span lies inside the sentence and is not empty");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = hrere::fuzz::write_input(data, size, ".txt");
  for (const bool skip : {true, false}) {
    try {
      hrere::data::BadLines bad_lines(skip);
      check_spans(hrere::data::read_corpus(path, hrere::data::CorpusFormat::kNyt10, bad_lines));
    } catch (const hrere::InputError& e) {
      hrere::fuzz::rejected(e);
    }
  }
  return 0;
}
