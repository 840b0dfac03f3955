#pragma once
// Word vocabulary and pretrained word vectors.
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "data_pipeline/corpus_reader.h"

namespace hrere::data {

// Word vectors in word2vec text format (first line `count dim`) or GloVe text format (no
// header line); the format is recognised from the first line.
struct WordVectors {
  int dim = 0;
  std::vector<std::string> words;
  std::vector<float> values;  // words.size() x dim, row-major
};

WordVectors read_word_vectors(const std::string& path);

class Vocabulary {
 public:
  static constexpr std::int32_t kPad = 0;
  static constexpr std::int32_t kUnknown = 1;

  // Words of `training` seen at least `min_count` times, plus, when vectors are given, every
  // word of `training` or `other` that has a vector (pretrained vectors are what lets the
  // model use words it never saw in training). Ordered by descending training frequency.
  static Vocabulary build(const std::vector<Sentence>& training, const std::vector<Sentence>& other,
                          int min_count, const WordVectors* vectors);
  static Vocabulary from_words(std::vector<std::string> words);

  std::int32_t id_of(const std::string& word) const;  // kUnknown when absent
  const std::vector<std::string>& words() const { return words_; }
  std::int64_t size() const { return static_cast<std::int64_t>(words_.size()); }

  // Rows of `vectors` for the vocabulary (zeros where a word has none) and which rows have one.
  void gather_vectors(const WordVectors& vectors, std::vector<float>& rows,
                      std::vector<std::uint8_t>& has_vector) const;

 private:
  std::vector<std::string> words_;  // by id; 0 = <pad>, 1 = <unk>
  std::unordered_map<std::string, std::int32_t> ids_;
};

}  // namespace hrere::data
