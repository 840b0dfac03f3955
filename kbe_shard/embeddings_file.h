#pragma once
// The exported ComplEx embeddings: what `hrere pretrain` hands to joint training. Each rank
// writes its own rows, so no process ever holds the whole entity table. Layout (version 2):
//
//   embeddings.h5, written last and atomically by rank 0 (the file users open):
//     attributes  format="hrere-kbe-embeddings", version, rank (k), entity_tanh (0/1),
//                 export (id of this export), shards (P)
//     /entities, /relations                UTF-8 name tables (N and R names)
//     /entity_real, /entity_imag           float32 [N, k], as trained (before tanh): HDF5
//                                          virtual datasets over the shard files below
//     /relation_real, /relation_imag       float32 [R, k]
//     /inverse_relation_real, _imag        float32 [R, k], only when trained with reciprocal
//                                          relations (1-vs-all)
//   embeddings.entities.<export>.<r>-of-<P>.h5, one per rank, next to it:
//     attributes  format="hrere-kbe-embeddings-shard", version, export, shard (r), shards (P),
//                 num_entities (N), rank (k)
//     /entity_real, /entity_imag           float32 [rows, k]: entities r, r + P, r + 2P, ...
//
// A crash before rank 0 commits embeddings.h5 leaves the previous export whole (its shard
// files carry another export id); after the commit rank 0 deletes the older shard files.
// h5py reads /entity_real like any dataset; a missing shard file reads as NaN rows there,
// while hrere's own readers open the shard files and fail with an error naming the file.
// Version 1 files (the whole table inside embeddings.h5) still read.
#include <torch/types.h>

#include <string>
#include <vector>

#include "comm/communicator.h"

namespace hrere::kbe {

inline const std::string kEmbeddingsFormat = "hrere-kbe-embeddings";
// 3: fixed-width strings, checksummed chunks and metadata (data_pipeline/hdf5_file.h)
inline constexpr std::int64_t kEmbeddingsVersion = 3;

struct KbeEmbeddings {
  std::vector<std::string> entities;
  std::vector<std::string> relations;
  // [N, 2k] (real half | imaginary half), or, where a shard was written or read, that
  // shard's rows [rows, 2k] in RowOwnership order (entities r, r + P, ...).
  torch::Tensor entity;
  torch::Tensor relation;          // [R, 2k]
  torch::Tensor inverse_relation;  // [R, 2k], or undefined
  bool entity_tanh = false;
  // For writing: a file (a KB store) whose /entities table rank 0 copies into the export
  // chunk by chunk instead of writing `entities`, so no process reads the names.
  std::string entity_names_from;
};

// Collective over `comm`: each rank passes its shard's rows in `entity` (with one rank, the
// whole table); names and relation tables are taken from rank 0 (the others may leave the
// names empty), the entity names from `entity_names_from` where it is set. The tables may be on any
// device (copied to the host block by block to be written).
void write_kbe_embeddings(comm::Communicator& comm, const std::string& path,
                          const KbeEmbeddings& embeddings);

// Reads and validates the file, into host tensors: the whole entity table, or with
// read_kbe_embeddings_shard only the rows RowOwnership{N, rank, size} owns (written by any
// number of ranks). Non-empty `entities` / `relations` must equal the stored name tables (the
// ids of the KB store the caller trains on) and `rank`, if positive, the stored rank; a
// mismatch, a wrong dataset shape, a missing or foreign shard file or a wrong format is a
// InputError naming the file and the first difference.
KbeEmbeddings read_kbe_embeddings(const std::string& path,
                                  const std::vector<std::string>& entities = {},
                                  const std::vector<std::string>& relations = {},
                                  std::int64_t rank = 0);
KbeEmbeddings read_kbe_embeddings_shard(const std::string& path, int shard, int shards,
                                        const std::vector<std::string>& entities = {},
                                        const std::vector<std::string>& relations = {},
                                        std::int64_t rank = 0);
// Collective over `comm`: the rows this rank owns, as read_kbe_embeddings_shard, after checking
// the file's name tables against the KB store's, each rank a block of them in slices, so no
// process holds a table of names (left empty in the result). A difference is the same
// InputError on every rank, naming the first id that differs.
KbeEmbeddings read_kbe_embeddings_for_store(comm::Communicator& comm, const std::string& path,
                                            const std::string& kb_store_path);

}  // namespace hrere::kbe
