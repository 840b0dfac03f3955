// The loader under mpirun: each process is one rank of the world it was started in.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "comm/routing_communicator.h"
#include "data_pipeline/loader.h"
#include "data_pipeline/nyt10_options.h"
#include "data_pipeline/prepare.h"

namespace hrere::data {
namespace {

TEST(LoaderMpi, RanksShareEachEpochDisjointlyAndCompletely) {
  comm::Communicator& world = comm::world();
  hrere::testing::TempDir dir;  // each rank prepares its own (identical) store
  prepare_data(hrere::testing::nyt10_partial_options(16), dir.file("store"));
  auto store = std::make_shared<const BagStore>(BagStore::open(dir.file("store/bags.h5")));
  const std::int64_t n = store->size("train");

  for (bool drop_last : {false, true}) {
    LoaderOptions options;
    options.batch_size = 16;
    options.shuffle_window = 64;
    options.drop_last = drop_last;
    options.rank = world.rank();
    options.world_size = world.size();
    BagLoader loader(store, options);
    std::vector<std::int64_t> mine;
    for (int epoch = 0; epoch < 2; ++epoch) {
      mine.clear();
      while (auto batch = loader.next()) {
        auto idx = batch->indices;
        mine.insert(mine.end(), idx.data_ptr<std::int64_t>(),
                    idx.data_ptr<std::int64_t>() + idx.numel());
      }
      // Gather every rank's bags (padded with -1 to a common length) on all ranks.
      const std::int64_t width = n / world.size() + 2;
      torch::Tensor padded = torch::full({width}, -1, torch::kInt64);
      std::copy(mine.begin(), mine.end(), padded.data_ptr<std::int64_t>());
      torch::Tensor gathered = world.all_gather(padded).flatten();
      std::vector<std::int64_t> all;
      for (std::int64_t i = 0; i < gathered.numel(); ++i) {
        if (gathered[i].item<std::int64_t>() >= 0) all.push_back(gathered[i].item<std::int64_t>());
      }
      std::sort(all.begin(), all.end());
      EXPECT_TRUE(std::adjacent_find(all.begin(), all.end()) == all.end()) << "shares overlap";
      if (!drop_last) {
        std::vector<std::int64_t> every(n);
        std::iota(every.begin(), every.end(), 0);
        EXPECT_EQ(all, every) << "epoch " << epoch << " not covered";
      } else {
        // Every rank takes the same number of full batches, so collectives stay in step.
        torch::Tensor steps = torch::tensor({static_cast<std::int64_t>(mine.size())});
        torch::Tensor most = steps.clone(), least = steps.clone();
        world.all_reduce(most, comm::ReduceOp::Max);
        world.all_reduce(least, comm::ReduceOp::Min);
        EXPECT_EQ(most.item<std::int64_t>(), least.item<std::int64_t>());
        EXPECT_EQ(most.item<std::int64_t>(), (n / world.size()) / 16 * 16);
      }
    }
  }
}

}  // namespace
}  // namespace hrere::data
