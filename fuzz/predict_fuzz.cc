// Harness: the input of `hrere predict` (app/predict_input.h, parse_predict_line), read line by
// line as predict() reads it, against a small vocabulary and L = 12 (so long sentences are
// cut).
#include "app/predict_input.h"
#include "core/errors.h"
#include "data_pipeline/text_file.h"
#include "fuzz/harness.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const hrere::data::Vocabulary vocabulary = hrere::data::Vocabulary::from_words(
      {"<pad>", "<unk>", "barack", "obama", "was", "born", "in", "hawaii", ".", "the", ","});
  constexpr int L = 12;
  const std::string path = hrere::fuzz::write_input(data, size, ".jsonl");
  try {
    hrere::data::LineReader reader(path);
    std::string line;
    while (reader.next(line)) {
      const std::string where = path + ":" + std::to_string(reader.line_number());
      const auto request = hrere::train::parse_predict_line(line, where, vocabulary, L);
      if (!request) continue;
      const hrere::data::BagArrays& bag = request->bag;
      hrere::fuzz::check(bag.L == L && bag.T > 0, "one bag of L-word rows");
      hrere::fuzz::check(bag.words.size() == static_cast<std::size_t>(bag.T) * L,
                         "words are T x L");
    }
  } catch (const hrere::InputError& e) {
    hrere::fuzz::rejected(e);
  }
  return 0;
}
