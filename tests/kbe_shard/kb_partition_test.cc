// What each rank reads of a KB store (kbe_shard/kb_partition.h): blocks that cover every
// split once, the candidates, the epoch's global batches whatever P, the query-scoped filter
// against the whole KB's, and bad triples as one error on every rank. Runs as one process and
// under mpirun -np 2 and 3.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <set>

#include "comm/routing_communicator.h"
#include "core/errors.h"
#include "data_pipeline/kb_store.h"
#include "kbe_shard/kb_partition.h"
#include "kbe_test_util.h"

namespace hrere::kbe {
namespace {

using testing::SharedTempDir;

constexpr std::int64_t kEntities = 23;  // 20 in triples, 3 named by the text side only
constexpr std::int64_t kRelations = 3;

data::KbStoreContents small_kb() {
  data::KbStoreContents kb;
  for (std::int64_t e = 0; e < kEntities; ++e) kb.entities.push_back("e" + std::to_string(e));
  for (std::int64_t r = 0; r < kRelations; ++r) kb.relations.push_back("r" + std::to_string(r));
  torch::manual_seed(4);
  for (const auto& [split, count] :
       {std::pair<std::string, int>{"train", 300}, {"valid", 40}, {"test", 40}}) {
    // Few entities and relations: many triples share a query, so the filter has work.
    const torch::Tensor triples = torch::stack({torch::randint(20, {count}, torch::kInt32),
                                                torch::randint(kRelations, {count}, torch::kInt32),
                                                torch::randint(20, {count}, torch::kInt32)},
                                               1)
                                      .contiguous();
    kb.triples[split].assign(triples.data_ptr<std::int32_t>(),
                             triples.data_ptr<std::int32_t>() + triples.numel());
  }
  return kb;
}

std::string write_store(const SharedTempDir& dir, const data::KbStoreContents& kb,
                        comm::Communicator& comm) {
  const std::string path = dir.file("kb.h5");
  if (comm.rank() == 0) data::write_kb_store(path, kb);
  comm.barrier();
  return path;
}

TEST(KbPartition, BlocksCoverTheTrainSplitOnceAndCandidatesAreTheKbsEntities) {
  comm::Communicator& world = comm::world();
  SharedTempDir dir(world);
  const data::KbStoreContents kb = small_kb();
  const KbPartition partition(world, write_store(dir, kb, world), /*keep_train=*/true);
  EXPECT_EQ(partition.entities(), kEntities);
  EXPECT_EQ(partition.relations(), kRelations);
  EXPECT_EQ(partition.size("valid"), 40);

  // This rank's triples are the store's rows of its block, and the blocks tile the split.
  const RowBlock block = partition.train_block();
  const std::vector<std::int32_t>& train = kb.triples.at("train");
  EXPECT_EQ(partition.train_triples(), std::vector<std::int32_t>(train.begin() + 3 * block.begin,
                                                                 train.begin() + 3 * block.end));
  torch::Tensor edges = torch::tensor({block.begin, block.end});
  const torch::Tensor all = world.all_gather(edges);
  EXPECT_EQ(all[0][0].item<std::int64_t>(), 0);
  EXPECT_EQ(all[world.size() - 1][1].item<std::int64_t>(), 300);
  for (int r = 1; r < world.size(); ++r) {
    EXPECT_EQ(all[r][0].item<std::int64_t>(), all[r - 1][1].item<std::int64_t>());
  }

  std::set<std::int64_t> expected;
  for (const auto& [split, triples] : kb.triples) {
    for (std::size_t i = 0; i < triples.size(); i += 3)
      expected.insert({triples[i], triples[i + 2]});
  }
  const torch::Tensor candidates = partition.candidates();
  EXPECT_EQ(std::vector<std::int64_t>(candidates.data_ptr<std::int64_t>(),
                                      candidates.data_ptr<std::int64_t>() + candidates.numel()),
            std::vector<std::int64_t>(expected.begin(), expected.end()));

  // Without keep_train a rank holds no triples.
  const KbPartition evaluation(world, dir.file("kb.h5"), /*keep_train=*/false);
  EXPECT_TRUE(evaluation.train_triples().empty());
  EXPECT_TRUE(torch::equal(evaluation.candidates(), candidates));
}

// Each global batch holds the same rows whatever P, every row once per epoch, and another
// epoch (key) gives other batches. Blocks of every P are simulated in one process.
TEST(EpochBatches, GlobalBatchesDoNotDependOnTheRanks) {
  const std::int64_t rows = 1000, batch_size = 64;
  const auto batches_of = [&](int size, std::uint64_t key) {
    std::vector<std::set<std::int64_t>> batches(16);
    for (int rank = 0; rank < size; ++rank) {
      const RowBlock block = row_block(rows, rank, size);
      const EpochBatches epoch(block, rows, batch_size, key);
      EXPECT_EQ(epoch.batches(), 16);
      for (std::int64_t b = 0; b < epoch.batches(); ++b) {
        EXPECT_EQ(epoch.global_size(b), b < 15 ? 64 : 1000 - 15 * 64);
        const torch::Tensor local = epoch.local_rows(b);
        for (std::int64_t i = 0; i < local.numel(); ++i) {
          const std::int32_t row = local[i].item<std::int32_t>();
          EXPECT_EQ(epoch.position(row) / batch_size, static_cast<std::uint64_t>(b));
          EXPECT_TRUE(batches[b].insert(block.begin + row).second) << "row twice";
        }
      }
    }
    return batches;
  };
  const auto one = batches_of(1, 77);
  std::size_t total = 0;
  for (std::int64_t b = 0; b < 16; ++b) {
    total += one[b].size();
    EXPECT_EQ(one[b].size(), static_cast<std::size_t>(b < 15 ? 64 : 40));
  }
  EXPECT_EQ(total, 1000u);
  for (const int size : {2, 3, 7}) EXPECT_EQ(batches_of(size, 77), one) << size << " ranks";
  EXPECT_NE(batches_of(1, 78), one);
  // A batch is spread over the store, not a run of neighbouring rows.
  EXPECT_GT(*one[0].rbegin() - *one[0].begin(), 800);
}

// The filter of the evaluated queries, each rank holding the answers it owns, ranks every
// query as the filter of the whole KB does: against all candidates and against samples.
TEST(KbPartition, QueryFilterRanksAsTheWholeKbsFilter) {
  comm::Communicator& world = comm::world();
  SharedTempDir dir(world);
  const data::KbStoreContents kb = small_kb();
  const KbPartition partition(world, write_store(dir, kb, world), /*keep_train=*/false);
  ComplExOptions options;
  options.num_entities = kEntities;
  options.num_relations = kRelations;
  options.dim = 8;
  options.reciprocal = true;
  options.trainable = false;
  options.device = testing::test_device();
  ShardedComplEx model(world, options);
  model.set_candidates(partition.candidates());
  // Small integers: scores are exact and ties frequent, so a wrongly kept or dropped known
  // answer changes a rank.
  torch::manual_seed(8);
  const torch::Tensor entities = torch::randint(-1, 2, {kEntities, 8}).to(torch::kFloat);
  model.assign(entities.index_select(0, model.entities().shard().ownership().global_ids()),
               torch::randint(-1, 2, {2 * kRelations, 8}).to(torch::kFloat));

  FilterIndex whole;
  for (const auto& [split, triples] : kb.triples) whole.add(triples);
  const std::vector<std::int32_t> evaluated = partition.evaluation_triples("valid", 0, 1);
  EXPECT_EQ(evaluated, kb.triples.at("valid"));
  const FilterIndex scoped = partition.filter_for(evaluated);
  for (const std::int64_t sampled : {0, 7}) {
    RankingProtocol protocol;
    protocol.batch = 9;
    protocol.sampled_candidates = sampled;
    const FilteredRanks expected = filtered_ranks(model, evaluated, whole, protocol);
    const FilteredRanks found = filtered_ranks(model, evaluated, scoped, protocol);
    EXPECT_TRUE(torch::equal(found.head, expected.head)) << sampled << " sampled";
    EXPECT_TRUE(torch::equal(found.tail, expected.tail)) << sampled << " sampled";
  }
  // The filter is what ranking needs, not the KB: this rank keeps answers it owns only.
  std::int64_t kept = 0, owned_elsewhere = 0;
  const auto count = [&](const KnownAnswers& answers) {
    for (const std::int32_t answer : answers) {
      ++kept;
      owned_elsewhere += answer % world.size() != world.rank();
    }
  };
  for (std::size_t i = 0; i < evaluated.size(); i += 3) {
    count(scoped.tails(evaluated[i], evaluated[i + 1]));
    count(scoped.heads(evaluated[i + 1], evaluated[i + 2]));
  }
  EXPECT_GT(kept, 0);
  EXPECT_EQ(owned_elsewhere, 0);
}

TEST(KbPartition, EvaluationSubsetIsSeededDistinctRowsInTheSplitsOrder) {
  comm::Communicator& world = comm::world();
  SharedTempDir dir(world);
  const data::KbStoreContents kb = small_kb();
  const KbPartition partition(world, write_store(dir, kb, world), /*keep_train=*/false);
  const std::vector<std::int32_t>& valid = kb.triples.at("valid");
  const std::vector<std::int32_t> subset = partition.evaluation_triples("valid", 15, 3);
  ASSERT_EQ(subset.size(), 45u);
  EXPECT_EQ(partition.evaluation_triples("valid", 15, 3), subset);
  EXPECT_NE(partition.evaluation_triples("valid", 15, 4), subset);
  EXPECT_EQ(partition.evaluation_triples("valid", 40, 3), valid);
  // Rows of the split, each once, in the split's order (rows may repeat a triple, so match
  // them in order).
  std::size_t row = 0;
  for (std::size_t i = 0; i < subset.size(); i += 3, ++row) {
    while (row < 40 &&
           !std::equal(subset.begin() + i, subset.begin() + i + 3, valid.begin() + 3 * row)) {
      ++row;
    }
    ASSERT_LT(row, 40u) << "triple " << i / 3 << " is not a later row of the split";
  }
  torch::Tensor mine = torch::tensor(subset);
  EXPECT_TRUE(torch::equal(world.all_gather(mine)[0], mine));  // every rank reads the same
}

// A bad id in the last rank's block is the same InputError, naming the row, on every rank.
TEST(KbPartition, ABadTripleIsOneErrorOnEveryRank) {
  comm::Communicator& world = comm::world();
  SharedTempDir dir(world);
  data::KbStoreContents kb = small_kb();
  kb.triples["train"][3 * 290 + 2] = kEntities + 5;  // row 290's tail
  kb.triples["test"][3 * 1 + 1] = -1;                // a later split's error is not the first
  const std::string path = write_store(dir, kb, world);
  try {
    const KbPartition partition(world, path, /*keep_train=*/true);
    ADD_FAILURE() << "no error";
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find("/triples/train: row 290: tail id 28 out of range"),
              std::string::npos)
        << error.what();
  }
}

}  // namespace
}  // namespace hrere::kbe
