#include "data_pipeline/name_table.h"

#include <functional>
#include <limits>

#include "core/errors.h"

namespace hrere::data {

std::int32_t NameTable::add(std::string_view name) {
  if (2 * (size() + 1) > static_cast<std::int64_t>(slots_.size())) grow();
  const std::size_t slot = slot_of(name);
  if (slots_[slot] < 0) {
    if (size() >= std::numeric_limits<std::int32_t>::max()) {
      throw InputError("more than 2^31 - 1 distinct names (ids are 32-bit)");
    }
    slots_[slot] = static_cast<std::int32_t>(size());
    chars_.append(name);
    offsets_.push_back(chars_.size());
  }
  return slots_[slot];
}

std::size_t NameTable::slot_of(std::string_view name) const {
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t slot = std::hash<std::string_view>{}(name)&mask;; slot = (slot + 1) & mask) {
    if (slots_[slot] < 0 || this->name(slots_[slot]) == name) return slot;
  }
}

void NameTable::grow() {
  std::vector<std::int32_t> old = std::move(slots_);
  slots_.assign(old.empty() ? 16 : 2 * old.size(), -1);
  for (const std::int32_t id : old) {
    if (id >= 0) slots_[slot_of(name(id))] = id;
  }
}

std::vector<std::string> NameTable::names() const {
  std::vector<std::string> out;
  out.reserve(static_cast<std::size_t>(size()));
  for (std::int64_t id = 0; id < size(); ++id) out.emplace_back(name(id));
  return out;
}

}  // namespace hrere::data
