#include "synth/writers.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_set>

#include "synth/line_file.h"

namespace hrere::synth {

namespace fs = std::filesystem;

namespace {

// Calls add(head, relation name, tail) for the options' KB-only facts (synth.h); add returns
// false for a fact it drops (an RE pair). Returns how many KB-only relations the written facts
// use. Head h gets floor((h + 1) F / N) - floor(h F / N) of the F facts, so they total F
// exactly; a head's facts differ in (relation, tail), so no triple repeats. A tail equal to
// its head is drawn again.
template <typename Add>
std::size_t add_kb_only_facts(std::size_t entities, const SynthOptions& options, Add&& add) {
  if (options.kb_only_facts == 0) return 0;
  std::vector<std::string> names(options.kb_only_relations);
  char name[64];
  for (std::size_t r = 0; r < names.size(); ++r) {
    std::snprintf(name, sizeof name, "/synth/kb_only/relation_%05zu", r + 1);
    names[r] = name;
  }
  Rng rng = stream(options.seed, Stream::kKbOnly);
  const std::uint64_t n = entities;
  const std::uint64_t f = options.kb_only_facts;               // n f < 2^63 by the options' bounds
  std::vector<std::pair<std::uint64_t, std::uint32_t>> drawn;  // one head's (relation, tail)
  std::vector<bool> used(names.size(), false);
  for (std::uint64_t h = 0; h < n; ++h) {
    const std::uint64_t count = (h + 1) * f / n - h * f / n;
    drawn.clear();
    while (drawn.size() < count) {
      const std::uint64_t relation = rng.skewed(names.size());
      const auto tail = static_cast<std::uint32_t>(rng.skewed(n));
      if (tail == h) continue;
      const std::pair<std::uint64_t, std::uint32_t> fact{relation, tail};
      if (std::find(drawn.begin(), drawn.end(), fact) != drawn.end()) continue;
      drawn.push_back(fact);
      if (add(static_cast<std::uint32_t>(h), names[relation], tail)) used[relation] = true;
    }
  }
  return static_cast<std::size_t>(std::count(used.begin(), used.end(), true));
}

}  // namespace

void write_relation2id(const fs::path& dir, SynthReport& report) {
  LineFile file(dir / "relation2id.txt", LineStyle::kLfBetween);
  file.write_line(std::to_string(kNumRelations));
  for (int rel = 0; rel < kNumRelations; ++rel) {
    file.write_line(relation_name(static_cast<Rel>(rel)) + " " + std::to_string(rel));
  }
  file.commit();
  report.bytes_written += file.bytes();
}

void write_uninformative(const fs::path& dir, const std::vector<Pair>& test, SynthReport& report) {
  LineFile file(dir / "test_uninformative_pairs.txt", LineStyle::kLfAfter);
  std::string line;
  for (const Pair& pair : test) {
    if (!pair.uninformative) continue;
    line.clear();
    append_mid(line, "m.", pair.head);
    line += '\t';
    append_mid(line, "m.", pair.tail);
    line += '\t';
    line += relation_name(pair.relation);
    file.write_line(line);
  }
  file.commit();
  report.uninformative_test_pairs = file.lines();
  report.bytes_written += file.bytes();
}

void write_kb(const fs::path& dir, const World& world, const Selection& selection,
              const SynthOptions& options, SynthReport& report) {
  LineFile train(dir / "kb" / "train.txt", LineStyle::kCrlfAfter);
  LineFile valid(dir / "kb" / "valid.txt", LineStyle::kCrlfAfter);
  LineFile test(dir / "kb" / "test.txt", LineStyle::kCrlfAfter);
  std::vector<bool> in_train(world.entities(), false);
  Rng rng = stream(options.seed, Stream::kKbSplit);
  const auto valid_threshold =
      static_cast<std::uint64_t>(options.kb_valid_fraction * 9007199254740992.0);
  const auto test_threshold =
      valid_threshold + static_cast<std::uint64_t>(options.kb_test_fraction * 9007199254740992.0);

  auto add_fact = [&](std::uint32_t h, const std::string& relation, std::uint32_t t) {
    ++report.kb_facts;
    const std::uint64_t key = pair_key(h, t);
    if (selection.re_pairs.count(key)) {
      ++report.kb_removed_facts;
      return false;
    }
    const std::uint64_t u = rng.next() >> 11;
    LineFile* target = &train;
    if (in_train[h] && in_train[t] && !selection.body_pairs.count(key)) {
      if (u < valid_threshold) {
        target = &valid;
      } else if (u < test_threshold) {
        target = &test;
      }
    }
    if (target == &train) {
      in_train[h] = true;
      in_train[t] = true;
    }
    std::string& line = target->begin_line();
    append_mid(line, "/m/", h);
    line += '\t';
    line += relation;
    line += '\t';
    append_mid(line, "/m/", t);
    target->end_line();
    return true;
  };
  for_each_fact(world, [&](std::uint32_t h, Rel relation, std::uint32_t t) {
    add_fact(h, relation_name(relation), t);
  });
  report.kb_relations = kNumRelations - 1 + add_kb_only_facts(world.entities(), options, add_fact);
  for (LineFile* file : {&train, &valid, &test}) {
    file->commit();
    report.bytes_written += file->bytes();
  }
  report.kb_train = train.lines();
  report.kb_valid = valid.lines();
  report.kb_test = test.lines();
}

void write_vectors(const fs::path& dir, const Vocabulary& vocabulary, const Names& names,
                   const SynthOptions& options, SynthReport& report) {
  std::vector<std::string> words;
  std::unordered_set<std::string> seen;
  auto add = [&](const std::string& word) {
    if (seen.insert(word).second) words.push_back(word);
  };
  for (const std::string& word : vocabulary.words()) add(word);
  for (const auto& templates : parsed_templates()) {
    for (const Template& t : templates) {
      for (const Piece& piece : t) {
        if (piece.kind == Piece::kWord) add(piece.word);
      }
    }
  }
  for (std::uint32_t id : names.ids()) {
    for (const std::string& part : Names::split_parts(names.of(id))) add(part);
  }

  LineFile file(dir / "vectors.txt", LineStyle::kLfAfter);
  file.write_line(std::to_string(words.size()) + " " + std::to_string(options.vector_dim));
  char number[16];
  for (std::size_t i = 0; i < words.size(); ++i) {
    Rng rng = stream(options.seed, Stream::kVectors, i);
    std::string& line = file.begin_line();
    line += words[i];
    for (std::size_t d = 0; d < options.vector_dim; ++d) {
      const auto thousandths = static_cast<int>(rng.below(2001)) - 1000;  // [-1, 1]
      std::snprintf(number, sizeof number, " %s%d.%03d", thousandths < 0 ? "-" : "",
                    std::abs(thousandths) / 1000, std::abs(thousandths) % 1000);
      line += number;
    }
    file.end_line();
  }
  file.commit();
  report.vector_words = words.size();
  report.bytes_written += file.bytes();
}

void write_manifest(const fs::path& dir, const SynthOptions& o, const SynthReport& r) {
  nlohmann::ordered_json manifest;
  manifest["generator"] = "hrere synth";
  manifest["format_version"] = 1;
  manifest["options"] = {
      {"seed", o.seed},
      {"num_entities", o.num_entities},
      {"train_pairs", o.train_pairs},
      {"test_pairs", o.test_pairs},
      {"na_fraction", o.na_fraction},
      {"min_sentences_per_pair", o.min_sentences_per_pair},
      {"max_sentences_per_pair", o.max_sentences_per_pair},
      {"noise_rate", o.noise_rate},
      {"uninformative_test_fraction", o.uninformative_test_fraction},
      {"vocab_size", o.vocab_size},
      {"max_filler_run", o.max_filler_run},
      {"distractor_rate", o.distractor_rate},
      {"kb_valid_fraction", o.kb_valid_fraction},
      {"kb_test_fraction", o.kb_test_fraction},
      {"kb_only_relations", o.kb_only_relations},
      {"kb_only_facts", o.kb_only_facts},
      {"write_vectors", o.write_vectors},
      {"vector_dim", o.vector_dim},
  };
  manifest["counts"] = {
      {"entities", r.entities},
      {"named_entities", r.named_entities},
      {"relations", r.relations},
      {"train_pairs", r.train_pairs},
      {"test_pairs", r.test_pairs},
      {"train_na_pairs", r.train_na_pairs},
      {"test_na_pairs", r.test_na_pairs},
      {"uninformative_test_pairs", r.uninformative_test_pairs},
      {"train_sentences", r.train_sentences},
      {"test_sentences", r.test_sentences},
      {"stating_sentences", r.stating_sentences},
      {"noise_sentences", r.noise_sentences},
      {"uninformative_sentences", r.uninformative_sentences},
      {"na_sentences", r.na_sentences},
      {"kb_relations", r.kb_relations},
      {"kb_facts", r.kb_facts},
      {"kb_removed_facts", r.kb_removed_facts},
      {"kb_train", r.kb_train},
      {"kb_valid", r.kb_valid},
      {"kb_test", r.kb_test},
      {"vector_words", r.vector_words},
      {"bytes_written", r.bytes_written},
  };
  LineFile file(dir / "synth.json", LineStyle::kLfAfter);
  file.write_line(manifest.dump(2));
  file.commit();
}

}  // namespace hrere::synth
