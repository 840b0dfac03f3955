#pragma once
// The error types shared by every module. InputError is for what the user gave us (files,
// lines, config keys): the CLI maps it to exit code 2. OutputError is for what could not be
// written (a full disk, a quota, a missing permission): exit code 5, the message names the
// file, and the outputs written before stay as they were. Anything else is an internal error
// (exit code 1).
#include <cstddef>
#include <stdexcept>
#include <string>

namespace hrere {

class InputError : public std::runtime_error {
 public:
  explicit InputError(const std::string& message) : std::runtime_error(message) {}
  // "file:line: message", the form compilers use, so editors can jump to it.
  InputError(const std::string& file, std::size_t line, const std::string& message)
      : std::runtime_error(file + ":" + std::to_string(line) + ": " + message) {}
};

class OutputError : public std::runtime_error {
 public:
  explicit OutputError(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace hrere
