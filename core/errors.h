#pragma once
// The error type for what the user gave us (files, lines, config keys), shared by every
// module. The CLI maps it to exit code 2; anything else is an internal error (exit code 1).
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

}  // namespace hrere
