#include "trainer/run_folder.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <thread>

#include "comm/device.h"
#include "core/errors.h"
#include "core/log.h"
#include "data_pipeline/prepare.h"

namespace hrere::train {
namespace fs = std::filesystem;

namespace {
fs::path prepared_dir(const Config& config, const std::string& run_dir) {
  return config.data.prepared.empty() ? fs::path(run_dir) / "data" : fs::path(config.data.prepared);
}
}  // namespace

std::string prepared_file(const Config& config, const std::string& run_dir,
                          const std::string& file) {
  return (prepared_dir(config, run_dir) / file).string();
}

void ensure_prepared(Config& config, const std::string& run_dir) {
  const fs::path dir = prepared_dir(config, run_dir);
  if (config.data.prepared.empty() && !fs::exists(dir / data::kPrepareReportFile)) {
    log::info("preparing {} and {} into {}", config.data.train_path, config.data.test_path,
              dir.string());
    data::prepare_data(config.data, dir.string());
  }
  config.data.prepared = fs::absolute(dir).lexically_normal().string();
}

torch::Device use_device(comm::RoutingCommunicator& comm, const std::string& device_spec,
                         const DistConfig& dist) {
  const torch::Device device = comm::resolve_device(device_spec);
  comm.use_device(device, dist.backend, dist.lost_after_s);
  return device;
}

void require_shared_run_folder(comm::Communicator& comm, const DistConfig& dist,
                               const std::string& run_dir) {
  if (comm.size() == 1) return;
  const fs::path ranks_dir = fs::path(run_dir) / ".ranks";
  // A fresh name each run: no rank can have a cached "no such file" for it (NFS).
  const std::int64_t token =
      comm::rank0_value(comm, static_cast<std::int64_t>(std::random_device{}() >> 1));
  const fs::path probe = ranks_dir / ("shared-folder-" + std::to_string(token));
  if (comm.rank() == 0) {
    fs::create_directories(ranks_dir);
    std::ofstream(probe) << token << '\n';
  }
  comm.barrier();  // rank 0 has written the probe
  // Looked for until dist.lost_after_s, for file systems that show new files late.
  const auto give_up =
      std::chrono::steady_clock::now() + std::chrono::duration<double>(dist.lost_after_s);
  bool sees_probe = false;
  while (true) {
    std::int64_t read = -1;
    std::ifstream(probe) >> read;
    sees_probe = read == token;
    if (sees_probe || std::chrono::steady_clock::now() >= give_up) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  const torch::Tensor seen = comm.all_gather(torch::tensor({std::int64_t{sees_probe}}));
  if (comm.rank() == 0) fs::remove(probe);
  std::string blind;
  for (int rank = 0; rank < comm.size(); ++rank) {
    if (seen[rank][0].item<std::int64_t>() == 0)
      blind += (blind.empty() ? "" : ", ") + std::to_string(rank);
  }
  if (!blind.empty()) {
    throw InputError("the run folder " + run_dir + " is not shared by all ranks: rank(s) " + blind +
                     " do not see the file rank 0 wrote in it (" + probe.string() +
                     "). A run over several nodes needs --out on a file system every node "
                     "mounts at the same path (docs/DISTRIBUTED.md, \"Across nodes\").");
  }
}

std::unique_ptr<comm::RankLiveness> watch_ranks(comm::Communicator& comm, const DistConfig& dist,
                                                const std::string& run_dir) {
  if (comm.size() == 1) return nullptr;
  require_shared_run_folder(comm, dist, run_dir);
  return std::make_unique<comm::RankLiveness>(
      comm::LivenessOptions{(fs::path(run_dir) / ".ranks").string(), comm.rank(), comm.size(),
                            dist.heartbeat_s, dist.lost_after_s},
      [&comm,
       stop = comm::exit_on_lost_rank(comm.rank(), comm.size())](const comm::LostRank& lost) {
        comm.abort();  // ends NCCL kernels waiting for the lost rank before the exit
        stop(lost);
      });
}

}  // namespace hrere::train
