// Communicator tests. The same binary runs as one process (a world of size 1) and under
// `mpirun -np 2` and `-np 3`; every expectation is a closed form in rank and size, so each
// world size checks real data movement. MPI is initialised once, by hrere::comm::world().
// GPU cases run where HRERE_TEST_DEVICE names a CUDA device (tools/gpu_check.sh).
#include <gtest/gtest.h>
#include <torch/cuda.h>
#include <torch/types.h>

#include <chrono>
#include <cstdlib>
#include <limits>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "comm/device.h"
#include "comm/mpi_communicator.h"
#include "comm/routing_communicator.h"
#include "test_util.h"
#ifdef HRERE_HAVE_NCCL
#include "comm/nccl_communicator.h"
#endif

namespace hrere::comm {
namespace {

// Compares exactly (all test values are small integers, exact in every dtype).
void expect_values(const torch::Tensor& actual, const torch::Tensor& expected_double,
                   const torch::TensorOptions& options, const std::string& what) {
  ASSERT_TRUE(actual.defined()) << what;
  EXPECT_EQ(actual.scalar_type(), options.dtype().toScalarType()) << what;
  EXPECT_EQ(actual.device(), options.device()) << what;
  ASSERT_EQ(actual.sizes(), expected_double.sizes()) << what;
  const torch::Tensor got = actual.cpu().to(torch::kDouble);
  EXPECT_TRUE(torch::equal(got, expected_double)) << what << "\nexpected:\n"
                                                  << expected_double << "\ngot:\n"
                                                  << got;
}

template <class F>
void expect_invalid(F&& call, const std::string& fragment) {
  try {
    call();
    ADD_FAILURE() << "expected std::invalid_argument mentioning '" << fragment << "'";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find(fragment), std::string::npos) << error.what();
  }
}

torch::Tensor grid() { return torch::arange(10, torch::kDouble).reshape({2, 5}); }

void check_all_reduce(Communicator& comm, const torch::TensorOptions& options) {
  const int r = comm.rank();
  const int p = comm.size();
  const torch::Tensor i = grid();

  torch::Tensor sum = ((r + 1) * (i + 1)).to(options);
  comm.all_reduce(sum);
  expect_values(sum, (p * (p + 1) / 2) * (i + 1), options, "sum of (rank+1)*(i+1)");

  torch::Tensor max = (r * 10 + i).to(options);
  comm.all_reduce(max, ReduceOp::Max);
  expect_values(max, (p - 1) * 10 + i, options, "max of rank*10+i");

  torch::Tensor min = (r * 10 + i).to(options);
  comm.all_reduce(min, ReduceOp::Min);
  expect_values(min, i, options, "min of rank*10+i");

  torch::Tensor scalar = torch::full({}, r + 1, torch::kDouble).to(options);
  comm.all_reduce(scalar);
  expect_values(scalar, torch::full({}, p * (p + 1) / 2, torch::kDouble), options, "0-dim sum");

  torch::Tensor empty = torch::empty({0, 3}, options);
  comm.all_reduce(empty);
  EXPECT_EQ(empty.sizes(), torch::IntArrayRef({0, 3}));
}

void check_broadcast(Communicator& comm, const torch::TensorOptions& options) {
  const torch::Tensor i = grid();
  for (int root : {0, comm.size() - 1}) {
    torch::Tensor t = (comm.rank() * 7 + i).to(options);
    comm.broadcast(t, root);
    expect_values(t, root * 7 + i, options, "broadcast from root " + std::to_string(root));
  }
}

void check_all_gather(Communicator& comm, const torch::TensorOptions& options) {
  const int p = comm.size();
  const torch::Tensor i = grid();
  const torch::Tensor out = comm.all_gather((comm.rank() * 20 + i).to(options));
  const torch::Tensor ranks = torch::arange(p, torch::kDouble).reshape({p, 1, 1});
  expect_values(out, ranks * 20 + i.unsqueeze(0), options, "all_gather stacks rank*20+i");

  const torch::Tensor scalars = comm.all_gather(torch::full({}, comm.rank(), options));
  expect_values(scalars, torch::arange(p, torch::kDouble), options, "all_gather of 0-dim");
}

// Rows rank `src` sends to rank `dst`: uneven, and zero for some pairs when size > 1.
int64_t pair_rows(int src, int dst) { return (src + 2 * dst + 1) % 3; }

// Rows of trailing shape [2] whose values name (source, destination, row, column).
void check_all_to_all(Communicator& comm, const torch::TensorOptions& options) {
  const int r = comm.rank();
  const int p = comm.size();
  auto value = [](int src, int dst, int64_t row, int col) {
    return src * 40 + dst * 12 + row * 2 + col;
  };

  std::vector<double> send_values, expected_values;
  std::vector<int64_t> send_counts, expected_counts;
  for (int dst = 0; dst < p; ++dst) {
    send_counts.push_back(pair_rows(r, dst));
    for (int64_t j = 0; j < pair_rows(r, dst); ++j) {
      for (int col = 0; col < 2; ++col) send_values.push_back(value(r, dst, j, col));
    }
  }
  for (int src = 0; src < p; ++src) {
    expected_counts.push_back(pair_rows(src, r));
    for (int64_t j = 0; j < pair_rows(src, r); ++j) {
      for (int col = 0; col < 2; ++col) expected_values.push_back(value(src, r, j, col));
    }
  }
  const auto rows = [](const std::vector<double>& v) {
    return torch::tensor(v, torch::kDouble).reshape({static_cast<int64_t>(v.size() / 2), 2});
  };
  std::vector<int64_t> recv_counts;
  const torch::Tensor got =
      comm.all_to_all(rows(send_values).to(options), send_counts, &recv_counts);
  EXPECT_EQ(recv_counts, expected_counts);
  expect_values(got, rows(expected_values), options, "all_to_all rows");
}

// Wider rows ([3, 2] each) and 1-D rows, so messages span several chunks when chunked.
void check_all_to_all_shapes(Communicator& comm, const torch::TensorOptions& options) {
  const int r = comm.rank();
  const int p = comm.size();
  std::vector<torch::Tensor> send_parts, expected_parts;
  std::vector<int64_t> send_counts, expected_counts;
  auto block = [](int src, int dst) {
    const int64_t n = 2 * pair_rows(src, dst);
    return torch::arange(n * 6, torch::kDouble).reshape({n, 3, 2}) + 1000 * src + 100 * dst;
  };
  for (int dst = 0; dst < p; ++dst) {
    send_parts.push_back(block(r, dst));
    send_counts.push_back(2 * pair_rows(r, dst));
  }
  for (int src = 0; src < p; ++src) {
    expected_parts.push_back(block(src, r));
    expected_counts.push_back(2 * pair_rows(src, r));
  }
  std::vector<int64_t> recv_counts;
  const torch::Tensor wide =
      comm.all_to_all(torch::cat(send_parts).to(options), send_counts, &recv_counts);
  EXPECT_EQ(recv_counts, expected_counts);
  expect_values(wide, torch::cat(expected_parts), options, "all_to_all of [3, 2] rows");

  // The same data as 1-D rows: six scalar rows for every [3, 2] row above.
  auto times6 = [](std::vector<int64_t> counts) {
    for (auto& c : counts) c *= 6;
    return counts;
  };
  const torch::Tensor flat = comm.all_to_all(torch::cat(send_parts).flatten().to(options),
                                             times6(send_counts), &recv_counts);
  EXPECT_EQ(recv_counts, times6(expected_counts));
  expect_values(flat, torch::cat(expected_parts).flatten(), options, "all_to_all of scalar rows");
}

// Every rank sends nothing: legal, and returns an empty tensor of the right trailing shape.
void check_all_to_all_empty(Communicator& comm, const torch::TensorOptions& options) {
  std::vector<int64_t> recv_counts;
  const torch::Tensor got = comm.all_to_all(torch::empty({0, 4}, options),
                                            std::vector<int64_t>(comm.size(), 0), &recv_counts);
  EXPECT_EQ(got.sizes(), torch::IntArrayRef({0, 4}));
  EXPECT_EQ(recv_counts, std::vector<int64_t>(comm.size(), 0));

  // Rows of zero elements still count as rows.
  const torch::Tensor hollow = comm.all_to_all(torch::empty({comm.size(), 0}, options),
                                               std::vector<int64_t>(comm.size(), 1), &recv_counts);
  EXPECT_EQ(hollow.sizes(), torch::IntArrayRef({comm.size(), 0}));
  EXPECT_EQ(recv_counts, std::vector<int64_t>(comm.size(), 1));
}

// The chunked communicator caps MPI messages at 3 elements, exercising the paths that keep
// counts above INT_MAX working, with tensors small enough for a test.
Communicator& mpi_communicator(bool chunked) {
  world();  // initialises MPI
  static MpiCommunicator whole(MPI_COMM_WORLD);
  static MpiCommunicator small_messages(MPI_COMM_WORLD, 3);
  return chunked ? small_messages : whole;
}

// Several reductions in flight at once, completed in start order, as the gradient buckets.
void check_start_all_reduce(Communicator& comm, const torch::TensorOptions& options) {
  const int r = comm.rank(), p = comm.size();
  const torch::Tensor i = grid();
  std::vector<torch::Tensor> tensors;
  std::vector<std::unique_ptr<PendingReduce>> pending;
  for (int k = 0; k < 3; ++k) {
    tensors.push_back(((r + 1) * (i + k)).to(options));
    pending.push_back(comm.start_all_reduce(tensors.back()));
    for (auto& earlier : pending) earlier->poll();
  }
  for (int k = 0; k < 3; ++k) {
    pending[k]->wait();
    pending[k]->wait();  // a second wait is a no-op
    expect_values(tensors[k], (p * (p + 1) / 2) * (i + k), options,
                  "started sum " + std::to_string(k));
  }
}

using Params = std::tuple<torch::ScalarType, bool>;

class MpiCollectives : public ::testing::TestWithParam<Params> {
 protected:
  Communicator& comm() { return mpi_communicator(std::get<1>(GetParam())); }
  torch::TensorOptions options() { return torch::TensorOptions().dtype(std::get<0>(GetParam())); }
};

TEST_P(MpiCollectives, AllReduce) { check_all_reduce(comm(), options()); }
TEST_P(MpiCollectives, Broadcast) { check_broadcast(comm(), options()); }
TEST_P(MpiCollectives, AllGather) { check_all_gather(comm(), options()); }
TEST_P(MpiCollectives, AllToAll) { check_all_to_all(comm(), options()); }
TEST_P(MpiCollectives, AllToAllEmpty) { check_all_to_all_empty(comm(), options()); }
TEST_P(MpiCollectives, StartAllReduce) { check_start_all_reduce(comm(), options()); }

INSTANTIATE_TEST_SUITE_P(Types, MpiCollectives,
                         ::testing::Combine(::testing::Values(torch::kFloat, torch::kDouble,
                                                              torch::kInt, torch::kLong,
                                                              torch::kByte, torch::kChar),
                                            ::testing::Bool()),
                         [](const ::testing::TestParamInfo<Params>& info) {
                           return std::string(dtype_name(std::get<0>(info.param))) +
                                  (std::get<1>(info.param) ? "_chunked" : "_whole");
                         });

TEST(Mpi, WorldMatchesLauncher) {
  // Under mpirun, Open MPI tells each process its place; without it we are a singleton.
  const char* size = std::getenv("OMPI_COMM_WORLD_SIZE");
  const char* rank = std::getenv("OMPI_COMM_WORLD_RANK");
  EXPECT_EQ(world().size(), size ? std::atoi(size) : 1);
  EXPECT_EQ(world().rank(), rank ? std::atoi(rank) : 0);
  EXPECT_STREQ(world().backend(), "MPI");
}

// The routing communicator every command uses: host tensors over MPI, and the test device's
// tensors as dist.backend says (staged through the host with mpi).
TEST(Routing, HostAndDeviceTensors) {
  RoutingCommunicator& comm = world();
  const torch::TensorOptions host = torch::TensorOptions().dtype(torch::kFloat);
  check_all_reduce(comm, host);
  check_all_to_all(comm, host.dtype(torch::kLong));
  check_start_all_reduce(comm, host);
  const torch::Device device = resolve_device(testing::test_device_spec());
  for (Backend backend : {Backend::kMpi, Backend::kAuto}) {
    comm.use_device(device, backend, 30);
    const auto options = torch::TensorOptions().dtype(torch::kFloat).device(device);
    check_all_reduce(comm, options);
    check_broadcast(comm, options);
    check_all_gather(comm, options);
    check_all_to_all(comm, options);
    check_start_all_reduce(comm, options);
    check_all_reduce(comm, host);  // host tensors still go over MPI
  }
  EXPECT_STREQ(comm.backend(), device.is_cuda() && nccl_built() ? "MPI+NCCL" : "MPI");
  comm.release_device();
  EXPECT_STREQ(comm.backend(), "MPI");
}

TEST(Routing, ParsesBackends) {
  EXPECT_EQ(core::parse_choice<Backend>("auto"), Backend::kAuto);
  EXPECT_EQ(core::parse_choice<Backend>("mpi"), Backend::kMpi);
  EXPECT_EQ(core::parse_choice<Backend>("nccl"), Backend::kNccl);
  EXPECT_FALSE(core::parse_choice<Backend>("gloo"));
  if (!nccl_built()) {
    expect_invalid([] { world().use_device(torch::kCPU, Backend::kNccl, 30); },
                   "no NCCL communicator");
  }
}

TEST(Device, SpecsAndErrors) {
  EXPECT_EQ(resolve_device("cpu"), torch::Device(torch::kCPU));
  check_device_spec("cuda");
  check_device_spec("cuda:3");
  for (const char* bad : {"gpu", "cuda:", "cuda:x", "cuda:-1", "CUDA", "cuda:1:2", ""}) {
    SCOPED_TRACE(bad);
    EXPECT_THROW(check_device_spec(bad), DeviceError);
  }
  if (!torch::cuda::is_available()) {
    try {
      resolve_device("cuda");
      ADD_FAILURE() << "cuda resolved on a machine without CUDA";
    } catch (const DeviceError& e) {
      const std::string why = e.what();
      EXPECT_TRUE(why.find("no CUDA support") != std::string::npos ||
                  why.find("no CUDA device is visible") != std::string::npos)
          << why;
    }
  } else {
    const int visible = static_cast<int>(torch::cuda::device_count());
    EXPECT_EQ(resolve_device("cuda").index(), local_rank() % visible);
    EXPECT_THROW(resolve_device("cuda:" + std::to_string(visible)), DeviceError);
  }
}

TEST(Device, LocalRankFromTheLauncher) {
  // Under mpirun Open MPI names it; alone it is 0.
  const char* local = std::getenv("OMPI_COMM_WORLD_LOCAL_RANK");
  EXPECT_EQ(local_rank(), local ? std::atoi(local) : 0);
}

// Each rank found a different first bad row per entry (or none: the max sentinel); every
// rank gets the smallest of each, whatever the rank count.
TEST(Mpi, MinOverRanksAgreesOnTheFirstEntryEverywhere) {
  auto& comm = world();
  constexpr std::int64_t kNone = std::numeric_limits<std::int64_t>::max();
  const std::int64_t r = comm.rank();
  const std::vector<std::int64_t> mine{100 - r, r == comm.size() - 1 ? 7 : kNone, kNone};
  const std::vector<std::int64_t> agreed = min_over_ranks(comm, mine);
  EXPECT_EQ(agreed, (std::vector<std::int64_t>{101 - comm.size(), 7, kNone}));
}

TEST(Mpi, AllToAllShapes) {
  for (bool chunked : {false, true})
    check_all_to_all_shapes(mpi_communicator(chunked), torch::kFloat);
}

TEST(Mpi, BarrierWaitsForTheSlowestRank) {
  auto& comm = world();
  const auto delay = std::chrono::milliseconds(300);
  const auto start = std::chrono::steady_clock::now();
  if (comm.rank() == 0) std::this_thread::sleep_for(delay);
  comm.barrier();
  const auto waited = std::chrono::steady_clock::now() - start;
  // Every rank leaves the barrier only after rank 0 arrives (with slack for clock jitter).
  EXPECT_GE(waited, delay - std::chrono::milliseconds(50));
}

TEST(Mpi, RejectsBadTensors) {
  auto& comm = world();
  torch::Tensor transposed = torch::zeros({3, 4}).t();
  expect_invalid([&] { comm.all_reduce(transposed); }, "contiguous");
  torch::Tensor boolean = torch::zeros({3}, torch::kBool);
  expect_invalid([&] { comm.all_reduce(boolean); }, "Bool is not supported");
  torch::Tensor half = torch::zeros({3}, torch::kHalf);
  expect_invalid([&] { comm.broadcast(half, 0); }, "Half is not supported");
  torch::Tensor meta = torch::empty({3}, torch::Device(torch::kMeta));
  expect_invalid([&] { comm.all_reduce(meta); },
                 "got a tensor on meta, but this communicator serves the host");
  expect_invalid([&] { mpi_communicator(false).all_reduce(meta); }, "expects a CPU tensor");
  torch::Tensor undefined;
  expect_invalid([&] { comm.all_reduce(undefined); }, "undefined");
  torch::Tensor fine = torch::zeros({3});
  expect_invalid([&] { comm.broadcast(fine, comm.size()); }, "is not a rank");
  expect_invalid([&] { comm.broadcast(fine, -1); }, "is not a rank");
  // all_gather and all_to_all check together: every rank throws here, nobody hangs.
  expect_invalid([&] { comm.all_gather(transposed); }, "contiguous");
  expect_invalid([&] { comm.all_to_all(transposed, std::vector<int64_t>(comm.size(), 0)); },
                 "contiguous");
  expect_invalid([&] { comm.all_to_all(fine, std::vector<int64_t>(comm.size() + 1, 0)); },
                 "one per rank");
  std::vector<int64_t> negative(comm.size(), 0);
  negative[0] = -1;
  expect_invalid([&] { comm.all_to_all(fine, negative); }, "negative");
  expect_invalid([&] { comm.all_to_all(torch::zeros({}), std::vector<int64_t>(comm.size(), 0)); },
                 "at least one dimension");
  expect_invalid([] { MpiCommunicator bad(MPI_COMM_WORLD, 0); }, "max_message_elements");
}

TEST(Mpi, BadArgumentsOnOneRankThrowOnAll) {
  auto& comm = world();
  const int p = comm.size();
  // Rank 0 claims one row more than it has; the others are right.
  std::vector<int64_t> counts(p, 1);
  if (comm.rank() == 0) counts[0] += 1;
  const std::string expected = comm.rank() == 0 ? "sum to" : "rank 0 passed invalid arguments";
  expect_invalid([&] { comm.all_to_all(torch::zeros({p, 2}), counts); }, expected);

  torch::Tensor gathered = comm.rank() == 0 ? torch::zeros({2}, torch::kBool) : torch::zeros({2});
  const std::string gather_expected =
      comm.rank() == 0 ? "not supported" : "rank 0 passed invalid arguments";
  expect_invalid([&] { comm.all_gather(gathered); }, gather_expected);

  // No stray message is left behind: the communicator still works.
  torch::Tensor ones = torch::ones({4});
  comm.all_reduce(ones);
  expect_values(ones, torch::full({4}, p, torch::kDouble), torch::kFloat, "all_reduce afterwards");
}

TEST(Mpi, DisagreeingShapesThrowOnAll) {
  auto& comm = world();
  if (comm.size() == 1) GTEST_SKIP() << "needs two ranks to disagree";
  const bool last = comm.rank() == comm.size() - 1;
  expect_invalid([&] { comm.all_gather(torch::zeros({last ? 3 : 2})); }, "ranks disagree");
  expect_invalid(
      [&] {
        comm.all_to_all(torch::zeros({comm.size(), last ? 3 : 2}),
                        std::vector<int64_t>(comm.size(), 1));
      },
      "ranks disagree on row shape");
  expect_invalid(
      [&] {
        comm.all_to_all(torch::zeros({comm.size(), 2}, last ? torch::kDouble : torch::kFloat),
                        std::vector<int64_t>(comm.size(), 1));
      },
      "ranks disagree on row shape or dtype");
}

TEST(Nccl, Collectives) {
  if (!nccl_built()) {
    GTEST_SKIP() << "built without NCCL (it is built where CMake finds a CUDA LibTorch and NCCL)";
  }
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device on this machine";
  const int visible = static_cast<int>(torch::cuda::device_count());
  if (world().size() > visible) {
    GTEST_SKIP() << world().size() << " ranks but " << visible
                 << " CUDA device(s): NCCL needs one GPU per rank";
  }
#ifdef HRERE_HAVE_NCCL
  static MpiCommunicator control(MPI_COMM_WORLD);
  NcclCommunicator comm(control, resolve_device("cuda").index(), 60);
  EXPECT_EQ(comm.rank(), world().rank());
  EXPECT_EQ(comm.size(), world().size());
  for (torch::ScalarType type :
       {torch::kFloat, torch::kDouble, torch::kInt, torch::kLong, torch::kByte, torch::kChar}) {
    SCOPED_TRACE(dtype_name(type));
    const auto options = torch::TensorOptions().dtype(type).device(torch::kCUDA, comm.device());
    check_all_reduce(comm, options);
    check_broadcast(comm, options);
    check_all_gather(comm, options);
    check_all_to_all(comm, options);
    check_all_to_all_empty(comm, options);
    check_start_all_reduce(comm, options);
  }
  check_all_to_all_shapes(comm, torch::TensorOptions().device(torch::kCUDA, comm.device()));
  comm.barrier();
  torch::Tensor on_cpu = torch::zeros({3});
  expect_invalid([&] { comm.all_reduce(on_cpu); }, "expects a CUDA tensor");
  // After an abort (what a lost peer triggers) operations fail instead of waiting.
  comm.abort();
  torch::Tensor after =
      torch::ones({3}, torch::TensorOptions().device(torch::kCUDA, comm.device()));
  EXPECT_THROW(comm.all_reduce(after), CommError);
#endif
}

}  // namespace
}  // namespace hrere::comm
