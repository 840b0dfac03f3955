#pragma once
// The exported ComplEx embeddings: what `hrere pretrain` hands to joint training. One HDF5
// file, written atomically. Layout (version 1):
//
//   attributes  format="hrere-kbe-embeddings", version, rank (k), entity_tanh (0/1)
//   /entities, /relations                  UTF-8 name tables (N and R names)
//   /entity_real, /entity_imag             float32 [N, k], as trained (before tanh)
//   /relation_real, /relation_imag         float32 [R, k]
//   /inverse_relation_real, _imag          float32 [R, k], only when trained with reciprocal
//                                          relations (1-vs-all)
#include <torch/types.h>

#include <string>
#include <vector>

namespace hrere::kbe {

inline const std::string kEmbeddingsFormat = "hrere-kbe-embeddings";
inline constexpr std::int64_t kEmbeddingsVersion = 1;

struct KbeEmbeddings {
  std::vector<std::string> entities;
  std::vector<std::string> relations;
  torch::Tensor entity;            // [N, 2k]: real half | imaginary half
  torch::Tensor relation;          // [R, 2k]
  torch::Tensor inverse_relation;  // [R, 2k], or undefined
  bool entity_tanh = false;
};

// The tables may be on any device (they are copied to the host to be written).
void write_kbe_embeddings(const std::string& path, const KbeEmbeddings& embeddings);

// Reads and validates the file, into host tensors. Non-empty `entities` / `relations` must equal the stored name
// tables (the ids of the KB store the caller trains on) and `rank`, if positive, the stored
// rank; a mismatch, a wrong dataset shape or a wrong format is a data::InputError naming the
// file and the first difference.
KbeEmbeddings read_kbe_embeddings(const std::string& path,
                                  const std::vector<std::string>& entities = {},
                                  const std::vector<std::string>& relations = {},
                                  std::int64_t rank = 0);

}  // namespace hrere::kbe
