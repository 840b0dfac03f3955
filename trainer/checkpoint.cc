#include "trainer/checkpoint.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <mutex>
#include <vector>

#include "core/atomic_output.h"
#include "core/checkpoint_folder.h"
#include "core/errors.h"
#include "core/hash.h"
#include "core/random.h"

namespace hrere::train {
namespace fs = std::filesystem;
namespace {

// Inside every checkpoint or model folder: rank 0's archive and the entity shards.
const char* const kArchiveFile = "state.pt";
const char* const kKnowledgeFolder = "knowledge";

// The archive's checksum, in a file beside it (state.pt.fnv1a64): LibTorch 1.13 does not check
// its zip's CRCs when loading, so a flipped byte in a tensor would load as other weights.
const char* const kDigestSuffix = ".fnv1a64";

std::string digest_of(const std::string& bytes) {
  core::Fnv1a hash;
  hash.add(bytes.size());
  hash.add_words(bytes.data(), bytes.size());
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash.value()));
  return hex;
}

// Writes the archive and its checksum. Serialised in memory, then written by us: LibTorch
// 1.13's file writer that meets a full disk throws again from its destructor, which ends the
// process without a message.
void write_archive(torch::serialize::OutputArchive& archive, const std::string& path) {
  std::string bytes;
  archive.save_to([&bytes](const void* data, std::size_t size) {
    bytes.append(static_cast<const char*>(data), size);
    return size;
  });
  core::write_text_file(path, bytes);
  core::write_text_file(path + kDigestSuffix, digest_of(bytes) + "\n");
}

torch::serialize::InputArchive read_archive(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot open the " + std::string(what));
  const std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  std::string expected;
  std::ifstream(path + kDigestSuffix) >> expected;
  if (expected.empty())
    throw InputError(path + kDigestSuffix + ": missing or empty; the " + what +
                     " is damaged or was written before checksums (write it again)");
  if (digest_of(bytes) != expected)
    throw InputError(path + ": checksum mismatch (damaged " + std::string(what) + ")");
  torch::serialize::InputArchive archive;
  try {
    // Onto the host whatever device wrote it: a GPU run's file resumes on a CPU-only machine;
    // the caller moves what it loaded to its own device.
    archive.load_from(bytes.data(), bytes.size(), torch::Device(torch::kCPU));
  } catch (const c10::Error& e) {
    throw InputError(path + ": not a readable " + what + " (" + e.what_without_backtrace() + ")");
  }
  return archive;
}

std::int64_t read_int(torch::serialize::InputArchive& archive, const char* key) {
  torch::Tensor t;
  archive.read(key, t);
  return t.item<std::int64_t>();
}

// The dropout generator of `device`: the CPU's, or the GPU's own (Philox) generator.
at::Generator dropout_generator(const torch::Device& device) {
  return device.is_cuda() ? at::globalContext().defaultGenerator(device)
                          : at::detail::getDefaultCPUGenerator();
}

// The archive key of that generator's state: a checkpoint resumes its streams only on the
// same kind of device (another kind re-seeds, as another number of ranks does).
const char* generator_key(const torch::Device& device) {
  return device.is_cuda() ? "cuda_rng" : "cpu_rng";
}

torch::Device device_of(torch::nn::Module& model) { return model.parameters().front().device(); }

// Module::load leaves parameters where the archive had them (the host) and optimizer state
// too: both go back to `device`.
void move_to(const torch::Device& device, torch::nn::Module& model,
             torch::optim::Optimizer* optimizer) {
  model.to(device);
  if (!optimizer) return;
  for (auto& [key, state] : optimizer->state()) {
    if (auto* adam = dynamic_cast<torch::optim::AdamParamState*>(state.get())) {
      adam->exp_avg(adam->exp_avg().to(device));
      adam->exp_avg_sq(adam->exp_avg_sq().to(device));
      if (adam->max_exp_avg_sq().defined()) adam->max_exp_avg_sq(adam->max_exp_avg_sq().to(device));
    }
  }
}

std::string checkpoints_folder(const std::string& run_dir) {
  return (fs::path(run_dir) / "checkpoints").string();
}

// Collective. Publishes the folder `path` by core::CheckpointFolder's protocol: every rank
// writes its entity shards into the staging folder, then rank 0 the archive that `fill`
// completes, then rank 0 commits.
void publish(comm::Communicator& comm, const std::string& path, const KnowledgeModel* knowledge,
             const std::function<void(torch::serialize::OutputArchive&)>& fill) {
  const core::CheckpointFolder folder(path);
  const std::string shards = folder.staging() + "/" + kKnowledgeFolder;
  if (comm.rank() == 0) {
    folder.stage();
    if (knowledge) fs::create_directories(shards);
  }
  comm.barrier();
  torch::serialize::OutputArchive archive;
  if (knowledge) knowledge->save(archive, shards);
  comm.barrier();  // every shard is complete before the folder is committed
  if (comm.rank() == 0) {
    fill(archive);
    write_archive(archive, folder.staging() + "/" + kArchiveFile);
    folder.commit();
  }
  comm.barrier();
}

// The committed folder `path` (or the copy a stop between two renames left).
std::string readable_folder(const std::string& path, const char* what) {
  const auto folder = core::committed_folder(path);
  if (!folder) throw InputError(path + ": no " + std::string(what) + " here");
  return *folder;
}

}  // namespace

void save_checkpoint(comm::Communicator& comm, const std::string& path, const TrainingState& state,
                     torch::nn::Module& model, torch::optim::Optimizer& optimizer,
                     const KnowledgeModel* knowledge) {
  const torch::Device device = device_of(model);
  torch::Tensor generator_state;
  {
    at::Generator generator = dropout_generator(device);
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator_state = generator.get_state();
  }
  // [P, bytes]: every rank's dropout generator.
  const torch::Tensor generators =
      comm.size() > 1 ? comm.all_gather(generator_state) : generator_state.unsqueeze(0);
  publish(comm, path, knowledge, [&](torch::serialize::OutputArchive& archive) {
    archive.write("step", torch::tensor(state.step));
    archive.write("loader_epoch", torch::tensor(state.loader.epoch));
    archive.write("loader_batch", torch::tensor(state.loader.batch));
    archive.write("best_dev", torch::tensor(state.best_dev, torch::kFloat64));
    archive.write("best_epoch", torch::tensor(state.best_epoch));
    archive.write("skipped_nonfinite", torch::tensor(state.skipped_nonfinite));
    archive.write("interval", torch::tensor({state.interval_loss, state.interval_knowledge,
                                             state.interval_agreement, state.interval_l2,
                                             static_cast<double>(state.interval_steps),
                                             static_cast<double>(state.interval_bags)},
                                            torch::kFloat64));
    archive.write(generator_key(device), generators);
    torch::serialize::OutputArchive model_archive, optimizer_archive;
    model.save(model_archive);
    optimizer.save(optimizer_archive);
    archive.write("model", model_archive);
    archive.write("optimizer", optimizer_archive);
  });
}

TrainingState load_checkpoint(comm::Communicator& comm, const std::string& path,
                              torch::nn::Module& model, torch::optim::Optimizer& optimizer,
                              std::uint64_t seed, KnowledgeModel* knowledge) {
  const std::string folder = readable_folder(path, "checkpoint");
  torch::serialize::InputArchive archive = read_archive(folder + "/" + kArchiveFile, "checkpoint");
  const torch::Device device = device_of(model);
  TrainingState state;
  try {
    state.step = read_int(archive, "step");
    state.loader.epoch = read_int(archive, "loader_epoch");
    state.loader.batch = read_int(archive, "loader_batch");
    torch::Tensor best;
    archive.read("best_dev", best);
    state.best_dev = best.item<double>();
    state.best_epoch = read_int(archive, "best_epoch");
    state.skipped_nonfinite = read_int(archive, "skipped_nonfinite");
    torch::Tensor interval;
    archive.read("interval", interval);
    state.interval_loss = interval[0].item<double>();
    state.interval_knowledge = interval[1].item<double>();
    state.interval_agreement = interval[2].item<double>();
    state.interval_l2 = interval[3].item<double>();
    state.interval_steps = static_cast<std::int64_t>(interval[4].item<double>());
    state.interval_bags = static_cast<std::int64_t>(interval[5].item<double>());
    torch::serialize::InputArchive model_archive, optimizer_archive;
    archive.read("model", model_archive);
    archive.read("optimizer", optimizer_archive);
    model.load(model_archive);
    optimizer.load(optimizer_archive);
    move_to(device, model, &optimizer);
    if (knowledge) knowledge->load(archive, folder + "/" + kKnowledgeFolder);
    torch::Tensor generators;
    if (archive.try_read(generator_key(device), generators) && generators.size(0) == comm.size()) {
      at::Generator generator = dropout_generator(device);
      std::lock_guard<std::mutex> lock(generator.mutex());
      // A copy of the row: LibTorch 2.11's CPU generator crashes on a state tensor that is a
      // view at an offset into its storage (every rank's row but rank 0's).
      generator.set_state(generators[comm.rank()].clone());
    } else {
      torch::manual_seed(dropout_seed(seed, state.step, comm.rank()));
    }
  } catch (const c10::Error& e) {
    throw InputError(path + ": checkpoint does not match this model and config (" +
                     e.what_without_backtrace() + ")");
  }
  return state;
}

void save_model(comm::Communicator& comm, const std::string& path, torch::nn::Module& model,
                const KnowledgeModel* knowledge) {
  publish(comm, path, knowledge,
          [&](torch::serialize::OutputArchive& archive) { model.save(archive); });
}

std::uint64_t dropout_seed(std::uint64_t seed, std::int64_t step, int rank) {
  return core::mix(core::mix(seed, static_cast<std::uint64_t>(step)),
                   static_cast<std::uint64_t>(rank));
}

void load_model(const std::string& path, torch::nn::Module& model, KnowledgeModel* knowledge) {
  const std::string folder = readable_folder(path, "saved model");
  torch::serialize::InputArchive archive = read_archive(folder + "/" + kArchiveFile, "saved model");
  const torch::Device device = device_of(model);
  try {
    model.load(archive);
    move_to(device, model, nullptr);
    if (knowledge) knowledge->load(archive, folder + "/" + kKnowledgeFolder);
  } catch (const c10::Error& e) {
    throw InputError(path + ": model file does not match the run's config (" +
                     e.what_without_backtrace() + ")");
  }
}

std::string checkpoint_path(const std::string& run_dir, std::int64_t step) {
  return core::numbered_folder(checkpoints_folder(run_dir), step);
}

std::optional<std::string> newest_checkpoint(const std::string& run_dir) {
  const auto found = core::numbered_folders(checkpoints_folder(run_dir));
  if (found.empty()) return std::nullopt;
  return found.back().second;
}

void prune_checkpoints(const std::string& run_dir, int keep) {
  core::prune_numbered_folders(checkpoints_folder(run_dir), keep);
}

}  // namespace hrere::train
