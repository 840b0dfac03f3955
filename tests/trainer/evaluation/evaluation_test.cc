#include "trainer/evaluation/evaluation.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "test_util.h"

namespace hrere::train {
namespace {

namespace fs = std::filesystem;

// The PR-curve helper is found relative to the binary, installed or in a build folder.
TEST(PlotScript, IsFoundBesideTheBinaryInstalledOrBuilt) {
  ::unsetenv("HRERE_PLOT_SCRIPT");
  hrere::testing::TempDir dir;
  fs::create_directories(dir.file("prefix/bin"));
  fs::create_directories(dir.file("prefix/share/hrere"));
  std::ofstream(dir.file("prefix/share/hrere/plot_pr.py")) << "\n";
  EXPECT_EQ(plot_script_path(dir.file("prefix/bin/hrere")),
            fs::path(dir.file("prefix/share/hrere/plot_pr.py")).lexically_normal().string());
  EXPECT_EQ(plot_script_path(dir.file("build/hrere")),
            (fs::path(dir.file("build")) / "share" / "hrere" / "plot_pr.py").string());
  ::setenv("HRERE_PLOT_SCRIPT", "/elsewhere/plot.py", 1);
  EXPECT_EQ(plot_script_path(dir.file("prefix/bin/hrere")), "/elsewhere/plot.py");
  ::unsetenv("HRERE_PLOT_SCRIPT");
}

}  // namespace
}  // namespace hrere::train
