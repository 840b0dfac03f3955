#pragma once
// Writes a file under a temporary name and renames it into place on commit(), so a reader
// never sees a half-written file and a failure leaves the old file (or none) behind.
#include <string>

namespace hrere::core {

class AtomicOutput {
 public:
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

// Writes `text` to `path` (throws on failure).
void write_text_file(const std::string& path, const std::string& text);
// Writes `text` to `path` atomically.
void write_text_atomically(const std::string& path, const std::string& text);

}  // namespace hrere::core
