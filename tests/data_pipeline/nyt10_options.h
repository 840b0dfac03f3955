#pragma once
// The prepare options the loader tests share.
#include "data_pipeline/prepare.h"
#include "test_util.h"

namespace hrere::testing {

// nyt10-partial as the loader tests prepare it: malformed lines skipped, small chunks so an
// epoch spans many of them.
inline data::PrepareOptions nyt10_partial_options(std::int64_t chunk_bags) {
  data::PrepareOptions o;
  o.train_path = shared_data("nyt10-partial/train.txt");
  o.test_path = shared_data("nyt10-partial/test.txt");
  o.relations_path = shared_data("nyt10-partial/relation2id.txt");
  o.skip_bad_lines = true;
  o.chunk_bags = chunk_bags;
  return o;
}

}  // namespace hrere::testing
