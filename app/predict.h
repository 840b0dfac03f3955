#pragma once
// `hrere predict`: relation probabilities for new sentence sets with a trained run.
//
// Input, one JSON object per line:
//   {"head": "m.0abc", "tail": "m.0xyz", "head_name": "barack_obama", "tail_name": "hawaii",
//    "sentences": ["barack_obama was born in hawaii .", ...]}
// Output, one line per input line, relations ranked by probability:
//   {"line": 1, "head": ..., "tail": ..., "relations": [{"relation": ..., "probability": ...}]}
// Sentences are tokenised as in training and cut to L words; unknown words map to <unk>.
// With a joint variant the knowledge model joins in when it knows both entities; the output
// then says "knowledge": true (false: text only).
#include <cstdint>
#include <string>

namespace hrere::train {

struct PredictOptions {
  std::string run_dir;
  std::string input;     // JSON lines
  std::string output;    // written atomically; empty: standard output
  std::int64_t top = 0;  // relations per line (0: all)
};

// Returns the number of lines predicted. A bad line is an InputError naming file and line,
// and no output file is written.
std::int64_t predict(const PredictOptions& options);

}  // namespace hrere::train
