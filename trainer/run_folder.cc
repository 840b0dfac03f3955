#include "trainer/run_folder.h"

#include <filesystem>
#include <iostream>

#include "comm/device.h"
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

std::unique_ptr<comm::RankLiveness> watch_ranks(comm::Communicator& comm, const DistConfig& dist,
                                                const std::string& run_dir) {
  if (comm.size() == 1) return nullptr;
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
