#pragma once
// A read-only list of strings that the store writers take without a copy: a vector's, or the
// names of a NameTable (prepare writes Freebase's 86M entity names from its name table,
// never as 86M std::strings).
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace hrere::data {

struct StringList {
  std::uint64_t size = 0;
  std::function<std::string_view(std::uint64_t)> at;  // valid while the source lives
};

inline StringList strings_of(const std::vector<std::string>& values) {
  return {values.size(), [&values](std::uint64_t i) { return std::string_view(values[i]); }};
}

}  // namespace hrere::data
