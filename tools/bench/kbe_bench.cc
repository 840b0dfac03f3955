// ComplEx training throughput: the sharded lazy path of kbe_shard against a plain
// single-process PyTorch formulation (the whole entity table as one tensor, gradients of the
// whole table, torch::optim::Adam over it, as nn.Embedding + optim.Adam would do), on a
// synthetic KB. Negative sampling with the logistic loss; the same global batches.
//
//   kbe_bench [--mode both|sharded|dense] [--entities 3000000] [--relations 1000]
//             [--dim 200] [--batch 1000] [--negatives 10] [--steps 20] [--threads 1]
//             [--device cpu|cuda|cuda:N] [--export DIR]
//   mpirun -np 2 kbe_bench --mode sharded ...    # the sharded path on 2 ranks
//
// --export DIR: after the sharded steps, export the table to DIR/embeddings.h5 as `hrere
// pretrain` does (each rank its rows) and print each rank's time and peak memory during the
// export (VmHWM reset before it), next to the size of its shard.
//
// Both run on --device (tables, optimizer state, scores; the batches are drawn on the host).
// Prints triples/s of each (timed after one warm-up step), the ratio, the sharded path's
// split of time into compute and exchange (collectives), and VmRSS/VmHWM after each mode (run
// one mode per process for a clean peak).
#include <torch/cuda.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>

#include "comm/device.h"
#include "comm/routing_communicator.h"
#include "core/random.h"
#include "data_pipeline/hdf5_file.h"
#include "kbe_shard/complex.h"
#include "kbe_shard/pretrain.h"

namespace {

using namespace hrere;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// "VmRSS 123 MiB, VmHWM 456 MiB" from /proc/self/status.
std::string memory_text() {
  std::ifstream status("/proc/self/status");
  std::string line;
  std::string text;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0 || line.rfind("VmHWM:", 0) == 0) {
      const long kib = std::strtol(line.c_str() + 6, nullptr, 10);
      text += (text.empty() ? "" : ", ") + line.substr(0, 5) + " " + std::to_string(kib / 1024) +
              " MiB";
    }
  }
  return text;
}

// Resets VmHWM to the current resident size (Linux 4.0+), so the next reading is the peak of
// what runs in between.
void reset_peak_memory() { std::ofstream("/proc/self/clear_refs") << "5"; }

// Exports the model as `hrere pretrain` does and prints, per rank, the time and the peak
// resident memory during the export against the shard's size.
void export_and_measure(kbe::ShardedComplEx& model, const std::string& dir) {
  comm::Communicator& comm = model.comm();
  // The names come from a KB store's /entities table, copied by rank 0 as pretrain does.
  const std::string names = dir + "/names.h5";
  if (comm.rank() == 0) {
    std::vector<std::string> entities(model.options().num_entities);
    for (std::size_t e = 0; e < entities.size(); ++e) entities[e] = "/m/e" + std::to_string(e);
    data::Hdf5File file = data::Hdf5File::create(names);
    file.write_strings("entities", entities);
    file.close();
  }
  std::vector<std::string> relations(model.options().num_relations);
  for (std::size_t r = 0; r < relations.size(); ++r) relations[r] = "/r/" + std::to_string(r);
  const double shard_mib =
      static_cast<double>(model.entities().shard().table().nbytes()) / (1 << 20);
  comm.barrier();
  const std::string before = memory_text();
  reset_peak_memory();
  const Clock::time_point start = Clock::now();
  kbe::export_embeddings(model, names, relations, dir + "/embeddings.h5");
  const double seconds = seconds_since(start);
  for (int r = 0; r < comm.size(); ++r) {
    if (r == comm.rank()) {
      std::printf("export rank %d: %.1f s; shard %.0f MiB; before: %s; during (reset peak): %s\n",
                  r, seconds, shard_mib, before.c_str(), memory_text().c_str());
      std::fflush(stdout);
    }
    comm.barrier();
  }
}

struct Options {
  std::string mode = "both";
  std::int64_t entities = 3000000;
  std::int64_t relations = 1000;
  std::int64_t dim = 200;
  std::int64_t batch = 1000;
  int negatives = 10;
  int steps = 20;
  int threads = 1;
  std::string device = "cpu";
  std::string export_dir;
};

Options parse(int argc, char** argv) {
  Options o;
  std::map<std::string, std::string> values;
  for (int i = 1; i + 1 < argc; i += 2) values[argv[i]] = argv[i + 1];
  for (const auto& [key, value] : values) {
    if (key == "--mode")
      o.mode = value;
    else if (key == "--entities")
      o.entities = std::stoll(value);
    else if (key == "--relations")
      o.relations = std::stoll(value);
    else if (key == "--dim")
      o.dim = std::stoll(value);
    else if (key == "--batch")
      o.batch = std::stoll(value);
    else if (key == "--negatives")
      o.negatives = std::stoi(value);
    else if (key == "--steps")
      o.steps = std::stoi(value);
    else if (key == "--threads")
      o.threads = std::stoi(value);
    else if (key == "--device")
      o.device = value;
    else if (key == "--export")
      o.export_dir = value;
    else
      throw std::invalid_argument("unknown option " + key);
  }
  return o;
}

// Global batch `step`: positives drawn from (step, i) and their negatives, the same for
// both modes and any number of ranks.
std::pair<torch::Tensor, torch::Tensor> global_batch(const Options& o, int step) {
  torch::Tensor triples = torch::empty({o.batch, 3}, torch::kInt64);
  std::vector<std::uint64_t> keys(o.batch);
  auto rows = triples.accessor<std::int64_t, 2>();
  for (std::int64_t i = 0; i < o.batch; ++i) {
    keys[i] = core::mix(static_cast<std::uint64_t>(step), static_cast<std::uint64_t>(i));
    const std::uint64_t bits = core::splitmix64(keys[i]);
    rows[i][0] = static_cast<std::int64_t>(bits % static_cast<std::uint64_t>(o.entities));
    rows[i][1] = static_cast<std::int64_t>((bits >> 40) % static_cast<std::uint64_t>(o.relations));
    rows[i][2] =
        static_cast<std::int64_t>(core::splitmix64(bits) % static_cast<std::uint64_t>(o.entities));
  }
  return {triples, kbe::sample_negatives(triples, keys, o.negatives, o.entities)};
}

struct Timing {
  double seconds = 0;
  double comm_seconds = 0;
  double sent_bytes = 0;  // entity rows, ids and gradients rank 0 sent to other ranks
};

// Waits for the device's queued work, so the clock measures it.
void synchronize(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}

Timing run_sharded(const Options& o, comm::Communicator& comm, const torch::Device& device) {
  kbe::ComplExOptions model_options;
  model_options.num_entities = o.entities;
  model_options.num_relations = o.relations;
  model_options.dim = o.dim;
  model_options.optimizer.kind = kbe::OptimizerKind::kAdam;
  model_options.optimizer.lr = 1e-3;
  model_options.optimizer.eps = 1e-8;
  model_options.regularizer = kbe::Regularizer::kNone;
  model_options.device = device;
  kbe::ShardedComplEx model(comm, model_options);
  Timing timing;
  Clock::time_point start;
  for (int step = 0; step <= o.steps; ++step) {
    if (step == 1) {  // after the warm-up step
      synchronize(device);
      comm.barrier();
      start = Clock::now();
      timing.comm_seconds = -model.comm_seconds();
      timing.sent_bytes = -static_cast<double>(model.entities().exchange_bytes());
    }
    const auto [triples, negatives] = global_batch(o, step);
    const std::int64_t begin = o.batch * comm.rank() / comm.size();
    const std::int64_t count = o.batch * (comm.rank() + 1) / comm.size() - begin;
    model.negative_backward(triples.narrow(0, begin, count), negatives.narrow(0, begin, count),
                            o.batch);
    model.step();
  }
  synchronize(device);
  comm.barrier();
  timing.seconds = seconds_since(start);
  timing.comm_seconds += model.comm_seconds();
  timing.sent_bytes += static_cast<double>(model.entities().exchange_bytes());
  if (!o.export_dir.empty()) export_and_measure(model, o.export_dir);
  return timing;
}

Timing run_dense(const Options& o, const torch::Device& device) {
  const torch::TensorOptions on_device = torch::TensorOptions().device(device);
  torch::Tensor entities =
      (torch::randn({o.entities, o.dim}, on_device) * 1e-3).requires_grad_(true);
  torch::Tensor relations =
      (torch::randn({o.relations, o.dim}, on_device) * 1e-3).requires_grad_(true);
  torch::optim::Adam optimizer({entities, relations}, torch::optim::AdamOptions(1e-3));
  Timing timing;
  Clock::time_point start;
  for (int step = 0; step <= o.steps; ++step) {
    if (step == 1) {
      synchronize(device);
      start = Clock::now();
    }
    const auto [triples, negatives] = global_batch(o, step);
    const torch::Tensor all =
        comm::to_device(torch::cat({triples, negatives.reshape({-1, 3})}), device);
    const torch::Tensor scores = kbe::complex_score(entities.index_select(0, all.select(1, 0)),
                                                    relations.index_select(0, all.select(1, 1)),
                                                    entities.index_select(0, all.select(1, 2)));
    const torch::Tensor loss =
        (torch::softplus(-scores.narrow(0, 0, o.batch)).sum() +
         torch::softplus(scores.narrow(0, o.batch, o.batch * o.negatives)).sum() / o.negatives) /
        static_cast<double>(o.batch);
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
  }
  synchronize(device);
  timing.seconds = seconds_since(start);
  return timing;
}

}  // namespace

int main(int argc, char** argv) {
  hrere::comm::keep_freed_host_memory();
  int status = 0;
  try {
    const Options o = parse(argc, argv);
    comm::RoutingCommunicator& comm = comm::world();
    torch::set_num_threads(o.threads);
    const torch::Device device = comm::resolve_device(o.device);
    comm.use_device(device, comm::Backend::kAuto, /*timeout_s=*/60);
    const bool print = comm.rank() == 0;
    const double triples = static_cast<double>(o.batch) * o.steps;
    if (print) {
      std::printf(
          "synthetic KB: %lld entities x dim %lld, %lld relations; batch %lld, %d negatives, "
          "%d timed steps, %d rank(s), %d thread(s) each; device %s (rank 0)\n",
          static_cast<long long>(o.entities), static_cast<long long>(o.dim),
          static_cast<long long>(o.relations), static_cast<long long>(o.batch), o.negatives,
          o.steps, comm.size(), o.threads, device.str().c_str());
    }
    double sharded_rate = 0;
    double dense_rate = 0;
    if (o.mode == "both" || o.mode == "sharded") {
      const Timing t = run_sharded(o, comm, device);
      sharded_rate = triples / t.seconds;
      if (print) {
        std::printf(
            "sharded lazy Adam: %.0f triples/s (%.3f s/step: compute %.3f, exchange %.3f; "
            "rank 0 sent %.2f MB/step); rank 0 %s\n",
            sharded_rate, t.seconds / o.steps, (t.seconds - t.comm_seconds) / o.steps,
            t.comm_seconds / o.steps, t.sent_bytes / o.steps / 1e6, memory_text().c_str());
      }
    }
    if ((o.mode == "both" || o.mode == "dense") && print) {
      const Timing t = run_dense(o, device);
      dense_rate = triples / t.seconds;
      std::printf("dense torch::optim::Adam (1 process): %.0f triples/s (%.3f s/step); %s\n",
                  dense_rate, t.seconds / o.steps, memory_text().c_str());
    }
    if (sharded_rate > 0 && dense_rate > 0 && print) {
      std::printf("ratio sharded / dense: %.1fx\n", sharded_rate / dense_rate);
    }
    comm.barrier();
  } catch (const std::exception& error) {
    std::fprintf(stderr, "error: %s\n", error.what());
    status = 1;
  }
  comm::release_world_device();
  return status;
}
