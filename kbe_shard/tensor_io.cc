#include "kbe_shard/tensor_io.h"

#include <torch/torch.h>

#include <sstream>
#include <vector>

#include "core/errors.h"

namespace hrere::kbe {
namespace {

std::string shape_text(c10::IntArrayRef shape) {
  std::ostringstream text;
  text << '[';
  for (std::size_t d = 0; d < shape.size(); ++d) text << (d ? ", " : "") << shape[d];
  text << ']';
  return text.str();
}

// HDF5 chunks of about 1 MiB: small enough for row reads, large enough to compress.
std::uint64_t chunk_rows(const torch::Tensor& tensor) {
  const std::int64_t rows = tensor.dim() == 0 ? 1 : std::max<std::int64_t>(1, tensor.size(0));
  const std::int64_t row_bytes =
      std::max<std::int64_t>(1, tensor.numel() / rows * tensor.element_size());
  return static_cast<std::uint64_t>(std::max<std::int64_t>(1, (1 << 20) / row_bytes));
}

}  // namespace

void write_tensor(data::Hdf5File& file, const std::string& name, const torch::Tensor& tensor) {
  const torch::Tensor data = tensor.cpu().contiguous();
  const std::vector<std::uint64_t> dims(data.sizes().begin(), data.sizes().end());
  switch (data.scalar_type()) {
    case torch::kFloat: file.write(name, dims, data.data_ptr<float>(), chunk_rows(data)); break;
    case torch::kLong:
      file.write(name, dims, data.data_ptr<std::int64_t>(), chunk_rows(data));
      break;
    default: throw std::logic_error("write_tensor: unsupported dtype for " + name);
  }
}

void write_table(data::Hdf5File& file, const std::string& name, const torch::Tensor& table) {
  const std::vector<std::uint64_t> dims(table.sizes().begin(), table.sizes().end());
  const std::uint64_t chunk = chunk_rows(table);
  const bool is_float = table.scalar_type() == torch::kFloat;
  if (!is_float && table.scalar_type() != torch::kLong) {
    throw std::logic_error("write_table: unsupported dtype for " + name);
  }
  if (is_float)
    file.create_dataset<float>(name, dims, chunk);
  else
    file.create_dataset<std::int64_t>(name, dims, chunk);
  const std::int64_t rows = table.size(0);
  const std::int64_t block_rows = std::max<std::int64_t>(1, static_cast<std::int64_t>(chunk) * 16);
  for (std::int64_t start = 0; start < rows; start += block_rows) {
    const std::int64_t count = std::min(block_rows, rows - start);
    const torch::Tensor block = table.narrow(0, start, count).cpu().contiguous();
    const auto first = static_cast<std::uint64_t>(start), n = static_cast<std::uint64_t>(count);
    if (is_float)
      file.write_rows(name, first, n, block.data_ptr<float>());
    else
      file.write_rows(name, first, n, block.data_ptr<std::int64_t>());
  }
}

torch::Tensor read_tensor_rows(const data::Hdf5File& file, const std::string& name,
                               torch::ScalarType dtype, c10::IntArrayRef row_shape,
                               std::int64_t start, std::int64_t count) {
  const std::vector<std::uint64_t> dims = file.dims(name);
  std::vector<std::int64_t> found(dims.begin(), dims.end());
  if (found.empty() || !c10::IntArrayRef(found).slice(1).equals(row_shape)) {
    throw InputError(file.path() + ":/" + name + ": expected rows of shape " +
                     shape_text(row_shape) + ", found a dataset of shape " + shape_text(found));
  }
  std::vector<std::int64_t> shape{count};
  shape.insert(shape.end(), row_shape.begin(), row_shape.end());
  torch::Tensor out = torch::empty(shape, dtype);
  if (count == 0) return out;
  switch (dtype) {
    case torch::kFloat: file.read_rows(name, start, count, out.data_ptr<float>()); break;
    case torch::kLong: file.read_rows(name, start, count, out.data_ptr<std::int64_t>()); break;
    default: throw std::logic_error("read_tensor_rows: unsupported dtype for " + name);
  }
  return out;
}

torch::Tensor read_tensor(const data::Hdf5File& file, const std::string& name,
                          torch::ScalarType dtype, c10::IntArrayRef shape) {
  const std::vector<std::uint64_t> dims = file.dims(name);
  const std::vector<std::int64_t> found(dims.begin(), dims.end());
  if (!c10::IntArrayRef(found).equals(shape)) {
    throw InputError(file.path() + ":/" + name + ": expected shape " + shape_text(shape) +
                     ", found " + shape_text(found));
  }
  return read_tensor_rows(file, name, dtype, shape.slice(1), 0, shape[0]);
}

std::int64_t require_int_attribute(const data::Hdf5File& file, const std::string& name) {
  const std::optional<std::int64_t> value = file.int_attribute(name);
  if (!value) throw InputError(file.path() + ": integer attribute '" + name + "' missing");
  return *value;
}

}  // namespace hrere::kbe
