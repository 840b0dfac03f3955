#pragma once
// `hrere pretrain` and `hrere eval-kbe`: ComplEx on a KB store (data::KbStore) with the entity
// table sharded over the communicator's ranks.
//
// Batches: each epoch visits the train triples in one permutation of all of them keyed by
// (seed, epoch), cut into global batches of `batch_size` (the last one smaller). Each rank
// holds only its block of the train split (kbe_shard/kb_partition.h) and computes the
// permutation for those rows alone; it trains on the triples of each global batch that are
// in its block, and the loss is the global batch mean. Negative samples are keyed by (seed,
// epoch, position in the epoch). So the run does not depend on P beyond float rounding, and
// the only "RNG state" a checkpoint needs is (seed, epoch).
//
// Candidates: the 1-vs-all softmax, negative samples and link-prediction ranking use only the
// entities that occur in a triple of some split of the store (ShardedComplEx::set_candidates).
// A store prepared with relation-extraction data also names entities without KB triples
// (NYT10 + FB15k-237: 18,153 entities, 14,541 in the KB); they would only be trained as
// negatives, cost a fifth more compute and make the ranks incomparable with the benchmark.
// Their rows keep their initial values.
//
// Files under `run_dir`:
//   checkpoint/   after every `checkpoint_every` epochs, every `checkpoint_every_steps` steps
//                 or `checkpoint_every_minutes` minutes inside an epoch, and at the end:
//                 state.h5 (rank 0: relations and their optimizer state, position, shapes)
//                 and entities.<r>-of-<P>.h5 (each rank's rows and optimizer state). Published
//                 by core::CheckpointFolder's protocol, as train's checkpoints are, so a hard
//                 stop leaves the previous one or the new one. A run resumes from it exactly
//                 (mid-epoch too: the position in the epoch's permutation and the unreported loss
//                 sums are saved) on any P.
//   best/         the same, for the epoch with the best validation MRR.
//   embeddings.h5 the exported embeddings (embeddings_file.h; each rank writes its own rows)
//                 of the best epoch (of the last one without validation), also written when
//                 `max_steps` stops the run.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "comm/communicator.h"
#include "core/schedule.h"
#include "kbe_shard/complex.h"
#include "kbe_shard/link_prediction.h"

namespace hrere::kbe {

inline const std::string kCheckpointDir = "checkpoint";
inline const std::string kBestDir = "best";
inline const std::string kEmbeddingsFile = "embeddings.h5";

struct PretrainOptions {
  std::int64_t dim = 200;  // D = 2k: real and imaginary halves
  LossMode mode = LossMode::kOneVsAll;
  int negatives = 10;  // per positive, negative mode
  OptimizerOptions optimizer;
  Regularizer regularizer = Regularizer::kN3;
  double regularization_weight = 0.05;
  double init_std = 1e-3;
  bool entity_tanh = false;
  std::int64_t batch_size = 250;  // global, over all ranks
  int epochs = 18;
  std::uint64_t seed = 1;
  int eval_every = 1;                       // epochs between validation runs; 0: none
  RankingProtocol eval;                     // validation ranking (its seed is set from `seed`)
  std::int64_t eval_max_triples = 0;        // validate on a seeded subset of this size; 0: all
  std::int64_t log_every = 100;             // steps between progress reports (and one per epoch)
  int checkpoint_every = 1;                 // epochs between checkpoints; 0: only at the end
  std::int64_t checkpoint_every_steps = 0;  // also every this many steps; 0: not by steps
  double checkpoint_every_minutes = 0;      // also after this much time (rank 0's clock)
  core::CallLimits limits;  // stop this call, checkpointed and exported, after so many steps
                            // or minutes (rank 0's clock); 0: run all epochs
  bool resume = false;      // continue from run_dir/checkpoint if there is one
  int threads = 2;          // torch intra-op threads per rank
  // Of the model, its optimizer state and the scores; the batches are planned on the host.
  torch::Device device = torch::kCPU;
};

struct PretrainProgress {
  int epoch = 0;          // 1-based epoch the report belongs to
  std::int64_t step = 0;  // optimizer steps since training began (resumes included)
  std::int64_t steps_per_epoch = 0;
  double loss = 0;                // mean global-batch loss since the previous report
  double triples_per_second = 0;  // global train triples per second since the previous report
  double seconds = 0;             // since this call began; of which:
  double startup_seconds = 0;     //   reading the KB, drawing the table, loading a checkpoint
  double comm_seconds = 0;        //   in collectives (waiting for the other ranks included),
  double exchange_seconds = 0;    //     of which the entity rows' all-to-alls
  double validation_seconds = 0;  //   ranking the valid triples (its collectives excluded)
  double checkpoint_seconds = 0;  //   writing checkpoints
  bool epoch_end = false;
  std::optional<LinkPredictionMetrics> valid;  // at the end of evaluation epochs
  bool best = false;                           // `valid` is the best so far
};
// Called on every rank with the same values (print on rank 0).
using PretrainCallback = std::function<void(const PretrainProgress&)>;

struct PretrainResult {
  bool completed = false;  // all epochs done (false when max_steps or max_minutes stopped it)
  std::string stopped_by;  // "--max-steps" or "--max-minutes" when not completed
  std::int64_t steps = 0;  // optimizer steps since training began
  int epochs = 0;          // completed
  int best_epoch = 0;      // 0 without validation
  double best_valid_mrr = 0;
  std::string embeddings_path;
};

// Collective. Trains on the store's train split and validates on its valid split (if any).
// Bad input (ids out of range, empty KB or train split, a checkpoint of another shape) is a
// InputError.
PretrainResult pretrain_kbe(comm::Communicator& comm, const std::string& kb_store_path,
                            const std::string& run_dir, const PretrainOptions& options,
                            const PretrainCallback& progress = {});

// Collective. Filtered link prediction of exported embeddings on a split of the store (the
// embeddings' name tables must match the store's), scored on `device`; each rank reads only
// its shard of the entity table. `max_triples` as KbPartition::evaluation_triples with
// `protocol.seed`.
LinkPredictionMetrics evaluate_kbe(comm::Communicator& comm, const std::string& kb_store_path,
                                   const std::string& embeddings_path, const std::string& split,
                                   const RankingProtocol& protocol = {},
                                   std::int64_t max_triples = 0,
                                   torch::Device device = torch::kCPU);

// Where training stands; saved with every checkpoint.
struct TrainingPosition {
  int epoch = 0;                // completed epochs
  std::int64_t epoch_step = 0;  // steps done in epoch `epoch + 1`
  std::int64_t step = 0;        // optimizer steps
  int best_epoch = 0;
  double best_mrr = -1;
  // Since the last progress report: the summed batch losses, their count and the triples.
  double unreported_loss = 0;
  std::int64_t unreported_steps = 0;
  std::int64_t unreported_triples = 0;
};

// Collective. Writes `dir` (see above) atomically; `dir`'s parent must exist.
void save_checkpoint(ShardedComplEx& model, const std::string& dir,
                     const TrainingPosition& position);
// Collective. Restores a checkpoint saved with any number of ranks; a InputError if it
// is missing or was taken with another model shape, optimizer or seed.
TrainingPosition load_checkpoint(ShardedComplEx& model, const std::string& dir);
bool checkpoint_exists(const std::string& dir);

// Collective. Writes the model as an embeddings file: each rank writes its own rows, rank 0
// the relations and the entity names, copied from the KB store (no rank holds more than its
// shard, nor the names).
void export_embeddings(ShardedComplEx& model, const std::string& kb_store_path,
                       const std::vector<std::string>& relations, const std::string& path);

}  // namespace hrere::kbe
