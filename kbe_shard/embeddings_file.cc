#include "kbe_shard/embeddings_file.h"

#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <random>

#include "core/atomic_output.h"
#include "core/errors.h"
#include "data_pipeline/hdf5_file.h"
#include "kbe_shard/row_block.h"
#include "kbe_shard/sharded_embedding.h"
#include "kbe_shard/tensor_io.h"

namespace hrere::kbe {
namespace {

namespace fs = std::filesystem;

const std::string kShardFormat = "hrere-kbe-embeddings-shard";
constexpr std::int64_t kShardVersion = 2;  // 2: as kEmbeddingsVersion 3
// Rows read per HDF5 call: a reader holds its shard plus this much (the writer, see
// write_table, one block).
constexpr std::int64_t kBlockRows = 1 << 16;

void write_complex(data::Hdf5File& file, const std::string& name, const torch::Tensor& table) {
  const auto parts = table.chunk(2, 1);
  write_tensor(file, name + "_real", parts[0]);
  write_tensor(file, name + "_imag", parts[1]);
}

torch::Tensor read_complex(const data::Hdf5File& file, const std::string& name, std::int64_t rows,
                           std::int64_t rank) {
  return torch::cat({read_tensor(file, name + "_real", torch::kFloat, {rows, rank}),
                     read_tensor(file, name + "_imag", torch::kFloat, {rows, rank})},
                    1);
}

InputError names_differ(const std::string& path, const std::string& table, std::int64_t id,
                        const std::string& stored, const std::string& expected) {
  return InputError(path + ":/" + table + ": id " + std::to_string(id) + " is '" + stored +
                    "', the KB store has '" + expected + "'");
}

InputError name_counts_differ(const std::string& path, const std::string& table,
                              std::uint64_t stored, std::uint64_t expected) {
  return InputError(path + ":/" + table + ": " + std::to_string(stored) +
                    " names, the KB store has " + std::to_string(expected));
}

void require_names(const std::string& path, const std::string& table,
                   const std::vector<std::string>& stored,
                   const std::vector<std::string>& expected) {
  if (expected.empty() || stored == expected) return;
  if (stored.size() != expected.size()) {
    throw name_counts_differ(path, table, stored.size(), expected.size());
  }
  for (std::size_t i = 0; i < stored.size(); ++i) {
    if (stored[i] != expected[i]) {
      throw names_differ(path, table, static_cast<std::int64_t>(i), stored[i], expected[i]);
    }
  }
}

// Collective: each rank compares its block of table `table` of the two files slice by slice;
// all agree on the first id that differs.
void require_names_in_slices(comm::Communicator& comm, const data::Hdf5File& file,
                             const data::Hdf5File& store, const std::string& table) {
  const std::uint64_t n = file.dims(table).at(0);
  const std::uint64_t expected = store.dims(table).at(0);
  if (n != expected) throw name_counts_differ(file.path(), table, n, expected);
  const RowBlock block = row_block(static_cast<std::int64_t>(n), comm.rank(), comm.size());
  std::int64_t first_difference = std::numeric_limits<std::int64_t>::max();
  for (std::int64_t begin = block.begin; begin < block.end; begin += kSliceRows) {
    const auto count = static_cast<std::uint64_t>(std::min(kSliceRows, block.end - begin));
    const std::vector<std::string> stored = file.read_strings(table, begin, count);
    const std::vector<std::string> wanted = store.read_strings(table, begin, count);
    const auto differs = std::mismatch(stored.begin(), stored.end(), wanted.begin());
    if (differs.first != stored.end()) {
      first_difference = begin + (differs.first - stored.begin());
      break;
    }
  }
  const std::int64_t id = comm::min_over_ranks(comm, {first_difference}).at(0);
  if (id != std::numeric_limits<std::int64_t>::max()) {
    throw names_differ(file.path(), table, id, file.read_strings(table, id, 1).at(0),
                       store.read_strings(table, id, 1).at(0));
  }
}

std::string shard_prefix(const fs::path& index) { return index.stem().string() + ".entities."; }

// The file name (in the index's folder) of shard r of P of export `id`.
std::string shard_file_name(const fs::path& index, const std::string& id, int r, int size) {
  return shard_prefix(index) + id + "." + std::to_string(r) + "-of-" + std::to_string(size) + ".h5";
}

// 16 hex digits drawn on rank 0 and shared: names this export's shard files.
std::string new_export_id(comm::Communicator& comm) {
  torch::Tensor bits = torch::zeros({1}, torch::kInt64);
  if (comm.rank() == 0) {
    std::random_device device;
    bits[0] = static_cast<std::int64_t>((static_cast<std::uint64_t>(device()) << 32) ^ device());
  }
  if (comm.size() > 1) comm.broadcast(bits, 0);
  char text[17];
  std::snprintf(text, sizeof text, "%016llx",
                static_cast<unsigned long long>(bits[0].item<std::int64_t>()));
  return text;
}

// Writes `rows` [n, 2k] (any device) as `<name>_real` and `<name>_imag`, block by block.
void write_complex_rows(data::Hdf5File& file, const std::string& name, const torch::Tensor& rows) {
  const std::int64_t k = rows.size(1) / 2;
  write_table(file, name + "_real", rows.narrow(1, 0, k));
  write_table(file, name + "_imag", rows.narrow(1, k, k));
}

// Rows first, first + stride, ... of the entity table live as rows 0, 1, ... of `path`.
struct RowSource {
  std::string path;
  std::int64_t first = 0;
  std::int64_t stride = 1;
  std::int64_t rows = 0;
};

// Where the index's entity rows are: itself (version 1) or its shard files, each validated.
std::vector<RowSource> entity_sources(const data::Hdf5File& index, std::int64_t version,
                                      std::int64_t n, std::int64_t k) {
  if (version == 1) return {{index.path(), 0, 1, n}};
  const std::string id = index.string_attribute("export").value_or("");
  const std::int64_t size = require_int_attribute(index, "shards");
  if (id.empty() || size <= 0) {
    throw InputError(index.path() + ": no valid 'export' and 'shards' attributes");
  }
  std::vector<RowSource> sources;
  for (int r = 0; r < size; ++r) {
    const fs::path path = fs::path(index.path()).parent_path() /
                          shard_file_name(index.path(), id, r, static_cast<int>(size));
    const data::Hdf5File shard = data::Hdf5File::open(path.string());
    data::require_schema(shard, kShardFormat, kShardVersion);
    const RowOwnership ownership{n, r, static_cast<int>(size)};
    const std::vector<std::pair<std::string, std::int64_t>> expected{
        {"shard", r}, {"shards", size}, {"num_entities", n}, {"rank", k}};
    for (const auto& [name, value] : expected) {
      const std::int64_t found = require_int_attribute(shard, name);
      if (found != value) {
        throw InputError(path.string() + ": " + name + " = " + std::to_string(found) +
                         ", the index " + index.path() + " expects " + std::to_string(value));
      }
    }
    if (shard.string_attribute("export").value_or("") != id) {
      throw InputError(path.string() + ": belongs to another export than " + index.path());
    }
    sources.push_back({path.string(), r, size, ownership.local_rows()});
  }
  return sources;
}

// The rows of `sources` that `ownership` owns, in local order [local_rows, 2k].
torch::Tensor read_owned_rows(const std::vector<RowSource>& sources, const RowOwnership& ownership,
                              std::int64_t k) {
  torch::Tensor out = torch::empty({ownership.local_rows(), 2 * k});
  std::int64_t filled = 0;
  for (const RowSource& source : sources) {
    const data::Hdf5File file = data::Hdf5File::open(source.path);
    const std::int64_t stored = static_cast<std::int64_t>(file.dims("entity_real").at(0));
    if (stored != source.rows) {
      throw InputError(source.path + ":/entity_real: " + std::to_string(stored) +
                       " rows, expected " + std::to_string(source.rows));
    }
    for (std::int64_t start = 0; start < source.rows; start += kBlockRows) {
      const std::int64_t count = std::min(kBlockRows, source.rows - start);
      const torch::Tensor ids =
          source.first + (start + torch::arange(count, torch::kInt64)) * source.stride;
      const RowOwnership::Owned owned = ownership.owned(ids);
      if (owned.positions.numel() == 0) continue;
      const torch::Tensor rows =
          torch::cat({read_tensor_rows(file, "entity_real", torch::kFloat, {k}, start, count),
                      read_tensor_rows(file, "entity_imag", torch::kFloat, {k}, start, count)},
                     1);
      out.index_copy_(0, owned.local_rows, rows.index_select(0, owned.positions));
      filled += owned.positions.numel();
    }
  }
  if (filled != ownership.local_rows()) {
    throw InputError(sources.front().path + " ...: " + std::to_string(filled) + " of " +
                     std::to_string(ownership.local_rows()) + " entity rows found");
  }
  return out;
}

struct Layout {
  std::int64_t version;
  std::int64_t rank;  // of the embeddings
};

// The format checks that come before any table is read.
Layout require_layout(const data::Hdf5File& file, std::int64_t expected_rank) {
  const std::int64_t version =
      file.int_attribute("version").value_or(0) == 1 ? 1 : kEmbeddingsVersion;
  data::require_schema(file, kEmbeddingsFormat, version);
  const std::int64_t rank = require_int_attribute(file, "rank");
  if (expected_rank > 0 && rank != expected_rank) {
    throw InputError(file.path() + ": embeddings of rank " + std::to_string(rank) +
                     ", expected rank " + std::to_string(expected_rank));
  }
  return {version, rank};
}

// The rows of shard `shard` of `shards` and the relation tables, not the names.
KbeEmbeddings read_rows_of_shard(const data::Hdf5File& file, Layout layout, int shard, int shards) {
  KbeEmbeddings embeddings;
  embeddings.entity_tanh = require_int_attribute(file, "entity_tanh") != 0;
  const auto n = static_cast<std::int64_t>(file.dims("entities").at(0));
  const auto r = static_cast<std::int64_t>(file.dims("relations").at(0));
  embeddings.entity = read_owned_rows(entity_sources(file, layout.version, n, layout.rank),
                                      RowOwnership{n, shard, shards}, layout.rank);
  embeddings.relation = read_complex(file, "relation", r, layout.rank);
  if (file.exists("inverse_relation_real")) {
    embeddings.inverse_relation = read_complex(file, "inverse_relation", r, layout.rank);
  }
  return embeddings;
}

}  // namespace

void write_kbe_embeddings(comm::Communicator& comm, const std::string& path,
                          const KbeEmbeddings& embeddings) {
  const fs::path index(path);
  const std::string id = new_export_id(comm);
  const int size = comm.size();
  const std::int64_t k = embeddings.entity.size(1) / 2;
  // Only rank 0 needs the names (it writes them); the other ranks may pass none.
  std::int64_t names = static_cast<std::int64_t>(embeddings.entities.size());
  if (comm.rank() == 0 && !embeddings.entity_names_from.empty()) {
    names = static_cast<std::int64_t>(
        data::Hdf5File::open(embeddings.entity_names_from).dims("entities").at(0));
  }
  const std::int64_t n = comm::rank0_value(comm, names);
  {
    core::AtomicOutput output(
        (index.parent_path() / shard_file_name(index, id, comm.rank(), size)).string());
    {
      data::Hdf5File file = data::Hdf5File::create(output.temp_path());
      data::write_schema(file, kShardFormat, kShardVersion);
      file.set_attribute("export", id);
      file.set_attribute("shard", static_cast<std::int64_t>(comm.rank()));
      file.set_attribute("shards", static_cast<std::int64_t>(size));
      file.set_attribute("num_entities", n);
      file.set_attribute("rank", k);
      write_complex_rows(file, "entity", embeddings.entity);
      file.close();
    }
    output.commit();
  }
  comm.barrier();
  if (comm.rank() == 0) {
    core::AtomicOutput output(path);
    {
      data::Hdf5File file = data::Hdf5File::create(output.temp_path());
      data::write_schema(file, kEmbeddingsFormat, kEmbeddingsVersion);
      file.set_attribute("rank", k);
      file.set_attribute("entity_tanh", static_cast<std::int64_t>(embeddings.entity_tanh));
      file.set_attribute("export", id);
      file.set_attribute("shards", static_cast<std::int64_t>(size));
      if (embeddings.entity_names_from.empty()) {
        file.write_strings("entities", embeddings.entities);
      } else {
        file.copy_dataset(data::Hdf5File::open(embeddings.entity_names_from), "entities");
      }
      file.write_strings("relations", embeddings.relations);
      for (const char* half : {"_real", "_imag"}) {
        std::vector<data::Hdf5File::VirtualRows> sources;
        for (int r = 0; r < size; ++r) {
          sources.push_back({shard_file_name(index, id, r, size), std::string("entity") + half,
                             static_cast<std::uint64_t>(r), static_cast<std::uint64_t>(size),
                             static_cast<std::uint64_t>(RowOwnership{n, r, size}.local_rows())});
        }
        file.create_virtual_float_rows(
            std::string("entity") + half,
            {static_cast<std::uint64_t>(n), static_cast<std::uint64_t>(k)}, sources);
      }
      write_complex(file, "relation", embeddings.relation);
      if (embeddings.inverse_relation.defined()) {
        write_complex(file, "inverse_relation", embeddings.inverse_relation);
      }
      file.close();
    }
    output.commit();
    // The shard files of earlier exports, now unreferenced.
    std::error_code error;
    const std::string prefix = shard_prefix(index);
    for (const auto& entry :
         fs::directory_iterator(index.parent_path().empty() ? "." : index.parent_path(), error)) {
      const std::string name = entry.path().filename().string();
      if (name.rfind(prefix, 0) == 0 && name.size() > 3 && name.substr(name.size() - 3) == ".h5" &&
          name.rfind(prefix + id + ".", 0) != 0) {
        fs::remove(entry.path(), error);
      }
    }
  }
  comm.barrier();
}

KbeEmbeddings read_kbe_embeddings_shard(const std::string& path, int shard, int shards,
                                        const std::vector<std::string>& entities,
                                        const std::vector<std::string>& relations,
                                        std::int64_t rank) {
  const data::Hdf5File file = data::Hdf5File::open(path);
  const Layout layout = require_layout(file, rank);
  std::vector<std::string> entity_names = file.read_strings("entities");
  std::vector<std::string> relation_names = file.read_strings("relations");
  require_names(path, "entities", entity_names, entities);
  require_names(path, "relations", relation_names, relations);
  KbeEmbeddings embeddings = read_rows_of_shard(file, layout, shard, shards);
  embeddings.entities = std::move(entity_names);
  embeddings.relations = std::move(relation_names);
  return embeddings;
}

KbeEmbeddings read_kbe_embeddings_for_store(comm::Communicator& comm, const std::string& path,
                                            const std::string& kb_store_path) {
  const data::Hdf5File file = data::Hdf5File::open(path);
  const Layout layout = require_layout(file, 0);
  const data::Hdf5File store = data::Hdf5File::open(kb_store_path);
  for (const char* table : {"entities", "relations"}) {
    require_names_in_slices(comm, file, store, table);
  }
  return read_rows_of_shard(file, layout, comm.rank(), comm.size());
}

KbeEmbeddings read_kbe_embeddings(const std::string& path, const std::vector<std::string>& entities,
                                  const std::vector<std::string>& relations, std::int64_t rank) {
  return read_kbe_embeddings_shard(path, 0, 1, entities, relations, rank);
}

}  // namespace hrere::kbe
