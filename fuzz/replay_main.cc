// Replays inputs through a fuzz harness without libFuzzer (docs/RELIABILITY.md, Fuzzing):
//
//   fuzz_replay_<harness> PATH...
//
// Each PATH is a file or a folder whose files (sorted by name) are fed in turn to
// LLVMFuzzerTestOneInput. A missing folder is skipped (a harness may have no crash inputs).
// A finding ends the process as it would under libFuzzer: an escaping exception terminates it.
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz/harness.h"

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  std::size_t count = 0;
  for (int a = 1; a < argc; ++a) {
    const fs::path root(argv[a]);
    std::vector<fs::path> files;
    if (fs::is_directory(root)) {
      for (const auto& entry : fs::directory_iterator(root)) {
        if (entry.is_regular_file()) files.push_back(entry.path());
      }
      std::sort(files.begin(), files.end());
    } else if (fs::exists(root)) {
      files.push_back(root);
    } else {
      std::cout << "replay: " << root.string() << " does not exist, skipped\n";
      continue;
    }
    for (const fs::path& file : files) {
      std::ifstream in(file, std::ios::binary);
      const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                    std::istreambuf_iterator<char>());
      std::cout << "replay: " << file.string() << " (" << bytes.size() << " bytes)" << std::endl;
      LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
      ++count;
    }
  }
  std::cout << "replay: " << count << " input(s), no finding\n";
  return count > 0 ? 0 : 1;
}
