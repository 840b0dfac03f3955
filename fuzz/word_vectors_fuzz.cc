// Harness: word vectors in word2vec text (with a `count dim` header) or GloVe text format
// (data_pipeline/vocabulary.h, read_word_vectors), then gathered into a vocabulary's rows as
// `hrere prepare` does with data.word_vectors.
#include <algorithm>

#include "core/errors.h"
#include "data_pipeline/vocabulary.h"
#include "fuzz/harness.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = hrere::fuzz::write_input(data, size, ".txt");
  try {
    const hrere::data::WordVectors vectors = hrere::data::read_word_vectors(path);
    hrere::fuzz::check(vectors.dim > 0, "the vector dimension is positive");
    hrere::fuzz::check(vectors.values.size() == vectors.words.size() * vectors.dim,
                       "there are words x dim values");
    // A vocabulary holding the first few words and some that have no vector.
    std::vector<std::string> words{"<pad>", "<unk>", "the", "of"};
    for (std::size_t i = 0; i < vectors.words.size() && i < 8; ++i) {
      words.push_back(vectors.words[i]);
    }
    std::sort(words.begin() + 2, words.end());
    words.erase(std::unique(words.begin() + 2, words.end()), words.end());
    const auto vocabulary = hrere::data::Vocabulary::from_words(words);
    std::vector<float> rows;
    std::vector<std::uint8_t> has_vector;
    vocabulary.gather_vectors(vectors, rows, has_vector);
    hrere::fuzz::check(rows.size() == static_cast<std::size_t>(vocabulary.size()) * vectors.dim,
                       "gathered rows are vocabulary x dim");
  } catch (const hrere::InputError& e) {
    hrere::fuzz::rejected(e);
  }
  return 0;
}
