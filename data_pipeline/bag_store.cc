#include "data_pipeline/bag_store.h"

#include "core/errors.h"

namespace hrere::data {
namespace {

using Dims = std::vector<std::uint64_t>;

void write_bags(Hdf5File& file, const std::string& split, const BagArrays& bags,
                std::uint64_t chunk_bags) {
  const std::uint64_t n = bags.size(), T = bags.T, L = bags.L;
  file.write(split + "/words", Dims{n, T, L}, bags.words.data(), chunk_bags);
  file.write(split + "/lengths", Dims{n, T}, bags.lengths.data(), chunk_bags);
  file.write(split + "/head_spans", Dims{n, T, 2}, bags.head_spans.data(), chunk_bags);
  file.write(split + "/tail_spans", Dims{n, T, 2}, bags.tail_spans.data(), chunk_bags);
  file.write(split + "/heads", Dims{n}, bags.heads.data(), chunk_bags);
  file.write(split + "/tails", Dims{n}, bags.tails.data(), chunk_bags);
  file.write(split + "/labels", Dims{n}, bags.labels.data(), chunk_bags);
}

}  // namespace

void write_bag_store(const std::string& path, const BagStoreContents& contents,
                     std::uint64_t chunk_bags, const StringList* entities) {
  Hdf5File file = Hdf5File::create(path);
  write_schema(file, kBagStoreFormat, kBagStoreVersion);
  file.set_attribute("T", static_cast<std::int64_t>(contents.T));
  file.set_attribute("L", static_cast<std::int64_t>(contents.L));
  file.set_attribute("sources", contents.sources_json);
  file.write_strings("vocabulary", contents.vocabulary);
  file.write_strings("relations", contents.relations);
  file.write_strings("entities", entities ? *entities : strings_of(contents.entities));
  if (contents.vector_dim > 0) {
    const std::uint64_t v = contents.vocabulary.size(), d = contents.vector_dim;
    file.write("word_vectors", Dims{v, d}, contents.word_vectors.data(), 4096);
    file.write("word_has_vector", Dims{v}, contents.word_has_vector.data(), 4096);
  }
  write_bags(file, "train", contents.train, chunk_bags);
  write_bags(file, "test", contents.test, chunk_bags);
  const TestPairs& pairs = contents.test_pairs;
  const std::uint64_t p = pairs.size(), r = contents.relations.size();
  file.write("test_pairs/offsets", Dims{p + 1}, pairs.offsets.data(), 4096);
  file.write("test_pairs/heads", Dims{p}, pairs.heads.data(), 4096);
  file.write("test_pairs/tails", Dims{p}, pairs.tails.data(), 4096);
  file.write("test_pairs/labels", Dims{p, r}, pairs.labels.data(), 4096);
  file.close();
}

BagStore BagStore::open(const std::string& path) {
  BagStore store(Hdf5File::open(path));
  require_schema(store.file_, kBagStoreFormat, kBagStoreVersion);
  const std::optional<std::int64_t> T = store.file_.int_attribute("T");
  const std::optional<std::int64_t> L = store.file_.int_attribute("L");
  if (!T || !L || *T < 1 || *L < 1)
    throw InputError(path + ": bag store without valid T and L attributes");
  store.L_ = static_cast<int>(*L);
  for (const char* table : {"vocabulary", "relations", "entities"}) {
    if (!store.file_.exists(table) || store.file_.dims(table).size() != 1)
      throw InputError(path + ": damaged bag store, /" + std::string(table) + " missing");
  }
  store.vocabulary_size_ = static_cast<std::int64_t>(store.file_.dims("vocabulary")[0]);
  store.relation_count_ = static_cast<std::int64_t>(store.file_.dims("relations")[0]);
  store.entity_count_ = static_cast<std::int64_t>(store.file_.dims("entities")[0]);
  store.validate_split("train");
  store.validate_split("test");
  if (store.T_["train"] != *T) throw InputError(path + ": /train/words disagrees with attribute T");
  return store;
}

void BagStore::validate_split(const std::string& split) {
  const std::string where = file_.path() + ": /" + split;
  if (!file_.exists(split + "/words"))
    throw InputError(where + "/words missing (damaged bag store)");
  const Dims words = file_.dims(split + "/words");
  if (words.size() != 3 || static_cast<int>(words[2]) != L_) {
    throw InputError(where + "/words has the wrong shape for L = " + std::to_string(L_));
  }
  const std::uint64_t n = words[0], T = words[1];
  const std::vector<std::pair<std::string, Dims>> expected = {{"lengths", {n, T}},
                                                              {"head_spans", {n, T, 2}},
                                                              {"tail_spans", {n, T, 2}},
                                                              {"heads", {n}},
                                                              {"tails", {n}},
                                                              {"labels", {n}}};
  for (const auto& [name, dims] : expected) {
    if (!file_.exists(split + "/" + name))
      throw InputError(where + "/" + name + " missing (damaged bag store)");
    if (file_.dims(split + "/" + name) != dims)
      throw InputError(where + "/" + name + " has the wrong shape");
  }
  T_[split] = static_cast<int>(T);
  size_[split] = static_cast<std::int64_t>(n);
}

int BagStore::T(const std::string& split) const { return T_.at(split); }

std::int64_t BagStore::size(const std::string& split) const {
  auto it = size_.find(split);
  if (it == size_.end()) throw std::invalid_argument("bag store has no split '" + split + "'");
  return it->second;
}

std::int64_t BagStore::chunk_bags(const std::string& split) const {
  return static_cast<std::int64_t>(file_.chunk_rows(split + "/words"));
}

BagArrays BagStore::read(const std::string& split, std::int64_t start, std::int64_t count) const {
  BagArrays out;
  out.T = T(split);
  out.L = L_;
  const std::size_t n = count, T = out.T, L = out.L;
  out.words.resize(n * T * L);
  out.lengths.resize(n * T);
  out.head_spans.resize(n * T * 2);
  out.tail_spans.resize(n * T * 2);
  out.heads.resize(n);
  out.tails.resize(n);
  out.labels.resize(n);
  if (n == 0) return out;
  file_.read_rows(split + "/words", start, count, out.words.data());
  file_.read_rows(split + "/lengths", start, count, out.lengths.data());
  file_.read_rows(split + "/head_spans", start, count, out.head_spans.data());
  file_.read_rows(split + "/tail_spans", start, count, out.tail_spans.data());
  file_.read_rows(split + "/heads", start, count, out.heads.data());
  file_.read_rows(split + "/tails", start, count, out.tails.data());
  file_.read_rows(split + "/labels", start, count, out.labels.data());
  check_ranges(split, start, out);
  return out;
}

void BagStore::check_ranges(const std::string& split, std::int64_t start,
                            const BagArrays& bags) const {
  const std::size_t T = bags.T, L = bags.L;
  // `index` is a position in the dataset `name`, whose rows hold `per_row` values.
  auto fail = [&](const std::string& name, std::size_t index, std::size_t per_row,
                  std::int64_t value, const std::string& expected) {
    throw InputError(file_.path() + ": /" + split + "/" + name + " row " +
                     std::to_string(start + static_cast<std::int64_t>(index / per_row)) +
                     " holds " + std::to_string(value) + ", expected " + expected +
                     " (damaged bag store)");
  };
  auto below = [](std::int64_t bound) { return "an id in [0, " + std::to_string(bound) + ")"; };
  auto check_ids = [&](const std::string& name, const std::vector<std::int32_t>& values,
                       std::size_t per_row, std::int64_t bound) {
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (values[i] < 0 || values[i] >= bound) fail(name, i, per_row, values[i], below(bound));
    }
  };
  check_ids("words", bags.words, T * L, vocabulary_size_);
  check_ids("heads", bags.heads, 1, entity_count_);
  check_ids("tails", bags.tails, 1, entity_count_);
  check_ids("labels", bags.labels, 1, relation_count_);
  for (std::size_t i = 0; i < bags.lengths.size(); ++i) {
    if (bags.lengths[i] < 1 || static_cast<std::size_t>(bags.lengths[i]) > L)
      fail("lengths", i, T, bags.lengths[i], "a length in [1, " + std::to_string(L) + "]");
  }
  for (const auto& [name, spans] :
       {std::pair{"head_spans", &bags.head_spans}, std::pair{"tail_spans", &bags.tail_spans}}) {
    for (std::size_t i = 0; i < spans->size(); i += 2) {
      const std::int32_t begin = (*spans)[i], end = (*spans)[i + 1];
      if (begin < 0 || end <= begin)
        fail(name, i, T * 2, begin,
             "a span [begin, end) with 0 <= begin < end, found end " + std::to_string(end));
    }
  }
}

TestPairs BagStore::read_test_pairs() const {
  TestPairs pairs;
  pairs.offsets = file_.read<std::int64_t>("test_pairs/offsets");
  pairs.heads = file_.read<std::int32_t>("test_pairs/heads");
  pairs.tails = file_.read<std::int32_t>("test_pairs/tails");
  pairs.labels = file_.read<std::uint8_t>("test_pairs/labels");
  // The pairs partition the test sentences in order, and their labels are 0/1 rows over the
  // relations: evaluation indexes sentences and scores with them.
  const std::string where = file_.path() + ": /test_pairs";
  const std::size_t p = pairs.heads.size();
  if (pairs.offsets.size() != p + 1 || pairs.tails.size() != p ||
      pairs.labels.size() != p * static_cast<std::size_t>(relation_count_))
    throw InputError(where + " has datasets of disagreeing sizes (damaged bag store)");
  if (pairs.offsets.front() != 0 || pairs.offsets.back() != size("test"))
    throw InputError(where + "/offsets do not span the " + std::to_string(size("test")) +
                     " test sentences (damaged bag store)");
  for (std::size_t i = 0; i < p; ++i) {
    if (pairs.offsets[i + 1] <= pairs.offsets[i])
      throw InputError(where + "/offsets are not increasing at pair " + std::to_string(i) +
                       " (damaged bag store)");
    for (const std::int32_t id : {pairs.heads[i], pairs.tails[i]}) {
      if (id < 0 || id >= entity_count_)
        throw InputError(where + " pair " + std::to_string(i) + " names entity " +
                         std::to_string(id) + ", not an id below " + std::to_string(entity_count_) +
                         " (damaged bag store)");
    }
  }
  for (std::size_t i = 0; i < pairs.labels.size(); ++i) {
    if (pairs.labels[i] > 1)
      throw InputError(where + "/labels pair " + std::to_string(i / relation_count_) + " holds " +
                       std::to_string(pairs.labels[i]) + ", expected 0 or 1 (damaged bag store)");
  }
  return pairs;
}

BagStore::WordVectorRows BagStore::word_vectors() const {
  WordVectorRows rows;
  if (!has_word_vectors()) return rows;
  rows.dim = static_cast<int>(file_.dims("word_vectors").at(1));
  rows.values = file_.read<float>("word_vectors");
  rows.has_vector = file_.read<std::uint8_t>("word_has_vector");
  return rows;
}

}  // namespace hrere::data
