#include "kbe_shard/embeddings_file.h"

#include <torch/torch.h>

#include "data_pipeline/atomic_output.h"
#include "data_pipeline/hdf5_file.h"
#include "data_pipeline/input_error.h"
#include "kbe_shard/tensor_io.h"

namespace hrere::kbe {
namespace {

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

void require_names(const std::string& path, const std::string& table,
                   const std::vector<std::string>& stored, const std::vector<std::string>& expected) {
  if (expected.empty() || stored == expected) return;
  if (stored.size() != expected.size()) {
    throw data::InputError(path + ":/" + table + ": " + std::to_string(stored.size()) +
                           " names, the KB store has " + std::to_string(expected.size()));
  }
  for (std::size_t i = 0; i < stored.size(); ++i) {
    if (stored[i] != expected[i]) {
      throw data::InputError(path + ":/" + table + ": id " + std::to_string(i) + " is '" +
                             stored[i] + "', the KB store has '" + expected[i] + "'");
    }
  }
}

}  // namespace

void write_kbe_embeddings(const std::string& path, const KbeEmbeddings& embeddings) {
  data::AtomicOutput output(path);
  {
    data::Hdf5File file = data::Hdf5File::create(output.temp_path());
    data::write_schema(file, kEmbeddingsFormat, kEmbeddingsVersion);
    file.set_attribute("rank", embeddings.entity.size(1) / 2);
    file.set_attribute("entity_tanh", static_cast<std::int64_t>(embeddings.entity_tanh));
    file.write_strings("entities", embeddings.entities);
    file.write_strings("relations", embeddings.relations);
    write_complex(file, "entity", embeddings.entity);
    write_complex(file, "relation", embeddings.relation);
    if (embeddings.inverse_relation.defined()) {
      write_complex(file, "inverse_relation", embeddings.inverse_relation);
    }
  }
  output.commit();
}

KbeEmbeddings read_kbe_embeddings(const std::string& path, const std::vector<std::string>& entities,
                                  const std::vector<std::string>& relations, std::int64_t rank) {
  const data::Hdf5File file = data::Hdf5File::open(path);
  data::require_schema(file, kEmbeddingsFormat, kEmbeddingsVersion);
  const std::int64_t stored_rank = require_int_attribute(file, "rank");
  if (rank > 0 && stored_rank != rank) {
    throw data::InputError(path + ": embeddings of rank " + std::to_string(stored_rank) +
                           ", expected rank " + std::to_string(rank));
  }
  KbeEmbeddings embeddings;
  embeddings.entities = file.read_strings("entities");
  embeddings.relations = file.read_strings("relations");
  require_names(path, "entities", embeddings.entities, entities);
  require_names(path, "relations", embeddings.relations, relations);
  embeddings.entity_tanh = require_int_attribute(file, "entity_tanh") != 0;
  const auto n = static_cast<std::int64_t>(embeddings.entities.size());
  const auto r = static_cast<std::int64_t>(embeddings.relations.size());
  embeddings.entity = read_complex(file, "entity", n, stored_rank);
  embeddings.relation = read_complex(file, "relation", r, stored_rank);
  if (file.exists("inverse_relation_real")) {
    embeddings.inverse_relation = read_complex(file, "inverse_relation", r, stored_rank);
  }
  return embeddings;
}

}  // namespace hrere::kbe
