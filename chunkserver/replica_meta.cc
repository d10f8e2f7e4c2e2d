#include "chunkserver/replica_meta.h"

#include <cstring>

#include "common/crc32c.h"

namespace ternion::chunkserver {
namespace {

constexpr char kMetaMagic[8] = {'T', 'R', 'N', 'M', 'E', 'T', 'A', '1'};
constexpr size_t kHeaderCrcOffset = 36;

void PutU32(char* p, uint32_t v) { std::memcpy(p, &v, 4); }
void PutU64(char* p, uint64_t v) { std::memcpy(p, &v, 8); }
uint32_t GetU32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
uint64_t GetU64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

}  // namespace

void EncodeMetaHeader(uint64_t chunk_id, uint64_t version, uint64_t length,
                      char out[kMetaHeaderSize]) {
  std::memcpy(out, kMetaMagic, 8);
  PutU64(out + 8, chunk_id);
  PutU64(out + 16, version);
  PutU64(out + 24, length);
  PutU32(out + 32, static_cast<uint32_t>(kBlockSize));
  PutU32(out + kHeaderCrcOffset, Crc32c(out, kHeaderCrcOffset));
}

std::optional<ReplicaMeta> ParseReplicaMeta(absl::string_view bytes, uint64_t chunk_id) {
  const char* p = bytes.data();
  if (bytes.size() < kMetaHeaderSize || std::memcmp(p, kMetaMagic, 8) != 0 ||
      GetU32(p + kHeaderCrcOffset) != Crc32c(p, kHeaderCrcOffset) || GetU64(p + 8) != chunk_id ||
      GetU32(p + 32) != kBlockSize) {
    return std::nullopt;
  }
  ReplicaMeta meta;
  meta.version = GetU64(p + 16);
  meta.length = GetU64(p + 24);
  const uint64_t blocks = NumBlocks(meta.length);
  if ((bytes.size() - kMetaHeaderSize) / 4 < blocks) return std::nullopt;
  meta.crcs.resize(blocks);
  for (uint64_t k = 0; k < blocks; ++k) meta.crcs[k] = GetU32(p + kMetaHeaderSize + 4 * k);
  return meta;
}

}  // namespace ternion::chunkserver
