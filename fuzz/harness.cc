#include "fuzz/harness.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <stdexcept>

namespace hrere::fuzz {
namespace {

// Removes the temporary files when the process ends normally (libFuzzer exits through
// exit() at the end of a run).
class TempFiles {
 public:
  ~TempFiles() {
    for (const auto& [suffix, path] : paths_) std::remove(path.c_str());
  }
  const std::string& path(const std::string& suffix) {
    auto it = paths_.find(suffix);
    if (it != paths_.end()) return it->second;
    const char* tmp = std::getenv("TMPDIR");
    std::string name = std::string(tmp && *tmp ? tmp : "/tmp") + "/hrere-fuzz-XXXXXX" + suffix;
    const int fd = mkstemps(name.data(), static_cast<int>(suffix.size()));
    if (fd < 0) throw std::runtime_error("fuzz: cannot create a temporary file " + name);
    close(fd);
    return paths_.emplace(suffix, name).first->second;
  }

 private:
  std::map<std::string, std::string> paths_;
};

TempFiles& temp_files() {
  static TempFiles files;
  return files;
}

}  // namespace

std::string write_input(const std::uint8_t* data, std::size_t size, const std::string& suffix) {
  const std::string& path = temp_files().path(suffix);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  out.close();
  if (!out) throw std::runtime_error("fuzz: cannot write " + path);
  return path;
}

SplitInput split_at_marker(const std::uint8_t* data, std::size_t size, const std::string& marker) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  SplitInput split;
  std::size_t at = 0;
  bool after = false;
  while (at < text.size()) {
    std::size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(at, end - at);
    if (after) {
      split.lines.push_back(line);
    } else if (line == marker) {
      after = true;
    } else {
      split.head.append(text, at, std::min(end + 1, text.size()) - at);
    }
    at = end + 1;
  }
  return split;
}

void rejected(const std::exception& error) {
  static const bool verbose = std::getenv("HRERE_FUZZ_VERBOSE") != nullptr;
  if (verbose) std::fprintf(stderr, "fuzz: rejected: %s\n", error.what());
}

void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz: check failed: %s\n", what);
  std::abort();
}

}  // namespace hrere::fuzz
