#include "trainer/training.h"

#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "comm/routing_communicator.h"
#include "core/atomic_output.h"
#include "core/errors.h"
#include "core/stopwatch.h"
#include "data_pipeline/prepare.h"
#include "kbe_shard/embeddings_file.h"
#include "trainer/checkpoint.h"
#include "trainer/evaluation.h"
#include "trainer/progress.h"
#include "trainer/rank_zero.h"
#include "trainer/run_folder.h"
#include "trainer/train_step.h"
#include "trainer/variants.h"

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
  LanguageModelOptions o;
  o.vocab_size = static_cast<std::int64_t>(store.vocabulary().size());
  o.num_relations = static_cast<std::int64_t>(store.relations().size());
  o.max_length = store.L();
  o.word_dim = config.model.word_dim;
  o.position_dim = config.model.position_dim;
  o.lstm_hidden = config.model.lstm_hidden;
  o.classifier_hidden = config.model.classifier_hidden;
  o.input_keep = config.model.input_keep;
  o.output_keep = config.model.output_keep;
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
  const Variant variant = parse_variant(tc.variant);
  if (!uses_knowledge(variant)) return nullptr;
  if (tc.kbe_embeddings.empty()) {
    throw InputError("config: train.variant '" + tc.variant + "' needs train.kbe_embeddings: "
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
  o.seed = static_cast<std::uint64_t>(tc.seed);
  o.device = device;
  const bool leader = comm::world().rank() == 0;  // one rank reports
  if (!pretrained.entity_tanh && leader) {
    std::cerr << "note: " << tc.kbe_embeddings << " was pretrained without tanh on the entity "
              << "vectors, which the joint model applies (pretrain with kbe.entity_tanh=true)\n";
  }
  auto model = std::make_unique<KnowledgeModel>(comm::world(), o);
  const auto matched = model->load_pretrained(pretrained, entities, relations);
  if (leader) {
    std::cerr << "knowledge model: " << o.num_entities << " entities of dimension " << o.dim
              << ", " << matched.size() << " of " << relations.size() - 1
              << " RE relations matched to KB relations by name\n";
  }
  return model;
}

TrainOutcome train_run(const Config& input_config, const std::string& run_dir,
                       const TrainRunOptions& options) {
  Config config = input_config;
  const TrainConfig& tc = config.train;
  comm::Communicator& comm = comm::world();
  const int rank = comm.rank(), ranks = comm.size();
  const bool leader = rank == 0;
  if (tc.batch_size % ranks != 0) {
    throw InputError("config: train.batch_size " + std::to_string(tc.batch_size) +
                           " (the global batch) does not split evenly over " +
                           std::to_string(ranks) + " ranks; choose a multiple of " +
                           std::to_string(ranks));
  }
  on_rank_zero(comm, [&] {
    if (!options.resume && newest_checkpoint(run_dir)) {
      throw InputError(run_dir + ": holds checkpoints of an earlier run; pass --resume to "
                             "continue it or choose another --out");
    }
    fs::create_directories(run_dir);
    ensure_prepared(config, run_dir);
    core::write_text_atomically((fs::path(run_dir) / "config.yaml").string(), to_yaml(config));
  });
  // Rank 0 resolved the prepared folder; the others derive the same path (shared storage).
  const auto liveness = watch_ranks(comm, config.dist, run_dir);
  const torch::Device device = use_device(comm::world(), tc.device, config.dist);

  torch::set_num_threads(tc.threads);
  torch::manual_seed(static_cast<std::uint64_t>(tc.seed));
  auto store = std::make_shared<data::BagStore>(data::BagStore::open(prepared_file(config, run_dir, data::kBagStoreFile)));
  LanguageModel model = make_language_model(config, *store, device);
  std::unique_ptr<KnowledgeModel> knowledge = make_knowledge_model(config, *store, device);
  TrainStep trainer(comm, model, knowledge.get(), tc, config.dist);
  // Rank 0 keeps the single-process dropout stream; the others draw their own.
  if (!leader) torch::manual_seed(dropout_seed(static_cast<std::uint64_t>(tc.seed), 0, rank));
  const Scorer scorer{model, knowledge.get(), tc.alpha};

  std::vector<std::int64_t> train_chunks, dev_chunks;
  if (tc.dev_fraction > 0) {
    std::tie(train_chunks, dev_chunks) =
        data::split_chunks(store->size("train"), store->chunk_bags("train"), tc.dev_fraction,
                           static_cast<std::uint64_t>(tc.seed));
  }
  data::LoaderOptions loader_options;
  loader_options.batch_size = tc.batch_size / ranks;
  loader_options.shuffle_window = config.loader.shuffle_window;
  loader_options.prefetch_batches = config.loader.prefetch_batches;
  loader_options.chunks = train_chunks;
  loader_options.seed = static_cast<std::uint64_t>(tc.seed);
  loader_options.rank = rank;
  loader_options.world_size = ranks;
  data::BagLoader loader(store, loader_options);

  TrainingState state;
  if (options.resume) {
    const auto checkpoint = newest_checkpoint(run_dir);
    if (!checkpoint) throw InputError(run_dir + ": no checkpoint to resume from");
    state = load_checkpoint(comm, *checkpoint, *model, trainer.optimizer(),
                            static_cast<std::uint64_t>(tc.seed), knowledge.get());
    loader.restore(state.loader);
    if (leader) std::cerr << "resuming " << *checkpoint << " at step " << state.step << "\n";
  }
  if (leader && ranks > 1) {
    std::cerr << "data parallel: " << ranks << " ranks (" << comm.backend() << "), global batch "
              << tc.batch_size << " = " << ranks << " x " << loader_options.batch_size
              << " bags per rank, " << trainer.replicas().buckets()
              << " gradient bucket(s) of at most " << config.dist.bucket_mib << " MiB"
              << (trainer.overlaps() ? ", all-reduce overlapping backward" : "") << "\n";
  }
  if (leader && device.is_cuda()) std::cerr << "device: " << device << "\n";
  std::unique_ptr<MetricsLog> log;
  if (leader) log = std::make_unique<MetricsLog>((fs::path(run_dir) / "metrics.jsonl").string(), state.step);
  const std::int64_t total_steps = tc.epochs * loader.batches_per_epoch();
  ProgressBar bar(total_steps, options.progress && leader);
  const core::Stopwatch since_call;
  core::Stopwatch since_interval;
  StepTimes interval_times_start = trainer.times();
  double interval_data_seconds = 0;

  // The interval's summed step losses live on the device (kept in StepLosses' order), so a
  // step adds to them without a host read; `state` gets a copy when a metrics line or a
  // checkpoint needs them. A resumed run continues the same sum in the same order.
  torch::Tensor interval_losses =
      torch::tensor({state.interval_loss, state.interval_knowledge, state.interval_agreement,
                     state.interval_l2, static_cast<double>(state.interval_bags)},
                    torch::kFloat64)
          .to(device);
  std::string last_loss = "-";
  auto copy_losses_to_state = [&] {
    const torch::Tensor v = interval_losses.cpu();
    const double* sums = v.data_ptr<double>();
    state.interval_loss = sums[StepLosses::kLanguage];
    state.interval_knowledge = sums[StepLosses::kKnowledge];
    state.interval_agreement = sums[StepLosses::kAgreement];
    state.interval_l2 = sums[StepLosses::kL2];
    state.interval_bags = static_cast<std::int64_t>(sums[StepLosses::kBags]);
  };
  auto write_interval = [&](nlohmann::json extra) {
    copy_losses_to_state();
    nlohmann::json line = std::move(extra);
    line["step"] = state.step;
    line["epoch"] = loader.state().epoch;
    line["ranks"] = ranks;
    line["global_batch"] = tc.batch_size;
    line["rank_batch"] = loader_options.batch_size;
    if (state.interval_steps > 0) {
      const double seconds = since_interval.seconds();
      const double n = static_cast<double>(state.interval_steps);
      line["loss"] = (state.interval_loss + state.interval_knowledge + state.interval_agreement +
                      state.interval_l2) / n;
      last_loss = std::to_string(line["loss"].get<double>()).substr(0, 6);
      line["loss_language"] = state.interval_loss / n;
      line["loss_l2"] = state.interval_l2 / n;
      if (knowledge) {
        line["loss_knowledge"] = state.interval_knowledge / n;
        line["loss_agreement"] = state.interval_agreement / n;
      }
      line["bags_per_second"] = state.interval_bags / std::max(seconds, 1e-9);
      // Where a step's time went on rank 0 (mean seconds per step).
      const StepTimes& now = trainer.times();
      const StepTimes& then = interval_times_start;
      line["step_seconds"] = {{"data", interval_data_seconds / n},
                              {"forward", (now.forward - then.forward) / n},
                              {"backward", (now.backward - then.backward) / n},
                              {"all_reduce", (now.all_reduce - then.all_reduce) / n},
                              {"exchange", (now.exchange - then.exchange) / n},
                              {"optimizer", (now.optimizer - then.optimizer) / n}};
    }
    line["lr_language"] = tc.lr_language;
    if (knowledge) line["lr_knowledge"] = tc.lr_knowledge;
    line["seconds"] = since_call.seconds();
    if (log) log->write(line);
    state.interval_loss = state.interval_knowledge = state.interval_agreement = state.interval_l2 = 0;
    state.interval_steps = state.interval_bags = 0;
    interval_losses.zero_();
    since_interval.restart();
    interval_times_start = trainer.times();
    interval_data_seconds = 0;
  };
  auto checkpoint = [&] {
    copy_losses_to_state();
    state.loader = loader.state();
    save_checkpoint(comm, checkpoint_path(run_dir, state.step), state, *model, trainer.optimizer(),
                    knowledge.get());
    if (leader) prune_checkpoints(run_dir, tc.keep_checkpoints);
  };

  std::int64_t steps_this_call = 0;
  while (loader.state().epoch < tc.epochs) {
    if (options.max_steps > 0 && steps_this_call >= options.max_steps) {
      checkpoint();
      bar.finish();
      if (leader) {
        std::cerr << "stopped after " << steps_this_call << " steps (--max-steps); continue with "
                  << "--resume\n";
      }
      return {state.step, false, {}};
    }
    const core::Stopwatch data_watch;
    std::optional<data::Batch> batch = loader.next();
    interval_data_seconds += data_watch.seconds();
    if (!batch) {  // an epoch ended (on every rank: all take the same number of steps)
      nlohmann::json line{{"event", "epoch_end"}};
      if (!dev_chunks.empty()) {
        const double ap = dev_average_precision(scorer, *store, dev_chunks, tc.eval_batch_size);
        line["dev_average_precision"] = ap;
        if (ap > state.best_dev) {
          state.best_dev = ap;
          state.best_epoch = loader.state().epoch;
          save_model(comm, (fs::path(run_dir) / "best.pt").string(), *model, knowledge.get());
        }
        line["best_epoch"] = state.best_epoch;
      }
      write_interval(line);
      save_model(comm, (fs::path(run_dir) / "model.pt").string(), *model, knowledge.get());
      checkpoint();
      continue;
    }
    ++state.step;
    ++steps_this_call;
    const StepLosses losses = trainer.run(*batch, state.step);
    interval_losses += losses.values;
    ++state.interval_steps;
    std::ostringstream detail;
    detail << "epoch " << loader.state().epoch + 1 << "/" << tc.epochs << " loss " << last_loss
           << " | " << std::fixed << std::setprecision(0)
           << steps_this_call * tc.batch_size / std::max(since_call.seconds(), 1e-9)
           << " bags/s";
    bar.update(state.step, detail.str());
    if (state.step % tc.log_every == 0) write_interval({});
    if (tc.checkpoint_every > 0 && state.step % tc.checkpoint_every == 0) checkpoint();
  }
  bar.finish();
  TrainOutcome outcome{state.step, true, {}};
  if (options.evaluate) outcome.evaluation = evaluate_run(run_dir);
  return outcome;
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
  for (const char* name : {"best.pt", "model.pt"}) {
    if (fs::exists(dir / name)) {
      run.weights = (dir / name).string();
      break;
    }
  }
  if (run.weights.empty()) {
    throw InputError(run_dir + ": no trained model yet (model.pt is written at the end of "
                           "every epoch)");
  }
  load_model(run.weights, *run.model, run.knowledge.get());
  run.model->eval();
  return run;
}

std::string eval_dir(const std::string& run_dir, const std::string& pairs_file) {
  fs::path dir = fs::path(run_dir) / "eval";
  if (!pairs_file.empty()) dir /= fs::path(pairs_file).stem();
  return dir.string();
}

nlohmann::json evaluate_run(const std::string& run_dir, const std::string& pairs_file) {
  TrainedRun run = load_trained_run(run_dir);
  torch::set_num_threads(run.config.train.threads);
  const core::Stopwatch stopwatch;
  TestScores scores = score_test_set(run.scorer(), *run.store, run.config.train.eval_batch_size);
  if (!pairs_file.empty()) scores = restrict_to_pairs(scores, run.store->entities(), pairs_file);
  HeldOutReport report = held_out_report(scores, run.store->relations());
  report.summary["weights"] = fs::path(run.weights).filename().string();
  report.summary["seconds"] = stopwatch.seconds();
  if (!pairs_file.empty()) report.summary["pairs_file"] = pairs_file;
  // The ranks share the encoding of the test sentences; one writes the report.
  on_rank_zero(comm::world(), [&] {
    write_held_out_report(eval_dir(run_dir, pairs_file), report);
    if (pairs_file.empty()) plot_pr_curve(run_dir);
  });
  return report.summary;
}

}  // namespace hrere::train
