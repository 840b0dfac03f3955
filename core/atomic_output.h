#pragma once
// Writes a file under a temporary name and renames it into place on commit(), so a reader
// never sees a half-written file and a failure leaves the old file (or none) behind. commit()
// first forces the file to disk: a full disk that the page cache hid until then fails the
// commit (OutputError naming the file) instead of renaming a short file into place, and a lost
// node cannot leave a renamed but empty file.
//
// The temporary name is `<path>.tmp.<host>.<pid>`. A process killed before commit leaves
// its temporary behind (an HDF5 store of gigabytes at Freebase size); each new AtomicOutput
// of the same path removes those whose process is gone, judged only for its own host, so a
// writer on another node of a shared file system is never touched.
#include <string>

namespace hrere::core {

class AtomicOutput {
 public:
  // Removes the temporaries of `path` that dead processes of this host left (above).
  explicit AtomicOutput(std::string path);
  ~AtomicOutput();  // removes the temporary file unless committed
  AtomicOutput(const AtomicOutput&) = delete;
  AtomicOutput& operator=(const AtomicOutput&) = delete;

  const std::string& temp_path() const { return temp_path_; }
  const std::string& path() const { return path_; }
  void commit();

 private:
  std::string path_;
  std::string temp_path_;
  bool committed_ = false;
};

// Removes `<path>.tmp.<this host>.<pid>` files whose process no longer runs; returns how
// many. What cannot be removed is left, silently: it is litter, not data.
int remove_dead_temporaries(const std::string& path);

// Forces `path` to disk (fsync): a file, or a folder with every file under it. OutputError
// names the file the system could not write.
void sync_to_disk(const std::string& path);
// Forces the folder holding `path` to disk, so a rename into it survives a lost node.
void sync_parent_folder(const std::string& path);

// Writes `text` to `path` (OutputError naming the file on failure).
void write_text_file(const std::string& path, const std::string& text);
// Writes `text` to `path` atomically.
void write_text_atomically(const std::string& path, const std::string& text);

}  // namespace hrere::core
