#pragma once

// CRC32C (Castagnoli), the checksum of every chunk block and every data frame on the wire.
// Backed by ISA-L's hardware-accelerated crc32_iscsi.

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"

namespace ternion {

// Returns the CRC32C of data[0, n) continuing from `crc`, the CRC32C of the bytes before it
// (0 for none): Crc32c(a+b) == Crc32cExtend(Crc32c(a), b).
uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t n);

inline uint32_t Crc32c(const void* data, size_t n) { return Crc32cExtend(0, data, n); }
inline uint32_t Crc32c(absl::string_view s) { return Crc32c(s.data(), s.size()); }

}  // namespace ternion
