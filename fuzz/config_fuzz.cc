// Harness: a whole configuration load (trainer/config.h, load_config) as every command does it
// with `--config FILE --set ...`. The input is the YAML file, then, after a line `#--set`,
// one override per line. A config that loads must print (to_yaml) as YAML that loads again
// to the same configuration, as the resolved config.yaml of a run folder is reloaded.
#include <cstdio>

#include "core/errors.h"
#include "fuzz/harness.h"
#include "trainer/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const hrere::fuzz::SplitInput input = hrere::fuzz::split_at_marker(data, size, "#--set");
  const std::string path = hrere::fuzz::write_input(
      reinterpret_cast<const std::uint8_t*>(input.head.data()), input.head.size(), ".yaml");
  std::string resolved;
  try {
    resolved = hrere::train::to_yaml(hrere::train::load_config(path, input.lines));
  } catch (const hrere::InputError& e) {
    hrere::fuzz::rejected(e);
    return 0;
  }
  const std::string again_path = hrere::fuzz::write_input(
      reinterpret_cast<const std::uint8_t*>(resolved.data()), resolved.size(), ".resolved.yaml");
  std::string again;
  try {
    again = hrere::train::to_yaml(hrere::train::load_config(again_path, {}));
  } catch (const hrere::InputError& e) {
    std::fprintf(stderr, "fuzz: the resolved config does not load: %s\n%s", e.what(),
                 resolved.c_str());
    hrere::fuzz::check(false, "a resolved config loads again");
  }
  hrere::fuzz::check(again == resolved, "a resolved config reloads to the same config");
  return 0;
}
