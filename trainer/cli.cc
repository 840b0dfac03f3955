#include "trainer/cli.h"

#include <CLI/CLI.hpp>

#include <filesystem>
#include <iomanip>
#include <iostream>
#include <optional>
#include <sstream>

#include "core/atomic_output.h"
#include "core/errors.h"
#include "data_pipeline/prepare.h"
#include "data_pipeline/synth.h"
#include "trainer/checkpoint.h"
#include "trainer/config.h"
#include "comm/routing_communicator.h"
#include "trainer/predict.h"
#include "trainer/pretraining.h"
#include "trainer/repeated_runs.h"
#include "trainer/store_summary.h"
#include "trainer/training.h"

namespace hrere::train {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitInternal = 1;
constexpr int kExitBadInput = 2;

// Options every config-driven command shares.
struct ConfigArgs {
  std::string config_path;
  std::vector<std::string> overrides;

  void add_to(CLI::App& command) {
    command.add_option("--config,-c", config_path, "YAML config file")->check(CLI::ExistingFile);
    command.add_option("--set", overrides, "override a config key: section.key=value (repeatable)");
  }
  Config load() const { return load_config(config_path, overrides); }
  // A resumed run without --config continues with the config it wrote into its folder.
  Config load_for_run(const std::string& run_dir, bool resume) const {
    const bool from_run = config_path.empty() && resume;
    return load_config(from_run ? (std::filesystem::path(run_dir) / "config.yaml").string() : config_path,
                       overrides);
  }
};

int run_config(const ConfigArgs& args, bool describe) {
  std::cout << (describe ? describe_config() : to_yaml(args.load()));
  return kExitOk;
}

int run_prepare(const ConfigArgs& args, const std::string& out_dir, bool skip_bad_lines) {
  Config config = args.load();
  if (skip_bad_lines) config.data.skip_bad_lines = true;
  std::cerr << "preparing " << config.data.train << " and " << config.data.test
            << (config.data.kb_train.empty() ? "" : " with KB " + config.data.kb_train) << "\n";
  data::PrepareOptions options = config.data.prepare_options();
  options.config_yaml = to_yaml(config);
  const nlohmann::json report = data::prepare_data(options, out_dir);
  std::cout << format_summary(summarize_store(report["outputs"]["bags"]));
  if (!report["outputs"]["kb"].is_null()) {
    std::cout << format_summary(summarize_store(report["outputs"]["kb"]));
    const nlohmann::json& kb = report["kb"];
    std::cout << "  removed " << kb["triples_removed_total"]
              << " KB triples whose entity pair occurs in the RE data (filter: "
              << kb["filter"].get<std::string>() << ")\n";
  }
  std::cout << "skipped lines: " << report["lines_skipped"] << ", sentences longer than L: "
            << report["truncated_sentences"] << "\n"
            << "prepared in " << report["seconds"].get<double>() << " s; report: "
            << (std::filesystem::path(out_dir) / data::kPrepareReportFile).string() << "\n";
  return kExitOk;
}

int run_synth(const std::string& preset, const std::optional<std::uint64_t>& seed,
              const std::string& out_dir) {
  data::SynthOptions options;
  try {
    options = data::synth_preset(preset);
    if (seed) options.seed = *seed;
    data::validate_synth_options(options);
  } catch (const std::invalid_argument& e) {
    throw InputError(std::string("synth: ") + e.what());
  }
  const data::SynthReport r = data::generate_synthetic_world(options, out_dir);
  std::cout << "synthetic world '" << preset << "' (seed " << options.seed << ") in " << out_dir
            << ": " << r.entities << " entities, " << r.relations << " relations with NA\n"
            << "  RE: " << r.train_sentences << " train / " << r.test_sentences
            << " test sentences over " << r.train_pairs << " / " << r.test_pairs << " pairs ("
            << r.uninformative_test_pairs << " test pairs whose text is uninformative)\n"
            << "  KB: " << r.kb_train << " train / " << r.kb_valid << " valid / " << r.kb_test
            << " test triples (" << r.kb_removed_facts << " removed: RE pairs)\n";
  return kExitOk;
}

// The headline numbers of an evaluation summary, one protocol a line.
std::string format_evaluation(const nlohmann::json& s) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(3);
  const nlohmann::json& sentence = s["sentence"];
  out << "sentence protocol (" << sentence["samples"] << " test sentences): AP "
      << sentence["average_precision"].get<double>() << "  AUC " << sentence["auc"].get<double>();
  for (const char* n : {"10", "30", "50"}) {
    out << "  P@" << n << "% " << sentence["p_at_percent"][n].get<double>();
  }
  const nlohmann::json& pair = s["pair"];
  out << "\npair protocol (" << pair["pairs"] << " entity pairs): AUC " << pair["auc"].get<double>()
      << "  max F1 " << pair["max_f1"].get<double>();
  for (const char* k : {"100", "200", "300"}) out << "  P@" << k << " " << pair["p_at"][k].get<double>();
  out << "\n";
  return out.str();
}

struct TrainArgs {
  ConfigArgs config;
  std::string out_dir;
  TrainRunOptions run;
  bool no_eval = false;
  int runs = 1;
};

int run_train(TrainArgs args) {
  args.run.evaluate = !args.no_eval;
  const std::filesystem::path out_path(args.out_dir);
  const Config config = args.config.load_for_run(args.out_dir, args.run.resume);
  // Every rank trains; rank 0 reports.
  std::ostringstream quiet;
  std::ostream& out = comm::world().rank() == 0 ? std::cout : quiet;
  if (args.runs == 1) {
    const TrainOutcome outcome = train_run(config, args.out_dir, args.run);
    out << "trained " << outcome.steps << " steps into " << args.out_dir << "\n";
    if (!outcome.evaluation.is_null()) {
      out << format_evaluation(outcome.evaluation)
                << "report: " << (std::filesystem::path(eval_dir(args.out_dir)) / "summary.json").string()
                << "\n";
    }
    return kExitOk;
  }
  std::vector<nlohmann::json> summaries;
  for (int k = 0; k < args.runs; ++k) {
    Config seeded = config;
    seeded.train.seed = config.train.seed + k;
    const std::string dir = (out_path / ("seed-" + std::to_string(seeded.train.seed))).string();
    out << "run " << k + 1 << "/" << args.runs << ": seed " << seeded.train.seed << " -> "
              << dir << "\n";
    TrainRunOptions options = args.run;
    options.evaluate = true;
    options.resume = args.run.resume && newest_checkpoint(dir).has_value();
    const TrainOutcome outcome = train_run(seeded, dir, options);
    if (!outcome.completed) return kExitOk;  // --max-steps: continue with --resume
    out << format_evaluation(outcome.evaluation);
    summaries.push_back(outcome.evaluation);
  }
  const nlohmann::json summary = summarize_runs(summaries);
  if (comm::world().rank() == 0) {
    core::write_text_atomically((out_path / "runs_summary.json").string(), summary.dump(2) + "\n");
  }
  out << std::fixed << std::setprecision(3) << "over " << args.runs << " seeds (mean +- std):\n";
  for (const char* key : {"sentence.average_precision", "sentence.p_at_percent.10",
                          "sentence.p_at_percent.30", "sentence.p_at_percent.50", "pair.auc",
                          "pair.max_f1"}) {
    out << "  " << key << " " << summary[key]["mean"].get<double>() << " +- "
              << summary[key]["std"].get<double>() << "\n";
  }
  out << "report: " << (out_path / "runs_summary.json").string() << "\n";
  return kExitOk;
}

int run_eval(const std::string& run_dir, const std::string& pairs_file) {
  const nlohmann::json summary = evaluate_run(run_dir, pairs_file);
  if (comm::world().rank() != 0) return kExitOk;
  std::cout << format_evaluation(summary) << "report: "
            << (std::filesystem::path(eval_dir(run_dir, pairs_file)) / "summary.json").string() << "\n";
  return kExitOk;
}

int run_predict(const PredictOptions& options) {
  const std::int64_t lines = predict(options);
  if (!options.output.empty()) std::cerr << "predicted " << lines << " lines into " << options.output << "\n";
  return kExitOk;
}

// The ranking protocol of eval-kbe metrics, for the report line.
std::string ranking_of(const nlohmann::json& m) {
  return m["candidates"].is_number()
             ? "filtered, " + m["candidates"].dump() + " sampled candidates per batch"
             : std::string("filtered, all candidates");
}

std::string format_link_prediction(const nlohmann::json& m) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(3) << "MRR " << m["mrr"].get<double>() << "  MR "
      << std::setprecision(1) << m["mr"].get<double>() << std::setprecision(3) << "  Hits@1 "
      << m["hits1"].get<double>() << "  Hits@3 " << m["hits3"].get<double>() << "  Hits@10 "
      << m["hits10"].get<double>();
  return out.str();
}

int run_pretrain(const ConfigArgs& args, const std::string& out_dir, bool resume,
                 std::int64_t max_steps) {
  const Config config = args.load_for_run(out_dir, resume);
  comm::Communicator& comm = comm::world();
  const nlohmann::json result = pretrain_run(comm, config, out_dir, resume, max_steps);
  if (!result["completed"].get<bool>()) {
    if (comm.rank() == 0) {
      std::cout << "stopped after " << max_steps << " steps (--max-steps) at step "
                << result["steps"] << "; exported " << result["embeddings"].get<std::string>()
                << "; continue with --resume\n";
    }
    return kExitOk;
  }
  const nlohmann::json test = evaluate_kbe_run(comm, out_dir, "test");
  if (comm.rank() == 0) {
    std::cout << "pretrained " << result["epochs"] << " epochs on " << comm.size()
              << " rank(s); best validation epoch " << result["best_epoch"] << " (MRR "
              << result["best_valid_mrr"].get<double>() << ")\n"
              << "test (" << ranking_of(test) << "): " << format_link_prediction(test) << "\n"
              << "embeddings: " << result["embeddings"].get<std::string>() << "\n";
  }
  return kExitOk;
}

int run_eval_kbe(const std::string& run_dir, const std::string& split,
                 const std::vector<std::string>& overrides) {
  comm::Communicator& comm = comm::world();
  const nlohmann::json metrics = evaluate_kbe_run(comm, run_dir, split, overrides);
  if (comm.rank() == 0) {
    std::cout << split << " (" << ranking_of(metrics) << ", " << metrics["queries"] << " queries): "
              << format_link_prediction(metrics) << "\n";
  }
  return kExitOk;
}

int run_inspect(const std::string& path, bool as_json) {
  const nlohmann::json summary = summarize_store(path);
  std::cout << (as_json ? summary.dump(2) + "\n" : format_summary(summary));
  return kExitOk;
}

}  // namespace

int run_cli(int argc, char** argv) {
  CLI::App app{"hrere: joint training of relation extractors and knowledge-base embeddings"};
  app.require_subcommand(1);

  ConfigArgs config_args;
  bool describe = false;
  CLI::App* config = app.add_subcommand("config", "print the fully resolved configuration");
  config_args.add_to(*config);
  config->add_flag("--describe", describe,
                   "print every key with its type, default, allowed values and meaning");

  ConfigArgs prepare_args;
  std::string prepare_out;
  bool skip_bad_lines = false;
  CLI::App* prepare = app.add_subcommand(
      "prepare", "raw RE corpus + KB triples -> HDF5 bag store, KB store, prepare.json");
  prepare_args.add_to(*prepare);
  prepare->add_option("--out,-o", prepare_out, "output directory")->required();
  prepare->add_flag("--skip-bad-lines", skip_bad_lines,
                    "skip malformed input lines (counted in the report) instead of failing");

  std::string synth_preset = "default";
  std::optional<std::uint64_t> synth_seed;
  std::string synth_out;
  CLI::App* synth = app.add_subcommand(
      "synth", "write a synthetic distant-supervision world in the NYT10 and KB text formats");
  synth->add_option("--preset", synth_preset, "default, bench-1m, kb-3m or kb-30m")
      ->capture_default_str();
  synth->add_option("--seed", synth_seed, "random seed (default: the preset's)");
  synth->add_option("--out,-o", synth_out, "output directory")->required();

  TrainArgs train_args;
  CLI::App* train = app.add_subcommand(
      "train", "train a relation extractor into a run folder, then evaluate it");
  train_args.config.add_to(*train);
  train->add_option("--out,-o", train_args.out_dir, "run folder")->required();
  train->add_flag("--resume", train_args.run.resume,
                  "continue from the run folder's newest checkpoint (config: RUN/config.yaml "
                  "unless --config is given)");
  train->add_option("--max-steps", train_args.run.max_steps,
                    "stop, checkpointed, after this many steps (e.g. within a Slurm time limit)");
  train->add_option("--runs", train_args.runs,
                    "train this many seeds (seed, seed+1, ...) into RUN/seed-*/ and report mean "
                    "and std of every metric")
      ->check(CLI::PositiveNumber);
  train->add_flag("--no-eval", train_args.no_eval, "skip the held-out evaluation at the end");

  ConfigArgs pretrain_args;
  std::string pretrain_out;
  bool pretrain_resume = false;
  CLI::App* pretrain = app.add_subcommand(
      "pretrain", "ComplEx on the KB store, entity rows sharded over the ranks (mpirun -np P)");
  pretrain_args.add_to(*pretrain);
  pretrain->add_option("--out,-o", pretrain_out, "run folder")->required();
  pretrain->add_flag("--resume", pretrain_resume,
                     "continue from the run folder's checkpoint (with any number of ranks)");
  std::int64_t pretrain_max_steps = 0;
  pretrain->add_option("--max-steps", pretrain_max_steps,
                       "stop after this many steps, checkpointed and exported (e.g. within a "
                       "Slurm time limit); continue with --resume")
      ->check(CLI::NonNegativeNumber);

  std::string eval_kbe_run, eval_kbe_split = "test";
  CLI::App* eval_kbe = app.add_subcommand(
      "eval-kbe", "filtered link prediction (MRR, MR, Hits@1/3/10) of a pretraining run");
  eval_kbe->add_option("--run", eval_kbe_run, "pretraining run folder")->required();
  eval_kbe->add_option("--split", eval_kbe_split, "valid or test")->capture_default_str();
  std::vector<std::string> eval_kbe_overrides;
  eval_kbe->add_option("--set", eval_kbe_overrides,
                       "override a key of the run's config, e.g. kbe.eval_candidates=1000 "
                       "(repeatable)");

  std::string eval_run, eval_pairs;
  CLI::App* eval = app.add_subcommand(
      "eval", "held-out evaluation of a run: P@N%, PR curves, PR-AUC -> RUN/eval/");
  eval->add_option("--run", eval_run, "run folder")->required();
  eval->add_option("--pairs", eval_pairs,
                   "only the entity pairs listed in this file (head<TAB>tail lines), "
                   "reported in RUN/eval/<file stem>/")
      ->check(CLI::ExistingFile);

  PredictOptions predict_options;
  CLI::App* predict_command = app.add_subcommand(
      "predict", "relation probabilities for sentence sets given as JSON lines");
  predict_command->add_option("--run", predict_options.run_dir, "run folder")->required();
  predict_command->add_option("--input,-i", predict_options.input, "JSON lines")
      ->required()
      ->check(CLI::ExistingFile);
  predict_command->add_option("--out,-o", predict_options.output,
                              "output JSON lines (default: standard output)");
  predict_command->add_option("--top", predict_options.top, "relations per line (default: all)");

  std::string inspect_path;
  bool inspect_json = false;
  CLI::App* inspect = app.add_subcommand("inspect", "validate a bag or KB store and summarise it");
  inspect->add_option("file", inspect_path, "bags.h5 or kb.h5")->required();
  inspect->add_flag("--json", inspect_json, "print the summary as JSON");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitBadInput;
  }

  // The GPU transport goes before main returns, not in static destruction, which may run
  // after the CUDA runtime has been torn down.
  struct ReleaseDevice {
    ~ReleaseDevice() { comm::release_world_device(); }
  } release_device;
  try {
    if (config->parsed()) return run_config(config_args, describe);
    if (prepare->parsed()) return run_prepare(prepare_args, prepare_out, skip_bad_lines);
    if (synth->parsed()) return run_synth(synth_preset, synth_seed, synth_out);
    if (inspect->parsed()) return run_inspect(inspect_path, inspect_json);
    if (train->parsed()) return run_train(train_args);
    if (eval->parsed()) return run_eval(eval_run, eval_pairs);
    if (pretrain->parsed()) return run_pretrain(pretrain_args, pretrain_out, pretrain_resume, pretrain_max_steps);
    if (eval_kbe->parsed()) return run_eval_kbe(eval_kbe_run, eval_kbe_split, eval_kbe_overrides);
    if (predict_command->parsed()) return run_predict(predict_options);
  } catch (const InputError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return kExitBadInput;
  } catch (const std::exception& e) {
    std::cerr << "error: internal: " << e.what() << "\n";
    return kExitInternal;
  }
  return kExitInternal;
}

}  // namespace hrere::train
