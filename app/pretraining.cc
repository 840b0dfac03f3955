#include "app/pretraining.h"

#include <filesystem>
#include <iomanip>
#include <memory>
#include <sstream>

#include "comm/routing_communicator.h"
#include "core/atomic_output.h"
#include "core/errors.h"
#include "data_pipeline/prepare.h"
#include "kbe_shard/pretrain.h"
#include "trainer/progress.h"
#include "trainer/replication/rank_zero.h"
#include "trainer/run_folder.h"

namespace hrere::train {
namespace fs = std::filesystem;
namespace {

nlohmann::json metrics_json(const kbe::RankingMetrics& m) {
  return {{"mrr", m.mrr},     {"mr", m.mr},         {"hits1", m.hits1},
          {"hits3", m.hits3}, {"hits10", m.hits10}, {"queries", m.count}};
}

nlohmann::json link_prediction_json(const kbe::LinkPredictionMetrics& m) {
  nlohmann::json out = metrics_json(m.both);
  out["head"] = metrics_json(m.head);
  out["tail"] = metrics_json(m.tail);
  // Which ranking produced the numbers: sampled candidates give higher MRR than all.
  out["candidates"] = m.sampled_candidates > 0 ? nlohmann::json(m.sampled_candidates) : "all";
  return out;
}

}  // namespace

nlohmann::json pretrain_run(comm::Communicator& comm, const Config& input_config,
                            const std::string& run_dir, bool resume, core::CallLimits limits) {
  Config config = input_config;
  on_rank_zero(comm, [&] {
    fs::create_directories(run_dir);
    ensure_prepared(config, run_dir);
    if (!fs::exists(prepared_file(config, run_dir, data::kKbStoreFile))) {
      throw InputError(prepared_file(config, run_dir, data::kKbStoreFile) +
                       ": no KB store (set data.kb_train, data.kb_valid, data.kb_test and "
                       "prepare again)");
    }
    core::write_text_atomically((fs::path(run_dir) / "config.yaml").string(), to_yaml(config));
  });
  const auto liveness = watch_ranks(comm, config.dist, run_dir);
  kbe::PretrainOptions options = config.kbe;
  options.resume = resume;
  options.limits = limits;
  options.device = use_device(comm::world(), config.kbe.device_spec, config.dist);

  const bool leader = comm.rank() == 0;
  std::unique_ptr<MetricsLog> log;
  std::unique_ptr<ProgressBar> bar;
  const kbe::PretrainCallback report = [&](const kbe::PretrainProgress& p) {
    if (!leader) return;
    if (!bar) {
      // Resumed runs keep the lines up to the step they continue from.
      log =
          std::make_unique<MetricsLog>((fs::path(run_dir) / "metrics.jsonl").string(), p.step - 1);
      bar = std::make_unique<ProgressBar>(p.steps_per_epoch * config.kbe.epochs, true);
    }
    nlohmann::json line{{"step", p.step},
                        {"epoch", p.epoch},
                        {"loss", p.loss},
                        {"triples_per_second", p.triples_per_second},
                        {"lr", config.kbe.optimizer.lr},
                        {"seconds", p.seconds},
                        {"startup_seconds", p.startup_seconds},
                        {"comm_seconds", p.comm_seconds},
                        {"exchange_seconds", p.exchange_seconds},
                        {"validation_seconds", p.validation_seconds},
                        {"checkpoint_seconds", p.checkpoint_seconds}};
    if (p.epoch_end) line["event"] = "epoch_end";
    if (p.valid) {
      line["valid"] = link_prediction_json(*p.valid);
      line["best"] = p.best;
    }
    log->write(line);
    std::ostringstream detail;
    detail << "epoch " << p.epoch << "/" << config.kbe.epochs << " loss " << std::fixed
           << std::setprecision(4) << p.loss << " | " << std::setprecision(0)
           << p.triples_per_second << " triples/s";
    if (p.valid) detail << " | valid MRR " << std::setprecision(3) << p.valid->both.mrr;
    bar->update(p.step, detail.str());
  };
  // The KB store is read by every rank: rank 0 resolved the path above, the others derive it
  // the same way (the prepared folder is shared storage on a cluster).
  const kbe::PretrainResult result = kbe::pretrain_kbe(
      comm, prepared_file(config, run_dir, data::kKbStoreFile), run_dir, options, report);
  if (bar) bar->finish();
  return {{"completed", result.completed},
          {"stopped_by", result.stopped_by},
          {"steps", result.steps},
          {"epochs", result.epochs},
          {"best_epoch", result.best_epoch},
          {"best_valid_mrr", result.best_valid_mrr},
          {"embeddings", result.embeddings_path}};
}

nlohmann::json evaluate_kbe_run(comm::Communicator& comm, const std::string& run_dir,
                                const std::string& split,
                                const std::vector<std::string>& overrides) {
  const fs::path dir(run_dir);
  if (!fs::exists(dir / "config.yaml")) {
    throw InputError(run_dir + ": not a pretraining run folder (no config.yaml)");
  }
  const Config config = load_config((dir / "config.yaml").string(), overrides);
  const torch::Device device = use_device(comm::world(), config.kbe.device_spec, config.dist);
  const kbe::LinkPredictionMetrics metrics =
      kbe::evaluate_kbe(comm, prepared_file(config, run_dir, data::kKbStoreFile),
                        (dir / kbe::kEmbeddingsFile).string(), split, config.kbe.eval,
                        config.kbe.eval_max_triples, device);
  nlohmann::json out = link_prediction_json(metrics);
  out["split"] = split;
  if (config.kbe.eval_max_triples > 0) out["max_triples"] = config.kbe.eval_max_triples;
  // One report per protocol, so exact and sampled numbers of a run sit side by side.
  std::string name = "eval_kbe_" + split;
  if (metrics.sampled_candidates > 0)
    name += "_sampled-" + std::to_string(metrics.sampled_candidates);
  if (config.kbe.eval_max_triples > 0)
    name += "_subset-" + std::to_string(config.kbe.eval_max_triples);
  if (comm.rank() == 0) {
    core::write_text_atomically((dir / (name + ".json")).string(), out.dump(2) + "\n");
  }
  return out;
}

}  // namespace hrere::train
