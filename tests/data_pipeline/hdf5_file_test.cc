#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "core/errors.h"
#include "data_pipeline/hdf5_file.h"
#include "test_util.h"

namespace hrere::data {
namespace {

using hrere::testing::TempDir;

// Name tables are read in slices by ranks that must not hold the whole table.
TEST(Hdf5File, ReadsAnyRowRangeOfAStringTable) {
  TempDir dir;
  std::vector<std::string> names;
  for (int i = 0; i < 1000; ++i) {
    names.push_back("/m/" + std::string(i % 7, 'x') + std::to_string(i));
  }
  {
    Hdf5File file = Hdf5File::create(dir.file("names.h5"));
    file.write_strings("names", names);
    file.close();
  }
  const Hdf5File file = Hdf5File::open(dir.file("names.h5"));
  EXPECT_EQ(file.read_strings("names"), names);
  EXPECT_EQ(file.read_strings("names", 0, 1000), names);
  EXPECT_EQ(file.read_strings("names", 993, 7),
            std::vector<std::string>(names.begin() + 993, names.end()));
  EXPECT_EQ(file.read_strings("names", 412, 1), std::vector<std::string>{names[412]});
  EXPECT_TRUE(file.read_strings("names", 1000, 0).empty());
  EXPECT_THROW(file.read_strings("names", 995, 6), std::out_of_range);
  EXPECT_THROW(file.read_strings("missing", 0, 1), InputError);
}

}  // namespace
}  // namespace hrere::data
