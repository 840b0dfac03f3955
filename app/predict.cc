#include "app/predict.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <iostream>
#include <numeric>
#include <optional>
#include <sstream>

#include "app/predict_input.h"
#include "core/atomic_output.h"
#include "core/errors.h"
#include "data_pipeline/text_file.h"
#include "data_pipeline/vocabulary.h"
#include "trainer/training.h"

namespace hrere::train {

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
    const std::string where = options.input + ":" + std::to_string(reader.line_number());
    const std::optional<PredictRequest> request = parse_predict_line(line, where, vocabulary, L);
    if (!request) continue;
    const std::string& head = request->head;
    const std::string& tail = request->tail;
    const data::BagArrays& arrays = request->bag;
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
