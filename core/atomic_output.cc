#include "core/atomic_output.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/errors.h"

namespace hrere::core {
namespace fs = std::filesystem;
namespace {

std::string cannot_write(const std::string& path, int error) {
  return path + ": cannot write: " + std::strerror(error);
}

// fsync on a file or folder opened read-only (Linux allows both).
void sync_one(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw OutputError(cannot_write(path, errno));
  const int status = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  if (status != 0) throw OutputError(cannot_write(path, error));
}

std::string this_host() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0) return "unknown";
  // The name becomes part of a file name.
  for (char* c = name; *c; ++c) {
    if (*c == '/') *c = '_';
  }
  return name;
}

std::string temp_prefix(const std::string& path) { return path + ".tmp." + this_host() + "."; }

bool process_exists(long pid) { return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM; }

}  // namespace

int remove_dead_temporaries(const std::string& path) {
  const fs::path parent =
      fs::path(path).parent_path().empty() ? fs::path(".") : fs::path(path).parent_path();
  const std::string prefix = fs::path(temp_prefix(path)).filename().string();
  int removed = 0;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(parent, error)) {
    const std::string name = entry.path().filename().string();
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string pid_text = name.substr(prefix.size());
    if (pid_text.find_first_not_of("0123456789") != std::string::npos || pid_text.size() > 9)
      continue;
    const long pid = std::stol(pid_text);
    if (pid == ::getpid() || process_exists(pid)) continue;
    std::error_code ignored;
    if (fs::remove(entry.path(), ignored)) ++removed;
  }
  return removed;
}

AtomicOutput::AtomicOutput(std::string path)
    : path_(std::move(path)), temp_path_(temp_prefix(path_) + std::to_string(::getpid())) {
  remove_dead_temporaries(path_);
}

AtomicOutput::~AtomicOutput() {
  if (!committed_) std::remove(temp_path_.c_str());
}

void AtomicOutput::commit() {
  sync_to_disk(temp_path_);
  if (std::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    throw OutputError("cannot rename " + temp_path_ + " to " + path_ + ": " + std::strerror(errno));
  }
  committed_ = true;
  sync_parent_folder(path_);
}

void sync_to_disk(const std::string& path) {
  if (fs::is_directory(path)) {
    for (const auto& entry : fs::recursive_directory_iterator(path)) {
      if (entry.is_regular_file() || entry.is_directory()) sync_one(entry.path().string());
    }
  }
  sync_one(path);
}

void sync_parent_folder(const std::string& path) {
  const fs::path parent = fs::path(path).parent_path();
  sync_one(parent.empty() ? "." : parent.string());
}

void write_text_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  if (!out) throw OutputError(cannot_write(path, errno));
}

void write_text_atomically(const std::string& path, const std::string& text) {
  AtomicOutput output(path);
  write_text_file(output.temp_path(), text);
  output.commit();
}

}  // namespace hrere::core
