// ShardedEmbedding against an unsharded table. The binary runs as one process and under
// mpirun -np 2 and 3; expectations are computed from the full table on every rank, on the
// host, while the tables under test are on testing::test_device().
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "comm/routing_communicator.h"
#include "core/errors.h"
#include "kbe_shard/sharded_embedding.h"
#include "kbe_test_util.h"

namespace hrere::kbe {
namespace {

using testing::relative_error;
using testing::test_device;

EmbeddingOptions small_table(OptimizerKind kind) {
  EmbeddingOptions options;
  options.num_rows = 23;  // not a multiple of 2 or 3: shards of unequal size
  options.dim = 6;
  options.init_std = 0.5;
  options.seed = 42;
  options.optimizer.kind = kind;
  options.optimizer.lr = 0.05;
  options.device = test_device();
  return options;
}

EmbeddingOptions on_host(EmbeddingOptions options) {
  options.device = torch::kCPU;
  return options;
}

// The full initial table, built as a world of one on the host.
torch::Tensor unsharded_initial(const EmbeddingOptions& options) {
  return EmbeddingShard(on_host(options), 0, 1).table().clone();
}

// Rank q's batch of ids (with repeats) and the weights of its loss sum(lookup(ids) * weights).
std::pair<torch::Tensor, torch::Tensor> batch_of(int q, int step, const EmbeddingOptions& options) {
  torch::manual_seed(1000 * step + q);
  torch::Tensor ids = torch::randint(options.num_rows, {3, 5}, torch::kInt64);
  torch::Tensor weights = torch::randn({3, 5, options.dim});
  return {ids, weights};
}

TEST(ShardedEmbedding, InitialTableDoesNotDependOnRanks) {
  comm::Communicator& comm = comm::world();
  const EmbeddingOptions options = small_table(OptimizerKind::kAdagrad);
  ShardedEmbedding table(comm, options);
  EXPECT_TRUE(torch::equal(table.gather_full().cpu(), unsharded_initial(options)));
  EXPECT_NEAR(unsharded_initial(options).std().item<double>(), 0.5, 0.15);
  // The export's gather: the full table on rank 0, nothing on the others.
  const torch::Tensor root = table.gather_to_root();
  if (comm.rank() == 0) {
    EXPECT_TRUE(torch::equal(root.cpu(), unsharded_initial(options)));
  } else {
    EXPECT_FALSE(root.defined());
  }
}

TEST(ShardedEmbedding, LookupAndGradientsMatchUnshardedTable) {
  comm::Communicator& comm = comm::world();
  const EmbeddingOptions options = small_table(OptimizerKind::kAdagrad);
  ShardedEmbedding table(comm, options);
  const torch::Tensor full = unsharded_initial(options);

  const auto [ids, weights] = batch_of(comm.rank(), 0, options);
  const torch::Tensor rows = table.lookup(ids);
  EXPECT_TRUE(torch::equal(rows.cpu(), full.index({ids})));
  (rows * weights.to(rows.device())).sum().backward();
  const RowGradients received = table.exchange_gradients();

  // Reference: every rank's loss on the full table.
  torch::Tensor expected = torch::zeros_like(full);
  torch::Tensor touched = torch::zeros({options.num_rows}, torch::kBool);
  for (int q = 0; q < comm.size(); ++q) {
    const auto [q_ids, q_weights] = batch_of(q, 0, options);
    expected.index_add_(0, q_ids.reshape(-1), q_weights.reshape({-1, options.dim}));
    touched.index_fill_(0, q_ids.reshape(-1), true);
  }
  const torch::Tensor mine = table.shard().ownership().global_ids();
  const torch::Tensor expected_rows = touched.index_select(0, mine).nonzero().squeeze(1);
  EXPECT_TRUE(torch::equal(received.rows.cpu(), expected_rows));
  const torch::Tensor expected_grad = expected.index_select(0, mine.index_select(0, expected_rows));
  EXPECT_LT(relative_error(received.grad, expected_grad), 1e-6);
}

// The lazy update of the shard equals the same row update applied to an unsharded table.
void expect_steps_match_unsharded(OptimizerKind kind) {
  comm::Communicator& comm = comm::world();
  const EmbeddingOptions options = small_table(kind);
  ShardedEmbedding table(comm, options);
  EmbeddingShard reference(on_host(options), 0, 1);
  for (int step = 0; step < 4; ++step) {
    const auto [ids, weights] = batch_of(comm.rank(), step, options);
    (table.lookup(ids) * weights.to(options.device)).sum().backward();
    table.step();
    torch::Tensor grad = torch::zeros({options.num_rows, options.dim});
    torch::Tensor touched = torch::zeros({options.num_rows}, torch::kBool);
    for (int q = 0; q < comm.size(); ++q) {
      const auto [q_ids, q_weights] = batch_of(q, step, options);
      grad.index_add_(0, q_ids.reshape(-1), q_weights.reshape({-1, options.dim}));
      touched.index_fill_(0, q_ids.reshape(-1), true);
    }
    const torch::Tensor rows = touched.nonzero().squeeze(1);
    reference.apply({rows, grad.index_select(0, rows)});
  }
  EXPECT_LT(relative_error(table.gather_full(), reference.table()), 1e-6) << core::name_of(kind);
}

TEST(ShardedEmbedding, AdagradStepsMatchUnshardedRowUpdate) {
  expect_steps_match_unsharded(OptimizerKind::kAdagrad);
}
TEST(ShardedEmbedding, AdamStepsMatchUnshardedRowUpdate) {
  expect_steps_match_unsharded(OptimizerKind::kAdam);
}

// With every row updated each step the row optimizers are PyTorch's dense ones (on the host);
// lazy Adagrad equals dense Adagrad even for rows left out (their gradient is zero).
TEST(RowOptimizer, MatchesTorchOptimizers) {
  const torch::Device device = test_device();
  torch::manual_seed(7);
  const torch::Tensor initial = torch::randn({5, 4});
  for (OptimizerKind kind : {OptimizerKind::kAdagrad, OptimizerKind::kAdam}) {
    OptimizerOptions options;
    options.kind = kind;
    options.lr = 0.01;
    options.eps = 1e-8;
    torch::Tensor ours = initial.clone().to(device);
    RowOptimizer optimizer(options, 5, 4, device);
    torch::Tensor theirs = initial.clone().requires_grad_(true);
    std::unique_ptr<torch::optim::Optimizer> torch_optimizer;
    if (kind == OptimizerKind::kAdam) {
      torch_optimizer = std::make_unique<torch::optim::Adam>(
          std::vector<torch::Tensor>{theirs}, torch::optim::AdamOptions(0.01).eps(1e-8));
    } else {
      torch_optimizer = std::make_unique<torch::optim::Adagrad>(
          std::vector<torch::Tensor>{theirs}, torch::optim::AdagradOptions(0.01).eps(1e-8));
    }
    for (int step = 0; step < 5; ++step) {
      torch::Tensor grad = torch::randn({5, 4});
      // Adagrad: rows 1 and 3 get no gradient in odd steps, and are left out of our update.
      const bool sparse = kind == OptimizerKind::kAdagrad && step % 2 == 1;
      if (sparse) grad.index_fill_(0, torch::tensor({1, 3}), 0.0);
      const torch::Tensor rows = sparse ? torch::tensor({0, 2, 4}) : torch::arange(5);
      optimizer.update(ours, rows.to(device), grad.index_select(0, rows).to(device));
      theirs.mutable_grad() = grad.clone();
      torch_optimizer->step();
    }
    EXPECT_LT(relative_error(ours, theirs.detach()), 1e-6) << core::name_of(kind);
  }
}

// A table saved by this world's P ranks loads into virtual worlds of 1, 2 and 3 ranks.
TEST(ShardedEmbedding, SaveLoadsIntoAnyNumberOfRanks) {
  comm::Communicator& comm = comm::world();
  const EmbeddingOptions options = small_table(OptimizerKind::kAdam);
  ShardedEmbedding table(comm, options);
  const auto [ids, weights] = batch_of(comm.rank(), 0, options);
  (table.lookup(ids) * weights.to(options.device)).sum().backward();
  table.step();  // non-trivial optimizer state
  testing::SharedTempDir dir(comm);
  table.save(dir.path(), "entities");
  const torch::Tensor full = table.gather_full().cpu();

  for (int size = 1; size <= 3; ++size) {
    EmbeddingOptions fresh = options;
    fresh.seed = 7;  // different initial rows: all must be replaced
    for (int rank = 0; rank < size; ++rank) {
      EmbeddingShard shard(fresh, rank, size);
      shard.load(find_shard_files(dir.path(), "entities"));
      const torch::Tensor mine = shard.ownership().global_ids();
      EXPECT_TRUE(torch::equal(shard.table().cpu(), full.index_select(0, mine)))
          << "rank " << rank << " of " << size;
    }
  }
  // Optimizer state round-trips too: another step from the loaded state matches.
  ShardedEmbedding reloaded(comm, options);
  reloaded.load(dir.path(), "entities");
  for (ShardedEmbedding* t : {&table, &reloaded}) {
    const auto [ids2, weights2] = batch_of(comm.rank(), 1, options);
    (t->lookup(ids2) * weights2.to(options.device)).sum().backward();
    t->step();
  }
  EXPECT_TRUE(torch::equal(reloaded.gather_full().cpu(), table.gather_full().cpu()));
}

// Shards saved from the test device load on the host with the same rows and optimizer state
// (with HRERE_TEST_DEVICE=cpu a host-to-host round trip).
TEST(ShardedEmbedding, SaveFromDeviceLoadsOnHost) {
  comm::Communicator& comm = comm::world();
  const EmbeddingOptions options = small_table(OptimizerKind::kAdam);
  ShardedEmbedding table(comm, options);
  const auto [ids, weights] = batch_of(comm.rank(), 0, options);
  (table.lookup(ids) * weights.to(options.device)).sum().backward();
  table.step();
  testing::SharedTempDir dir(comm);
  table.save(dir.path(), "entities");

  EmbeddingShard host(on_host(options), 0, 1);
  host.load(find_shard_files(dir.path(), "entities"));
  EXPECT_TRUE(host.table().is_cpu());
  const torch::Tensor mine = table.shard().ownership().global_ids();
  EXPECT_TRUE(torch::equal(host.table().index_select(0, mine), table.shard().table().cpu()));
  const auto saved = table.shard().optimizer().state();
  const auto loaded = host.optimizer().state();
  ASSERT_EQ(saved.size(), loaded.size());
  for (std::size_t i = 0; i < saved.size(); ++i) {
    EXPECT_TRUE(loaded[i].second.is_cpu()) << loaded[i].first;
    EXPECT_TRUE(torch::equal(loaded[i].second.index_select(0, mine), saved[i].second.cpu()))
        << loaded[i].first;
  }
}

TEST(ShardedEmbedding, LoadRejectsMismatchedShapeAndMissingShards) {
  comm::Communicator& comm = comm::world();
  const EmbeddingOptions options = small_table(OptimizerKind::kAdagrad);
  ShardedEmbedding table(comm, options);
  testing::SharedTempDir dir(comm);
  table.save(dir.path(), "entities");
  if (comm.rank() != 0) return;

  EmbeddingOptions wider = options;
  wider.dim = 8;
  EmbeddingShard shard(wider, 0, 1);
  try {
    shard.load(find_shard_files(dir.path(), "entities"));
    ADD_FAILURE() << "expected InputError";
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find("expected 23 x 8"), std::string::npos) << error.what();
  }
  EmbeddingOptions adam = options;
  adam.optimizer.kind = OptimizerKind::kAdam;
  EXPECT_THROW(EmbeddingShard(adam, 0, 1).load(find_shard_files(dir.path(), "entities")),
               InputError);
  EXPECT_THROW(find_shard_files(dir.path(), "relations"), InputError);
  if (comm.size() > 1) {
    std::filesystem::remove(shard_path(dir.path(), "entities", 1, comm.size()));
    EXPECT_THROW(find_shard_files(dir.path(), "entities"), InputError);
  }
}

}  // namespace
}  // namespace hrere::kbe
