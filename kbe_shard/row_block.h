#pragma once
// Contiguous row blocks: what each of P ranks reads of a table that no rank holds whole, the
// KB store's triples and name tables (docs/DISTRIBUTED.md, "The KB over ranks").
#include <cstdint>

namespace hrere::kbe {

// Rows [begin, end) of a table.
struct RowBlock {
  std::int64_t begin = 0;
  std::int64_t end = 0;
  std::int64_t size() const { return end - begin; }
};

// The r-th of P contiguous near-equal blocks of `rows` rows.
inline RowBlock row_block(std::int64_t rows, int rank, int size) {
  return {rows * rank / size, rows * (rank + 1) / size};
}

// Rows read at a time: 12 MiB of triples, or a million names.
inline constexpr std::int64_t kSliceRows = std::int64_t{1} << 20;

}  // namespace hrere::kbe
