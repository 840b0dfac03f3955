#pragma once
// `hrere train --runs K`: K seeds of one config, and the mean and standard deviation of
// every headline metric over them (as the reference's replication log reports).
#include <nlohmann/json.hpp>

#include <vector>

namespace hrere::train {

// For every number in the evaluation summaries (lists such as per-relation scores are left
// out), {"mean", "std", "values"} under its dotted path, e.g. "sentence.p_at_percent.10".
// The standard deviation is the population one (numpy's default, as the reference uses).
nlohmann::json summarize_runs(const std::vector<nlohmann::json>& summaries);

}  // namespace hrere::train
