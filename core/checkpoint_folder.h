#pragma once
// The one commit protocol of every checkpoint and saved model, for `train` and `pretrain`
// alike (docs/ARCHITECTURE.md, Checkpoints). A checkpoint is a folder, filled whole under a
// staging name and then put in place by renames, so a hard stop at any moment leaves either
// the previous folder or the new one, never a mix of the two:
//
//   stage()   FOLDER.tmp is emptied and created (one process; all writers fill it after a
//             barrier, each rank its own files)
//   commit()  after every writer is done (one process): an existing FOLDER is renamed
//             FOLDER.old, FOLDER.tmp becomes FOLDER, FOLDER.old is removed
//   committed_folder(FOLDER)  FOLDER, or FOLDER.old when a stop fell between the two renames
//
// The processes share the file system; the barriers are the caller's (core knows no ranks).
// Numbered checkpoints (step-0000000012, zero-padded so names sort by step) share a parent
// folder: a run resumes from the newest committed one, and the oldest beyond K are pruned.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace hrere::core {

class CheckpointFolder {
 public:
  explicit CheckpointFolder(std::string path) : path_(std::move(path)) {}

  const std::string& path() const { return path_; }
  std::string staging() const;  // FOLDER.tmp
  void stage() const;
  void commit() const;

 private:
  std::string path_;
};

// Where the checkpoint `path` can be read; nullopt when none was committed.
std::optional<std::string> committed_folder(const std::string& path);

std::string numbered_folder(const std::string& parent, std::int64_t step);
// The committed numbered checkpoints under `parent` as (step, readable folder), oldest first;
// staging folders and other names are skipped.
std::vector<std::pair<std::int64_t, std::string>> numbered_folders(const std::string& parent);
// Removes all but the newest `keep` numbered checkpoints under `parent`.
void prune_numbered_folders(const std::string& parent, int keep);

}  // namespace hrere::core
