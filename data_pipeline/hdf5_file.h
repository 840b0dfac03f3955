#pragma once
// A small RAII layer over the HDF5 C API: just what the stores need (chunked, compressed
// datasets of fixed-width numbers, UTF-8 string tables, scalar attributes, row reads).
// Files are written for reading back safely after damage: the 1.10 format's checksummed
// superblock, object headers and chunk indexes, a Fletcher-32 checksum on every chunk
// (verified on every read), and strings of fixed width, never variable-length ones, which HDF5
// keeps in an unchecked global heap that libhdf5 crashes on when corrupted. Every call holds one
// process-wide lock: the Debian HDF5 build is not thread-safe and the loader reads from a prefetch
// thread.
#include <hdf5.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "data_pipeline/string_list.h"

namespace hrere::data {

class Hdf5File {
 public:
  // Creates (truncating) a file for writing.
  static Hdf5File create(const std::string& path);
  // Opens a file for reading; an InputError names the file if it is missing, truncated or not
  // HDF5.
  static Hdf5File open(const std::string& path);

  Hdf5File(Hdf5File&& other) noexcept;
  Hdf5File& operator=(Hdf5File&& other) noexcept;
  ~Hdf5File();  // closes without a word: on error paths only; a writer calls close()
  // Flushes and closes a file written to: OutputError names the file when what HDF5 still
  // held could not be written (a full disk shows here, after every write call succeeded).
  void close();

  const std::string& path() const { return path_; }
  bool exists(const std::string& name) const;

  // Numeric datasets (int32, int64, uint8, float). Written chunked along dimension 0 with
  // `chunk_rows` rows per chunk, shuffled and deflate-compressed. Intermediate groups are
  // created as needed.
  template <typename T>
  void write(const std::string& name, const std::vector<std::uint64_t>& dims, const T* data,
             std::uint64_t chunk_rows);
  template <typename T>
  std::vector<T> read(const std::string& name) const;
  // A dataset written later, block by block with write_rows (so no copy of the whole table
  // is needed): chunked along dimension 0, uncompressed (float tables barely compress).
  // Intermediate groups are created as needed.
  template <typename T>
  void create_dataset(const std::string& name, const std::vector<std::uint64_t>& dims,
                      std::uint64_t chunk_rows);
  // Rows [start, start + count) of a dataset made by create_dataset, from `data` (row-major).
  template <typename T>
  void write_rows(const std::string& name, std::uint64_t start, std::uint64_t count, const T* data);
  // A dataset of rows of shape `row_dims` that grows with append_rows (starts empty); chunked,
  // shuffled and compressed like write(). Intermediate groups are created as needed.
  template <typename T>
  void create_growing(const std::string& name, const std::vector<std::uint64_t>& row_dims,
                      std::uint64_t chunk_rows);
  template <typename T>
  void append_rows(const std::string& name, std::uint64_t count, const T* data);
  // A float32 virtual dataset of shape `dims` (2-D) whose rows come from other files: row i
  // of `source.dataset` in `source.file` is row first_row + i * stride here. Rows no source
  // covers, or whose file is missing when read, read as NaN (HDF5 reads a missing source
  // as the fill value, and NaN makes that visible).
  struct VirtualRows {
    std::string file;  // relative names resolve against this file's folder
    std::string dataset;
    std::uint64_t first_row = 0;
    std::uint64_t stride = 1;
    std::uint64_t rows = 0;
  };
  void create_virtual_float_rows(const std::string& name, const std::vector<std::uint64_t>& dims,
                                 const std::vector<VirtualRows>& sources);
  // Rows [start, start + count) along dimension 0, into `out` (row-major).
  template <typename T>
  void read_rows(const std::string& name, std::uint64_t start, std::uint64_t count, T* out) const;

  void write_strings(const std::string& name, const std::vector<std::string>& values);
  // The same, a million strings at a time (a first pass over them finds the width).
  void write_strings(const std::string& name, const StringList& values);
  std::vector<std::string> read_strings(const std::string& name) const;
  // Rows [start, start + count) of a 1-D table of strings.
  std::vector<std::string> read_strings(const std::string& name, std::uint64_t start,
                                        std::uint64_t count) const;
  // Copies dataset `name` of `source` (layout, filters and attributes kept) into this file
  // under the same name, chunk by chunk: a table of names moves without being read into
  // strings.
  void copy_dataset(const Hdf5File& source, const std::string& name);

  std::vector<std::uint64_t> dims(const std::string& name) const;
  // Rows per chunk along dimension 0 (the whole extent for a contiguous dataset).
  std::uint64_t chunk_rows(const std::string& name) const;

  // Attributes on the root group.
  void set_attribute(const std::string& name, const std::string& value);
  void set_attribute(const std::string& name, std::int64_t value);
  std::optional<std::string> string_attribute(const std::string& name) const;
  std::optional<std::int64_t> int_attribute(const std::string& name) const;

 private:
  Hdf5File(std::string path, hid_t id) : path_(std::move(path)), id_(id) {}
  std::string where(const std::string& name) const;

  std::string path_;
  hid_t id_ = -1;
};

}  // namespace hrere::data

namespace hrere::data {

// Every store carries `format` and `version` attributes; readers refuse other formats and
// versions with a message that says what to do.
void write_schema(Hdf5File& file, const std::string& format, std::int64_t version);
void require_schema(const Hdf5File& file, const std::string& format, std::int64_t version);

}  // namespace hrere::data
