#include "data_pipeline/vocabulary.h"

#include <cmath>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <unordered_set>

#include "core/errors.h"
#include "data_pipeline/text_file.h"

namespace hrere::data {
namespace {

bool parse_int(std::string_view text, long& value) {
  const std::string s(text);
  char* end = nullptr;
  errno = 0;
  value = std::strtol(s.c_str(), &end, 10);
  return errno == 0 && end == s.c_str() + s.size() && !s.empty();
}

}  // namespace

WordVectors read_word_vectors(const std::string& path) {
  LineReader reader(path);
  WordVectors out;
  std::string line;
  std::unordered_set<std::string> seen;
  while (reader.next(line)) {
    const std::vector<std::string_view> fields = split_whitespace(line);
    if (fields.empty()) continue;
    long count = 0, dim = 0;
    if (reader.line_number() == 1 && fields.size() == 2 && parse_int(fields[0], count) &&
        parse_int(fields[1], dim)) {
      if (dim <= 0) throw InputError(path, 1, "vector dimension must be positive");
      if (count < 0) throw InputError(path, 1, "word count must not be negative");
      if (dim > std::numeric_limits<int>::max()) {
        throw InputError(path, 1, "vector dimension " + std::to_string(dim) + " is too large");
      }
      out.dim = static_cast<int>(dim);
      // The header only sizes the buffers: a damaged one must not reserve more rows than the
      // file can hold (a row takes at least two bytes per number).
      const auto rows = std::min<std::uintmax_t>(
          count, std::filesystem::file_size(path) / (2 * static_cast<std::uintmax_t>(dim)));
      out.words.reserve(rows);
      out.values.reserve(rows * dim);
      continue;  // word2vec header
    }
    const int row_dim = static_cast<int>(fields.size()) - 1;
    if (out.dim == 0) out.dim = row_dim;
    if (row_dim != out.dim || row_dim <= 0) {
      throw InputError(path, reader.line_number(),
                       "expected a word and " + std::to_string(out.dim) + " numbers, found " +
                           std::to_string(row_dim) + " numbers");
    }
    std::string word(fields[0]);
    if (!seen.insert(word).second) continue;  // first vector of a word wins, as in gensim
    for (int k = 1; k <= row_dim; ++k) {
      const std::string number(fields[k]);
      char* end = nullptr;
      const float value = std::strtof(number.c_str(), &end);
      // nan and inf parse as numbers but would train on silently.
      if (end != number.c_str() + number.size() || !std::isfinite(value)) {
        throw InputError(path, reader.line_number(), "'" + number + "' is not a finite number");
      }
      out.values.push_back(value);
    }
    out.words.push_back(std::move(word));
  }
  if (out.words.empty()) throw InputError(path + ": no word vectors in file");
  return out;
}

Vocabulary Vocabulary::build(const std::vector<Sentence>& training,
                             const std::vector<Sentence>& other, int min_count,
                             const WordVectors* vectors) {
  std::unordered_map<std::string, std::int64_t> counts;
  for (const Sentence& s : training) {
    for (const std::string& w : s.words) ++counts[w];
  }
  std::unordered_set<std::string> with_vector;
  if (vectors) with_vector.insert(vectors->words.begin(), vectors->words.end());

  std::vector<std::pair<std::string, std::int64_t>> kept;
  for (const auto& [word, count] : counts) {
    if (count >= min_count || with_vector.count(word)) kept.emplace_back(word, count);
  }
  if (vectors) {
    std::unordered_set<std::string> unseen_with_vector;
    for (const Sentence& s : other) {
      for (const std::string& w : s.words) {
        if (!counts.count(w) && with_vector.count(w)) unseen_with_vector.insert(w);
      }
    }
    for (const std::string& w : unseen_with_vector) kept.emplace_back(w, 0);
  }
  // Frequency order with the word as tie-breaker keeps ids independent of hash order.
  std::sort(kept.begin(), kept.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  std::vector<std::string> words = {"<pad>", "<unk>"};
  for (auto& entry : kept) words.push_back(std::move(entry.first));
  return from_words(std::move(words));
}

Vocabulary Vocabulary::from_words(std::vector<std::string> words) {
  Vocabulary vocab;
  vocab.words_ = std::move(words);
  for (std::size_t i = 0; i < vocab.words_.size(); ++i) {
    vocab.ids_.emplace(vocab.words_[i], static_cast<std::int32_t>(i));
  }
  return vocab;
}

std::int32_t Vocabulary::id_of(const std::string& word) const {
  auto it = ids_.find(word);
  return it == ids_.end() ? kUnknown : it->second;
}

void Vocabulary::gather_vectors(const WordVectors& vectors, std::vector<float>& rows,
                                std::vector<std::uint8_t>& has_vector) const {
  const std::size_t dim = vectors.dim;
  rows.assign(words_.size() * dim, 0.0f);
  has_vector.assign(words_.size(), 0);
  for (std::size_t v = 0; v < vectors.words.size(); ++v) {
    auto it = ids_.find(vectors.words[v]);
    if (it == ids_.end()) continue;
    std::copy_n(vectors.values.begin() + v * dim, dim, rows.begin() + it->second * dim);
    has_vector[it->second] = 1;
  }
}

}  // namespace hrere::data
