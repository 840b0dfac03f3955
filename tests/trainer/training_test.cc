#include "trainer/training.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <random>

#include "app/predict.h"
#include "comm/routing_communicator.h"
#include "core/errors.h"
#include "data_pipeline/prepare.h"
#include "data_pipeline/text_file.h"
#include "kbe_shard/embeddings_file.h"
#include "test_util.h"
#include "trainer/checkpoint.h"
#include "trainer/evaluation/evaluation.h"

namespace hrere::train {
namespace {

using hrere::testing::shared_data;
using hrere::testing::TempDir;

// The first `lines` lines of a file of the shared data.
std::string head_of(const std::string& relative, int lines) {
  std::ifstream in(shared_data(relative));
  std::string text, line;
  for (int i = 0; i < lines && std::getline(in, line); ++i) text += line + "\n";
  return text;
}

// A small store cut from nyt10-partial (the first 1200 training and 300 test lines) and a
// tiny model, so a whole run takes a few seconds.
class TrainingTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    data::PrepareOptions o;
    o.train_path = dir_->write("train.txt", head_of("nyt10-partial/train.txt", 1200));
    o.test_path = dir_->write("test.txt", head_of("nyt10-partial/test.txt", 300));
    o.relations_path = shared_data("nyt10-partial/relation2id.txt");
    o.skip_bad_lines = true;
    o.chunk_bags = 16;
    data::prepare_data(o, dir_->file("store"));
  }
  static void TearDownTestSuite() { delete dir_; }

  static Config tiny_config() {
    Config c;
    c.data.prepared = dir_->file("store");
    c.model.word_dim = 8;
    c.model.position_dim = 3;
    c.model.lstm_hidden = 8;
    c.model.classifier_hidden = 6;
    c.train.variant = Variant::kBase;
    c.train.epochs = 2;
    c.train.batch_size = 16;
    c.train.threads = 1;
    c.train.seed = 11;
    c.train.log_every = 3;
    c.train.checkpoint_every = 4;
    c.train.dev_fraction = 0.2;
    c.train.device = testing::test_device_spec();
    return c;
  }
  static TrainRunOptions quiet() {
    TrainRunOptions o;
    o.evaluate = false;
    o.progress = false;
    return o;
  }
  // metrics.jsonl without the fields that measure time.
  static std::vector<nlohmann::json> losses(const std::string& run_dir) {
    std::vector<nlohmann::json> out;
    std::ifstream in(run_dir + "/metrics.jsonl");
    std::string line;
    while (std::getline(in, line)) {
      nlohmann::json entry = nlohmann::json::parse(line);
      entry.erase("seconds");
      entry.erase("bags_per_second");
      entry.erase("step_seconds");
      out.push_back(entry);
    }
    return out;
  }
  static std::map<std::string, torch::Tensor> weights(const std::string& run_dir) {
    TrainedRun run = load_trained_run(run_dir);
    std::map<std::string, torch::Tensor> out;
    for (const auto& p : run.model->named_parameters()) out[p.key()] = p.value().detach().clone();
    for (const auto& b : run.model->named_buffers()) out[b.key()] = b.value().clone();
    return out;
  }
  static TempDir* dir_;
};
TempDir* TrainingTest::dir_ = nullptr;

TEST_F(TrainingTest, ResumeGivesTheSameLossesAndWeightsAsAnUninterruptedRun) {
  TempDir runs;
  const std::string straight = runs.file("straight"), stopped = runs.file("stopped");
  const TrainOutcome full = train_run(tiny_config(), straight, quiet());
  EXPECT_TRUE(full.completed);

  TrainRunOptions first = quiet();
  first.limits.max_steps = 5;  // mid-epoch, between the checkpoints at steps 4 and 8
  const TrainOutcome partial = train_run(tiny_config(), stopped, first);
  EXPECT_FALSE(partial.completed);
  EXPECT_EQ(partial.steps, 5);
  TrainRunOptions again = quiet();
  again.resume = true;
  const TrainOutcome resumed = train_run(tiny_config(), stopped, again);
  EXPECT_TRUE(resumed.completed);
  EXPECT_EQ(resumed.steps, full.steps);

  const auto expected = losses(straight), found = losses(stopped);
  ASSERT_GT(expected.size(), 4u);
  ASSERT_EQ(found.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i)
    EXPECT_EQ(found[i], expected[i]) << "line " << i;

  const auto a = weights(straight), b = weights(stopped);
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, tensor] : a) EXPECT_TRUE(torch::equal(tensor, b.at(name))) << name;
  EXPECT_TRUE(std::filesystem::exists(straight + "/best/state.pt"));
}

// A checkpoint holds host copies, so a run stopped on the test device resumes on the CPU
// (with HRERE_TEST_DEVICE=cuda: written on the GPU, finished on the CPU; its dropout streams
// re-seed, as the generator state of another kind of device cannot continue them).
TEST_F(TrainingTest, ARunStoppedOnTheTestDeviceResumesOnTheCpu) {
  TempDir runs;
  const std::string straight = runs.file("straight"), stopped = runs.file("stopped");
  Config on_cpu = tiny_config();
  on_cpu.train.device = "cpu";
  train_run(on_cpu, straight, quiet());

  TrainRunOptions first = quiet();
  first.limits.max_steps = 5;
  train_run(tiny_config(), stopped, first);
  TrainRunOptions again = quiet();
  again.resume = true;
  const TrainOutcome resumed = train_run(on_cpu, stopped, again);
  EXPECT_TRUE(resumed.completed);
  const auto a = weights(straight), b = weights(stopped);
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, tensor] : a) {
    EXPECT_TRUE(b.at(name).device().is_cpu()) << name;
    if (tiny_config().train.device == "cpu") {
      EXPECT_TRUE(torch::equal(tensor, b.at(name))) << name;  // the same run throughout
    } else {
      EXPECT_TRUE(torch::isfinite(b.at(name)).all().item<bool>()) << name;
    }
  }
}

// A stand-in for a `hrere pretrain` export over the store's entities: random vectors of
// dimension 8, and two KB relations of which one is also an RE relation.
std::string write_export(const TempDir& dir, const data::BagStore& store) {
  kbe::KbeEmbeddings e;
  e.entities = store.entities();
  e.relations = {store.relations().at(1), "/kb/only/relation"};
  torch::manual_seed(3);
  e.entity = torch::randn({static_cast<std::int64_t>(e.entities.size()), 8});
  e.relation = torch::randn({2, 8});
  const std::string path = dir.file("embeddings.h5");
  kbe::write_kbe_embeddings(comm::world(), path, e);  // one process: the whole table
  return path;
}

TEST_F(TrainingTest, JointVariantsTrainResumeExactlyAndEvaluate) {
  TempDir runs;
  const data::BagStore store = data::BagStore::open(dir_->file("store/bags.h5"));
  Config c = tiny_config();
  c.train.variant = Variant::kFull;
  c.train.lr_knowledge = 1e-3;
  c.train.kbe_embeddings = write_export(runs, store);
  const std::string straight = runs.file("straight"), stopped = runs.file("stopped");
  TrainRunOptions evaluate = quiet();
  evaluate.evaluate = true;
  const TrainOutcome full = train_run(c, straight, evaluate);
  TrainRunOptions first = quiet();
  first.limits.max_steps = 6;
  train_run(c, stopped, first);
  TrainRunOptions again = evaluate;
  again.resume = true;
  const TrainOutcome resumed = train_run(c, stopped, again);

  const auto expected = losses(straight), found = losses(stopped);
  ASSERT_EQ(found.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i)
    EXPECT_EQ(found[i], expected[i]) << "line " << i;
  EXPECT_GT(expected.front()["loss_knowledge"].get<double>(), 0.0);
  EXPECT_GT(expected.front()["loss_agreement"].get<double>(), 0.0);
  // The evaluation mixes in the knowledge side, whose entity rows the run trained too: equal
  // summaries mean equal knowledge models.
  nlohmann::json a = full.evaluation, b = resumed.evaluation;
  a.erase("seconds");
  b.erase("seconds");
  EXPECT_EQ(a, b);

  // The knowledge side takes part in the scores: they are not the language model's alone.
  TrainedRun run = load_trained_run(straight);
  ASSERT_TRUE(run.knowledge);
  const torch::Tensor joint = score_test_set(run.scorer(), *run.store, 64).sentence_probs;
  const torch::Tensor text_only =
      score_test_set(Scorer{run.model, nullptr, 1.0}, *run.store, 64).sentence_probs;
  EXPECT_FALSE(torch::allclose(joint, text_only));
  EXPECT_TRUE(torch::allclose(joint.sum(1), torch::ones({joint.size(0)}), 1e-5, 1e-5));

  c.train.variant = Variant::kWeston;
  EXPECT_TRUE(train_run(c, runs.file("weston"), evaluate).completed);
  c.train.kbe_embeddings = runs.write("foreign.h5", "not hdf5");
  EXPECT_THROW(train_run(c, runs.file("foreign"), quiet()), InputError);
}

// train.agreement_weight scales J_D alone: at 0 full trains exactly naive's weights, at 1 it
// does not.
TEST_F(TrainingTest, AgreementWeightZeroTrainsWhatNaiveTrains) {
  TempDir runs;
  const data::BagStore store = data::BagStore::open(dir_->file("store/bags.h5"));
  Config c = tiny_config();
  c.train.lr_knowledge = 1e-3;
  c.train.kbe_embeddings = write_export(runs, store);
  c.train.variant = Variant::kNaive;
  train_run(c, runs.file("naive"), quiet());
  c.train.variant = Variant::kFull;
  c.train.agreement_weight = 0;
  train_run(c, runs.file("weight-0"), quiet());
  c.train.agreement_weight = 1;
  train_run(c, runs.file("weight-1"), quiet());

  int step_lines = 0;  // the epoch-end lines carry no losses
  for (const nlohmann::json& line : losses(runs.file("weight-0"))) {
    if (!line.contains("loss_agreement")) continue;
    ++step_lines;
    EXPECT_EQ(line["loss_agreement"].get<double>(), 0.0);
  }
  EXPECT_GT(step_lines, 0);
  const auto naive = weights(runs.file("naive")), zero = weights(runs.file("weight-0")),
             one = weights(runs.file("weight-1"));
  bool one_differs = false;
  for (const auto& [name, tensor] : naive) {
    EXPECT_TRUE(torch::equal(tensor, zero.at(name))) << name;
    one_differs = one_differs || !torch::equal(tensor, one.at(name));
  }
  EXPECT_TRUE(one_differs);
}

TEST_F(TrainingTest, AFreshRunRefusesAFolderWithCheckpointsAndResumeNeedsOne) {
  TempDir runs;
  Config c = tiny_config();
  c.train.epochs = 1;
  train_run(c, runs.file("run"), quiet());
  EXPECT_THROW(train_run(c, runs.file("run"), quiet()), InputError);
  TrainRunOptions resume = quiet();
  resume.resume = true;
  EXPECT_THROW(train_run(c, runs.file("empty"), resume), InputError);
  c.train.variant = Variant::kFull;
  EXPECT_THROW(train_run(c, runs.file("full"), quiet()), InputError);
}

// train.patience: with weights that barely move (a learning rate far below float precision;
// only batch-norm statistics drift) the dev score soon stops improving, and training ends
// exactly patience epochs after the best one, never earlier; a resume of the stopped run
// trains nothing more.
TEST_F(TrainingTest, PatienceEndsTrainingEpochsAfterTheBestDevScore) {
  TempDir runs;
  const std::string run_dir = runs.file("run");
  Config c = tiny_config();
  c.train.epochs = 8;
  c.train.patience = 2;
  c.train.lr_language = 1e-12;
  const TrainOutcome outcome = train_run(c, run_dir, quiet());
  EXPECT_TRUE(outcome.completed);
  std::vector<nlohmann::json> epochs;
  for (const nlohmann::json& line : losses(run_dir)) {
    if (line.value("event", "") == "epoch_end") epochs.push_back(line);
  }
  ASSERT_LT(epochs.size(), 8u);
  for (std::size_t i = 0; i + 1 < epochs.size(); ++i) {
    EXPECT_LT(epochs[i]["epoch"].get<int>() - epochs[i]["best_epoch"].get<int>(), 2) << i;
  }
  EXPECT_EQ(epochs.back()["epoch"].get<int>() - epochs.back()["best_epoch"].get<int>(), 2);
  TrainRunOptions resume = quiet();
  resume.resume = true;
  EXPECT_EQ(train_run(c, run_dir, resume).steps, outcome.steps);
}

// A saved model's LibTorch archive (state.pt), truncated or with one byte flipped: loading
// refuses it with an InputError naming the file, or reads back exactly the intact weights (a
// flip in bytes nothing reads). Never a crash, never other weights (docs/RELIABILITY.md).
TEST_F(TrainingTest, DamagedModelArchivesAreRefusedOrReadBackUnchanged) {
  TempDir runs;
  const std::string run_dir = runs.file("run");
  Config c = tiny_config();
  c.train.epochs = 1;
  c.train.dev_fraction = 0;
  train_run(c, run_dir, quiet());
  const std::string archive = run_dir + "/" + kLastModel + "/state.pt";
  const auto intact = weights(run_dir);
  std::string bytes;
  {
    std::ifstream in(archive, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::mt19937_64 random(bytes.size());
  int refused = 0, unchanged = 0;
  for (int trial = 0; trial < 80; ++trial) {
    std::string copy = bytes;
    const std::size_t at = random() % bytes.size();
    if (trial < 16) {
      copy.resize(at);
    } else {
      copy[at] = static_cast<char>(copy[at] ^ (1 << (random() % 8)));
    }
    std::ofstream(archive, std::ios::binary | std::ios::trunc) << copy;
    try {
      const auto loaded = weights(run_dir);
      ASSERT_EQ(loaded.size(), intact.size());
      for (const auto& [name, tensor] : intact) {
        EXPECT_TRUE(torch::equal(loaded.at(name), tensor))
            << (trial < 16 ? "cut at " : "flip at ") << at << " changed " << name;
      }
      ++unchanged;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(archive), std::string::npos) << e.what();
      ++refused;
    }
  }
  std::cout << "state.pt: " << refused << " of 80 damaged copies refused, " << unchanged
            << " read back unchanged\n";
}

TEST_F(TrainingTest, EvaluationWritesTheReportAndPredictMatchesThePairProtocol) {
  TempDir runs;
  const std::string run_dir = runs.file("run");
  Config c = tiny_config();
  c.train.epochs = 1;
  TrainRunOptions options = quiet();
  options.evaluate = true;
  const TrainOutcome outcome = train_run(c, run_dir, options);
  const nlohmann::json& summary = outcome.evaluation;
  for (const char* file : {"summary.json", "pr_sentence.csv", "pr_pair.csv"}) {
    EXPECT_TRUE(std::filesystem::exists(run_dir + "/eval/" + file)) << file;
  }
  EXPECT_GT(summary["sentence"]["samples"].get<int>(), 200);
  EXPECT_GE(summary["sentence"]["average_precision"].get<double>(), 0.0);
  EXPECT_LE(summary["pair"]["max_f1"].get<double>(), 1.0);

  // Requests for every test pair of the cut test file, each with all its sentences.
  TrainedRun run = load_trained_run(run_dir);
  const TestScores scores = score_test_set(run.scorer(), *run.store, 64);
  const data::TestPairs pairs = run.store->read_test_pairs();
  const auto entities = run.store->entities();
  std::map<std::pair<std::string, std::string>, nlohmann::json> requests;
  std::vector<std::pair<std::string, std::string>> order;
  data::LineReader reader(dir_->file("test.txt"));
  std::string line;
  while (reader.next(line)) {
    const auto f = data::split_fields(line, '\t');
    if (f.size() != 7) continue;
    const std::pair<std::string, std::string> key{std::string(f[0]), std::string(f[1])};
    nlohmann::json& r = requests[key];
    if (r.is_null()) {
      r = {{"head", key.first},
           {"tail", key.second},
           {"head_name", std::string(f[2])},
           {"tail_name", std::string(f[3])},
           {"sentences", nlohmann::json::array()}};
      order.push_back(key);
    }
    r["sentences"].push_back(std::string(f[5]));
  }
  std::string input;
  for (const auto& key : order) input += requests[key].dump() + "\n";
  PredictOptions predict_options;
  predict_options.run_dir = run_dir;
  predict_options.input = runs.write("requests.jsonl", input);
  predict_options.output = runs.file("predictions.jsonl");
  ASSERT_EQ(predict(predict_options), static_cast<std::int64_t>(order.size()));

  const auto relations = run.store->relations();
  std::ifstream predictions(predict_options.output);
  std::int64_t checked = 0;
  while (std::getline(predictions, line)) {
    const nlohmann::json p = nlohmann::json::parse(line);
    for (std::int64_t q = 0; q < pairs.size(); ++q) {
      if (entities[pairs.heads[q]] != p["head"] || entities[pairs.tails[q]] != p["tail"]) continue;
      ASSERT_EQ(p["relations"].size(), relations.size());
      for (const auto& ranked : p["relations"]) {
        const auto r =
            std::find(relations.begin(), relations.end(), ranked["relation"].get<std::string>()) -
            relations.begin();
        EXPECT_NEAR(ranked["probability"].get<double>(), scores.pair_probs[q][r].item<double>(),
                    1e-5);
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, pairs.size());
}

TEST_F(TrainingTest, BadPredictInputNamesTheLineAndWritesNothing) {
  TempDir runs;
  const std::string run_dir = runs.file("run");
  Config c = tiny_config();
  c.train.epochs = 1;
  train_run(c, run_dir, quiet());
  const std::string good =
      R"({"head": "m.1", "tail": "m.2", "head_name": "paris", "tail_name": "france", )"
      R"("sentences": ["paris is the capital of france , said zyzzyva ."]})";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"not json", "requests.jsonl:2: not a JSON object"},
      {R"({"head": "m.1", "tail": "m.2", "head_name": "paris", "tail_name": "rome", "sentences": ["paris is nice ."]})",
       "requests.jsonl:2: sentence 1 does not mention both"},
      {R"({"head": "m.1", "tail": "m.2", "head_name": "paris", "tail_name": "france", "sentences": []})",
       "requests.jsonl:2: \"sentences\" must be a non-empty list"},
      {R"({"tail": "m.2", "head_name": "paris", "tail_name": "france", "sentences": ["paris france"]})",
       "requests.jsonl:2: \"head\" must be a non-empty string"},
  };
  for (const auto& [bad, message] : cases) {
    PredictOptions o;
    o.run_dir = run_dir;
    o.input = runs.write("requests.jsonl", good + "\n" + bad + "\n");
    o.output = runs.file("out.jsonl");
    try {
      predict(o);
      ADD_FAILURE() << "accepted: " << bad;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    }
    EXPECT_FALSE(std::filesystem::exists(o.output));
  }
  // Unknown words are no error: they map to <unk>.
  PredictOptions o;
  o.run_dir = run_dir;
  o.input = runs.write("requests.jsonl", good + "\n");
  o.output = runs.file("out.jsonl");
  EXPECT_EQ(predict(o), 1);
  std::ifstream in(o.output);
  std::string line;
  std::getline(in, line);
  const nlohmann::json prediction = nlohmann::json::parse(line);
  double total = 0;
  for (const auto& r : prediction["relations"]) total += r["probability"].get<double>();
  EXPECT_NEAR(total, 1.0, 1e-5);
}

}  // namespace
}  // namespace hrere::train
