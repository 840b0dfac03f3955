#include "app/store_summary.h"

#include <algorithm>
#include <numeric>
#include <sstream>

#include "core/errors.h"
#include "data_pipeline/bag_store.h"
#include "data_pipeline/kb_store.h"

namespace hrere::train {
namespace {

using nlohmann::json;

json summarize_bag_store(const std::string& path) {
  const data::BagStore store = data::BagStore::open(path);
  const std::vector<std::string> relations = store.relations();
  // The sources attribute is JSON only as far as the file is intact.
  const json sources = json::parse(store.sources_json(), nullptr, /*allow_exceptions=*/false);
  if (sources.is_discarded()) {
    throw InputError(path + ": attribute 'sources' is not JSON (damaged bag store)");
  }
  json summary = {{"path", path},
                  {"format", data::kBagStoreFormat},
                  {"version", data::kBagStoreVersion},
                  {"T", store.T("train")},
                  {"L", store.L()},
                  {"vocabulary", store.vocabulary().size()},
                  {"relations", relations.size()},
                  {"entities", store.entities().size()},
                  {"word_vectors", store.has_word_vectors()},
                  {"sources", sources}};
  for (const std::string split : {"train", "test"}) {
    const std::int64_t n = store.size(split);
    const data::BagArrays bags = store.read(split, 0, n);
    std::vector<std::int64_t> per_relation(relations.size(), 0);
    for (std::int32_t label : bags.labels) ++per_relation[label];  // read() checked the range
    json counts = json::object();
    for (std::size_t r = 0; r < relations.size(); ++r) {
      if (per_relation[r] > 0) counts[relations[r]] = per_relation[r];
    }
    const double tokens = std::accumulate(bags.lengths.begin(), bags.lengths.end(), 0.0);
    summary["splits"][split] = {
        {"bags", n},
        {"sentences_per_bag", bags.T},
        {"mean_sentence_length", bags.lengths.empty() ? 0.0 : tokens / bags.lengths.size()},
        {"bags_per_relation", counts}};
  }
  summary["splits"]["test_pairs"] = {{"pairs", store.read_test_pairs().size()}};
  return summary;
}

json summarize_kb_store(const std::string& path) {
  const data::KbStore store = data::KbStore::open(path);
  json summary = {{"path", path},
                  {"format", data::kKbStoreFormat},
                  {"version", data::kKbStoreVersion},
                  {"entities", store.entities().size()},
                  {"relations", store.relations().size()}};
  for (const std::string& split : store.splits()) summary["triples"][split] = store.size(split);
  return summary;
}

}  // namespace

json summarize_store(const std::string& path) {
  const std::optional<std::string> format = data::Hdf5File::open(path).string_attribute("format");
  if (format == data::kBagStoreFormat) return summarize_bag_store(path);
  if (format == data::kKbStoreFormat) return summarize_kb_store(path);
  throw InputError(path + ": not an hrere store (format attribute is " +
                   (format ? "'" + *format + "'" : std::string("missing")) + "; expected " +
                   data::kBagStoreFormat + " or " + data::kKbStoreFormat + ")");
}

std::string format_summary(const json& summary) {
  std::ostringstream out;
  out << summary.at("path").get<std::string>() << ": " << summary.at("format").get<std::string>()
      << " v" << summary.at("version") << "\n";
  if (summary.at("format") == data::kBagStoreFormat) {
    out << "  T=" << summary["T"] << " sentences per bag, L=" << summary["L"] << " tokens\n"
        << "  vocabulary " << summary["vocabulary"] << ", relations " << summary["relations"]
        << ", entities " << summary["entities"]
        << (summary["word_vectors"].get<bool>() ? ", with word vectors" : ", no word vectors")
        << "\n";
    for (const std::string split : {"train", "test"}) {
      const json& s = summary["splits"][split];
      out << "  " << split << ": " << s["bags"] << " bags of " << s["sentences_per_bag"]
          << " sentence(s), mean length " << s["mean_sentence_length"].get<double>() << "\n";
    }
    out << "  test pairs: " << summary["splits"]["test_pairs"]["pairs"] << "\n";
  } else {
    out << "  entities " << summary["entities"] << ", relations " << summary["relations"] << "\n";
    for (const auto& [split, count] : summary["triples"].items()) {
      out << "  " << split << ": " << count << " triples\n";
    }
  }
  return out.str();
}

}  // namespace hrere::train
