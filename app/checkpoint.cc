#include "app/checkpoint.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <string_view>
#include <vector>

#include "core/atomic_output.h"
#include "core/errors.h"
#include "core/random.h"

namespace hrere::train {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kPrefix = "step-";
constexpr std::string_view kSuffix = ".pt";

void write_archive(const std::string& path, torch::serialize::OutputArchive& archive) {
  core::AtomicOutput output(path);
  archive.save_to(output.temp_path());
  output.commit();
}

torch::serialize::InputArchive read_archive(const std::string& path, const char* what) {
  torch::serialize::InputArchive archive;
  try {
    // Onto the host whatever device wrote it: a GPU run's file resumes on a CPU-only machine;
    // the caller moves what it loaded to its own device.
    archive.load_from(path, torch::Device(torch::kCPU));
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

std::vector<std::pair<std::int64_t, std::string>> checkpoints(const std::string& run_dir) {
  std::vector<std::pair<std::int64_t, std::string>> found;
  const fs::path dir = fs::path(run_dir) / "checkpoints";
  if (!fs::is_directory(dir)) return found;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    const std::size_t digits = name.size() - std::min(name.size(), kPrefix.size() + kSuffix.size());
    const std::string step = name.substr(std::min(name.size(), kPrefix.size()), digits);
    if (name.rfind(kPrefix, 0) != 0 || step.empty() ||
        name.compare(kPrefix.size() + digits, std::string::npos, kSuffix) != 0 ||
        step.find_first_not_of("0123456789") != std::string::npos) {
      continue;  // temporary files of an interrupted write, shard folders, foreign files
    }
    found.emplace_back(std::stoll(step), entry.path().string());
  }
  std::sort(found.begin(), found.end());
  return found;
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

}  // namespace

std::string knowledge_dir(const std::string& path) {
  return (fs::path(path).parent_path() / (fs::path(path).stem().string() + ".kb")).string();
}

namespace {
// Collective. The shards of an earlier save to the same path go first: one taken with
// another number of ranks would leave files that look like a second set.
void save_knowledge(comm::Communicator& comm, const std::string& path,
                    const KnowledgeModel* knowledge, torch::serialize::OutputArchive& archive) {
  if (!knowledge) return;
  if (comm.rank() == 0) {
    fs::remove_all(knowledge_dir(path));
    fs::create_directories(knowledge_dir(path));
  }
  comm.barrier();
  knowledge->save(archive, knowledge_dir(path));
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
  if (comm.rank() == 0) fs::create_directories(fs::path(path).parent_path());
  torch::serialize::OutputArchive archive, model_archive, optimizer_archive;
  save_knowledge(comm, path, knowledge, archive);
  comm.barrier();  // every shard is complete before the archive that names them appears
  if (comm.rank() != 0) return;
  archive.write("step", torch::tensor(state.step));
  archive.write("loader_epoch", torch::tensor(state.loader.epoch));
  archive.write("loader_batch", torch::tensor(state.loader.batch));
  archive.write("best_dev", torch::tensor(state.best_dev, torch::kFloat64));
  archive.write("best_epoch", torch::tensor(state.best_epoch));
  archive.write("interval", torch::tensor({state.interval_loss, state.interval_knowledge,
                                           state.interval_agreement, state.interval_l2,
                                           static_cast<double>(state.interval_steps),
                                           static_cast<double>(state.interval_bags)},
                                          torch::kFloat64));
  archive.write(generator_key(device), generators);
  model.save(model_archive);
  optimizer.save(optimizer_archive);
  archive.write("model", model_archive);
  archive.write("optimizer", optimizer_archive);
  write_archive(path, archive);
}

TrainingState load_checkpoint(comm::Communicator& comm, const std::string& path,
                              torch::nn::Module& model, torch::optim::Optimizer& optimizer,
                              std::uint64_t seed, KnowledgeModel* knowledge) {
  torch::serialize::InputArchive archive = read_archive(path, "checkpoint");
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
    if (knowledge) knowledge->load(archive, knowledge_dir(path));
    torch::Tensor generators;
    if (archive.try_read(generator_key(device), generators) && generators.size(0) == comm.size()) {
      at::Generator generator = dropout_generator(device);
      std::lock_guard<std::mutex> lock(generator.mutex());
      generator.set_state(generators[comm.rank()].contiguous());
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
  torch::serialize::OutputArchive archive;
  save_knowledge(comm, path, knowledge, archive);
  comm.barrier();  // every shard is complete before the archive that names them appears
  if (comm.rank() != 0) return;
  model.save(archive);
  write_archive(path, archive);
}

std::uint64_t dropout_seed(std::uint64_t seed, std::int64_t step, int rank) {
  return core::mix(core::mix(seed, static_cast<std::uint64_t>(step)),
                   static_cast<std::uint64_t>(rank));
}

void load_model(const std::string& path, torch::nn::Module& model, KnowledgeModel* knowledge) {
  torch::serialize::InputArchive archive = read_archive(path, "model file");
  const torch::Device device = device_of(model);
  try {
    model.load(archive);
    move_to(device, model, nullptr);
    if (knowledge) knowledge->load(archive, knowledge_dir(path));
  } catch (const c10::Error& e) {
    throw InputError(path + ": model file does not match the run's config (" +
                     e.what_without_backtrace() + ")");
  }
}

std::string checkpoint_path(const std::string& run_dir, std::int64_t step) {
  char digits[32];  // zero-padded, so names sort by step
  std::snprintf(digits, sizeof digits, "%010lld", static_cast<long long>(step));
  const std::string name = std::string(kPrefix) + digits + std::string(kSuffix);
  return (fs::path(run_dir) / "checkpoints" / name).string();
}

std::optional<std::string> newest_checkpoint(const std::string& run_dir) {
  const auto found = checkpoints(run_dir);
  if (found.empty()) return std::nullopt;
  return found.back().second;
}

void prune_checkpoints(const std::string& run_dir, int keep) {
  const auto found = checkpoints(run_dir);
  for (std::size_t i = 0; i + keep < found.size(); ++i) {
    fs::remove_all(knowledge_dir(found[i].second));
    fs::remove(found[i].second);
  }
}

}  // namespace hrere::train
