// Language-model throughput at Table 1 sizes: ours against the straightforward computation,
// side by side in one run.
//
//   build/tools/bench/lm_bench PREPARED_DIR [--steps N] [--eval-sentences N] [--threads N]
//                              [--device cpu|cuda|cuda:N] [--encoders]
//
// ours:            each batch reduced to its distinct sentences (oversampled bags repeat
//                  them), sentences grouped by length so the LSTM runs over little padding
//                  (unpacked: see language_model.h); a test sentence encoded once.
// straightforward: every bag slot encoded, every sentence run over all L positions; a test
//                  sentence scored as a bag of T copies of itself.
// Reports training bags/s and real tokens/s, test-set evaluation time, and model FLOP
// utilisation: the LSTM FLOPs actually executed per second over the single-precision GEMM
// peak measured on this machine in the same run.
//
// --encoders instead compares the sentence encoders (model.encoder bilstm, cnn, pcnn at
// their default sizes), each the way training runs it; speeds are relative to the BiLSTM's.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <torch/cuda.h>

#include "comm/device.h"
#include "data_pipeline/loader.h"
#include "trainer/config.h"
#include "trainer/evaluation/evaluation.h"
#include "trainer/model/language_model.h"
#include "trainer/training.h"

namespace {

using namespace hrere;
using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// FLOPs of one BiLSTM token position, forward only: two directions, four gates, each a
// [in + H] x H multiply-add.
double lstm_flops_per_token(const train::LanguageModelOptions& o) {
  const double H = o.lstm_hidden, in = o.word_dim + 2.0 * o.position_dim;
  return 2 * 2 * 4 * H * (in + H);
}

// Waits for the device's queued work, so wall-clock times measure it.
void synchronize(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}

double gemm_peak_flops(const torch::Device& device) {
  const auto options = torch::TensorOptions().device(device);
  const auto a = torch::randn({2048, 2048}, options), b = torch::randn({2048, 2048}, options);
  torch::mm(a, b);
  synchronize(device);
  const int reps = device.is_cuda() ? 100 : 10;
  const auto start = Clock::now();
  for (int i = 0; i < reps; ++i) torch::mm(a, b);
  synchronize(device);
  return reps * 2.0 * 2048 * 2048 * 2048 / seconds_since(start);
}

// Every slot of the batch as its own sentence, run over all L positions.
train::Sentences all_slots_full_width(const data::Batch& batch) {
  const std::int64_t N = batch.words.size(0) * batch.words.size(1), L = batch.words.size(2);
  train::Sentences s;
  s.words = batch.words.reshape({N, L});
  s.head_positions = batch.head_positions.reshape({N, L});
  s.tail_positions = batch.tail_positions.reshape({N, L});
  s.lengths = torch::full({N}, L, torch::kInt64);
  return s;
}

train::BagSlots all_slots(const data::Batch& batch) {
  const std::int64_t B = batch.words.size(0), T = batch.words.size(1);
  return {torch::arange(B * T).view({B, T}), torch::ones({B, T}, torch::kBool)};
}

torch::Tensor straightforward_logits(train::LanguageModel& model, const data::Batch& batch) {
  return model->classify(model->encode(all_slots_full_width(batch)), all_slots(batch));
}

struct TrainResult {
  double bags_per_second, real_tokens_per_second, executed_flops_per_second;
};

TrainResult time_training(train::LanguageModel& model, const std::shared_ptr<data::BagStore>& store,
                          int steps, bool straightforward) {
  torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(5e-4));
  data::LoaderOptions o;
  o.batch_size = 128;
  data::BagLoader loader(store, o);
  const double flops_token = 3 * lstm_flops_per_token(model->options());  // forward + backward
  double seconds = 0, bags = 0, real_tokens = 0, executed_tokens = 0;
  model->train();
  for (int step = -1; step < steps; ++step) {  // step -1 warms up
    auto batch = loader.next();
    if (!batch) batch = loader.next();
    const auto start = Clock::now();
    torch::Tensor logits;
    if (straightforward) {
      logits = straightforward_logits(model, *batch);
    } else {
      logits = model->forward(*batch);
    }
    const torch::Tensor loss = torch::nn::functional::cross_entropy(
        logits, comm::to_device(batch->labels, logits.device()));
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    synchronize(logits.device());
    if (step < 0) continue;
    seconds += seconds_since(start);
    bags += batch->size();
    real_tokens += batch->lengths.sum().item<double>();
    executed_tokens +=
        straightforward ? batch->lengths.numel() * batch->words.size(2)
                        : train::distinct_sentences(*batch).sentences.lengths.sum().item<double>();
  }
  return {bags / seconds, real_tokens / seconds, executed_tokens * flops_token / seconds};
}

// Seconds to score the first `n` test sentences; also the FLOPs/s executed.
std::pair<double, double> time_eval(train::LanguageModel& model, const data::BagStore& store,
                                    std::int64_t n, int T, bool straightforward) {
  torch::NoGradGuard no_grad;
  model->eval();
  const double flops_token = lstm_flops_per_token(model->options());
  const auto start = Clock::now();
  double executed_tokens = 0;
  const std::int64_t block = 256;
  for (std::int64_t first = 0; first < n; first += block) {
    const std::int64_t count = std::min(block, n - first);
    const data::BagArrays arrays = store.read("test", first, count);
    std::vector<data::BagRef> refs;
    for (std::int64_t r = 0; r < count; ++r) refs.push_back({&arrays, r, first + r});
    data::Batch batch = data::make_batch(refs);
    if (straightforward) {
      for (auto* field : {&batch.words, &batch.lengths, &batch.head_positions,
                          &batch.tail_positions, &batch.head_spans, &batch.tail_spans}) {
        std::vector<std::int64_t> repeat(field->dim(), 1);
        repeat[1] = T;
        *field = field->repeat(repeat);
      }
      straightforward_logits(model, batch);
      executed_tokens += batch.lengths.numel() * batch.words.size(2);
    } else {
      model->forward(batch);
      executed_tokens += batch.lengths.sum().item<double>();
    }
  }
  synchronize(model->device());
  const double seconds = seconds_since(start);
  return {seconds, executed_tokens * flops_token / seconds};
}

}  // namespace

// One measured configuration: a sentence encoder, run our way or the straightforward way.
struct Mode {
  const char* name;
  train::EncoderKind encoder;
  bool straightforward;
};

int main(int argc, char** argv) {
  hrere::comm::keep_freed_host_memory();
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: lm_bench PREPARED_DIR [--steps N] [--eval-sentences N] "
                 "[--threads N] [--device cpu|cuda|cuda:N] [--encoders]\n");
    return 2;
  }
  int steps = 3, threads = 2;
  std::string device_spec = "cpu";
  std::int64_t eval_sentences = 1024;
  std::vector<Mode> modes = {{"ours", train::EncoderKind::kBiLstm, false},
                             {"straightforward", train::EncoderKind::kBiLstm, true}};
  for (int i = 2; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--encoders")) {
      modes = {{"bilstm", train::EncoderKind::kBiLstm, false},
               {"cnn", train::EncoderKind::kCnn, false},
               {"pcnn", train::EncoderKind::kPcnn, false}};
      continue;
    }
    if (i + 1 >= argc) break;
    if (!std::strcmp(argv[i], "--steps")) steps = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--eval-sentences")) eval_sentences = std::atoll(argv[i + 1]);
    if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--device")) device_spec = argv[i + 1];
    ++i;
  }
  const torch::Device device = comm::resolve_device(device_spec);
  torch::set_num_threads(threads);
  torch::manual_seed(1);
  const std::string store_path = std::string(argv[1]) + "/bags.h5";
  auto store = std::make_shared<data::BagStore>(data::BagStore::open(store_path));
  train::Config config;  // Table 1 sizes
  config.model.word_dim = store->has_word_vectors() ? store->word_vectors().dim : 300;
  eval_sentences = std::min(eval_sentences, store->size("test"));
  const int T = store->T("train");

  const double peak = gemm_peak_flops(device);
  std::printf("machine: %s, %d threads, measured float32 GEMM peak %.1f GFLOP/s (2048^3 mm)\n",
              device.str().c_str(), threads, peak / 1e9);
  std::printf(
      "model: Table 1 sizes (d_w %d, d_p %d, d_s %d, hidden %d; cnn/pcnn %d filters, window "
      "%d), batch 128, T %d, L %d\n",
      config.model.word_dim, config.model.position_dim, config.model.lstm_hidden,
      config.model.classifier_hidden, config.model.conv_filters, config.model.conv_window, T,
      store->L());
  std::printf("%-16s %12s %16s %10s | %22s %10s\n", "mode", "train bags/s", "real tokens/s",
              "train MFU", "eval s per 1000 sent.", "eval MFU");
  std::vector<TrainResult> trained;
  std::vector<std::pair<double, double>> evaluated;
  for (const Mode& mode : modes) {
    config.model.encoder = mode.encoder;
    train::LanguageModel model = train::make_language_model(config, *store, device);
    trained.push_back(time_training(model, store, steps, mode.straightforward));
    evaluated.push_back(time_eval(model, *store, eval_sentences, T, mode.straightforward));
    // The utilisation counts LSTM FLOPs: the BiLSTM's only.
    auto mfu = [&](double flops) {
      char text[16] = "-";
      if (mode.encoder == train::EncoderKind::kBiLstm) {
        std::snprintf(text, sizeof text, "%.1f%%", 100 * flops / peak);
      }
      return std::string(text);
    };
    std::printf("%-16s %12.1f %16.0f %10s | %22.2f %10s\n", mode.name,
                trained.back().bags_per_second, trained.back().real_tokens_per_second,
                mfu(trained.back().executed_flops_per_second).c_str(),
                evaluated.back().first * 1000.0 / eval_sentences,
                mfu(evaluated.back().second).c_str());
  }
  for (std::size_t m = 1; m < modes.size(); ++m) {
    std::printf("speed-up of %s over %s: training %.2fx, evaluation %.2fx\n", modes[0].name,
                modes[m].name, trained[0].bags_per_second / trained[m].bags_per_second,
                evaluated[m].first / evaluated[0].first);
  }
  std::printf("(%d training steps, %lld test sentences)\n", steps,
              static_cast<long long>(eval_sentences));
  return 0;
}
