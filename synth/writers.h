#pragma once
// The output files other than the sentences: relation2id.txt, the uninformative test pairs,
// the KB splits, the word vectors and the synth.json manifest.
#include <filesystem>
#include <vector>

#include "synth/synth.h"
#include "synth/text.h"
#include "synth/world.h"

namespace hrere::synth {

// relation2id.txt: NA and the relations with their ids.
void write_relation2id(const std::filesystem::path& dir, SynthReport& report);

// test_uninformative_pairs.txt: the uninformative pairs among `test`.
void write_uninformative(const std::filesystem::path& dir, const std::vector<Pair>& test,
                         SynthReport& report);

// Streams the world's facts, then the KB-only ones, into the three KB splits, leaving out
// every RE pair. A fact goes
// to valid or test only when both its entities already occur in train (as in FB15k-237) and
// it is not the body of an implied test pair.
void write_kb(const std::filesystem::path& dir, const World& world, const Selection& selection,
              const SynthOptions& options, SynthReport& report);

// Random vectors for every word the text can contain once names are split at '_', printed
// from integers so the bytes do not depend on floating-point formatting.
void write_vectors(const std::filesystem::path& dir, const Vocabulary& vocabulary,
                   const Names& names, const SynthOptions& options, SynthReport& report);

// synth.json: the options and the report.
void write_manifest(const std::filesystem::path& dir, const SynthOptions& o, const SynthReport& r);

}  // namespace hrere::synth
