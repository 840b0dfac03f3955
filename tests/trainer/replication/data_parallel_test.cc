// Data parallelism under mpirun -np P (P = 2, 3): P ranks, each with 1/P of a global batch,
// must train what one process trains on the whole batch (language model, synchronised batch
// norm, entity rows sharded over the ranks, replicated relation vectors), and the replica
// checksum must catch a replica that differs. The one-process reference runs inside the
// same processes on MPI_COMM_SELF. CTest runs them only under mpirun (one rank proves nothing).
// Models live on HRERE_TEST_DEVICE (cpu unless set; tools/gpu_check.sh sets cuda).
#include <gtest/gtest.h>

#include <string>

#include "comm/device.h"
#include "comm/routing_communicator.h"
#include "test_util.h"
#include "trainer/model/random_batch.h"
#include "trainer/train_step.h"

namespace hrere::train {
namespace {

using testing::random_batch;

constexpr std::int64_t kEntities = 40;
constexpr std::int64_t kGlobalBatch = 12;  // splits evenly over 2 and 3 ranks
// Float32 sums taken in another order (per-rank partial sums, float64 batch-norm statistics)
// round differently; measured differences after 3 steps are below 1e-6 (2 and 3 ranks).
constexpr double kTolerance = 2e-5;

LanguageModelOptions model_options(EncoderKind encoder) {
  LanguageModelOptions o;
  o.encoder = encoder;
  o.conv_filters = 4;
  o.vocab_size = testing::kVocabulary;
  o.num_relations = 4;
  o.max_length = testing::kL;
  o.word_dim = 6;
  o.position_dim = 3;
  o.lstm_hidden = 5;
  o.classifier_hidden = 4;
  o.input_keep = 1.0;  // dropout masks would differ between the two layouts
  o.output_keep = 1.0;
  return o;
}

TrainConfig train_config(OnNonFinite on_nonfinite = OnNonFinite::kStop) {
  TrainConfig c;
  c.on_nonfinite = on_nonfinite;
  c.variant = Variant::kFull;  // every loss term, both optimisers
  c.lr_language = 1e-2;
  c.lr_knowledge = 1e-2;
  c.l2 = 1e-2;
  return c;
}

DistConfig dist_config(bool overlap = true) {
  DistConfig d;
  d.bucket_mib = 1e-3;  // ~1 KiB: several buckets even for this tiny model
  d.checksum_every = 1;
  d.overlap = overlap;
  return d;
}

torch::Device test_device() { return comm::resolve_device(hrere::testing::test_device_spec()); }

// The world on the test device (collectives of its tensors as dist.backend auto routes them).
comm::Communicator& device_world() {
  comm::world().use_device(test_device(), comm::Backend::kAuto, 60);
  return comm::world();
}

// A one-rank communicator for the reference run, serving the test device too.
comm::RoutingCommunicator& self() {
  static comm::RoutingCommunicator self(MPI_COMM_SELF);
  self.use_device(test_device(), comm::Backend::kMpi, 60);
  return self;
}

LanguageModel seeded_model(EncoderKind encoder) {
  torch::manual_seed(7);
  LanguageModel model(model_options(encoder));
  model->to(test_device());
  return model;
}

// A language model, a knowledge model and their step on `comm`, all from seed 7.
struct Replica {
  explicit Replica(comm::Communicator& comm, bool overlap = true,
                   OnNonFinite on_nonfinite = OnNonFinite::kStop,
                   EncoderKind encoder = EncoderKind::kBiLstm)
      : model(seeded_model(encoder)),
        knowledge(comm, knowledge_options()),
        step(comm, model, &knowledge, train_config(on_nonfinite), dist_config(overlap)) {}
  static KnowledgeModelOptions knowledge_options() {
    KnowledgeModelOptions o;
    o.num_entities = kEntities;
    o.num_relations = 4;
    o.dim = 6;
    o.lr = 1e-2;
    o.seed = 7;
    o.device = test_device();
    return o;
  }
  LanguageModel model;
  KnowledgeModel knowledge;
  TrainStep step;
};

// Biases that only shift what a batch norm then centres have a true gradient of exactly
// zero; Adam scales the rounding noise in place of it into steps of up to lr, which differ
// between any two summation orders. So do the running means computed after them.
bool has_no_gradient(const std::string& name) {
  return name == "hidden.bias" || name == "bag_norm.bias" || name == "hidden_norm.running_mean";
}

data::Batch rows_of(const data::Batch& batch, std::int64_t begin, std::int64_t end) {
  auto cut = [&](const torch::Tensor& t) { return t.slice(0, begin, end); };
  return {cut(batch.words),          cut(batch.lengths),    cut(batch.head_positions),
          cut(batch.tail_positions), cut(batch.head_spans), cut(batch.tail_spans),
          cut(batch.heads),          cut(batch.tails),      cut(batch.labels),
          cut(batch.indices)};
}

class DataParallelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (comm::world().size() == 1) GTEST_SKIP() << "run under mpirun -np 2 or more";
    device_world();
  }
};

// Every sentence encoder: the data-parallel path is the same for all of them.
class DataParallelEncoders : public DataParallelTest,
                             public ::testing::WithParamInterface<EncoderKind> {};
INSTANTIATE_TEST_SUITE_P(Encoders, DataParallelEncoders,
                         ::testing::Values(EncoderKind::kBiLstm, EncoderKind::kCnn,
                                           EncoderKind::kPcnn),
                         [](const ::testing::TestParamInfo<EncoderKind>& info) {
                           return core::name_of(info.param);
                         });

TEST_P(DataParallelEncoders, RanksWithSlicesOfTheBatchTrainWhatOneRankTrainsOnTheWholeBatch) {
  comm::Communicator& world = comm::world();
  Replica one(self(), true, OnNonFinite::kStop, GetParam()),
      many(world, true, OnNonFinite::kStop, GetParam());
  const std::int64_t P = world.size(), r = world.rank();
  double largest = 0;
  for (std::int64_t step = 1; step <= 3; ++step) {
    const data::Batch batch = random_batch(kGlobalBatch, 3, 100 + step, kEntities);
    const StepLosses whole = one.step.run(batch, step);
    const StepLosses part =
        many.step.run(rows_of(batch, kGlobalBatch * r / P, kGlobalBatch * (r + 1) / P), step);
    EXPECT_EQ(part.read(StepLosses::kBags), kGlobalBatch);
    for (const auto term :
         {StepLosses::kLanguage, StepLosses::kKnowledge, StepLosses::kAgreement, StepLosses::kL2}) {
      EXPECT_NEAR(part.read(term), whole.read(term), kTolerance)
          << "step " << step << " term " << term;
    }
  }
  const auto reference = one.model->named_parameters();
  for (const auto& p : many.model->named_parameters()) {
    if (has_no_gradient(p.key())) continue;
    const double difference = (p.value() - reference[p.key()]).abs().max().item<double>();
    largest = std::max(largest, difference);
    EXPECT_LT(difference, kTolerance) << p.key();
  }
  const auto reference_buffers = one.model->named_buffers();
  for (const auto& b : many.model->named_buffers()) {  // batch-norm running statistics
    if (has_no_gradient(b.key())) continue;
    const torch::Tensor expected = reference_buffers[b.key()];
    EXPECT_TRUE(
        torch::allclose(b.value().to(torch::kFloat64), expected.to(torch::kFloat64), 0, kTolerance))
        << b.key();
  }
  const torch::Tensor relations = many.knowledge.relation_vectors().detach();
  EXPECT_LT((relations - one.knowledge.relation_vectors().detach()).abs().max().item<double>(),
            kTolerance);
  const torch::Tensor entities = many.knowledge.entity_table();
  const torch::Tensor expected_entities = one.knowledge.entity_table();
  EXPECT_LT((entities - expected_entities).abs().max().item<double>(), kTolerance);
  // Training moved them: equality is not the starting point's.
  Replica untrained(self(), true, OnNonFinite::kStop, GetParam());
  EXPECT_GT((expected_entities - untrained.knowledge.entity_table()).abs().max().item<double>(),
            1e-3);
  if (r == 0) {
    std::cout << core::name_of(GetParam())
              << ": largest parameter difference after 3 steps: " << largest << "\n";
  }
}

// Starting each bucket's all-reduce from backward changes when the sums are taken, not what
// they are: the replicas must end bit-identical to the ones reduced after backward.
TEST_F(DataParallelTest, OverlappedAllReduceTrainsTheSameBits) {
  comm::Communicator& world = comm::world();
  Replica overlapped(world, /*overlap=*/true), after_backward(world, /*overlap=*/false);
  EXPECT_EQ(overlapped.step.overlaps(), world.callable_from_backward_threads(test_device()));
  EXPECT_FALSE(after_backward.step.overlaps());
  EXPECT_GT(overlapped.step.replicas().buckets(), 2);
  const std::int64_t P = world.size(), r = world.rank();
  for (std::int64_t step = 1; step <= 3; ++step) {
    const data::Batch batch = random_batch(kGlobalBatch, 3, 300 + step, kEntities);
    const data::Batch mine = rows_of(batch, kGlobalBatch * r / P, kGlobalBatch * (r + 1) / P);
    const StepLosses a = overlapped.step.run(mine, step);
    const StepLosses b = after_backward.step.run(mine, step);
    EXPECT_TRUE(torch::equal(a.values, b.values)) << "step " << step;
  }
  // The hooks really started buckets before backward ended (all but the last ones to get
  // their gradients, which wait for sum_gradients).
  if (overlapped.step.overlaps()) {
    EXPECT_GT(overlapped.step.replicas().buckets_started_in_backward(), 3);
  }
  EXPECT_EQ(after_backward.step.replicas().buckets_started_in_backward(), 0);
  const auto reference = after_backward.model->named_parameters();
  for (const auto& p : overlapped.model->named_parameters()) {
    EXPECT_TRUE(torch::equal(p.value(), reference[p.key()])) << p.key();
  }
  EXPECT_TRUE(torch::equal(overlapped.knowledge.relation_vectors(),
                           after_backward.knowledge.relation_vectors()));
}

TEST_F(DataParallelTest, ReplicaChecksumCatchesAPerturbedReplica) {
  comm::Communicator& world = comm::world();
  Replica replica(world);
  const std::int64_t P = world.size(), r = world.rank();
  const data::Batch batch = random_batch(kGlobalBatch, 3, 5, kEntities);
  const data::Batch mine = rows_of(batch, kGlobalBatch * r / P, kGlobalBatch * (r + 1) / P);
  replica.step.run(mine, 1);  // checksum_every = 1: replicas agree after a real step
  if (r == P - 1) {
    torch::NoGradGuard no_grad;
    replica.model->named_parameters()["hidden.weight"][0][0].add_(1e-6);
  }
  try {
    replica.step.replicas().verify_identical(2);
    ADD_FAILURE() << "a perturbed replica went unnoticed";
  } catch (const ReplicaDivergence& e) {  // on every rank, not only the perturbed one
    const std::string message = e.what();
    EXPECT_NE(
        message.find("rank " + std::to_string(P - 1) + " differs from rank 0 in hidden.weight"),
        std::string::npos)
        << message;
    EXPECT_NE(message.find("step 2"), std::string::npos) << message;
  }
}

// A NaN on one rank (here in its copy of a classifier weight, as a corrupted input or an
// overflow would leave it) reaches every rank through the summed losses and gradients, so
// all ranks take the same decision: stop, naming the step and the loss term, or skip the
// update and leave every parameter and optimizer state as it was.
TEST_F(DataParallelTest, ANonFiniteStepStopsOrIsSkippedOnEveryRank) {
  comm::Communicator& world = comm::world();
  const std::int64_t P = world.size(), r = world.rank();
  const data::Batch batch = random_batch(kGlobalBatch, 3, 9, kEntities);
  const data::Batch mine = rows_of(batch, kGlobalBatch * r / P, kGlobalBatch * (r + 1) / P);
  auto poison = [&](Replica& replica) {
    torch::NoGradGuard no_grad;
    if (r == P - 1) replica.model->named_parameters()["hidden.weight"][0][0].fill_(NAN);
  };

  Replica stopping(world);
  stopping.step.run(mine, 1);
  poison(stopping);
  try {
    stopping.step.run(mine, 2);
    ADD_FAILURE() << "a NaN loss was trained on";
  } catch (const NonFiniteStep& e) {
    EXPECT_NE(std::string(e.what()).find("step 2: J_L is nan"), std::string::npos) << e.what();
  }

  Replica skipping(world, true, OnNonFinite::kSkip);
  skipping.step.run(mine, 1);
  poison(skipping);
  std::vector<torch::Tensor> before;
  for (const NamedTensor& named : skipping.step.replicas().state()) {
    before.push_back(named.tensor.detach().clone());
  }
  const torch::Tensor entities_before = skipping.knowledge.entity_table().clone();
  const StepLosses skipped = skipping.step.run(mine, 2);
  EXPECT_EQ(skipped.skipped, "J_L is nan");
  const auto& state = skipping.step.replicas().state();
  for (std::size_t i = 0; i < state.size(); ++i) {
    // equal_nan: the poisoned weight stays NaN, and nothing else moved.
    EXPECT_TRUE(torch::allclose(state[i].tensor.detach(), before[i], 0, 0, /*equal_nan=*/true))
        << state[i].name;
  }
  EXPECT_TRUE(torch::equal(skipping.knowledge.entity_table(), entities_before));
}

TEST_F(DataParallelTest, GradientsAreSummedOverRanksWhateverTheBucketSize) {
  comm::Communicator& world = comm::world();
  for (const std::int64_t bucket_bytes :
       {std::int64_t{1}, std::int64_t{40}, std::int64_t{1} << 30}) {
    torch::Tensor a = torch::zeros({3, 4}, torch::requires_grad());
    torch::Tensor b = torch::zeros({5}, torch::requires_grad());
    torch::Tensor frozen = torch::zeros({2});
    Replicas replicas(world, {{"a", a}, {"b", b}, {"frozen", frozen}}, bucket_bytes);
    EXPECT_EQ(replicas.buckets(), bucket_bytes < 68 ? 2 : 1);  // a: 48 bytes, b: 20
    const double r = world.rank();
    a.mutable_grad() = torch::full({3, 4}, r + 1);
    if (world.rank() != 0) b.mutable_grad() = torch::arange(5, torch::kFloat) * r;  // rank 0: none
    replicas.sum_gradients();
    const double P = world.size();
    EXPECT_TRUE(torch::equal(a.grad(), torch::full({3, 4}, P * (P + 1) / 2)));
    EXPECT_TRUE(torch::equal(b.grad(), torch::arange(5, torch::kFloat) * (P * (P - 1) / 2)));
  }
}

TEST_F(DataParallelTest, RanksStartFromRankZerosParameters) {
  comm::Communicator& world = comm::world();
  torch::manual_seed(static_cast<std::uint64_t>(1000 + world.rank()));  // different on each rank
  LanguageModel model(model_options(EncoderKind::kBiLstm));
  model->to(test_device());
  TrainStep step(world, model, nullptr, train_config(), dist_config());
  EXPECT_NO_THROW(step.replicas().verify_identical(0));
}

}  // namespace
}  // namespace hrere::train
