#pragma once
// A synthetic distant-supervision world: typed entities, a Freebase-like KB with
// compositional structure, and NYT10-style sentences about entity pairs, written in exactly
// the formats of the real data so every downstream command runs on it unchanged.
//
// The output is a pure function of the options (seed included): the same options give
// byte-identical files on any platform, because every random choice goes through a
// hand-written xoshiro256** generator and integer-only distribution code.
//
// Files written into the output directory (each to a temporary name, then renamed):
//   train.txt      6 tab-separated fields: head mid (m.xxx), tail mid, head name, tail name,
//                  relation, sentence ending in " ###END###"
//   test.txt       7 fields: as train, but "###END###" is its own last field
//   relation2id.txt  count line, then "name id" lines, NA = 0
//   kb/train.txt, kb/valid.txt, kb/test.txt
//                  head<TAB>relation<TAB>tail with /m/xxx mids; no RE pair (either direction)
//   test_uninformative_pairs.txt
//                  head mid, tail mid, relation (tab-separated, one pair a line): related
//                  test pairs whose sentences never state the relation but whose relation
//                  follows from kb/train.txt facts by one of the world's composition rules
//   vectors.txt    word2vec text format ("V d" header) with random vectors for every word the
//                  text holds once names are split at '_'; only when write_vectors is set
//                  (otherwise an old vectors.txt there is removed)
//   synth.json     the options used and the counts in SynthReport
//
// The world: countries divide into regions, regions contain cities, cities contain
// universities; a person has a birth city (nationality is its country) and maybe a residence,
// place of death, employer, university and parent; a company has a founding city and maybe
// a founder. The composition rules behind the uninformative test pairs:
//   nationality(p, c)                     <- place_of_birth(p, x) & contains(c, x)
//   contains(c, x)                        <- administrative_divisions(c, r) & contains(r, x)
//   administrative_division/country(r, c) <- contains(r, x) & contains(c, x)
//
// Byte conventions follow the real files: the NYT10-style files (train, test,
// relation2id) use LF between lines and no newline after the last line; the KB files end
// every line with CRLF, as FB15k-237 does.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace hrere::synth {

struct SynthOptions {
  std::uint64_t seed = 1;

  // World size: all typed entities (countries, regions, cities, universities, companies,
  // people, in fixed proportions). Every entity has KB facts; only those in RE pairs get
  // names and appear in text.
  std::size_t num_entities = 3000;

  // Relation-extraction entity pairs per split (train and test pairs are disjoint).
  std::size_t train_pairs = 700;
  std::size_t test_pairs = 400;
  // Fraction of each split's pairs that are NA: they co-occur but have no relation.
  double na_fraction = 0.3;
  // Sentences per pair, drawn uniformly from [min, max].
  std::size_t min_sentences_per_pair = 1;
  std::size_t max_sentences_per_pair = 6;
  // Fraction of a related pair's sentences that only mention the pair without stating the
  // relation (distant-supervision noise).
  double noise_rate = 0.3;
  // Fraction of the related test pairs whose sentences are all uninformative and whose
  // relation the KB implies through other facts.
  double uninformative_test_fraction = 0.3;

  // Filler words between and around the entity mentions.
  std::size_t vocab_size = 2000;
  std::size_t max_filler_run = 6;
  // Probability that a filler position holds another entity's name instead of a word.
  double distractor_rate = 0.05;

  // Probability that a KB fact goes to kb/valid.txt / kb/test.txt. A fact whose entities
  // are not yet in kb/train.txt, or that an uninformative test pair's rule needs, stays in
  // train, so the held-out shares come out a little lower (~3.3% each for 5% by default).
  double kb_valid_fraction = 0.05;
  double kb_test_fraction = 0.05;

  // KB-only facts beyond the world's, so a KB can have Freebase's shape (many relations,
  // more facts per entity) without more text: kb_only_facts triples over kb_only_relations
  // relations named /synth/kb_only/relation_NNNNN. Heads are spread evenly over the entities,
  // tails and relations skewed toward low ids (hub entities, common relations, a long tail).
  // They split into train/valid/test as the world's facts do and are never RE pairs.
  std::size_t kb_only_relations = 0;
  std::size_t kb_only_facts = 0;

  bool write_vectors = false;
  std::size_t vector_dim = 50;
};

// Named option sets: "default" (a few thousand sentences, well under a second),
// "bench-1m" (1M+ sentences), "kb-3m" (3M entities), "kb-30m" (30M), "kb-86m" (Freebase-86M's
// shape: 86M entities, ~338M triples, 14,824 relations). Throws std::invalid_argument naming the
// valid presets for any other name.
SynthOptions synth_preset(const std::string& name);
std::vector<std::string> synth_preset_names();

// Throws std::invalid_argument naming the offending option.
void validate_synth_options(const SynthOptions& options);

struct SynthReport {
  std::size_t entities = 0;        // in the world (and the KB)
  std::size_t named_entities = 0;  // those that appear in text
  std::size_t relations = 0;       // including NA

  std::size_t train_pairs = 0;
  std::size_t test_pairs = 0;
  std::size_t train_na_pairs = 0;
  std::size_t test_na_pairs = 0;
  std::size_t uninformative_test_pairs = 0;

  std::size_t train_sentences = 0;
  std::size_t test_sentences = 0;
  std::size_t stating_sentences = 0;        // sentences that state their pair's relation
  std::size_t noise_sentences = 0;          // related pair, relation not stated (noise rate)
  std::size_t uninformative_sentences = 0;  // sentences of the uninformative test pairs
  std::size_t na_sentences = 0;

  std::size_t kb_relations = 0;      // the world's relations and the KB-only ones used (no NA)
  std::size_t kb_facts = 0;          // all facts of the world, KB-only ones included
  std::size_t kb_removed_facts = 0;  // dropped because their pair is an RE pair
  std::size_t kb_train = 0;
  std::size_t kb_valid = 0;
  std::size_t kb_test = 0;

  std::size_t vector_words = 0;  // 0 unless vectors were written
  std::size_t bytes_written = 0;
};

// Generates the world and writes the files listed above into out_dir (created if missing;
// existing files of the same names are replaced). Throws std::invalid_argument for bad
// options, std::runtime_error when the world is too small for the requested pairs or a file
// cannot be written.
SynthReport generate_synthetic_world(const SynthOptions& options, const std::string& out_dir);

// The relations and sentence templates, for consumers that check what the text states.
// Template tokens are space-separated; {H} and {T} are the head and tail names, {F} a run of
// filler words. Every relation template has {H} and {T} joined by a run of literal words
// that includes one no filler word equals, so a sentence states the relation exactly when
// it contains that run with the pair's names. Relation i has id i + 1 (NA is 0).
struct SynthRelation {
  std::string name;
  std::vector<std::string> templates;
};
const std::vector<SynthRelation>& synth_relations();
// Templates that only mention the pair; used for noise, NA and uninformative sentences.
const std::vector<std::string>& synth_mention_templates();

}  // namespace hrere::synth
