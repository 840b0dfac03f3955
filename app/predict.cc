#include "app/predict.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <iostream>
#include <numeric>
#include <optional>
#include <sstream>

#include "app/training.h"
#include "core/atomic_output.h"
#include "core/errors.h"
#include "data_pipeline/text_file.h"
#include "data_pipeline/tokenize.h"
#include "data_pipeline/vocabulary.h"

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

std::int64_t predict(const PredictOptions& options) {
  TrainedRun run = load_trained_run(options.run_dir);
  torch::set_num_threads(run.config.train.threads);
  const data::Vocabulary vocabulary = data::Vocabulary::from_words(run.store->vocabulary());
  const std::vector<std::string> relations = run.store->relations();
  const int L = run.store->L();
  const EntityIndex entities(run.knowledge ? run.store->entities() : std::vector<std::string>{});

  std::ostringstream out;
  data::LineReader reader(options.input);
  std::string line;
  std::int64_t count = 0;
  torch::NoGradGuard no_grad;
  while (reader.next(line)) {
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    const std::string where = options.input + ":" + std::to_string(reader.line_number());
    const auto request = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (request.is_discarded() || !request.is_object()) {
      throw InputError(where + ": not a JSON object");
    }
    const std::string head = required_string(request, "head", where);
    const std::string tail = required_string(request, "tail", where);
    const data::BagArrays arrays = bag_of(request, vocabulary, L, where);
    const torch::Tensor logits = run.model->forward(data::make_batch({{&arrays, 0, 0}}));
    // The knowledge side can only score entities it has embeddings for.
    const std::optional<std::int64_t> head_id = entities.find(head), tail_id = entities.find(tail);
    const bool with_knowledge = head_id && tail_id;
    const torch::Tensor probs =
        (with_knowledge ? run.scorer().probabilities(logits, torch::tensor({*head_id}),
                                                     torch::tensor({*tail_id}))
                        : torch::softmax(logits, 1))[0]
            .cpu()
            .contiguous();
    std::vector<std::int64_t> order(relations.size());
    std::iota(order.begin(), order.end(), 0);
    const float* p = probs.data_ptr<float>();
    std::stable_sort(order.begin(), order.end(),
                     [p](std::int64_t a, std::int64_t b) { return p[a] > p[b]; });
    if (options.top > 0 && static_cast<std::size_t>(options.top) < order.size())
      order.resize(options.top);
    nlohmann::json ranked = nlohmann::json::array();
    for (std::int64_t r : order)
      ranked.push_back({{"relation", relations[r]}, {"probability", p[r]}});
    nlohmann::json result{
        {"line", reader.line_number()}, {"head", head}, {"tail", tail}, {"relations", ranked}};
    if (run.knowledge) result["knowledge"] = with_knowledge;
    out << result.dump() << '\n';
    ++count;
  }
  if (options.output.empty()) {
    std::cout << out.str();
  } else {
    core::write_text_atomically(options.output, out.str());
  }
  return count;
}

}  // namespace hrere::train
