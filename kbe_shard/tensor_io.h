#pragma once
// Tensors in and out of HDF5 files (data::Hdf5File stores std::vector-like buffers): float32
// and int64 tensors of any rank, whole or by rows along dimension 0. Writes take tensors on any
// device (copied to the host first); reads return host tensors.
#include <torch/types.h>

#include <cstdint>
#include <string>

#include "data_pipeline/hdf5_file.h"

namespace hrere::kbe {

// Writes a float32 or int64 tensor as dataset `name` (compressed; for small tensors).
void write_tensor(data::Hdf5File& file, const std::string& name, const torch::Tensor& tensor);
// Writes a float32 or int64 table [rows, ...] (any device, any strides) as dataset `name`,
// block by block and uncompressed: for embedding tables and their optimizer state, which do
// not compress and must not be copied whole to the host (the writer holds one block).
void write_table(data::Hdf5File& file, const std::string& name, const torch::Tensor& table);

// Reads rows [start, start + count) of dataset `name` as a tensor of `dtype` (float32 or
// int64); the dataset's trailing dimensions must be `row_shape` (InputError otherwise).
torch::Tensor read_tensor_rows(const data::Hdf5File& file, const std::string& name,
                               torch::ScalarType dtype, c10::IntArrayRef row_shape,
                               std::int64_t start, std::int64_t count);

// The whole dataset; its shape must be `shape` (InputError naming the file otherwise).
torch::Tensor read_tensor(const data::Hdf5File& file, const std::string& name,
                          torch::ScalarType dtype, c10::IntArrayRef shape);

// An integer root attribute that must be present (InputError naming the file otherwise).
std::int64_t require_int_attribute(const data::Hdf5File& file, const std::string& name);

}  // namespace hrere::kbe
