// What the collectives cost on this machine, for the scaling model (tools/scaling_model.py):
// all-reduce and all-to-all (equal blocks to every rank) of 4 KiB to --max-mib MiB per rank
// over the project's communicator (MPI on CPUs, NCCL with --device cuda). Prints one CSV line
// per operation and size, the median of --repeats timed calls after one warm-up (the slowest
// rank's):
//   op,ranks,bytes_per_rank,seconds
// and, per operation, t = alpha + bytes * beta (latency alpha, bandwidth 1 / beta; see fit) as
// a comment line.
//
//   mpirun -np 2 comm_bench [--max-mib 64] [--repeats 9] [--device cpu|cuda]
#include <torch/cuda.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "comm/device.h"
#include "comm/routing_communicator.h"

namespace {

using namespace hrere;

struct Options {
  std::int64_t max_mib = 64;
  int repeats = 9;
  std::string device = "cpu";
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string key = argv[i];
    if (i + 1 >= argc) throw std::invalid_argument("missing value after " + key);
    const std::string value = argv[++i];
    if (key == "--max-mib") {
      o.max_mib = std::stoll(value);
    } else if (key == "--repeats") {
      o.repeats = std::stoi(value);
    } else if (key == "--device") {
      o.device = value;
    } else {
      throw std::invalid_argument("unknown option " + key);
    }
  }
  if (o.max_mib < 1 || o.repeats < 1) throw std::invalid_argument("--max-mib and --repeats >= 1");
  return o;
}

// Median seconds of `repeats` calls of `op`, each started together (barrier) and timed to
// completion on the device.
template <class Op>
double median_seconds(comm::Communicator& comm, const torch::Device& device, int repeats, Op op) {
  op();  // warm-up: buffers, connections
  std::vector<double> seconds;
  for (int r = 0; r < repeats; ++r) {
    comm.barrier();
    const auto start = std::chrono::steady_clock::now();
    op();
    if (device.is_cuda()) torch::cuda::synchronize(device.index());
    seconds.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  // The slowest rank's median: a collective ends for everyone when it ends for the last.
  torch::Tensor median = torch::tensor({0.0});
  std::nth_element(seconds.begin(), seconds.begin() + repeats / 2, seconds.end());
  median[0] = seconds[repeats / 2];
  comm.all_reduce(median, comm::ReduceOp::Max);
  return median.item<double>();
}

// t = alpha + bytes * beta through the smallest size (alpha: the latency) and the largest
// (beta: the time per byte once the transfer dominates). A least-squares line over all sizes
// would follow the large ones and leave alpha meaningless, even negative.
std::pair<double, double> fit(const std::vector<double>& bytes, const std::vector<double>& t) {
  const double alpha = t.front();
  return {alpha, std::max(0.0, t.back() - alpha) / bytes.back()};
}

}  // namespace

int main(int argc, char** argv) {
  int status = 0;
  try {
    const Options o = parse(argc, argv);
    comm::RoutingCommunicator& comm = comm::world();
    const torch::Device device = comm::resolve_device(o.device);
    comm.use_device(device, comm::Backend::kAuto, /*timeout_s=*/60);
    const bool print = comm.rank() == 0;
    if (print) std::printf("op,ranks,bytes_per_rank,seconds\n");
    for (const char* op : {"all_reduce", "all_to_all"}) {
      std::vector<double> sizes, times;
      for (std::int64_t bytes = 4096; bytes <= o.max_mib << 20; bytes *= 4) {
        torch::Tensor data = torch::ones({bytes / 4}, torch::TensorOptions().device(device));
        const std::vector<std::int64_t> counts(comm.size(), bytes / 4 / comm.size());
        torch::Tensor block = data.narrow(0, 0, counts[0] * comm.size());
        const double t = median_seconds(comm, device, o.repeats, [&] {
          if (std::string(op) == "all_reduce") {
            comm.all_reduce(data);
          } else {
            comm.all_to_all(block, counts);
          }
        });
        sizes.push_back(static_cast<double>(bytes));
        times.push_back(t);
        if (print)
          std::printf("%s,%d,%lld,%.9f\n", op, comm.size(), static_cast<long long>(bytes), t);
      }
      const auto [alpha, beta] = fit(sizes, times);
      if (print) {
        std::printf("# %s on %d rank(s), %s: latency %.1f us, bandwidth %.2f GB/s\n", op,
                    comm.size(), comm.backend(), alpha * 1e6, 1e-9 / beta);
      }
    }
    comm.barrier();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "comm_bench: %s\n", e.what());
    status = 2;
  }
  comm::release_world_device();
  return status;
}
