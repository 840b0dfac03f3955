#include "core/atomic_output.h"

#include <fcntl.h>
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

}  // namespace

AtomicOutput::AtomicOutput(std::string path)
    : path_(std::move(path)), temp_path_(path_ + ".tmp." + std::to_string(::getpid())) {}

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
