#pragma once

// A replica's meta file `<chunk id>.meta` (docs/formats.md): a 40-byte header (magic, chunk id,
// version, durable length, block size, CRC32C of the header) followed by one CRC32C per 64 KiB
// block of the data file. The bytes come from a disk that may be damaged, so parsing trusts
// nothing and has a fuzz target (tests/fuzz/replica_meta_fuzz.cc).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/strings/string_view.h"

namespace ternion::chunkserver {

inline constexpr uint64_t kBlockSize = 64 * 1024;
inline constexpr size_t kMetaHeaderSize = 40;

// The number of blocks (CRCs) covering `length` bytes.
inline uint64_t NumBlocks(uint64_t length) {
  return length / kBlockSize + (length % kBlockSize != 0 ? 1 : 0);
}

// Writes the header of a replica of `chunk_id` at `version` holding `length` durable bytes.
void EncodeMetaHeader(uint64_t chunk_id, uint64_t version, uint64_t length,
                      char out[kMetaHeaderSize]);

struct ReplicaMeta {
  uint64_t version = 0;
  uint64_t length = 0;         // durable bytes
  std::vector<uint32_t> crcs;  // NumBlocks(length) of them
};

// The meta file of `chunk_id`; nullopt when it is damaged: wrong magic, block size or chunk id,
// a header that fails its checksum, or fewer CRCs than the length needs.
std::optional<ReplicaMeta> ParseReplicaMeta(absl::string_view bytes, uint64_t chunk_id);

}  // namespace ternion::chunkserver
