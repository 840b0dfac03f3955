#pragma once
// `hrere pretrain` and `hrere eval-kbe`: the CLI side of kbe_shard's ComplEx pretraining
// (the `kbe` config section, the run folder, progress and metrics.jsonl on rank 0).
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "comm/communicator.h"
#include "core/schedule.h"
#include "kbe_shard/pretrain.h"
#include "trainer/config.h"

namespace hrere::train {

// Collective. Pretrains into `run_dir` (RUN/config.yaml, RUN/metrics.jsonl, and kbe_shard's
// checkpoint/, best/, embeddings.h5); `limits` stop it early, checkpointed and exported.
// Returns the result as JSON ("completed": false and "stopped_by" after such a stop).
nlohmann::json pretrain_run(comm::Communicator& comm, const Config& config,
                            const std::string& run_dir, bool resume, core::CallLimits limits = {});

// Collective. Filtered link prediction of RUN/embeddings.h5 on `split` of the run's KB store,
// with RUN/config.yaml and `overrides` (e.g. kbe.eval_candidates=1000); rank 0 writes
// RUN/eval_kbe_<split>[_sampled-N][_subset-M].json.
nlohmann::json evaluate_kbe_run(comm::Communicator& comm, const std::string& run_dir,
                                const std::string& split,
                                const std::vector<std::string>& overrides = {});

}  // namespace hrere::train
