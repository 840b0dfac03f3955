// Loader throughput next to prepare time, on the default data or any prepare config.
//
//   build/tools/bench/loader_bench [PREPARED_DIR]   (default: prepares configs/nyt10.yaml's
//                                                    inputs into a temporary folder)
//
// Reports, in one run: prepare seconds; bags/s of the loader (chunk-aligned reads, shuffle
// window, prefetch thread) over 3 epochs; and, as the baseline it replaces, bags/s of reading
// the same shuffled order one bag at a time straight from the store.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "data_pipeline/loader.h"
#include "data_pipeline/prepare.h"

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  using namespace hrere::data;
  std::string dir;
  std::filesystem::path temp;
  if (argc > 1) {
    dir = argv[1];
  } else {
    temp = std::filesystem::temp_directory_path() / "hrere-loader-bench";
    dir = temp.string();
    PrepareOptions o;
    o.train_path = "../shared/data/nyt10-partial/train.txt";
    o.test_path = "../shared/data/nyt10-partial/test.txt";
    o.relations_path = "../shared/data/nyt10-partial/relation2id.txt";
    o.skip_bad_lines = true;
    o.kb_train_path = "../shared/data/fb15k-237/train.txt";
    o.kb_valid_path = "../shared/data/fb15k-237/valid.txt";
    o.kb_test_path = "../shared/data/fb15k-237/test.txt";
    const auto start = Clock::now();
    prepare_data(o, dir);
    std::printf("prepare (nyt10-partial + fb15k-237): %.2f s\n", seconds_since(start));
  }
  auto store = std::make_shared<const BagStore>(BagStore::open(dir + "/" + kBagStoreFile));
  const std::int64_t n = store->size("train");
  std::printf("store: %lld training bags, T=%d, L=%d, %lld bags per chunk\n",
              static_cast<long long>(n), store->T("train"), store->L(),
              static_cast<long long>(store->chunk_bags("train")));

  LoaderOptions options;
  options.batch_size = 128;
  const int epochs = 3;
  BagLoader loader(store, options);
  std::int64_t bags = 0;
  auto start = Clock::now();
  for (int e = 0; e < epochs; ++e) {
    while (auto batch = loader.next()) bags += batch->size();
  }
  const double loader_rate = bags / seconds_since(start);
  std::printf("loader (chunked reads, shuffle window, prefetch): %.0f bags/s over %d epochs\n",
              loader_rate, epochs);

  // Baseline: the same bag order, each bag read on its own from the store.
  bags = 0;
  start = Clock::now();
  for (int e = 0; e < epochs; ++e) {
    const std::vector<std::int64_t> order = loader.epoch_order(e);
    for (std::size_t i = 0; i + options.batch_size <= order.size(); i += options.batch_size) {
      std::vector<BagArrays> rows;
      std::vector<BagRef> refs;
      rows.reserve(options.batch_size);
      for (std::int64_t k = 0; k < options.batch_size; ++k) {
        rows.push_back(store->read("train", order[i + k], 1));
        refs.push_back({&rows.back(), 0, order[i + k]});
      }
      bags += make_batch(refs).size();
    }
  }
  const double baseline_rate = bags / seconds_since(start);
  std::printf("baseline (one read per bag, no prefetch): %.0f bags/s\n", baseline_rate);
  std::printf("loader / baseline: %.1fx\n", loader_rate / baseline_rate);
  if (!temp.empty()) std::filesystem::remove_all(temp);
  return 0;
}
