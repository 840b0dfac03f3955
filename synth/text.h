#pragma once
// The text: parsed sentence templates, the filler vocabulary, entity names, and the
// NYT10-style sentence lines about each pair (stating its relation, or noise).
#include <algorithm>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "synth/line_file.h"
#include "synth/rng.h"
#include "synth/synth.h"
#include "synth/world.h"

namespace hrere::synth {

// A template split into pieces: literal words and slots.
struct Piece {
  enum Kind { kWord, kHead, kTail, kFiller } kind;
  std::string word;
};
using Template = std::vector<Piece>;

// Parsed templates: index 0 holds the mention-only templates, index r those of relation r.
const std::vector<std::vector<Template>>& parsed_templates();

// Frequent English words first, then pseudo-words; sampled with Zipf-like frequencies.
class Vocabulary {
 public:
  explicit Vocabulary(const SynthOptions& options);

  const std::string& sample(Rng& rng) const {
    const std::uint64_t u = rng.below(cumulative_.back());
    return words_[std::upper_bound(cumulative_.begin(), cumulative_.end(), u) -
                  cumulative_.begin()];
  }
  bool contains(const std::string& word) const { return known_.count(word) > 0; }
  const std::vector<std::string>& words() const { return words_; }

 private:
  std::vector<std::string> words_;
  std::unordered_set<std::string> known_;
  std::vector<std::uint64_t> cumulative_;
};

// Names for the entities that appear in text, unique, joined by '_' like NYT10, and never
// equal to (or containing a part equal to) a filler or template word.
class Names {
 public:
  Names(const World& w, const Selection& selection, const Vocabulary& vocabulary,
        const SynthOptions& options);

  const std::string& of(std::uint32_t id) const { return names_.at(id); }
  // The named entities in id order (the distractor pool).
  const std::vector<std::uint32_t>& ids() const { return ids_; }

  static std::vector<std::string> split_parts(const std::string& name);

 private:
  static std::string propose(Type type, const std::vector<std::string>& first_names, Rng& rng);

  std::vector<std::uint32_t> ids_;
  std::unordered_map<std::uint32_t, std::string> names_;
};

class SentenceWriter {
 public:
  SentenceWriter(const Names& names, const Vocabulary& vocabulary, const SynthOptions& options)
      : names_(names), vocabulary_(vocabulary), options_(options) {}

  // Writes every pair's sentences; the test file puts ###END### in a field of its own.
  void write(const std::vector<Pair>& pairs, bool test, LineFile& file, SynthReport& report);

 private:
  static void count_sentence(const Pair& pair, bool states, SynthReport& report);
  void render(const Pair& pair, bool states, Rng& rng, std::string& out) const;
  // A filler word, or now and then another entity's name (a distractor mention).
  const std::string& filler(const Pair& pair, Rng& rng) const;

  const Names& names_;
  const Vocabulary& vocabulary_;
  const SynthOptions& options_;
};

}  // namespace hrere::synth
