#include <gtest/gtest.h>

#include <string>
#include <unordered_map>
#include <vector>

#include "data_pipeline/name_table.h"

namespace hrere::data {
namespace {

// Ids in order of first appearance through many growths of the index, checked against a
// std::unordered_map doing the same; repeated and empty names keep their ids.
TEST(NameTable, IdsInOrderOfFirstAppearanceLikeAHashMap) {
  NameTable table;
  std::unordered_map<std::string, std::int32_t> expected;
  std::vector<std::string> order;
  for (int i = 0; i < 200000; ++i) {
    // Every name comes back a few times, some long, one empty.
    const int n = (i * 7919) % 50000;
    const std::string name = n == 0 ? "" : "/m/" + std::string(n % 40, 'x') + std::to_string(n);
    auto [it, inserted] = expected.emplace(name, static_cast<std::int32_t>(expected.size()));
    if (inserted) order.push_back(name);
    ASSERT_EQ(table.add(name), it->second) << name;
  }
  EXPECT_EQ(table.size(), static_cast<std::int64_t>(order.size()));
  EXPECT_EQ(table.name(17), order[17]);
  EXPECT_EQ(table.names(), order);
  const StringList strings = table.strings();
  ASSERT_EQ(strings.size, order.size());
  for (std::size_t id = 0; id < order.size(); id += 997) EXPECT_EQ(strings.at(id), order[id]);
}

}  // namespace
}  // namespace hrere::data
