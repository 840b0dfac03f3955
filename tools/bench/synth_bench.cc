// Generation speed of the synthetic world: writes a preset into a scratch directory and
// prints sentences/s, KB triples/s and MB/s.
//   synth_bench [preset] [scratch-dir]     (defaults: bench-1m, the system temp directory)
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>

#include "synth/synth.h"

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  const std::string preset = argc > 1 ? argv[1] : "bench-1m";
  const fs::path scratch = (argc > 2 ? fs::path(argv[2]) : fs::temp_directory_path()) /
                           ("hrere_synth_bench_" + std::to_string(::getpid()));
  try {
    const hrere::synth::SynthOptions options = hrere::synth::synth_preset(preset);
    const auto start = std::chrono::steady_clock::now();
    const hrere::synth::SynthReport report =
        hrere::synth::generate_synthetic_world(options, scratch.string());
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    fs::remove_all(scratch);

    const double sentences = static_cast<double>(report.train_sentences + report.test_sentences);
    const double triples = static_cast<double>(report.kb_train + report.kb_valid + report.kb_test);
    const double megabytes = static_cast<double>(report.bytes_written) / 1e6;
    std::printf(
        "preset %s: %zu entities, %.0f sentences (%zu train / %zu test pairs), "
        "%.0f KB triples, %.1f MB in %.2f s\n",
        preset.c_str(), report.entities, sentences, report.train_pairs, report.test_pairs, triples,
        megabytes, seconds);
    std::printf("%.0f sentences/s  %.0f triples/s  %.1f MB/s\n", sentences / seconds,
                triples / seconds, megabytes / seconds);
  } catch (const std::exception& e) {
    std::error_code ignored;
    fs::remove_all(scratch, ignored);
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
