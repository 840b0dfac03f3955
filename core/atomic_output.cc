#include "core/atomic_output.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <system_error>

namespace hrere::core {

AtomicOutput::AtomicOutput(std::string path)
    : path_(std::move(path)), temp_path_(path_ + ".tmp." + std::to_string(::getpid())) {}

AtomicOutput::~AtomicOutput() {
  if (!committed_) std::remove(temp_path_.c_str());
}

void AtomicOutput::commit() {
  if (std::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    throw std::system_error(errno, std::generic_category(),
                            "cannot rename " + temp_path_ + " to " + path_);
  }
  committed_ = true;
}

void write_text_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.flush();
  if (!out) throw std::runtime_error("cannot write " + path);
}

void write_text_atomically(const std::string& path, const std::string& text) {
  AtomicOutput output(path);
  write_text_file(output.temp_path(), text);
  output.commit();
}

}  // namespace hrere::core
