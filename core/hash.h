#pragma once
// 64-bit FNV-1a: a cheap, portable hash for fingerprints that ranks or runs compare (file
// checksums, tensor bytes, shapes, deduplication keys). Not for anything adversarial.
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace hrere::core {

class Fnv1a {
 public:
  // One 64-bit value per round (ids, sizes, 8-byte words of a buffer).
  void add(std::uint64_t value) { hash_ = (hash_ ^ value) * kPrime; }

  // Byte by byte.
  void add_bytes(const void* data, std::size_t size) {
    const auto* bytes = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < size; ++i) add(bytes[i]);
  }

  // Eight bytes per round and the tail byte by byte: the fast form for large buffers.
  void add_words(const void* data, std::size_t size) {
    const auto* bytes = static_cast<const unsigned char*>(data);
    std::size_t i = 0;
    for (; i + 8 <= size; i += 8) {
      std::uint64_t word;
      std::memcpy(&word, bytes + i, 8);
      add(word);
    }
    add_bytes(bytes + i, size - i);
  }

  std::uint64_t value() const { return hash_; }

 private:
  static constexpr std::uint64_t kPrime = 0x100000001b3ULL;
  std::uint64_t hash_ = 0xcbf29ce484222325ULL;  // the FNV-1a offset basis
};

}  // namespace hrere::core
