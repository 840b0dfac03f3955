#include "kbe_shard/pretrain.h"

#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "core/checkpoint_folder.h"
#include "core/errors.h"
#include "core/random.h"
#include "core/schedule.h"
#include "core/stopwatch.h"
#include "data_pipeline/hdf5_file.h"
#include "data_pipeline/kb_store.h"
#include "kbe_shard/embeddings_file.h"
#include "kbe_shard/kb_partition.h"
#include "kbe_shard/tensor_io.h"

namespace hrere::kbe {
namespace {

namespace fs = std::filesystem;

const std::string kCheckpointFormat = "hrere-kbe-checkpoint";
// 2: mid-epoch position; 3: checksums; 4: epochs in the order of kb_partition.h's
// EpochBatches (version 3 drew them with a shuffle of every row)
constexpr std::int64_t kCheckpointVersion = 4;
const std::string kStateFile = "state.h5";
const std::string kEntityShards = "entities";
// Streams of the seed (the model uses 1 and 2 for its tables).
constexpr std::uint64_t kNegativeStream = 3;
constexpr std::uint64_t kPermutationStream = 4;  // 5 and 6: evaluation (kb_partition.cc)

std::string exact_text(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", value);
  return text;
}

// Checkpoint attributes that must match the model it is loaded into.
struct ModelShape {
  std::string name;
  std::int64_t value;
};

std::vector<ModelShape> shape_of(const ShardedComplEx& model) {
  const ComplExOptions& o = model.options();
  return {{"num_entities", o.num_entities},
          {"num_relations", o.num_relations},
          {"dim", o.dim},
          {"reciprocal", o.reciprocal},
          {"entity_tanh", o.entity_tanh},
          {"seed", static_cast<std::int64_t>(o.seed)}};
}

ComplExOptions model_options(const PretrainOptions& options, std::int64_t entities,
                             std::int64_t relations) {
  ComplExOptions model;
  model.num_entities = entities;
  model.num_relations = relations;
  model.dim = options.dim;
  model.entity_tanh = options.entity_tanh;
  model.reciprocal = options.mode == LossMode::kOneVsAll;
  model.init_std = options.init_std;
  model.seed = options.seed;
  model.optimizer = options.optimizer;
  model.regularizer = options.regularizer;
  model.regularization_weight = options.regularization_weight;
  model.device = options.device;
  return model;
}

}  // namespace

bool checkpoint_exists(const std::string& dir) { return core::committed_folder(dir).has_value(); }

void save_checkpoint(ShardedComplEx& model, const std::string& dir,
                     const TrainingPosition& position) {
  comm::Communicator& comm = model.comm();
  const core::CheckpointFolder folder(dir);
  if (comm.rank() == 0) folder.stage();
  comm.barrier();
  model.entities().save(folder.staging(), kEntityShards);
  comm.barrier();  // every shard is complete before the folder is committed
  if (comm.rank() == 0) {
    {
      data::Hdf5File file = data::Hdf5File::create(folder.staging() + "/" + kStateFile);
      data::write_schema(file, kCheckpointFormat, kCheckpointVersion);
      for (const ModelShape& attribute : shape_of(model)) {
        file.set_attribute(attribute.name, attribute.value);
      }
      file.set_attribute("optimizer", std::string(core::name_of(model.options().optimizer.kind)));
      file.set_attribute("epoch", static_cast<std::int64_t>(position.epoch));
      file.set_attribute("epoch_step", position.epoch_step);
      file.set_attribute("step", position.step);
      file.set_attribute("unreported_loss", exact_text(position.unreported_loss));
      file.set_attribute("unreported_steps", position.unreported_steps);
      file.set_attribute("unreported_triples", position.unreported_triples);
      file.set_attribute("best_epoch", static_cast<std::int64_t>(position.best_epoch));
      file.set_attribute("best_mrr", exact_text(position.best_mrr));
      file.set_attribute("shards", static_cast<std::int64_t>(comm.size()));
      write_tensor(file, "relations", model.relations().detach());
      for (const auto& [name, tensor] : model.relation_optimizer().state()) {
        write_tensor(file, "relation_state/" + name, tensor);
      }
      file.close();
    }
    folder.commit();
  }
  comm.barrier();
}

TrainingPosition load_checkpoint(ShardedComplEx& model, const std::string& dir) {
  const std::string from = core::committed_folder(dir).value_or(dir);
  const std::string state_path = from + "/" + kStateFile;
  if (!fs::exists(state_path))
    throw InputError(dir + ": no checkpoint (" + kStateFile + " missing)");
  const data::Hdf5File file = data::Hdf5File::open(state_path);
  // A version 3 checkpoint taken at an epoch's end resumes as well: only the order of later
  // epochs differs. Inside an epoch, the new order would repeat some triples and skip others.
  const bool version3 = file.string_attribute("format") == kCheckpointFormat &&
                        file.int_attribute("version") == std::optional<std::int64_t>(3);
  if (version3 && require_int_attribute(file, "epoch_step") != 0) {
    throw InputError(state_path +
                     ": a checkpoint taken inside an epoch by an older hrere (version 3), whose "
                     "epoch order this version does not reproduce; resume it with that version "
                     "to the epoch's end, or start again");
  }
  if (!version3) data::require_schema(file, kCheckpointFormat, kCheckpointVersion);
  for (const ModelShape& expected : shape_of(model)) {
    const std::int64_t found = require_int_attribute(file, expected.name);
    if (found != expected.value) {
      throw InputError(state_path + ": checkpoint has " + expected.name + " = " +
                       std::to_string(found) + ", this run has " + std::to_string(expected.value));
    }
  }
  const std::string optimizer = file.string_attribute("optimizer").value_or("");
  if (optimizer != core::name_of(model.options().optimizer.kind)) {
    throw InputError(state_path + ": checkpoint optimizer is '" + optimizer + "', this run uses '" +
                     core::name_of(model.options().optimizer.kind) + "'");
  }
  TrainingPosition position;
  position.epoch = static_cast<int>(require_int_attribute(file, "epoch"));
  position.epoch_step = require_int_attribute(file, "epoch_step");
  position.step = require_int_attribute(file, "step");
  position.unreported_loss = std::stod(file.string_attribute("unreported_loss").value_or("0"));
  position.unreported_steps = require_int_attribute(file, "unreported_steps");
  position.unreported_triples = require_int_attribute(file, "unreported_triples");
  position.best_epoch = static_cast<int>(require_int_attribute(file, "best_epoch"));
  position.best_mrr = std::stod(file.string_attribute("best_mrr").value_or("-1"));
  {
    torch::NoGradGuard no_grad;
    model.relations().copy_(
        read_tensor(file, "relations", torch::kFloat, model.relations().sizes()));
    for (const auto& [name, tensor] : model.relation_optimizer().state()) {
      tensor.copy_(
          read_tensor(file, "relation_state/" + name, tensor.scalar_type(), tensor.sizes()));
    }
  }
  model.entities().load(from, kEntityShards);
  return position;
}

void export_embeddings(ShardedComplEx& model, const std::string& kb_store_path,
                       const std::vector<std::string>& relations, const std::string& path) {
  KbeEmbeddings embeddings;
  embeddings.entity = model.entities().shard().table().detach();
  const std::int64_t r = model.options().num_relations;
  const torch::Tensor table = model.relations().detach();
  embeddings.entity_names_from = kb_store_path;
  embeddings.relations = relations;
  embeddings.relation = table.narrow(0, 0, r);
  if (model.options().reciprocal) embeddings.inverse_relation = table.narrow(0, r, r);
  embeddings.entity_tanh = model.options().entity_tanh;
  write_kbe_embeddings(model.comm(), path, embeddings);
}

namespace {

// One pretraining call: the state of the loop and its parts (docs/ARCHITECTURE.md, kbe_shard).
class PretrainLoop {
 public:
  PretrainLoop(comm::Communicator& comm, const std::string& kb_store_path,
               const std::string& run_dir, const PretrainOptions& options,
               const PretrainCallback& progress)
      : comm_(comm),
        options_(options),
        progress_(progress),
        kb_(comm, kb_store_path, /*keep_train=*/true),
        model_(comm, model_options(options, kb_.entities(), kb_.relations())),
        checkpoint_dir_(run_dir + "/" + kCheckpointDir),
        best_dir_(run_dir + "/" + kBestDir),
        embeddings_path_(run_dir + "/" + kEmbeddingsFile),
        valid_(options.eval_every > 0
                   ? kb_.evaluation_triples("valid", options.eval_max_triples, options.seed)
                   : std::vector<std::int32_t>()),
        validating_(!valid_.empty()),
        filter_(validating_ ? kb_.filter_for(valid_) : FilterIndex()),
        triples_(kb_.size("train")),
        // A view of this rank's int32 triples (a batch is widened when it is drawn).
        train_(torch::from_blob(const_cast<std::int32_t*>(kb_.train_triples().data()),
                                {kb_.train_block().size(), 3}, torch::kInt)),
        steps_per_epoch_((triples_ + options.batch_size - 1) / options.batch_size),
        schedule_(schedule_options(options),
                  [&comm](std::int64_t bits) { return comm::rank0_value(comm, bits); }) {
    model_.set_candidates(kb_.candidates());
    if (comm.rank() == 0) fs::create_directories(run_dir);
    comm.barrier();
    if (options.resume && checkpoint_exists(checkpoint_dir_)) {
      position_ = load_checkpoint(model_, checkpoint_dir_);
    }
    validation_ = options.eval;
    validation_.seed = options.seed;
    report_.steps_per_epoch = steps_per_epoch_;
  }

  PretrainResult run() {
    report_.startup_seconds = since_start_.seconds();
    since_report_.restart();  // the first report's rate counts training, not the set-up
    for (int epoch = position_.epoch + 1; epoch <= options_.epochs; ++epoch) {
      if (!train_epoch(epoch)) break;
      if (!end_epoch(epoch)) break;
    }
    PretrainResult result;
    result.completed = stop_ == core::StopReason::kNone;
    result.stopped_by = core::option_name(stop_);
    result.steps = position_.step;
    result.epochs = position_.epoch;
    result.best_epoch = position_.best_epoch;
    result.best_valid_mrr = std::max(0.0, position_.best_mrr);
    result.embeddings_path = embeddings_path_;
    if (position_.best_epoch > 0) load_checkpoint(model_, best_dir_);
    export_embeddings(model_, kb_.store().path(), kb_.store().relations(), result.embeddings_path);
    return result;
  }

 private:
  static core::ScheduleOptions schedule_options(const PretrainOptions& o) {
    return {o.log_every, o.checkpoint_every_steps, o.checkpoint_every_minutes, o.limits};
  }

  // The rest of epoch `epoch` from position_.epoch_step; false when the schedule stopped it
  // (checkpointed). The epoch's last step is left to end_epoch, which reports and
  // checkpoints.
  bool train_epoch(int epoch) {
    const EpochBatches batches(
        kb_.train_block(), triples_, options_.batch_size,
        core::mix(core::mix(options_.seed, kPermutationStream), static_cast<std::uint64_t>(epoch)));
    const std::uint64_t negative_key = core::mix(core::mix(options_.seed, kNegativeStream), epoch);
    for (std::int64_t batch = position_.epoch_step; batch < steps_per_epoch_; ++batch) {
      train_step(batches, negative_key, batch);
      if (batch + 1 == steps_per_epoch_) break;
      if (schedule_.log_due(position_.step)) emit(epoch, false);
      stop_ = schedule_.stop();
      if (schedule_.checkpoint_due(position_.step) || stop_ != core::StopReason::kNone) {
        checkpoint();
      }
      if (stop_ != core::StopReason::kNone) return false;
    }
    return true;
  }

  // This rank's triples of global batch `batch`; negative samples are keyed by each triple's
  // position in the epoch, so they do not depend on which rank draws them.
  void train_step(const EpochBatches& batches, std::uint64_t negative_key, std::int64_t batch) {
    const torch::Tensor rows = batches.local_rows(batch);
    const std::int64_t n = batches.global_size(batch);
    const torch::Tensor triples = train_.index_select(0, rows).to(torch::kInt64);
    double loss = 0;
    if (options_.mode == LossMode::kOneVsAll) {
      loss = model_.one_vs_all_backward(triples, n);
    } else {
      const std::int64_t count = rows.numel();
      const std::int32_t* local = rows.data_ptr<std::int32_t>();
      std::vector<std::uint64_t> keys(count);
      for (std::int64_t i = 0; i < count; ++i) {
        keys[i] = core::mix(negative_key, batches.position(local[i]));
      }
      loss = model_.negative_backward(
          triples,
          sample_negatives(triples, keys, options_.negatives, model_.options().num_entities,
                           kb_.candidates()),
          n);
    }
    model_.step();
    ++position_.step;
    position_.epoch_step = batch + 1;
    position_.unreported_loss += loss;
    ++position_.unreported_steps;
    position_.unreported_triples += n;
    schedule_.step_done();
  }

  // Validation, the best epoch, the epoch's report and checkpoint; false when the schedule
  // stops the run before the next epoch.
  bool end_epoch(int epoch) {
    position_.epoch = epoch;
    position_.epoch_step = 0;
    if (validating_ && epoch % options_.eval_every == 0) {
      {
        const double comm_before = model_.comm_seconds();
        const core::Stopwatch validating;
        report_.valid = evaluate_link_prediction(model_, valid_, filter_, validation_);
        report_.validation_seconds += validating.seconds() - (model_.comm_seconds() - comm_before);
      }
      if (report_.valid->both.mrr > position_.best_mrr) {
        position_.best_mrr = report_.valid->both.mrr;
        position_.best_epoch = epoch;
        report_.best = true;
        save_timed(best_dir_);
      }
    }
    emit(epoch, true);
    if (epoch < options_.epochs) stop_ = schedule_.stop();
    const bool stopped = stop_ != core::StopReason::kNone;
    if (epoch == options_.epochs || stopped || schedule_.checkpoint_due(position_.step) ||
        (options_.checkpoint_every > 0 && epoch % options_.checkpoint_every == 0)) {
      checkpoint();
    }
    return !stopped;
  }

  void emit(int epoch, bool epoch_end) {
    report_.epoch = epoch;
    report_.step = position_.step;
    report_.loss = position_.unreported_steps > 0
                       ? position_.unreported_loss / static_cast<double>(position_.unreported_steps)
                       : 0;
    report_.triples_per_second =
        static_cast<double>(position_.unreported_triples) / std::max(1e-9, since_report_.seconds());
    report_.seconds = since_start_.seconds();
    report_.comm_seconds = model_.comm_seconds();
    report_.exchange_seconds = model_.exchange_seconds();
    report_.epoch_end = epoch_end;
    if (progress_) progress_(report_);
    report_.valid.reset();
    report_.best = false;
    position_.unreported_loss = 0;
    position_.unreported_steps = 0;
    position_.unreported_triples = 0;
    since_report_.restart();
  }

  // The checkpoint to resume from (the schedule's interval starts again).
  void checkpoint() {
    save_timed(checkpoint_dir_);
    schedule_.checkpointed();
  }

  void save_timed(const std::string& dir) {
    const core::ScopedTimer timer(report_.checkpoint_seconds);
    save_checkpoint(model_, dir, position_);
  }

  comm::Communicator& comm_;
  const PretrainOptions& options_;
  const PretrainCallback& progress_;
  const core::Stopwatch since_start_;
  core::Stopwatch since_report_;
  const KbPartition kb_;
  ShardedComplEx model_;
  const std::string checkpoint_dir_, best_dir_, embeddings_path_;
  TrainingPosition position_;
  RankingProtocol validation_;
  const std::vector<std::int32_t> valid_;
  const bool validating_;
  const FilterIndex filter_;
  const std::int64_t triples_;
  const torch::Tensor train_;
  const std::int64_t steps_per_epoch_;
  core::Schedule schedule_;
  core::StopReason stop_ = core::StopReason::kNone;
  PretrainProgress report_;
};

}  // namespace

PretrainResult pretrain_kbe(comm::Communicator& comm, const std::string& kb_store_path,
                            const std::string& run_dir, const PretrainOptions& options,
                            const PretrainCallback& progress) {
  if (options.batch_size <= 0 || options.epochs < 0 || options.negatives <= 0 ||
      options.checkpoint_every_steps < 0 || options.checkpoint_every_minutes < 0 ||
      options.limits.max_steps < 0 || options.limits.max_minutes < 0) {
    throw InputError(
        "KBE pretraining: batch_size and negatives must be positive; epochs, "
        "checkpoint intervals, max_steps and max_minutes not negative");
  }
  if (options.threads > 0) torch::set_num_threads(options.threads);
  return PretrainLoop(comm, kb_store_path, run_dir, options, progress).run();
}

LinkPredictionMetrics evaluate_kbe(comm::Communicator& comm, const std::string& kb_store_path,
                                   const std::string& embeddings_path, const std::string& split,
                                   const RankingProtocol& protocol, std::int64_t max_triples,
                                   torch::Device device) {
  const KbPartition kb(comm, kb_store_path, /*keep_train=*/false);
  if (kb.size(split) == 0) {
    throw InputError(kb_store_path + ": no '" + split + "' triples to evaluate");
  }
  const KbeEmbeddings embeddings =
      read_kbe_embeddings_for_store(comm, embeddings_path, kb_store_path);
  ComplExOptions options;
  options.num_entities = kb.entities();
  options.num_relations = kb.relations();
  options.dim = embeddings.entity.size(1);
  options.entity_tanh = embeddings.entity_tanh;
  options.reciprocal = embeddings.inverse_relation.defined();
  options.device = device;
  options.trainable = false;  // the export's rows replace the table; no optimizer state
  ShardedComplEx model(comm, options);
  model.set_candidates(kb.candidates());
  model.assign(embeddings.entity,
               options.reciprocal ? torch::cat({embeddings.relation, embeddings.inverse_relation})
                                  : embeddings.relation);
  const std::vector<std::int32_t> evaluated =
      kb.evaluation_triples(split, max_triples, protocol.seed);
  return evaluate_link_prediction(model, evaluated, kb.filter_for(evaluated), protocol);
}

}  // namespace hrere::kbe
