#include "core/checkpoint_folder.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string_view>

#include "core/atomic_output.h"

namespace hrere::core {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kPrefix = "step-";
constexpr std::string_view kOld = ".old";
constexpr std::string_view kStaging = ".tmp";

// `name` without `suffix`; nullopt when it does not end with it.
std::optional<std::string> without_suffix(const std::string& name, std::string_view suffix) {
  if (name.size() <= suffix.size() ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return std::nullopt;
  return name.substr(0, name.size() - suffix.size());
}

// The step of a committed numbered folder's name ("step-12", or "step-12.old"); nullopt for
// staging folders and foreign names.
std::optional<std::int64_t> step_of(std::string name) {
  if (auto committed = without_suffix(name, kOld)) name = *committed;
  if (name.rfind(kPrefix, 0) != 0) return std::nullopt;
  const std::string digits = name.substr(kPrefix.size());
  if (digits.empty() || digits.size() > 18 ||
      digits.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  return std::stoll(digits);
}

}  // namespace

void CheckpointFolder::stage() const {
  fs::remove_all(staging());
  fs::create_directories(staging());
}

std::string CheckpointFolder::staging() const { return path_ + std::string(kStaging); }

void CheckpointFolder::commit() const {
  // On disk before the renames: a disk that filled up behind the page cache fails here, with
  // the previous checkpoint still in place.
  sync_to_disk(staging());
  const std::string old = path_ + std::string(kOld);
  fs::remove_all(old);
  if (fs::exists(path_)) fs::rename(path_, old);
  fs::rename(staging(), path_);
  sync_parent_folder(path_);
  fs::remove_all(old);
}

std::optional<std::string> committed_folder(const std::string& path) {
  if (fs::is_directory(path)) return path;
  const std::string old = path + std::string(kOld);
  if (fs::is_directory(old)) return old;
  return std::nullopt;
}

std::string numbered_folder(const std::string& parent, std::int64_t step) {
  char digits[32];
  std::snprintf(digits, sizeof digits, "%010lld", static_cast<long long>(step));
  return (fs::path(parent) / (std::string(kPrefix) + digits)).string();
}

std::vector<std::pair<std::int64_t, std::string>> numbered_folders(const std::string& parent) {
  std::vector<std::pair<std::int64_t, std::string>> found;
  if (!fs::is_directory(parent)) return found;
  for (const auto& entry : fs::directory_iterator(parent)) {
    const auto step = step_of(entry.path().filename().string());
    if (!step || !entry.is_directory()) continue;
    // A FOLDER.old counts only while FOLDER itself is missing (a stop between the renames).
    const std::string name = numbered_folder(parent, *step);
    if (entry.path().string() != name && fs::exists(name)) continue;
    found.emplace_back(*step, entry.path().string());
  }
  std::sort(found.begin(), found.end());
  return found;
}

void prune_numbered_folders(const std::string& parent, int keep) {
  const auto found = numbered_folders(parent);
  for (std::size_t i = 0; i + keep < found.size(); ++i) {
    const std::string name = numbered_folder(parent, found[i].first);
    fs::remove_all(name);
    fs::remove_all(name + std::string(kOld));
  }
  // Staging folders up to the newest committed step are left by stops before their commit.
  if (found.empty()) return;
  std::vector<fs::path> stale;
  for (const auto& entry : fs::directory_iterator(parent)) {
    const auto staged = without_suffix(entry.path().filename().string(), kStaging);
    const auto step = staged ? step_of(*staged) : std::nullopt;
    if (step && *step <= found.back().first) stale.push_back(entry.path());
  }
  for (const fs::path& path : stale) fs::remove_all(path);
}

}  // namespace hrere::core
