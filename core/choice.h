#pragma once
// Enumerated options and the names that files, flags and messages use for them. Each enum
// declares its names once, beside its definition, as a function found by argument-dependent
// lookup:
//
//   enum class Loss { kHinge, kLogistic };
//   constexpr core::Choices<Loss, 2> choices(Loss) {
//     return {{{Loss::kHinge, "hinge"}, {Loss::kLogistic, "logistic"}}};
//   }
//
// Loading a config, writing it back, checkpoint attributes and messages all derive from
// that table (docs/ARCHITECTURE.md, Configuration).
#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hrere::core {

template <typename E>
struct Choice {
  E value;
  const char* name;
};
template <typename E, std::size_t N>
using Choices = std::array<Choice<E>, N>;

// The name of `value` (every enumerator has one in its table).
template <typename E>
const char* name_of(E value) {
  for (const Choice<E>& c : choices(E{})) {
    if (c.value == value) return c.name;
  }
  return "?";
}

// The enumerator called `name`; nullopt for any other text.
template <typename E>
std::optional<E> parse_choice(std::string_view name) {
  for (const Choice<E>& c : choices(E{})) {
    if (name == c.name) return c.value;
  }
  return std::nullopt;
}

template <typename E>
std::vector<std::string> choice_names() {
  std::vector<std::string> names;
  for (const Choice<E>& c : choices(E{})) names.emplace_back(c.name);
  return names;
}

// "a, b or c", for messages and the config reference.
inline std::string either(const std::vector<std::string>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    out += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
  }
  return out;
}

}  // namespace hrere::core
