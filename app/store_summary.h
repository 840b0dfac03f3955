#pragma once
// Human-readable and JSON summaries of the stores, for `hrere inspect` and `hrere prepare`.
#include <nlohmann/json.hpp>
#include <string>

namespace hrere::train {

// Opens `path` as a bag store or KB store (chosen by its format attribute), validates it and
// returns its summary; InputError for anything else.
nlohmann::json summarize_store(const std::string& path);

// Multi-line text for people.
std::string format_summary(const nlohmann::json& summary);

}  // namespace hrere::train
