#include "trainer/evaluation/repeated_runs.h"

#include <cmath>
#include <map>
#include <string>

namespace hrere::train {
namespace {

void collect(const nlohmann::json& node, const std::string& path,
             std::map<std::string, std::vector<double>>& values) {
  if (node.is_object()) {
    for (const auto& [key, child] : node.items()) {
      collect(child, path.empty() ? key : path + "." + key, values);
    }
  } else if (node.is_number()) {
    values[path].push_back(node.get<double>());
  }
}

}  // namespace

nlohmann::json summarize_runs(const std::vector<nlohmann::json>& summaries) {
  std::map<std::string, std::vector<double>> values;
  for (const nlohmann::json& summary : summaries) collect(summary, "", values);
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [path, list] : values) {
    if (list.size() != summaries.size()) continue;  // not in every run
    double mean = 0;
    for (double v : list) mean += v;
    mean /= static_cast<double>(list.size());
    double variance = 0;
    for (double v : list) variance += (v - mean) * (v - mean);
    variance /= static_cast<double>(list.size());
    out[path] = {{"mean", mean}, {"std", std::sqrt(variance)}, {"values", list}};
  }
  return out;
}

}  // namespace hrere::train
