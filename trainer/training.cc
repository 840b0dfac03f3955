#include "trainer/training.h"

#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "comm/routing_communicator.h"
#include "core/atomic_output.h"
#include "core/checkpoint_folder.h"
#include "core/errors.h"
#include "core/log.h"
#include "core/schedule.h"
#include "core/stopwatch.h"
#include "data_pipeline/prepare.h"
#include "kbe_shard/embeddings_file.h"
#include "trainer/checkpoint.h"
#include "trainer/evaluation/evaluation.h"
#include "trainer/model/variants.h"
#include "trainer/progress.h"
#include "trainer/replication/rank_zero.h"
#include "trainer/run_folder.h"
#include "trainer/train_step.h"

namespace hrere::train {
namespace fs = std::filesystem;
namespace {

// Dev score as the reference computes it: average precision of the bags' non-NA
// probabilities against their labels.
double dev_average_precision(const Scorer& scorer, const data::BagStore& store,
                             const std::vector<std::int64_t>& chunks, std::int64_t batch_size) {
  const auto [probs, labels] = score_bags(scorer, store, "train", chunks, batch_size);
  return average_precision(
      rank_predictions(predictions_of(probs, one_hot_labels(labels, probs.size(1)))));
}

}  // namespace

LanguageModel make_language_model(const Config& config, const data::BagStore& store,
                                  const torch::Device& device) {
  LanguageModelOptions o = config.model;
  o.vocab_size = static_cast<std::int64_t>(store.vocabulary().size());
  o.num_relations = static_cast<std::int64_t>(store.relations().size());
  o.max_length = store.L();
  LanguageModel model(o);
  if (store.has_word_vectors()) {
    auto rows = store.word_vectors();
    if (rows.dim != o.word_dim) {
      throw InputError(store.path() + ": word vectors have " + std::to_string(rows.dim) +
                       " dimensions but model.word_dim is " + std::to_string(o.word_dim));
    }
    const auto V = static_cast<std::int64_t>(rows.has_vector.size());
    model->load_word_vectors(torch::from_blob(rows.values.data(), {V, rows.dim}, torch::kFloat),
                             torch::from_blob(rows.has_vector.data(), {V}, torch::kUInt8),
                             config.model.train_word_vectors);
  }
  model->to(device);
  return model;
}

std::unique_ptr<KnowledgeModel> make_knowledge_model(const Config& config,
                                                     const data::BagStore& store,
                                                     const torch::Device& device) {
  const TrainConfig& tc = config.train;
  const Variant variant = tc.variant;
  if (!uses_knowledge(variant)) return nullptr;
  if (tc.kbe_embeddings.empty()) {
    throw InputError(std::string("config: train.variant '") + core::name_of(variant) +
                     "' needs train.kbe_embeddings: "
                     "the embeddings.h5 of a `hrere pretrain` run on the same prepared data");
  }
  const std::vector<std::string> entities = store.entities();
  const std::vector<std::string> relations = store.relations();
  // Each rank reads only the rows its shard owns, whatever P wrote the export.
  const kbe::KbeEmbeddings pretrained = kbe::read_kbe_embeddings_shard(
      tc.kbe_embeddings, comm::world().rank(), comm::world().size(), entities);
  KnowledgeModelOptions o;
  o.num_entities = static_cast<std::int64_t>(entities.size());
  o.num_relations = static_cast<std::int64_t>(relations.size());
  o.dim = pretrained.entity.size(1);
  o.lr = tc.lr_knowledge;
  o.train_entities = variant != Variant::kWeston;
  o.kb_relations = tc.kb_relations;
  o.seed = static_cast<std::uint64_t>(tc.seed);
  o.device = device;
  if (!pretrained.entity_tanh && comm::world().rank() == 0) {
    log::warn(
        "{} was pretrained without tanh on the entity vectors, which the joint model "
        "applies (pretrain with kbe.entity_tanh=true)",
        tc.kbe_embeddings);
  }
  auto model = std::make_unique<KnowledgeModel>(comm::world(), o);
  const auto matched = model->load_pretrained(pretrained, entities, relations);
  log::info(
      "knowledge model: {} entities of dimension {}, {} of {} RE relations matched to KB "
      "relations by name{}",
      o.num_entities, o.dim, matched.size(), relations.size() - 1,
      o.kb_relations == KbRelations::kMatched ? "; p_G scores only those and NA" : "");
  return model;
}

namespace {

// Checks the run folder and the batch split, then rank 0 prepares the folder: the data (if
// not prepared yet) and config.yaml. Returns the config with the prepared folder resolved
// (on rank 0; the others derive the same path from the shared storage).
Config start_run(const Config& input_config, const std::string& run_dir,
                 const TrainRunOptions& options, comm::Communicator& comm) {
  Config config = input_config;
  const std::int64_t batch = config.train.batch_size;
  if (batch % comm.size() != 0) {
    throw InputError("config: train.batch_size " + std::to_string(batch) +
                     " (the global batch) does not split evenly over " +
                     std::to_string(comm.size()) + " ranks; choose a multiple of " +
                     std::to_string(comm.size()));
  }
  on_rank_zero(comm, [&] {
    if (!options.resume && newest_checkpoint(run_dir)) {
      throw InputError(run_dir +
                       ": holds checkpoints of an earlier run; pass --resume to "
                       "continue it or choose another --out");
    }
    fs::create_directories(run_dir);
    ensure_prepared(config, run_dir);
    core::write_text_atomically((fs::path(run_dir) / "config.yaml").string(), to_yaml(config));
  });
  return config;
}

core::ScheduleOptions schedule_options(const TrainConfig& tc, const TrainRunOptions& options) {
  return {tc.log_every, tc.checkpoint_every, tc.checkpoint_every_minutes, options.limits};
}

// One `hrere train` call on this rank: the models, the loader, the schedule and the running
// interval of metrics.jsonl.
class TrainLoop {
 public:
  TrainLoop(const Config& input_config, const std::string& run_dir, const TrainRunOptions& options)
      : comm_(comm::world()),
        config_(start_run(input_config, run_dir, options, comm_)),
        tc_(config_.train),
        run_dir_(run_dir),
        options_(options),
        leader_(comm_.rank() == 0),
        liveness_(watch_ranks(comm_, config_.dist, run_dir)),
        device_(use_device(comm::world(), tc_.device, config_.dist)),
        schedule_(schedule_options(tc_, options),
                  [this](std::int64_t bits) { return comm::rank0_value(comm_, bits); }) {
    torch::set_num_threads(tc_.threads);
    torch::manual_seed(static_cast<std::uint64_t>(tc_.seed));
    store_ = std::make_shared<data::BagStore>(
        data::BagStore::open(prepared_file(config_, run_dir, data::kBagStoreFile)));
    model_ = make_language_model(config_, *store_, device_);
    knowledge_ = make_knowledge_model(config_, *store_, device_);
    trainer_ = std::make_unique<TrainStep>(comm_, model_, knowledge_.get(), tc_, config_.dist);
    // Rank 0 keeps the single-process dropout stream; the others draw their own.
    if (!leader_) {
      torch::manual_seed(dropout_seed(static_cast<std::uint64_t>(tc_.seed), 0, comm_.rank()));
    }
    make_loader();
    if (options.resume) resume();
    announce();
    if (leader_) {
      metrics_log_ =
          std::make_unique<MetricsLog>((fs::path(run_dir) / "metrics.jsonl").string(), state_.step);
    }
    bar_ = std::make_unique<ProgressBar>(tc_.epochs * loader_->batches_per_epoch(),
                                         options.progress && leader_);
    interval_times_start_ = trainer_->times();
    // The interval's summed step losses live on the device (in StepLosses' order), so a
    // step adds to them without a host read; a resumed run continues the same sum.
    interval_losses_ =
        torch::tensor({state_.interval_loss, state_.interval_knowledge, state_.interval_agreement,
                       state_.interval_l2, static_cast<double>(state_.interval_bags)},
                      torch::kFloat64)
            .to(device_);
  }

  TrainOutcome run() {
    while (loader_->state().epoch < tc_.epochs && !out_of_patience()) {
      const core::StopReason stop = schedule_.stop();
      if (stop != core::StopReason::kNone) {
        checkpoint();
        bar_->finish();
        log::info("stopped after {} at step {}; continue with --resume",
                  core::describe_stop(stop, options_.limits), state_.step);
        return {state_.step, false, {}};
      }
      const core::Stopwatch data_watch;
      std::optional<data::Batch> batch = loader_->next();
      interval_data_seconds_ += data_watch.seconds();
      if (batch) {
        train_step(*batch);
      } else {  // an epoch ended (on every rank: all take the same number of steps)
        end_epoch();
      }
    }
    bar_->finish();
    if (out_of_patience()) {
      log::info(
          "early stop after epoch {}: no better dev score for {} epochs (best: epoch {}, "
          "dev AP {:.4f})",
          loader_->state().epoch, tc_.patience, state_.best_epoch, state_.best_dev);
    }
    TrainOutcome outcome{state_.step, true, {}};
    if (options_.evaluate) outcome.evaluation = evaluate_run(run_dir_);
    return outcome;
  }

 private:
  void make_loader() {
    if (tc_.dev_fraction > 0) {
      std::tie(train_chunks_, dev_chunks_) =
          data::split_chunks(store_->size("train"), store_->chunk_bags("train"), tc_.dev_fraction,
                             static_cast<std::uint64_t>(tc_.seed));
    }
    loader_options_ = config_.loader;
    loader_options_.batch_size = tc_.batch_size / comm_.size();
    loader_options_.chunks = train_chunks_;
    loader_options_.seed = static_cast<std::uint64_t>(tc_.seed);
    loader_options_.rank = comm_.rank();
    loader_options_.world_size = comm_.size();
    loader_ = std::make_unique<data::BagLoader>(store_, loader_options_);
  }

  void resume() {
    const auto checkpoint = newest_checkpoint(run_dir_);
    if (!checkpoint) throw InputError(run_dir_ + ": no checkpoint to resume from");
    state_ = load_checkpoint(comm_, *checkpoint, *model_, trainer_->optimizer(),
                             static_cast<std::uint64_t>(tc_.seed), knowledge_.get());
    loader_->restore(state_.loader);
    log::info("resuming {} at step {}", *checkpoint, state_.step);
  }

  void announce() const {
    const int ranks = comm_.size();
    if (ranks > 1) {
      log::info(
          "data parallel: {} ranks ({}), global batch {} = {} x {} bags per rank, {} "
          "gradient bucket(s) of at most {} MiB{}",
          ranks, comm_.backend(), tc_.batch_size, ranks, loader_options_.batch_size,
          trainer_->replicas().buckets(), config_.dist.bucket_mib,
          trainer_->overlaps() ? ", all-reduce overlapping backward" : "");
    }
    if (device_.is_cuda()) log::info("device: {}", device_.str());
  }

  void train_step(const data::Batch& batch) {
    ++state_.step;
    const StepLosses losses = trainer_->run(batch, state_.step);
    if (!losses.skipped.empty()) {
      ++state_.skipped_nonfinite;
      log::warn("step {}: {}; skipped (train.on_nonfinite: skip; {} so far)", state_.step,
                losses.skipped, state_.skipped_nonfinite);
    } else {
      interval_losses_ += losses.values;
      ++state_.interval_steps;
    }
    schedule_.step_done();
    std::ostringstream detail;
    detail << "epoch " << loader_->state().epoch + 1 << "/" << tc_.epochs << " loss " << last_loss_
           << " | " << std::fixed << std::setprecision(0)
           << schedule_.steps() * tc_.batch_size / std::max(since_call_.seconds(), 1e-9)
           << " bags/s";
    bar_->update(state_.step, detail.str());
    if (schedule_.log_due(state_.step)) write_interval({});
    if (schedule_.checkpoint_due(state_.step)) checkpoint();
  }

  // train.patience: epochs since the best dev score reached the limit. Checked at epoch ends
  // only, from checkpointed state, so a resumed run stops where an uninterrupted one did.
  bool out_of_patience() const {
    return tc_.patience > 0 && state_.best_epoch >= 0 && loader_->state().batch == 0 &&
           loader_->state().epoch - state_.best_epoch >= tc_.patience;
  }

  // The dev score and the best epoch's weights (with a dev split), the epoch's metrics line,
  // the saved model and a checkpoint.
  void end_epoch() {
    nlohmann::json line{{"event", "epoch_end"}};
    if (!dev_chunks_.empty()) {
      const Scorer scorer{model_, knowledge_.get(), tc_.alpha};
      const double ap = dev_average_precision(scorer, *store_, dev_chunks_, tc_.eval_batch_size);
      line["dev_average_precision"] = ap;
      if (ap > state_.best_dev) {
        state_.best_dev = ap;
        state_.best_epoch = loader_->state().epoch;
        save_model(comm_, (fs::path(run_dir_) / kBestModel).string(), *model_, knowledge_.get());
      }
      line["best_epoch"] = state_.best_epoch;
    }
    write_interval(line);
    save_model(comm_, (fs::path(run_dir_) / kLastModel).string(), *model_, knowledge_.get());
    checkpoint();
  }

  void copy_losses_to_state() {
    const torch::Tensor v = interval_losses_.cpu();
    const double* sums = v.data_ptr<double>();
    state_.interval_loss = sums[StepLosses::kLanguage];
    state_.interval_knowledge = sums[StepLosses::kKnowledge];
    state_.interval_agreement = sums[StepLosses::kAgreement];
    state_.interval_l2 = sums[StepLosses::kL2];
    state_.interval_bags = static_cast<std::int64_t>(sums[StepLosses::kBags]);
  }

  void write_interval(nlohmann::json line) {
    copy_losses_to_state();
    line["step"] = state_.step;
    line["epoch"] = loader_->state().epoch;
    line["ranks"] = comm_.size();
    line["global_batch"] = tc_.batch_size;
    line["rank_batch"] = loader_options_.batch_size;
    if (state_.interval_steps > 0) add_interval_means(line);
    line["lr_language"] = tc_.lr_language;
    if (knowledge_) line["lr_knowledge"] = tc_.lr_knowledge;
    if (state_.skipped_nonfinite > 0) line["skipped_nonfinite"] = state_.skipped_nonfinite;
    line["seconds"] = since_call_.seconds();
    if (metrics_log_) metrics_log_->write(line);
    state_.interval_loss = state_.interval_knowledge = state_.interval_agreement = 0;
    state_.interval_l2 = 0;
    state_.interval_steps = state_.interval_bags = 0;
    interval_losses_.zero_();
    since_interval_.restart();
    interval_times_start_ = trainer_->times();
    interval_data_seconds_ = 0;
  }

  // Mean losses, throughput and where a step's time went on this rank, over the interval.
  void add_interval_means(nlohmann::json& line) {
    const double n = static_cast<double>(state_.interval_steps);
    line["loss"] = (state_.interval_loss + state_.interval_knowledge + state_.interval_agreement +
                    state_.interval_l2) /
                   n;
    last_loss_ = std::to_string(line["loss"].get<double>()).substr(0, 6);
    line["loss_language"] = state_.interval_loss / n;
    line["loss_l2"] = state_.interval_l2 / n;
    if (knowledge_) {
      line["loss_knowledge"] = state_.interval_knowledge / n;
      line["loss_agreement"] = state_.interval_agreement / n;
    }
    line["bags_per_second"] = state_.interval_bags / std::max(since_interval_.seconds(), 1e-9);
    const StepTimes& now = trainer_->times();
    const StepTimes& then = interval_times_start_;
    line["step_seconds"] = {{"data", interval_data_seconds_ / n},
                            {"forward", (now.forward - then.forward) / n},
                            {"backward", (now.backward - then.backward) / n},
                            {"all_reduce", (now.all_reduce - then.all_reduce) / n},
                            {"exchange", (now.exchange - then.exchange) / n},
                            {"optimizer", (now.optimizer - then.optimizer) / n}};
  }

  void checkpoint() {
    copy_losses_to_state();
    state_.loader = loader_->state();
    save_checkpoint(comm_, checkpoint_path(run_dir_, state_.step), state_, *model_,
                    trainer_->optimizer(), knowledge_.get());
    if (leader_) prune_checkpoints(run_dir_, tc_.keep_checkpoints);
    schedule_.checkpointed();
  }

  comm::Communicator& comm_;
  const Config config_;
  const TrainConfig& tc_;
  const std::string run_dir_;
  const TrainRunOptions options_;
  const bool leader_;
  const std::unique_ptr<comm::RankLiveness> liveness_;
  const torch::Device device_;
  core::Schedule schedule_;
  std::shared_ptr<data::BagStore> store_;
  LanguageModel model_{nullptr};
  std::unique_ptr<KnowledgeModel> knowledge_;
  std::unique_ptr<TrainStep> trainer_;
  std::vector<std::int64_t> train_chunks_, dev_chunks_;
  data::LoaderOptions loader_options_;
  std::unique_ptr<data::BagLoader> loader_;
  TrainingState state_;
  std::unique_ptr<MetricsLog> metrics_log_;
  std::unique_ptr<ProgressBar> bar_;
  const core::Stopwatch since_call_;
  core::Stopwatch since_interval_;
  StepTimes interval_times_start_;
  double interval_data_seconds_ = 0;
  torch::Tensor interval_losses_;
  std::string last_loss_ = "-";
};

}  // namespace

TrainOutcome train_run(const Config& config, const std::string& run_dir,
                       const TrainRunOptions& options) {
  return TrainLoop(config, run_dir, options).run();
}

TrainedRun load_trained_run(const std::string& run_dir) {
  const fs::path dir(run_dir);
  if (!fs::exists(dir / "config.yaml")) {
    throw InputError(run_dir + ": not a run folder (no config.yaml)");
  }
  TrainedRun run;
  run.config = load_config((dir / "config.yaml").string(), {});
  run.store = std::make_shared<data::BagStore>(
      data::BagStore::open(prepared_file(run.config, run_dir, data::kBagStoreFile)));
  const torch::Device device = use_device(comm::world(), run.config.train.device, run.config.dist);
  run.model = make_language_model(run.config, *run.store, device);
  run.knowledge = make_knowledge_model(run.config, *run.store, device);
  for (const char* name : {kBestModel, kLastModel}) {
    if (core::committed_folder((dir / name).string())) {
      run.weights = (dir / name).string();
      break;
    }
  }
  if (run.weights.empty()) {
    throw InputError(run_dir + ": no trained model yet (" + kLastModel +
                     "/ is written at the end of every epoch)");
  }
  load_model(run.weights, *run.model, run.knowledge.get());
  run.model->eval();
  return run;
}

std::string eval_dir(const std::string& run_dir, const EvalScope& scope) {
  fs::path dir = fs::path(run_dir) / "eval";
  if (!scope.pairs_file.empty()) dir /= fs::path(scope.pairs_file).stem();
  if (scope.alpha) {
    std::ostringstream name;
    name << "alpha-" << *scope.alpha;
    dir /= name.str();
  }
  return dir.string();
}

nlohmann::json evaluate_run(const std::string& run_dir, const EvalScope& scope) {
  TrainedRun run = load_trained_run(run_dir);
  if (scope.alpha) {
    if (!run.knowledge) {
      throw InputError(run_dir + ": --alpha weighs the knowledge side, which a " +
                       core::name_of(run.config.train.variant) + " run does not have");
    }
    run.config.train.alpha = *scope.alpha;
  }
  torch::set_num_threads(run.config.train.threads);
  const core::Stopwatch stopwatch;
  TestScores scores = score_test_set(run.scorer(), *run.store, run.config.train.eval_batch_size);
  if (!scope.pairs_file.empty()) {
    scores = restrict_to_pairs(scores, run.store->entities(), scope.pairs_file);
  }
  HeldOutReport report = held_out_report(scores, run.store->relations());
  report.summary["weights"] = fs::path(run.weights).filename().string();
  report.summary["seconds"] = stopwatch.seconds();
  if (!scope.pairs_file.empty()) report.summary["pairs_file"] = scope.pairs_file;
  if (run.knowledge) report.summary["alpha"] = run.config.train.alpha;
  // The ranks share the encoding of the test sentences; one writes the report.
  on_rank_zero(comm::world(), [&] {
    write_held_out_report(eval_dir(run_dir, scope), report);
    if (scope.pairs_file.empty() && !scope.alpha) plot_pr_curve(run_dir);
  });
  return report.summary;
}

}  // namespace hrere::train
