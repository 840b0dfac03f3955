#pragma once
// Helpers shared by the tests: temporary folders, small files, the shared real data.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

namespace hrere::testing {

// A fresh folder under the system temp dir, removed with everything in it at scope exit.
class TempDir {
 public:
  TempDir() {
    std::random_device entropy;
    path_ = std::filesystem::temp_directory_path() /
            ("hrere-test-" + std::to_string(entropy()) + std::to_string(entropy()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::string write(const std::string& name, const std::string& text) const {
    const std::string path = file(name);
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// The real public data beside the repository (../shared/data); HRERE_SHARED_DATA in the
// environment overrides the location compiled in.
inline std::string shared_data(const std::string& relative) {
  const char* from_env = std::getenv("HRERE_SHARED_DATA");
  return std::string(from_env ? from_env : HRERE_SHARED_DATA) + "/" + relative;
}

// The device spec the device-parameterised tests compute on: HRERE_TEST_DEVICE (cpu, cuda,
// cuda:N), cpu when unset. A GPU machine runs the same tests with HRERE_TEST_DEVICE=cuda.
inline std::string test_device_spec() {
  const char* from_env = std::getenv("HRERE_TEST_DEVICE");
  return from_env && *from_env ? from_env : "cpu";
}

}  // namespace hrere::testing
