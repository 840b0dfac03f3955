#include "synth/text.h"

#include <algorithm>
#include <array>
#include <stdexcept>
#include <string_view>
#include <utility>

namespace hrere::synth {
namespace {

std::vector<std::string> split_spaces(std::string_view text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t stop = text.find(' ', start);
    if (stop == std::string_view::npos) stop = text.size();
    if (stop > start) out.emplace_back(text.substr(start, stop - start));
    start = stop + 1;
  }
  return out;
}

Template parse_template(const std::string& text) {
  Template out;
  for (std::string& token : split_spaces(text)) {
    if (token == "{H}") {
      out.push_back({Piece::kHead, {}});
    } else if (token == "{T}") {
      out.push_back({Piece::kTail, {}});
    } else if (token == "{F}") {
      out.push_back({Piece::kFiller, {}});
    } else {
      out.push_back({Piece::kWord, std::move(token)});
    }
  }
  return out;
}

std::vector<Template> parse_templates(const std::vector<std::string>& texts) {
  std::vector<Template> out;
  for (const std::string& text : texts) out.push_back(parse_template(text));
  return out;
}

// Literal words of all templates: no filler word or entity name may equal one, which is what
// keeps a stating phrase from arising by chance.
const std::unordered_set<std::string>& template_words() {
  static const std::unordered_set<std::string> words = [] {
    std::unordered_set<std::string> out;
    for (const auto& templates : parsed_templates()) {
      for (const Template& t : templates) {
        for (const Piece& piece : t) {
          if (piece.kind == Piece::kWord) out.insert(piece.word);
        }
      }
    }
    return out;
  }();
  return words;
}

// Pseudo-word syllables, for filler words and entity names.
constexpr std::array<std::string_view, 22> kOnsets = {"b",  "d",  "f",  "g",  "k",  "l", "m",  "n",
                                                      "p",  "r",  "s",  "t",  "v",  "z", "br", "dr",
                                                      "gr", "kr", "st", "tr", "ch", "sh"};
constexpr std::array<std::string_view, 8> kVowels = {"a", "e", "i", "o", "u", "ai", "ei", "ou"};
constexpr std::array<std::string_view, 7> kCodas = {"", "", "", "n", "r", "l", "s"};

std::string pseudo_word(Rng& rng, int min_syllables, int max_syllables) {
  std::string word;
  const auto syllables = rng.between(min_syllables, max_syllables);
  for (std::uint64_t i = 0; i < syllables; ++i) {
    word += rng.pick(kOnsets);
    word += rng.pick(kVowels);
    word += rng.pick(kCodas);
  }
  return word;
}

}  // namespace

const std::vector<std::vector<Template>>& parsed_templates() {
  static const std::vector<std::vector<Template>> parsed = [] {
    std::vector<std::vector<Template>> out{parse_templates(synth_mention_templates())};
    for (const SynthRelation& relation : synth_relations()) {
      out.push_back(parse_templates(relation.templates));
    }
    return out;
  }();
  return parsed;
}

Vocabulary::Vocabulary(const SynthOptions& options) {
  // Template words ("the", "of", "in", ...) are not here: fillers must never equal one.
  static constexpr std::array<std::string_view, 40> kCommon = {
      "that",  "on",   "with",  "as",    "it",     "but",    "he",    "she",   "they",  "her",
      "their", "when", "while", "after", "before", "also",   "more",  "than",  "would", "could",
      "will",  "one",  "two",   "new",   "time",   "people", "about", "over",  "into",  "some",
      "many",  "this", "has",   "had",   "not",    "been",   "were",  "there", "all",   "says"};
  auto add = [&](std::string word) {
    if (template_words().count(word) || !known_.insert(word).second) return;
    words_.push_back(std::move(word));
  };
  for (std::string_view word : kCommon) {
    if (words_.size() < options.vocab_size) add(std::string(word));
  }
  static constexpr std::array<std::string_view, 7> kSuffixes = {"",    "",   "s", "ed",
                                                                "ing", "er", "ly"};
  Rng rng = stream(options.seed, Stream::kVocabulary);
  while (words_.size() < options.vocab_size) {
    std::string word = pseudo_word(rng, 1, 3);  // before the suffix: one draw per statement
    word += rng.pick(kSuffixes);
    add(std::move(word));
  }
  // Weight of rank k is 2^32 / (k + 1): integer Zipf.
  std::uint64_t total = 0;
  for (std::uint64_t k = 0; k < words_.size(); ++k) {
    total += (std::uint64_t{1} << 32) / (k + 1);
    cumulative_.push_back(total);
  }
}

Names::Names(const World& w, const Selection& selection, const Vocabulary& vocabulary,
             const SynthOptions& options) {
  for (const auto* split : {&selection.train, &selection.test}) {
    for (const Pair& p : *split) {
      ids_.push_back(p.head);
      ids_.push_back(p.tail);
    }
  }
  std::sort(ids_.begin(), ids_.end());
  ids_.erase(std::unique(ids_.begin(), ids_.end()), ids_.end());

  Rng first_rng = stream(options.seed, Stream::kFirstNames);
  std::vector<std::string> first_names;
  for (int i = 0; i < 400; ++i) first_names.push_back(pseudo_word(first_rng, 1, 2));

  std::unordered_set<std::string> used;
  auto acceptable = [&](const std::string& name) {
    if (used.count(name) || vocabulary.contains(name)) return false;
    for (const std::string& part : split_parts(name)) {
      if (template_words().count(part)) return false;
    }
    return true;
  };
  for (std::uint32_t id : ids_) {
    Rng rng = stream(options.seed, Stream::kNames, id);
    std::string name = propose(w.type_of(id), first_names, rng);
    for (int attempt = 1; !acceptable(name); ++attempt) {
      if (attempt == 10000) {
        throw std::logic_error("synth: cannot find a unique name for entity " + std::to_string(id));
      }
      name = propose(w.type_of(id), first_names, rng);
    }
    used.insert(name);
    names_.emplace(id, std::move(name));
  }
}

std::vector<std::string> Names::split_parts(const std::string& name) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (std::size_t stop; (stop = name.find('_', start)) != std::string::npos; start = stop + 1) {
    parts.push_back(name.substr(start, stop - start));
  }
  parts.push_back(name.substr(start));
  return parts;
}

std::string Names::propose(Type type, const std::vector<std::string>& first_names, Rng& rng) {
  static constexpr std::array<std::string_view, 8> kCityPrefixes = {"port",  "san",  "lake", "fort",
                                                                    "saint", "east", "west", "new"};
  static constexpr std::array<std::string_view, 6> kCountrySuffixes = {"ia",  "land", "stan",
                                                                       "ora", "ica",  "ria"};
  static constexpr std::array<std::string_view, 5> kRegionSuffixes = {"valley", "highlands",
                                                                      "coast", "plains", "heights"};
  static constexpr std::array<std::string_view, 3> kUniversitySuffixes = {"university", "college",
                                                                          "institute"};
  static constexpr std::array<std::string_view, 7> kCompanySuffixes = {
      "inc", "corporation", "group", "systems", "holdings", "media", "partners"};
  // One draw per statement: the order in which operands are evaluated is unspecified, and
  // the names must not depend on the compiler.
  auto suffixed = [&rng](std::string stem, const auto& suffixes) {
    stem += '_';
    stem += rng.pick(suffixes);
    return stem;
  };
  switch (type) {
    case kCountry: {
      std::string name = pseudo_word(rng, 1, 2);
      name += rng.pick(kCountrySuffixes);
      return name;
    }
    case kRegion: return suffixed(pseudo_word(rng, 2, 3), kRegionSuffixes);
    case kCity: {
      if (!rng.chance(0.25)) return pseudo_word(rng, 2, 3);
      std::string name(rng.pick(kCityPrefixes));
      name += '_';
      name += pseudo_word(rng, 2, 3);
      return name;
    }
    case kUniversity: return suffixed(pseudo_word(rng, 2, 3), kUniversitySuffixes);
    case kCompany: {
      std::string stem = pseudo_word(rng, 2, 3);
      return rng.chance(0.3) ? stem : suffixed(std::move(stem), kCompanySuffixes);
    }
    default: {
      std::string name = rng.pick(first_names);
      name += '_';
      name += pseudo_word(rng, 2, 3);
      return name;
    }
  }
}

void SentenceWriter::write(const std::vector<Pair>& pairs, bool test, LineFile& file,
                           SynthReport& report) {
  const Stream purpose = test ? Stream::kTestSentences : Stream::kTrainSentences;
  std::string prefix;
  std::string sentence;
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    const Pair& pair = pairs[i];
    Rng rng = stream(options_.seed, purpose, i);
    prefix.clear();
    append_mid(prefix, "m.", pair.head);
    prefix += '\t';
    append_mid(prefix, "m.", pair.tail);
    prefix += '\t';
    prefix += names_.of(pair.head);
    prefix += '\t';
    prefix += names_.of(pair.tail);
    prefix += '\t';
    prefix += relation_name(pair.relation);
    prefix += '\t';
    const auto count =
        rng.between(options_.min_sentences_per_pair, options_.max_sentences_per_pair);
    for (std::uint64_t k = 0; k < count; ++k) {
      const bool states =
          pair.relation != kNA && !pair.uninformative && !rng.chance(options_.noise_rate);
      render(pair, states, rng, sentence);
      std::string& line = file.begin_line();
      line += prefix;
      line += sentence;
      line += test ? "\t###END###" : " ###END###";
      file.end_line();
      count_sentence(pair, states, report);
    }
  }
}

void SentenceWriter::count_sentence(const Pair& pair, bool states, SynthReport& report) {
  if (pair.relation == kNA) {
    ++report.na_sentences;
  } else if (pair.uninformative) {
    ++report.uninformative_sentences;
  } else if (states) {
    ++report.stating_sentences;
  } else {
    ++report.noise_sentences;
  }
}

void SentenceWriter::render(const Pair& pair, bool states, Rng& rng, std::string& out) const {
  const auto& templates = parsed_templates()[states ? pair.relation : 0];
  const Template& chosen = rng.pick(templates);
  out.clear();
  auto put = [&out](std::string_view word) {
    if (!out.empty()) out += ' ';
    out += word;
  };
  for (const Piece& piece : chosen) {
    switch (piece.kind) {
      case Piece::kWord: put(piece.word); break;
      case Piece::kHead: put(names_.of(pair.head)); break;
      case Piece::kTail: put(names_.of(pair.tail)); break;
      case Piece::kFiller: {
        const auto length = rng.below(options_.max_filler_run + 1);
        for (std::uint64_t k = 0; k < length; ++k) put(filler(pair, rng));
      }
    }
  }
}

const std::string& SentenceWriter::filler(const Pair& pair, Rng& rng) const {
  const std::vector<std::uint32_t>& pool = names_.ids();
  if (pool.size() > 2 && rng.chance(options_.distractor_rate)) {
    std::uint32_t other;
    do {
      other = rng.pick(pool);
    } while (other == pair.head || other == pair.tail);
    return names_.of(other);
  }
  return vocabulary_.sample(rng);
}

}  // namespace hrere::synth
