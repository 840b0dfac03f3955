#pragma once
// Names -> dense int32 ids in order of first appearance, for the entities and relations that
// `prepare` meets. The names lie back to back in one buffer, indexed by an open-addressing
// table of ids: about (name length + 16) bytes per name, where a hash map of strings and a
// list of them took ~112; the stores are written from it (strings()), so prepare holds no
// other copy of the names (docs/BENCHMARKS.md, "prepare at KB scale").
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "data_pipeline/string_list.h"

namespace hrere::data {

class NameTable {
 public:
  // The id of `name`, a new one (the next) if it is not in the table yet; an InputError past
  // 2^31 - 1 names.
  std::int32_t add(std::string_view name);
  std::int64_t size() const { return static_cast<std::int64_t>(offsets_.size()) - 1; }
  std::string_view name(std::int64_t id) const {
    return {chars_.data() + offsets_[id], offsets_[id + 1] - offsets_[id]};
  }
  std::vector<std::string> names() const;
  // The names without a copy, valid while the table lives and grows no more.
  StringList strings() const {
    return {static_cast<std::uint64_t>(size()),
            [this](std::uint64_t id) { return name(static_cast<std::int64_t>(id)); }};
  }

 private:
  // The slot holding `name`'s id, or the empty slot where it belongs.
  std::size_t slot_of(std::string_view name) const;
  void grow();

  std::string chars_;                      // every name, back to back
  std::vector<std::uint64_t> offsets_{0};  // name i is chars_[offsets_[i], offsets_[i + 1])
  std::vector<std::int32_t> slots_;        // ids by hash, -1 empty; at most half full
};

}  // namespace hrere::data
