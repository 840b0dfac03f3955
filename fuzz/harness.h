#pragma once
// What the fuzz harnesses share (docs/RELIABILITY.md, Fuzzing). Each harness defines the
// libFuzzer entry point below; it is linked either with libFuzzer (tools/fuzz.sh, clang) or
// with replay_main.cc, which feeds it every file of the committed corpus (CTest).
//
// A harness passes the input to a parser the way the `hrere` commands do. An InputError is
// the parser refusing bad input, as it should; the harness catches it. Anything else that
// escapes (another exception, a crash, a sanitizer report, a hang) is a finding.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace hrere::fuzz {

// The readers take paths: writes `data` to this process's temporary input file (the same
// file on every call, named with `suffix`) and returns its path.
std::string write_input(const std::uint8_t* data, std::size_t size, const std::string& suffix);

// `data` split at the first line that is exactly `marker`: what comes before it, and the
// lines after it (a final line ending adds no empty line).
struct SplitInput {
  std::string head;
  std::vector<std::string> lines;
};
SplitInput split_at_marker(const std::uint8_t* data, std::size_t size, const std::string& marker);

// Called with the InputError of an input the parser refused: prints it when the environment
// sets HRERE_FUZZ_VERBOSE (to see which seeds pass a parser), else nothing.
void rejected(const std::exception& error);

// A property the parser's output must have: prints `what` and aborts (a finding) when false.
void check(bool ok, const char* what);

}  // namespace hrere::fuzz
