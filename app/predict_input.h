#pragma once
// One line of `hrere predict` input (app/predict.h), parsed and encoded without LibTorch, so
// that the input format can be tested and fuzzed on its own (docs/ARCHITECTURE.md).
#include <optional>
#include <string>

#include "data_pipeline/bagging.h"
#include "data_pipeline/vocabulary.h"

namespace hrere::train {

struct PredictRequest {
  std::string head;
  std::string tail;
  data::BagArrays bag;  // one bag of all the line's sentences, cut to L words
};

// Parses one input line; nullopt for a blank line. `where` ("file:line") prefixes the
// InputError of a bad line.
std::optional<PredictRequest> parse_predict_line(const std::string& line, const std::string& where,
                                                 const data::Vocabulary& vocabulary, int L);

}  // namespace hrere::train
