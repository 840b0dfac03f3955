#include "data_pipeline/loader.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <set>

#include "core/errors.h"
#include "data_pipeline/nyt10_options.h"
#include "data_pipeline/prepare.h"

namespace hrere::data {
namespace {

using hrere::testing::TempDir;

// One store from the real nyt10-partial slice for all loader tests, with small chunks so an
// epoch spans many of them (3181 training bags / 16 = 199 chunks, the last one partial).
class LoaderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    prepare_data(hrere::testing::nyt10_partial_options(16), dir_->file("store"));
    store_ = std::make_shared<const BagStore>(BagStore::open(dir_->file("store/bags.h5")));
  }
  static void TearDownTestSuite() {
    store_.reset();
    delete dir_;
  }
  static LoaderOptions options(int rank, int world, bool drop_last) {
    LoaderOptions o;
    o.batch_size = 32;
    o.shuffle_window = 100;
    o.drop_last = drop_last;
    o.seed = 7;
    o.rank = rank;
    o.world_size = world;
    return o;
  }
  static std::vector<std::int64_t> drain_epoch(BagLoader& loader) {
    std::vector<std::int64_t> seen;
    while (auto batch = loader.next()) {
      auto idx = batch->indices;
      seen.insert(seen.end(), idx.data_ptr<std::int64_t>(),
                  idx.data_ptr<std::int64_t>() + idx.numel());
    }
    return seen;
  }
  static TempDir* dir_;
  static std::shared_ptr<const BagStore> store_;
};
TempDir* LoaderTest::dir_ = nullptr;
std::shared_ptr<const BagStore> LoaderTest::store_;

TEST_F(LoaderTest, SharesAreDisjointAndCoverTheEpoch) {
  const std::int64_t n = store_->size("train");
  for (int world : {1, 2, 3}) {
    std::vector<std::int64_t> all;
    for (int rank = 0; rank < world; ++rank) {
      BagLoader loader(store_, options(rank, world, false));
      const std::vector<std::int64_t> seen = drain_epoch(loader);
      EXPECT_EQ(seen, loader.epoch_order(0)) << "batches follow the plan";
      EXPECT_NEAR(static_cast<double>(seen.size()), static_cast<double>(n) / world, 1.0);
      all.insert(all.end(), seen.begin(), seen.end());
    }
    std::sort(all.begin(), all.end());
    std::vector<std::int64_t> every(n);
    std::iota(every.begin(), every.end(), 0);
    EXPECT_EQ(all, every) << "P=" << world;  // disjoint (no duplicates) and complete
  }
}

TEST_F(LoaderTest, EpochOrderIsSeededAndChangesPerEpoch) {
  BagLoader a(store_, options(0, 1, true));
  BagLoader b(store_, options(0, 1, true));
  EXPECT_EQ(a.epoch_order(0), b.epoch_order(0));
  EXPECT_NE(a.epoch_order(0), a.epoch_order(1));
  LoaderOptions other = options(0, 1, true);
  other.seed = 8;
  EXPECT_NE(BagLoader(store_, other).epoch_order(0), a.epoch_order(0));
  const auto order = a.epoch_order(0);
  std::vector<std::int64_t> sorted(order);
  std::sort(sorted.begin(), sorted.end());
  EXPECT_NE(order, sorted);  // actually shuffled
}

TEST_F(LoaderTest, DropLastGivesEveryRankTheSameFullBatches) {
  const std::int64_t n = store_->size("train");
  for (int rank = 0; rank < 3; ++rank) {
    BagLoader loader(store_, options(rank, 3, true));
    EXPECT_EQ(loader.batches_per_epoch(), (n / 3) / 32);
    std::int64_t batches = 0;
    while (auto batch = loader.next()) {
      EXPECT_EQ(batch->size(), 32);
      ++batches;
    }
    EXPECT_EQ(batches, loader.batches_per_epoch());
  }
}

TEST_F(LoaderTest, BatchTensorsMatchTheStore) {
  BagLoader loader(store_, options(0, 1, true));
  const Batch batch = *loader.next();
  const std::int64_t T = store_->T("train"), L = store_->L();
  ASSERT_EQ(batch.words.sizes(), (std::vector<std::int64_t>{32, T, L}));
  EXPECT_EQ(batch.head_positions.sizes(), batch.words.sizes());
  for (std::int64_t b = 0; b < batch.size(); ++b) {
    const std::int64_t index = batch.indices[b].item<std::int64_t>();
    const BagArrays row = store_->read("train", index, 1);
    EXPECT_EQ(batch.labels[b].item<std::int64_t>(), row.labels[0]);
    EXPECT_EQ(batch.heads[b].item<std::int64_t>(), row.heads[0]);
    for (std::int64_t t = 0; t < T; ++t) {
      EXPECT_EQ(batch.lengths[b][t].item<std::int64_t>(), row.lengths[t]);
      for (std::int64_t i = 0; i < L; ++i) {
        ASSERT_EQ(batch.words[b][t][i].item<std::int64_t>(), row.words[t * L + i]);
      }
      // Position features: L inside the span, L - 1 just before it, clipped at 0 and 2L.
      const std::int64_t begin = row.head_spans[t * 2], end = row.head_spans[t * 2 + 1];
      EXPECT_EQ(batch.head_positions[b][t][begin].item<std::int64_t>(), L);
      if (begin > 0) {
        EXPECT_EQ(batch.head_positions[b][t][begin - 1].item<std::int64_t>(), L - 1);
      }
      if (end < L) {
        EXPECT_EQ(batch.head_positions[b][t][end].item<std::int64_t>(), L + 1);
      }
      EXPECT_GE(batch.head_positions[b][t].min().item<std::int64_t>(), 0);
      EXPECT_LE(batch.head_positions[b][t].max().item<std::int64_t>(), 2 * L);
    }
  }
}

TEST_F(LoaderTest, RestoreReproducesTheFollowingBatches) {
  BagLoader reference(store_, options(1, 2, true));
  std::vector<std::vector<std::int64_t>> expected;  // epoch 0 batches 3.., then epoch 1
  LoaderState saved;
  for (int epoch = 0; epoch < 2; ++epoch) {
    std::int64_t b = 0;
    while (auto batch = reference.next()) {
      if (epoch == 0 && b == 3) saved = {0, 3};
      if (epoch > 0 || b >= 3) {
        auto idx = batch->indices;
        expected.emplace_back(idx.data_ptr<std::int64_t>(),
                              idx.data_ptr<std::int64_t>() + idx.numel());
      }
      ++b;
    }
  }
  EXPECT_EQ(reference.state(), (LoaderState{2, 0}));

  BagLoader resumed(store_, options(1, 2, true));
  resumed.restore(saved);
  std::vector<std::vector<std::int64_t>> got;
  for (int epoch = 0; epoch < 2; ++epoch) {
    while (auto batch = resumed.next()) {
      auto idx = batch->indices;
      got.emplace_back(idx.data_ptr<std::int64_t>(), idx.data_ptr<std::int64_t>() + idx.numel());
    }
  }
  EXPECT_EQ(got, expected);

  // Restoring a loader that already ran (threads and buffers in flight) works the same.
  BagLoader rewound(store_, options(1, 2, true));
  rewound.next();
  rewound.next();
  rewound.restore(saved);
  auto first = rewound.next();
  auto idx = first->indices;
  EXPECT_EQ(std::vector<std::int64_t>(idx.data_ptr<std::int64_t>(),
                                      idx.data_ptr<std::int64_t>() + idx.numel()),
            expected.front());
  EXPECT_THROW(rewound.restore({0, rewound.batches_per_epoch() + 1}), std::exception);
}

TEST_F(LoaderTest, ChunkSubsetsServeExactlyTheirBags) {
  const std::int64_t n = store_->size("train"), chunk = store_->chunk_bags("train");
  const auto [kept, held] = split_chunks(n, chunk, 0.1, 3);
  const std::int64_t chunks = (n + chunk - 1) / chunk;
  EXPECT_EQ(static_cast<std::int64_t>(held.size()), chunks / 10);
  EXPECT_EQ(static_cast<std::int64_t>(kept.size() + held.size()), chunks);
  EXPECT_EQ(split_chunks(n, chunk, 0.1, 3), std::make_pair(kept, held));  // seeded
  EXPECT_NE(split_chunks(n, chunk, 0.1, 4).second, held);

  std::set<std::int64_t> expected;
  for (std::int64_t k : kept) {
    for (std::int64_t b = k * chunk; b < std::min(n, (k + 1) * chunk); ++b) expected.insert(b);
  }
  LoaderOptions o = options(0, 1, /*drop_last=*/false);
  o.chunks = kept;
  BagLoader loader(store_, o);
  const auto seen = drain_epoch(loader);
  EXPECT_EQ(std::set<std::int64_t>(seen.begin(), seen.end()), expected);
  EXPECT_EQ(seen.size(), expected.size());

  o.chunks = {0, static_cast<std::int64_t>(chunks)};
  EXPECT_THROW(BagLoader(store_, o), std::invalid_argument);
  EXPECT_THROW(split_chunks(10, 16, 0.1, 3), InputError);  // one chunk: none left to train
}

TEST_F(LoaderTest, TooSmallSplitIsAClearError) {
  LoaderOptions o = options(0, 1, true);
  o.batch_size = 1 << 20;
  EXPECT_THROW(BagLoader(store_, o), std::exception);
}

}  // namespace
}  // namespace hrere::data
