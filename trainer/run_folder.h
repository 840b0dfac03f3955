#pragma once
// Where a command finds the prepared stores: the folder `data.prepared` names, or RUN/data,
// which `train` and `pretrain` fill from the `data` inputs when it is missing; and the
// heartbeats of a run's ranks.
#include <memory>
#include <string>

#include "comm/communicator.h"
#include "comm/liveness.h"
#include "comm/routing_communicator.h"
#include "trainer/config.h"

namespace hrere::train {

// `file` (kBagStoreFile, kKbStoreFile) in the prepared folder of `config` for `run_dir`.
std::string prepared_file(const Config& config, const std::string& run_dir,
                          const std::string& file);

// Prepares the `data` inputs into RUN/data unless `data.prepared` is set or RUN/data holds a
// store already, then pins `data.prepared` to the absolute folder (so the run's config.yaml
// finds its stores from anywhere).
void ensure_prepared(Config& config, const std::string& run_dir);

// Resolves `device_spec` (train.device or kbe.device; comm/device.h) and routes the
// communicator's GPU tensors as dist.backend says (collective). DeviceError for a device
// this machine or build cannot provide, std::invalid_argument for a backend it lacks.
torch::Device use_device(comm::RoutingCommunicator& comm, const std::string& device_spec,
                         const DistConfig& dist);

// Collective. Throws InputError on every rank, naming the ranks that cannot see it, when the
// run folder is not one folder for all ranks (a node-local path on a multi-node run): rank 0
// writes a file there that every rank must read back within dist.lost_after_s.
void require_shared_run_folder(comm::Communicator& comm, const DistConfig& dist,
                               const std::string& run_dir);

// With more than one rank: checks the run folder is shared (above), then starts heartbeats
// in RUN/.ranks that stop this rank, naming the lost one, when another rank dies or hangs
// (comm/liveness.h; dist.heartbeat_s, lost_after_s). Null for one rank. Call it once rank 0
// has created the run folder.
std::unique_ptr<comm::RankLiveness> watch_ranks(comm::Communicator& comm, const DistConfig& dist,
                                                const std::string& run_dir);

}  // namespace hrere::train
