#pragma once

// The master's RocksDB key layout (docs/formats.md): one prefix per record type, so a prefix
// scan loads each kind of record at start. Shared by the Master's source files only.

#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace ternion::master {

inline constexpr char kProjectPrefix[] = "p/";
inline constexpr char kFilePrefix[] = "f/";
inline constexpr char kChunkPrefix[] = "c/";
inline constexpr char kServerPrefix[] = "s/";
inline constexpr char kRackPrefix[] = "r/";
inline constexpr char kAuditPrefix[] = "a/";
inline constexpr char kNextFileIdKey[] = "n/file";
inline constexpr char kNextChunkIdKey[] = "n/chunk";
inline constexpr char kClusterIdKey[] = "m/cluster_id";
inline constexpr char kTokenKeyKey[] = "m/token_key";  // the token signing key, wrapped
inline constexpr char kReplicationSettingsKey[] = "m/replication";  // ReplicationSettings
inline constexpr char kUnwipedPrefix[] = "u/";  // u/<server id>\0<16 hex chunk id>
inline constexpr char kDataKeyPrefix[] = "d/";  // d/<project>\0<8 hex version>

inline std::string DataKeyKey(const std::string& project, uint32_t version) {
  return absl::StrFormat("%s%s%c%08x", kDataKeyPrefix, project, '\0', version);
}

inline std::string UnwipedKey(const std::string& server_id, uint64_t chunk_id) {
  return absl::StrFormat("%s%s%c%016x", kUnwipedPrefix, server_id, '\0', chunk_id);
}

inline constexpr uint64_t kMinChunkSize = 64 * 1024;
inline constexpr uint64_t kMaxChunkSize = 1ull << 30;

// Files are keyed by project + NUL + path: ordered, so a prefix listing is a range scan.
inline std::string FileKey(const std::string& project, const std::string& path) {
  return absl::StrCat(project, std::string(1, '\0'), path);
}
inline std::string ChunkKey(uint64_t id) { return absl::StrFormat("%s%016x", kChunkPrefix, id); }

}  // namespace ternion::master
