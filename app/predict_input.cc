#include "app/predict_input.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <numeric>

#include "core/errors.h"
#include "data_pipeline/tokenize.h"

namespace hrere::train {
namespace {

std::string required_string(const nlohmann::json& object, const char* key,
                            const std::string& where) {
  const auto it = object.find(key);
  if (it == object.end() || !it->is_string() || it->get<std::string>().empty()) {
    throw InputError(where + ": \"" + key + "\" must be a non-empty string");
  }
  return it->get<std::string>();
}

// The sentences of one input line as one bag of all of them.
data::BagArrays bag_of(const nlohmann::json& request, const data::Vocabulary& vocabulary, int L,
                       const std::string& where) {
  const std::string head_name = required_string(request, "head_name", where);
  const std::string tail_name = required_string(request, "tail_name", where);
  const auto sentences = request.find("sentences");
  if (sentences == request.end() || !sentences->is_array() || sentences->empty()) {
    throw InputError(where + ": \"sentences\" must be a non-empty list of strings");
  }
  std::vector<data::EncodedSentence> encoded;
  for (std::size_t i = 0; i < sentences->size(); ++i) {
    const std::string at = where + ": sentence " + std::to_string(i + 1);
    if (!(*sentences)[i].is_string()) throw InputError(at + " is not a string");
    const std::string text = (*sentences)[i].get<std::string>();
    if (!data::is_valid_utf8(text)) throw InputError(at + " is not valid UTF-8");
    const auto tokens = data::tokenize_sentence(text, head_name, tail_name);
    if (!tokens) {
      throw InputError(at + " does not mention both \"" + head_name + "\" and \"" + tail_name +
                       "\"");
    }
    data::EncodedSentence e;
    const std::size_t length = std::min<std::size_t>(tokens->words.size(), L);
    for (std::size_t w = 0; w < length; ++w) e.words.push_back(vocabulary.id_of(tokens->words[w]));
    e.head_span = tokens->head;
    e.tail_span = tokens->tail;
    encoded.push_back(std::move(e));
  }
  data::Bag bag;
  bag.sentences.resize(encoded.size());
  std::iota(bag.sentences.begin(), bag.sentences.end(), 0);
  return data::to_arrays(encoded, {bag}, static_cast<int>(encoded.size()), L);
}

}  // namespace

std::optional<PredictRequest> parse_predict_line(const std::string& line, const std::string& where,
                                                 const data::Vocabulary& vocabulary, int L) {
  if (line.find_first_not_of(" \t") == std::string::npos) return std::nullopt;
  const auto request = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (request.is_discarded() || !request.is_object()) {
    throw InputError(where + ": not a JSON object");
  }
  PredictRequest parsed;
  parsed.head = required_string(request, "head", where);
  parsed.tail = required_string(request, "tail", where);
  parsed.bag = bag_of(request, vocabulary, L, where);
  return parsed;
}

}  // namespace hrere::train
