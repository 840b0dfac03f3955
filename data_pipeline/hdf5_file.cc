#include "data_pipeline/hdf5_file.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <utility>

#include "core/errors.h"

namespace hrere::data {
namespace {

std::mutex& hdf5_mutex() {
  static std::mutex mutex;
  return mutex;
}

// Once, before any other HDF5 call: silences HDF5's own error printing (we report errors
// ourselves) and keeps HDF5's exit handler from running. A file whose close failed (a full
// disk) stays half-closed in libhdf5's tables, and that handler then crashes on it; every file
// is closed by its Hdf5File before exit anyway.
void quiet_hdf5() {
  static const bool done = [] {
    H5dont_atexit();
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)done;
}

// Closes an HDF5 handle of any kind when it leaves scope.
class Handle {
 public:
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~Handle() {
    if (id_ >= 0) close_(id_);
  }
  Handle(Handle&& other) noexcept : id_(other.id_), close_(other.close_) { other.id_ = -1; }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

template <typename T>
hid_t native_type();
template <>
hid_t native_type<std::int32_t>() {
  return H5T_NATIVE_INT32;
}
template <>
hid_t native_type<std::int64_t>() {
  return H5T_NATIVE_INT64;
}
template <>
hid_t native_type<std::uint8_t>() {
  return H5T_NATIVE_UINT8;
}
template <>
hid_t native_type<float>() {
  return H5T_NATIVE_FLOAT;
}

// Fixed-width UTF-8 strings of `width` bytes, NUL-padded (h5py: `.asstr()` on datasets,
// bytes for attributes). Not variable-length: those live in HDF5's global heap, whose
// records carry no checksum, and libhdf5 crashes reading a corrupted one.
hid_t new_utf8_string_type(std::size_t width) {
  const hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, std::max<std::size_t>(width, 1));
  H5Tset_strpad(type, H5T_STR_NULLPAD);
  H5Tset_cset(type, H5T_CSET_UTF8);
  return type;
}

// The fixed width of a stored string type; an InputError naming `where` for anything else
// (variable-length strings are what earlier hrere versions wrote).
std::size_t fixed_string_width(hid_t type, const std::string& where) {
  if (H5Tget_class(type) != H5T_STRING) throw InputError(where + ": expected strings");
  if (H5Tis_variable_str(type) > 0) {
    throw InputError(where +
                     ": variable-length strings, as hrere wrote before its HDF5 files carried "
                     "checksums; prepare, pretrain or export again with this build");
  }
  return H5Tget_size(type);
}

// The strings of `count` fixed-width fields, each cut at its first NUL.
std::vector<std::string> split_fixed(const std::vector<char>& bytes, std::size_t width,
                                     std::size_t count) {
  std::vector<std::string> out;
  out.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    const char* field = bytes.data() + i * width;
    out.emplace_back(field, strnlen(field, width));
  }
  return out;
}

void check(herr_t status, const std::string& what) {
  if (status < 0) throw std::runtime_error("HDF5: " + what + " failed");
}

// Why the last HDF5 call failed, as the system said it ("No space left on device"), taken
// from the innermost entry of HDF5's error stack. Call under the HDF5 lock, right after the
// failing call.
std::string hdf5_reason() {
  std::string innermost;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_UPWARD,
      [](unsigned depth, const H5E_error2_t* error, void* out) -> herr_t {
        if (depth == 0 && error->desc) *static_cast<std::string*>(out) = error->desc;
        return 0;
      },
      &innermost);
  // System call failures read "... errno = 28, error message = 'No space left on device', ...".
  const std::string marker = "error message = '";
  const std::size_t begin = innermost.find(marker);
  if (begin != std::string::npos) {
    const std::size_t from = begin + marker.size();
    return innermost.substr(from, innermost.find('\'', from) - from);
  }
  return innermost.empty() ? "HDF5 gave no reason" : innermost;
}

// A failed write into the file at `where`: what could not be written and why.
void check_write(herr_t status, const std::string& what) {
  if (status < 0) throw OutputError(what + ": cannot write (" + hdf5_reason() + ")");
}

// Chunks of `chunk_rows` rows (whole trailing dimensions) on a non-empty dataset; returns
// whether it set them (an empty dataset stays contiguous).
bool set_row_chunks(hid_t create_props, const std::vector<hsize_t>& shape, std::uint64_t chunk_rows,
                    const std::string& where) {
  if (shape.empty() || shape[0] == 0) return false;
  std::vector<hsize_t> chunk = shape;
  chunk[0] = std::max<hsize_t>(1, std::min<hsize_t>(chunk_rows, shape[0]));
  for (std::size_t d = 1; d < chunk.size(); ++d) chunk[d] = std::max<hsize_t>(1, chunk[d]);
  check(H5Pset_chunk(create_props, static_cast<int>(chunk.size()), chunk.data()),
        "chunk layout of " + where);
  return true;
}

// Selects rows [start, start + count) of a dataset's `file_space` (out_of_range naming
// `where` past its end) and returns the selection's extent, the shape of the memory side.
std::vector<hsize_t> select_rows(hid_t file_space, std::uint64_t start, std::uint64_t count,
                                 const std::string& where) {
  std::vector<hsize_t> extent(std::max(H5Sget_simple_extent_ndims(file_space), 0));
  H5Sget_simple_extent_dims(file_space, extent.data(), nullptr);
  if (extent.empty() || start + count > extent[0]) {
    throw std::out_of_range(where + ": rows " + std::to_string(start) + "+" +
                            std::to_string(count) + " out of range");
  }
  std::vector<hsize_t> offset(extent.size(), 0);
  offset[0] = start;
  extent[0] = count;
  check(H5Sselect_hyperslab(file_space, H5S_SELECT_SET, offset.data(), nullptr, extent.data(),
                            nullptr),
        "selecting rows of " + where);
  return extent;
}

}  // namespace

Hdf5File Hdf5File::create(const std::string& path) {
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  quiet_hdf5();
  // The 1.10 file format checksums its superblock, object headers and chunk indexes, so damage
  // is an error instead of a wild read or a chunk read unfiltered (h5py and any HDF5 since
  // 1.10 read it).
  Handle access(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  check(H5Pset_libver_bounds(access.get(), H5F_LIBVER_V110, H5F_LIBVER_LATEST),
        "file format bounds of " + path);
  const hid_t id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, access.get());
  if (id < 0) throw OutputError(path + ": cannot create HDF5 file (" + hdf5_reason() + ")");
  return Hdf5File(path, id);
}

Hdf5File Hdf5File::open(const std::string& path) {
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  quiet_hdf5();
  if (!std::ifstream(path)) throw InputError(path + ": cannot open file for reading");
  if (H5Fis_hdf5(path.c_str()) <= 0) {
    throw InputError(path + ": not an HDF5 file (truncated, or another format)");
  }
  const hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (id < 0) throw InputError(path + ": cannot open HDF5 file (truncated or corrupt?)");
  return Hdf5File(path, id);
}

Hdf5File::Hdf5File(Hdf5File&& other) noexcept : path_(std::move(other.path_)), id_(other.id_) {
  other.id_ = -1;
}

Hdf5File& Hdf5File::operator=(Hdf5File&& other) noexcept {
  std::swap(path_, other.path_);
  std::swap(id_, other.id_);
  return *this;
}

Hdf5File::~Hdf5File() {
  if (id_ < 0) return;
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  H5Fclose(id_);
}

void Hdf5File::close() {
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  const hid_t id = std::exchange(id_, -1);
  // Flush first: H5Fclose may leave a file open when it fails, the flush reports why.
  const herr_t flushed = H5Fflush(id, H5F_SCOPE_LOCAL);
  const std::string reason = flushed < 0 ? hdf5_reason() : "";
  const herr_t closed = H5Fclose(id);
  if (flushed < 0 || closed < 0)
    throw OutputError(path_ + ": cannot finish writing (" + (flushed < 0 ? reason : hdf5_reason()) +
                      ")");
}

std::string Hdf5File::where(const std::string& name) const { return path_ + ":/" + name; }

bool Hdf5File::exists(const std::string& name) const {
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  // Check each path component: H5Lexists fails on a missing intermediate group.
  std::size_t pos = 0;
  while (true) {
    pos = name.find('/', pos + 1);
    const std::string prefix = name.substr(0, pos);
    if (H5Lexists(id_, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    if (pos == std::string::npos) return true;
  }
}

namespace {

// A new dataset of `dims` (parent groups created as needed), chunked by rows where
// `chunk_rows` asks for it and, with `compress`, shuffled and deflated. Call under the
// HDF5 lock.
Handle create_rows_dataset(hid_t file, const std::string& name, const std::string& where,
                           hid_t type, const std::vector<std::uint64_t>& dims,
                           std::uint64_t chunk_rows, bool compress) {
  std::vector<hsize_t> shape(dims.begin(), dims.end());
  Handle space(H5Screate_simple(static_cast<int>(shape.size()), shape.data(), nullptr), H5Sclose);
  Handle link_props(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(link_props.get(), 1);
  Handle create_props(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  if (set_row_chunks(create_props.get(), shape, chunk_rows, where)) {
    if (compress) {
      H5Pset_shuffle(create_props.get());
      H5Pset_deflate(create_props.get(), 4);
    }
    H5Pset_fletcher32(create_props.get());  // last: a checksum of the stored chunk
  }
  Handle dataset(H5Dcreate2(file, name.c_str(), type, space.get(), link_props.get(),
                            create_props.get(), H5P_DEFAULT),
                 H5Dclose);
  if (!dataset.ok()) check_write(-1, where);
  return dataset;
}

}  // namespace

template <typename T>
void Hdf5File::write(const std::string& name, const std::vector<std::uint64_t>& dims, const T* data,
                     std::uint64_t chunk_rows) {
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  const Handle dataset =
      create_rows_dataset(id_, name, where(name), native_type<T>(), dims, chunk_rows, true);
  std::uint64_t values = 1;
  for (std::uint64_t d : dims) values *= d;
  if (values > 0) {
    check_write(H5Dwrite(dataset.get(), native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, data),
                where(name));
  }
}

template <typename T>
void Hdf5File::create_dataset(const std::string& name, const std::vector<std::uint64_t>& dims,
                              std::uint64_t chunk_rows) {
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  create_rows_dataset(id_, name, where(name), native_type<T>(), dims, chunk_rows, false);
}

template <typename T>
void Hdf5File::write_rows(const std::string& name, std::uint64_t start, std::uint64_t count,
                          const T* data) {
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  Handle dataset(H5Dopen2(id_, name.c_str(), H5P_DEFAULT), H5Dclose);
  if (!dataset.ok()) throw std::runtime_error("HDF5: no dataset " + where(name) + " to write");
  Handle file_space(H5Dget_space(dataset.get()), H5Sclose);
  const std::vector<hsize_t> extent = select_rows(file_space.get(), start, count, where(name));
  if (count == 0) return;
  Handle memory_space(H5Screate_simple(static_cast<int>(extent.size()), extent.data(), nullptr),
                      H5Sclose);
  check_write(H5Dwrite(dataset.get(), native_type<T>(), memory_space.get(), file_space.get(),
                       H5P_DEFAULT, data),
              where(name));
}

template <typename T>
void Hdf5File::create_growing(const std::string& name, const std::vector<std::uint64_t>& row_dims,
                              std::uint64_t chunk_rows) {
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  std::vector<hsize_t> shape{0}, max_shape{H5S_UNLIMITED}, chunk{std::max<hsize_t>(1, chunk_rows)};
  for (const std::uint64_t d : row_dims) {
    shape.push_back(d);
    max_shape.push_back(d);
    chunk.push_back(std::max<hsize_t>(1, d));
  }
  Handle space(H5Screate_simple(static_cast<int>(shape.size()), shape.data(), max_shape.data()),
               H5Sclose);
  Handle link_props(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(link_props.get(), 1);
  Handle create_props(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  check(H5Pset_chunk(create_props.get(), static_cast<int>(chunk.size()), chunk.data()),
        "chunk layout of " + where(name));
  H5Pset_shuffle(create_props.get());
  H5Pset_deflate(create_props.get(), 4);
  H5Pset_fletcher32(create_props.get());
  Handle dataset(H5Dcreate2(id_, name.c_str(), native_type<T>(), space.get(), link_props.get(),
                            create_props.get(), H5P_DEFAULT),
                 H5Dclose);
  if (!dataset.ok()) check_write(-1, where(name));
}

template <typename T>
void Hdf5File::append_rows(const std::string& name, std::uint64_t count, const T* data) {
  std::uint64_t start = 0;
  {
    std::lock_guard<std::mutex> lock(hdf5_mutex());
    Handle dataset(H5Dopen2(id_, name.c_str(), H5P_DEFAULT), H5Dclose);
    if (!dataset.ok())
      throw std::runtime_error("HDF5: no dataset " + where(name) + " to append to");
    Handle space(H5Dget_space(dataset.get()), H5Sclose);
    std::vector<hsize_t> shape(std::max(H5Sget_simple_extent_ndims(space.get()), 1));
    H5Sget_simple_extent_dims(space.get(), shape.data(), nullptr);
    start = shape[0];
    shape[0] += count;
    check_write(H5Dset_extent(dataset.get(), shape.data()), where(name));
  }
  write_rows(name, start, count, data);
}

void Hdf5File::create_virtual_float_rows(const std::string& name,
                                         const std::vector<std::uint64_t>& dims,
                                         const std::vector<VirtualRows>& sources) {
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  if (dims.size() != 2) throw std::logic_error("create_virtual_float_rows: 2-D only");
  const hsize_t shape[2] = {dims[0], dims[1]};
  Handle space(H5Screate_simple(2, shape, nullptr), H5Sclose);
  Handle create_props(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  const float fill = std::numeric_limits<float>::quiet_NaN();
  check(H5Pset_fill_value(create_props.get(), H5T_NATIVE_FLOAT, &fill),
        "fill value of " + where(name));
  for (const VirtualRows& source : sources) {
    if (source.rows == 0) continue;
    const hsize_t start[2] = {source.first_row, 0};
    const hsize_t stride[2] = {source.stride, 1};
    const hsize_t count[2] = {source.rows, 1};
    const hsize_t block[2] = {1, dims[1]};
    Handle target(H5Scopy(space.get()), H5Sclose);
    check(H5Sselect_hyperslab(target.get(), H5S_SELECT_SET, start, stride, count, block),
          "virtual rows of " + where(name));
    const hsize_t source_shape[2] = {source.rows, dims[1]};
    Handle source_space(H5Screate_simple(2, source_shape, nullptr), H5Sclose);
    check(H5Pset_virtual(create_props.get(), target.get(), source.file.c_str(),
                         source.dataset.c_str(), source_space.get()),
          "mapping " + source.file + " into " + where(name));
  }
  Handle dataset(H5Dcreate2(id_, name.c_str(), H5T_NATIVE_FLOAT, space.get(), H5P_DEFAULT,
                            create_props.get(), H5P_DEFAULT),
                 H5Dclose);
  if (!dataset.ok()) check_write(-1, where(name));
}

std::vector<std::uint64_t> Hdf5File::dims(const std::string& name) const {
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  Handle dataset(H5Dopen2(id_, name.c_str(), H5P_DEFAULT), H5Dclose);
  if (!dataset.ok()) throw InputError(where(name) + ": dataset missing");
  Handle space(H5Dget_space(dataset.get()), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  std::vector<hsize_t> shape(std::max(rank, 0));
  H5Sget_simple_extent_dims(space.get(), shape.data(), nullptr);
  return std::vector<std::uint64_t>(shape.begin(), shape.end());
}

std::uint64_t Hdf5File::chunk_rows(const std::string& name) const {
  const std::vector<std::uint64_t> shape = dims(name);
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  Handle dataset(H5Dopen2(id_, name.c_str(), H5P_DEFAULT), H5Dclose);
  Handle props(H5Dget_create_plist(dataset.get()), H5Pclose);
  if (H5Pget_layout(props.get()) != H5D_CHUNKED || shape.empty()) {
    return shape.empty() ? 1 : std::max<std::uint64_t>(1, shape[0]);
  }
  std::vector<hsize_t> chunk(shape.size());
  H5Pget_chunk(props.get(), static_cast<int>(chunk.size()), chunk.data());
  return chunk[0];
}

template <typename T>
std::vector<T> Hdf5File::read(const std::string& name) const {
  const std::vector<std::uint64_t> shape = dims(name);
  std::uint64_t rows = shape.empty() ? 1 : shape[0];
  std::uint64_t row_size = 1;
  for (std::size_t d = 1; d < shape.size(); ++d) row_size *= shape[d];
  std::vector<T> out(rows * row_size);
  if (!out.empty()) read_rows(name, 0, rows, out.data());
  return out;
}

template <typename T>
void Hdf5File::read_rows(const std::string& name, std::uint64_t start, std::uint64_t count,
                         T* out) const {
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  Handle dataset(H5Dopen2(id_, name.c_str(), H5P_DEFAULT), H5Dclose);
  if (!dataset.ok()) throw InputError(where(name) + ": dataset missing");
  Handle type(H5Dget_type(dataset.get()), H5Tclose);
  if (H5Tget_class(type.get()) != H5Tget_class(native_type<T>()) ||
      H5Tget_size(type.get()) != sizeof(T)) {
    throw InputError(where(name) + ": unexpected element type");
  }
  Handle file_space(H5Dget_space(dataset.get()), H5Sclose);
  const std::vector<hsize_t> extent = select_rows(file_space.get(), start, count, where(name));
  Handle memory_space(H5Screate_simple(static_cast<int>(extent.size()), extent.data(), nullptr),
                      H5Sclose);
  if (H5Dread(dataset.get(), native_type<T>(), memory_space.get(), file_space.get(), H5P_DEFAULT,
              out) < 0) {
    throw InputError(where(name) + ": read failed (truncated or corrupt file?)");
  }
}

void Hdf5File::write_strings(const std::string& name, const std::vector<std::string>& values) {
  write_strings(name, strings_of(values));
}

void Hdf5File::write_strings(const std::string& name, const StringList& values) {
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  std::size_t width = 1;
  for (std::uint64_t i = 0; i < values.size; ++i) width = std::max(width, values.at(i).size());
  Handle type(new_utf8_string_type(width), H5Tclose);
  // Chunks of about 1 MiB, compressed (the padding costs nothing on disk) and checksummed.
  const Handle dataset = create_rows_dataset(id_, name, where(name), type.get(), {values.size},
                                             std::max<std::size_t>(1, (1 << 20) / width), true);
  constexpr std::uint64_t kBlock = 1 << 20;
  std::vector<char> bytes;
  for (std::uint64_t start = 0; start < values.size; start += kBlock) {
    const std::uint64_t count = std::min(kBlock, values.size - start);
    bytes.assign(count * width, '\0');
    for (std::uint64_t i = 0; i < count; ++i) {
      const std::string_view value = values.at(start + i);
      std::copy(value.begin(), value.end(), bytes.begin() + i * width);
    }
    Handle file_space(H5Dget_space(dataset.get()), H5Sclose);
    const std::vector<hsize_t> extent = select_rows(file_space.get(), start, count, where(name));
    Handle memory_space(H5Screate_simple(1, extent.data(), nullptr), H5Sclose);
    check_write(H5Dwrite(dataset.get(), type.get(), memory_space.get(), file_space.get(),
                         H5P_DEFAULT, bytes.data()),
                where(name));
  }
}

void Hdf5File::copy_dataset(const Hdf5File& source, const std::string& name) {
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  if (H5Lexists(source.id_, name.c_str(), H5P_DEFAULT) <= 0) {
    throw InputError(source.where(name) + ": dataset missing");
  }
  Handle link_props(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(link_props.get(), 1);
  check_write(H5Ocopy(source.id_, name.c_str(), id_, name.c_str(), H5P_DEFAULT, link_props.get()),
              where(name));
}

std::vector<std::string> Hdf5File::read_strings(const std::string& name) const {
  const std::vector<std::uint64_t> extent = dims(name);
  if (extent.size() != 1) throw InputError(where(name) + ": expected a table of strings");
  return read_strings(name, 0, extent[0]);
}

std::vector<std::string> Hdf5File::read_strings(const std::string& name, std::uint64_t start,
                                                std::uint64_t count) const {
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  Handle dataset(H5Dopen2(id_, name.c_str(), H5P_DEFAULT), H5Dclose);
  if (!dataset.ok()) throw InputError(where(name) + ": dataset missing");
  Handle stored_type(H5Dget_type(dataset.get()), H5Tclose);
  const std::size_t width = fixed_string_width(stored_type.get(), where(name));
  Handle file_space(H5Dget_space(dataset.get()), H5Sclose);
  if (H5Sget_simple_extent_ndims(file_space.get()) != 1) {
    throw InputError(where(name) + ": expected a table of strings");
  }
  const std::vector<hsize_t> extent = select_rows(file_space.get(), start, count, where(name));
  std::vector<char> bytes(count * width);
  if (count > 0) {
    Handle memory_space(H5Screate_simple(1, extent.data(), nullptr), H5Sclose);
    // Read as stored (ASCII or UTF-8, NUL-padded or -terminated, as h5py may also write).
    if (H5Dread(dataset.get(), stored_type.get(), memory_space.get(), file_space.get(), H5P_DEFAULT,
                bytes.data()) < 0) {
      throw InputError(where(name) + ": read failed (truncated or corrupt file?)");
    }
  }
  return split_fixed(bytes, width, count);
}

void Hdf5File::set_attribute(const std::string& name, const std::string& value) {
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  Handle type(new_utf8_string_type(value.size()), H5Tclose);
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle attribute(H5Acreate2(id_, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
                   H5Aclose);
  if (!attribute.ok()) check_write(-1, where(name));
  std::vector<char> bytes(std::max<std::size_t>(value.size(), 1), '\0');
  std::copy(value.begin(), value.end(), bytes.begin());
  check_write(H5Awrite(attribute.get(), type.get(), bytes.data()), where(name));
}

void Hdf5File::set_attribute(const std::string& name, std::int64_t value) {
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle attribute(
      H5Acreate2(id_, name.c_str(), H5T_NATIVE_INT64, space.get(), H5P_DEFAULT, H5P_DEFAULT),
      H5Aclose);
  if (!attribute.ok()) check_write(-1, where(name));
  check_write(H5Awrite(attribute.get(), H5T_NATIVE_INT64, &value), where(name));
}

std::optional<std::string> Hdf5File::string_attribute(const std::string& name) const {
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  if (H5Aexists(id_, name.c_str()) <= 0) return std::nullopt;
  Handle attribute(H5Aopen(id_, name.c_str(), H5P_DEFAULT), H5Aclose);
  if (!attribute.ok()) throw InputError(where(name) + ": unreadable attribute (corrupt file?)");
  Handle stored(H5Aget_type(attribute.get()), H5Tclose);
  if (H5Tget_class(stored.get()) != H5T_STRING) return std::nullopt;
  const std::size_t width = fixed_string_width(stored.get(), where(name));
  Handle space(H5Aget_space(attribute.get()), H5Sclose);
  if (H5Sget_simple_extent_npoints(space.get()) != 1) return std::nullopt;
  std::vector<char> bytes(width);
  if (H5Aread(attribute.get(), stored.get(), bytes.data()) < 0) {
    throw InputError(where(name) + ": unreadable attribute (corrupt file?)");
  }
  return split_fixed(bytes, width, 1).front();
}

std::optional<std::int64_t> Hdf5File::int_attribute(const std::string& name) const {
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  if (H5Aexists(id_, name.c_str()) <= 0) return std::nullopt;
  Handle attribute(H5Aopen(id_, name.c_str(), H5P_DEFAULT), H5Aclose);
  Handle type(H5Aget_type(attribute.get()), H5Tclose);
  if (H5Tget_class(type.get()) != H5T_INTEGER) return std::nullopt;
  std::int64_t value = 0;
  if (H5Aread(attribute.get(), H5T_NATIVE_INT64, &value) < 0) return std::nullopt;
  return value;
}

void write_schema(Hdf5File& file, const std::string& format, std::int64_t version) {
  file.set_attribute("format", format);
  file.set_attribute("version", version);
}

void require_schema(const Hdf5File& file, const std::string& format, std::int64_t version) {
  const std::optional<std::string> found = file.string_attribute("format");
  if (found != format) {
    throw InputError(file.path() + ": not an " + format + " file (format attribute is " +
                     (found ? "'" + *found + "'" : std::string("missing")) + ")");
  }
  const std::optional<std::int64_t> found_version = file.int_attribute("version");
  if (!found_version)
    throw InputError(file.path() + ": " + format + " without a version attribute");
  if (*found_version > version) {
    throw InputError(file.path() + ": " + format + " version " + std::to_string(*found_version) +
                     " is newer than this build reads (" + std::to_string(version) +
                     "); upgrade hrere");
  }
  if (*found_version < version) {
    throw InputError(file.path() + ": " + format + " version " + std::to_string(*found_version) +
                     " is older than this build reads (" + std::to_string(version) +
                     "); re-run hrere prepare");
  }
}

#define HRERE_HDF5_INSTANTIATE(T)                                                                  \
  template void Hdf5File::write<T>(const std::string&, const std::vector<std::uint64_t>&,          \
                                   const T*, std::uint64_t);                                       \
  template std::vector<T> Hdf5File::read<T>(const std::string&) const;                             \
  template void Hdf5File::read_rows<T>(const std::string&, std::uint64_t, std::uint64_t, T*)       \
      const;                                                                                       \
  template void Hdf5File::create_dataset<T>(const std::string&, const std::vector<std::uint64_t>&, \
                                            std::uint64_t);                                        \
  template void Hdf5File::write_rows<T>(const std::string&, std::uint64_t, std::uint64_t,          \
                                        const T*);                                                 \
  template void Hdf5File::create_growing<T>(const std::string&, const std::vector<std::uint64_t>&, \
                                            std::uint64_t);                                        \
  template void Hdf5File::append_rows<T>(const std::string&, std::uint64_t, const T*);
HRERE_HDF5_INSTANTIATE(std::int32_t)
HRERE_HDF5_INSTANTIATE(std::int64_t)
HRERE_HDF5_INSTANTIATE(std::uint8_t)
HRERE_HDF5_INSTANTIATE(float)
#undef HRERE_HDF5_INSTANTIATE

}  // namespace hrere::data
