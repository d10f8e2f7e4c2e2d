// Fuzzes the replica meta-file parser (chunkserver/replica_meta.h): a chunkserver reads these
// files back from disks that may be damaged. A meta file that parses must carry the header the
// encoder writes for what was parsed, and exactly as many CRCs as its length needs.

#include <cstdint>
#include <cstring>
#include <string>

#include "chunkserver/replica_meta.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ternion::chunkserver;
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  // The chunk id the file claims (so that well-formed inputs can parse), and another one.
  uint64_t id = 0;
  if (size >= 16) std::memcpy(&id, data + 8, 8);
  if (ParseReplicaMeta(bytes, id + 1).has_value()) __builtin_trap();
  std::optional<ReplicaMeta> meta = ParseReplicaMeta(bytes, id);
  if (!meta.has_value()) return 0;
  char header[kMetaHeaderSize];
  EncodeMetaHeader(id, meta->version, meta->length, header);
  if (std::memcmp(header, data, kMetaHeaderSize) != 0) __builtin_trap();
  if (meta->crcs.size() != NumBlocks(meta->length)) __builtin_trap();
  return 0;
}
