#include "app/cli.h"

#include <CLI/CLI.hpp>

#include <filesystem>
#include <functional>
#include <iomanip>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>

#include "app/predict.h"
#include "app/pretraining.h"
#include "app/store_summary.h"
#include "comm/routing_communicator.h"
#include "core/atomic_output.h"
#include "core/errors.h"
#include "core/log.h"
#include "data_pipeline/prepare.h"
#include "synth/synth.h"
#include "trainer/checkpoint.h"
#include "trainer/config.h"
#include "trainer/evaluation/repeated_runs.h"
#include "trainer/train_step.h"
#include "trainer/training.h"

namespace hrere::train {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitInternal = 1;
constexpr int kExitBadInput = 2;
constexpr int kExitNonFinite = 4;  // after 3, comm::kExitRankLost
constexpr int kExitWriteFailed = 5;

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
    return load_config(
        from_run ? (std::filesystem::path(run_dir) / "config.yaml").string() : config_path,
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
  log::info("preparing {} and {}{}", config.data.train_path, config.data.test_path,
            config.data.kb_train_path.empty() ? "" : " with KB " + config.data.kb_train_path);
  data::PrepareOptions options = config.data;
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
  std::cout << "skipped lines: " << report["lines_skipped"]
            << ", sentences longer than L: " << report["truncated_sentences"] << "\n"
            << "prepared in " << report["seconds"].get<double>() << " s; report: "
            << (std::filesystem::path(out_dir) / data::kPrepareReportFile).string() << "\n";
  return kExitOk;
}

int run_synth(const std::string& preset, const std::optional<std::uint64_t>& seed,
              const std::string& out_dir) {
  synth::SynthOptions options;
  try {
    options = synth::synth_preset(preset);
    if (seed) options.seed = *seed;
    synth::validate_synth_options(options);
  } catch (const std::invalid_argument& e) {
    throw InputError(std::string("synth: ") + e.what());
  }
  const synth::SynthReport r = synth::generate_synthetic_world(options, out_dir);
  std::cout << "synthetic world '" << preset << "' (seed " << options.seed << ") in " << out_dir
            << ": " << r.entities << " entities, " << r.relations << " relations with NA\n"
            << "  RE: " << r.train_sentences << " train / " << r.test_sentences
            << " test sentences over " << r.train_pairs << " / " << r.test_pairs << " pairs ("
            << r.uninformative_test_pairs << " test pairs whose text is uninformative)\n"
            << "  KB: " << r.kb_train << " train / " << r.kb_valid << " valid / " << r.kb_test
            << " test triples over " << r.kb_relations << " relations (" << r.kb_removed_facts
            << " removed: RE pairs)\n";
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
  for (const char* k : {"100", "200", "300"})
    out << "  P@" << k << " " << pair["p_at"][k].get<double>();
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
    out << "run " << k + 1 << "/" << args.runs << ": seed " << seeded.train.seed << " -> " << dir
        << "\n";
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
  for (const char* key :
       {"sentence.average_precision", "sentence.p_at_percent.10", "sentence.p_at_percent.30",
        "sentence.p_at_percent.50", "pair.auc", "pair.max_f1"}) {
    out << "  " << key << " " << summary[key]["mean"].get<double>() << " +- "
        << summary[key]["std"].get<double>() << "\n";
  }
  out << "report: " << (out_path / "runs_summary.json").string() << "\n";
  return kExitOk;
}

int run_eval(const std::string& run_dir, const EvalScope& scope) {
  const nlohmann::json summary = evaluate_run(run_dir, scope);
  if (comm::world().rank() != 0) return kExitOk;
  std::cout << format_evaluation(summary) << "report: "
            << (std::filesystem::path(eval_dir(run_dir, scope)) / "summary.json").string() << "\n";
  return kExitOk;
}

int run_predict(const PredictOptions& options) {
  const std::int64_t lines = predict(options);
  if (!options.output.empty()) log::info("predicted {} lines into {}", lines, options.output);
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

// --max-steps and --max-minutes, shared by train and pretrain.
void add_limits(CLI::App& command, core::CallLimits& limits) {
  command
      .add_option("--max-steps", limits.max_steps,
                  "stop, checkpointed, after this many steps; continue with --resume")
      ->check(CLI::NonNegativeNumber);
  command
      .add_option("--max-minutes", limits.max_minutes,
                  "stop, checkpointed, after this many minutes (rank 0's clock), e.g. before a "
                  "Slurm time limit; continue with --resume")
      ->check(CLI::NonNegativeNumber);
}

int run_pretrain(const ConfigArgs& args, const std::string& out_dir, bool resume,
                 const core::CallLimits& limits) {
  const Config config = args.load_for_run(out_dir, resume);
  comm::Communicator& comm = comm::world();
  const nlohmann::json result = pretrain_run(comm, config, out_dir, resume, limits);
  if (!result["completed"].get<bool>()) {
    if (comm.rank() == 0) {
      const core::StopReason reason = result["stopped_by"] == "--max-minutes"
                                          ? core::StopReason::kMaxMinutes
                                          : core::StopReason::kMaxSteps;
      std::cout << "stopped after " << core::describe_stop(reason, limits) << " at step "
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
    std::cout << split << " (" << ranking_of(metrics) << ", " << metrics["queries"]
              << " queries): " << format_link_prediction(metrics) << "\n";
  }
  return kExitOk;
}

int run_inspect(const std::string& path, bool as_json) {
  const nlohmann::json summary = summarize_store(path);
  std::cout << (as_json ? summary.dump(2) + "\n" : format_summary(summary));
  return kExitOk;
}

// A subcommand and what runs it once the command line is parsed. Each add_* declares one
// subcommand's options into state that its run function owns.
struct Command {
  CLI::App* subcommand;
  std::function<int()> run;
};

Command add_config(CLI::App& app) {
  auto args = std::make_shared<ConfigArgs>();
  auto describe = std::make_shared<bool>(false);
  CLI::App* command = app.add_subcommand("config", "print the fully resolved configuration");
  args->add_to(*command);
  command->add_flag("--describe", *describe,
                    "print every key with its type, default, allowed values and meaning");
  return {command, [=] { return run_config(*args, *describe); }};
}

Command add_prepare(CLI::App& app) {
  struct Args {
    ConfigArgs config;
    std::string out;
    bool skip_bad_lines = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* command = app.add_subcommand(
      "prepare", "raw RE corpus + KB triples -> HDF5 bag store, KB store, prepare.json");
  args->config.add_to(*command);
  command->add_option("--out,-o", args->out, "output directory")->required();
  command->add_flag("--skip-bad-lines", args->skip_bad_lines,
                    "skip malformed input lines (counted in the report) instead of failing");
  return {command, [=] { return run_prepare(args->config, args->out, args->skip_bad_lines); }};
}

Command add_synth(CLI::App& app) {
  struct Args {
    std::string preset = "default";
    std::optional<std::uint64_t> seed;
    std::string out;
  };
  auto args = std::make_shared<Args>();
  CLI::App* command = app.add_subcommand(
      "synth", "write a synthetic distant-supervision world in the NYT10 and KB text formats");
  command->add_option("--preset", args->preset, "default, bench-1m, kb-3m, kb-30m or kb-86m")
      ->capture_default_str();
  command->add_option("--seed", args->seed, "random seed (default: the preset's)");
  command->add_option("--out,-o", args->out, "output directory")->required();
  return {command, [=] { return run_synth(args->preset, args->seed, args->out); }};
}

Command add_train(CLI::App& app) {
  auto args = std::make_shared<TrainArgs>();
  CLI::App* command =
      app.add_subcommand("train", "train a relation extractor into a run folder, then evaluate it");
  args->config.add_to(*command);
  command->add_option("--out,-o", args->out_dir, "run folder")->required();
  command->add_flag("--resume", args->run.resume,
                    "continue from the run folder's newest checkpoint (config: RUN/config.yaml "
                    "unless --config is given)");
  add_limits(*command, args->run.limits);
  command
      ->add_option("--runs", args->runs,
                   "train this many seeds (seed, seed+1, ...) into RUN/seed-*/ and report mean "
                   "and std of every metric")
      ->check(CLI::PositiveNumber);
  command->add_flag("--no-eval", args->no_eval, "skip the held-out evaluation at the end");
  return {command, [=] { return run_train(*args); }};
}

Command add_pretrain(CLI::App& app) {
  struct Args {
    ConfigArgs config;
    std::string out;
    bool resume = false;
    core::CallLimits limits;
  };
  auto args = std::make_shared<Args>();
  CLI::App* command = app.add_subcommand(
      "pretrain", "ComplEx on the KB store, entity rows sharded over the ranks (mpirun -np P)");
  args->config.add_to(*command);
  command->add_option("--out,-o", args->out, "run folder")->required();
  command->add_flag("--resume", args->resume,
                    "continue from the run folder's checkpoint (with any number of ranks)");
  add_limits(*command, args->limits);
  return {command,
          [=] { return run_pretrain(args->config, args->out, args->resume, args->limits); }};
}

Command add_eval_kbe(CLI::App& app) {
  struct Args {
    std::string run, split = "test";
    std::vector<std::string> overrides;
  };
  auto args = std::make_shared<Args>();
  CLI::App* command = app.add_subcommand(
      "eval-kbe", "filtered link prediction (MRR, MR, Hits@1/3/10) of a pretraining run");
  command->add_option("--run", args->run, "pretraining run folder")->required();
  command->add_option("--split", args->split, "valid or test")->capture_default_str();
  command->add_option("--set", args->overrides,
                      "override a key of the run's config, e.g. kbe.eval_candidates=1000 "
                      "(repeatable)");
  return {command, [=] { return run_eval_kbe(args->run, args->split, args->overrides); }};
}

Command add_eval(CLI::App& app) {
  struct Args {
    std::string run;
    EvalScope scope;
    double alpha = 0;
  };
  auto args = std::make_shared<Args>();
  CLI::App* command = app.add_subcommand(
      "eval", "held-out evaluation of a run: P@N%, PR curves, PR-AUC -> RUN/eval/");
  command->add_option("--run", args->run, "run folder")->required();
  command
      ->add_option("--pairs", args->scope.pairs_file,
                   "only the entity pairs listed in this file (head<TAB>tail lines), "
                   "reported in RUN/eval/<file stem>/")
      ->check(CLI::ExistingFile);
  CLI::Option* alpha =
      command
          ->add_option("--alpha", args->alpha,
                       "inference weight of p_L in alpha p_L + (1 - alpha) p_G instead of the "
                       "run's train.alpha (joint variants), reported in .../alpha-<value>/")
          ->check(CLI::Range(0.0, 1.0));
  return {command, [=] {
            EvalScope scope = args->scope;
            if (alpha->count()) scope.alpha = args->alpha;
            return run_eval(args->run, scope);
          }};
}

Command add_predict(CLI::App& app) {
  auto options = std::make_shared<PredictOptions>();
  CLI::App* command =
      app.add_subcommand("predict", "relation probabilities for sentence sets given as JSON lines");
  command->add_option("--run", options->run_dir, "run folder")->required();
  command->add_option("--input,-i", options->input, "JSON lines")
      ->required()
      ->check(CLI::ExistingFile);
  command->add_option("--out,-o", options->output, "output JSON lines (default: standard output)");
  command->add_option("--top", options->top, "relations per line (default: all)");
  return {command, [=] { return run_predict(*options); }};
}

Command add_inspect(CLI::App& app) {
  struct Args {
    std::string path;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* command = app.add_subcommand("inspect", "validate a bag or KB store and summarise it");
  command->add_option("file", args->path, "bags.h5 or kb.h5")->required();
  command->add_flag("--json", args->json, "print the summary as JSON");
  return {command, [=] { return run_inspect(args->path, args->json); }};
}

}  // namespace

int run_cli(int argc, char** argv) {
  CLI::App app{"hrere: joint training of relation extractors and knowledge-base embeddings"};
  app.require_subcommand(1);
  app.fallthrough();  // --log-level also after the subcommand
  std::string log_level = "info";
  app.add_option("--log-level", log_level,
                 "debug, info, warn or error; ranks other than 0 print warnings and errors "
                 "only, except at debug")
      ->capture_default_str();
  const std::vector<Command> commands = {add_config(app), add_prepare(app),  add_synth(app),
                                         add_train(app),  add_pretrain(app), add_eval_kbe(app),
                                         add_eval(app),   add_predict(app),  add_inspect(app)};
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
    log::configure(log::launcher_rank(), log_level);
    for (const Command& command : commands) {
      if (command.subcommand->parsed()) return command.run();
    }
  } catch (const InputError& e) {
    log::error("{}", e.what());
    return kExitBadInput;
  } catch (const NonFiniteStep& e) {
    log::error("{}", e.what());
    return kExitNonFinite;
  } catch (const OutputError& e) {
    log::error("{}", e.what());
    return kExitWriteFailed;
  } catch (const std::exception& e) {
    log::error("internal: {}", e.what());
    return kExitInternal;
  }
  return kExitInternal;
}

}  // namespace hrere::train
