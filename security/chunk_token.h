#pragma once

// Chunk tokens (docs/security.md): the master's Ed25519 signature (libsodium) over what one
// client may do to one chunk: the project, the chunk id and version, the mode (read, write,
// replicate), an expiry, and the client address the master saw (empty: any). Chunkservers hold
// only the master's public key; they verify the token of every data call and refuse a call
// whose chunk, version, mode or peer address the token does not name, so a client that skips
// the library still cannot touch another project's chunks (HDFS's block tokens, signed rather
// than MACed so a chunkserver cannot mint one).
//
// A replicate token also names the servers a copy may read from (CopyChunk's source must be one
// of them: registered servers the master chose, never an address the caller picked). A read
// token may end the readable range: a sealed file's (a snapshot's) last chunk can be shared
// with the live file it was taken from, which appends to that chunk under the same id and
// version; the snapshot's token serves only the bytes the snapshot holds.
//
// Wire form (little-endian): "TCT3" | mode u8 | chunk id u64 | version u64 | read end u64 |
// expiry ms i64 |
// project length u8 | project | address length u8 | address | source count u8 | per source:
// length u8 | host:port | Ed25519 signature (64 bytes) over everything before it.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ternion::security {

// kDelete: the master's command to drop one replica (a chunkserver obeys no unsigned one).
enum class ChunkMode : uint8_t { kRead = 1, kWrite = 2, kReplicate = 3, kDelete = 4 };
const char* ChunkModeName(ChunkMode m);

struct ChunkToken {
  std::string project;
  uint64_t chunk_id = 0;
  uint64_t version = 0;
  ChunkMode mode = ChunkMode::kRead;
  int64_t expires_unix_ms = 0;
  std::string client_address;  // the IP the master saw the client at; empty: any
  std::vector<std::string> copy_sources;  // replicate: the servers (host:port) a copy may read
  // Read: no byte at or past this offset of the chunk is served (kNoReadEnd: none).
  uint64_t read_end = UINT64_MAX;
};
inline constexpr uint64_t kNoReadEnd = UINT64_MAX;

inline constexpr size_t kMaxTokenProjectBytes = 64;
inline constexpr size_t kMaxTokenAddressBytes = 45;  // an IPv6 address in text
inline constexpr size_t kMaxTokenSources = 8;
inline constexpr size_t kMaxTokenSourceBytes = 255;
inline constexpr size_t kMaxTokenBytes = 4 + 1 + 8 + 8 + 8 + 8 + 1 + kMaxTokenProjectBytes + 1 +
                                         kMaxTokenAddressBytes + 1 +
                                         kMaxTokenSources * (1 + kMaxTokenSourceBytes) + 64;

// The master's token key pair.
struct TokenSigningKey {
  std::array<unsigned char, 32> public_key{};
  std::array<unsigned char, 64> secret_key{};
  static TokenSigningKey Generate();
  // The key pair of a persisted secret key (libsodium's 64 bytes: seed and public key).
  static absl::StatusOr<TokenSigningKey> FromSecretKey(absl::string_view secret_key);
};
using TokenPublicKey = std::array<unsigned char, 32>;

// The token's wire form, signed. INVALID_ARGUMENT when a field is out of bounds.
absl::StatusOr<std::string> SignToken(const ChunkToken& token, const TokenSigningKey& key);

// The token in `wire`, when its signature verifies under `key` and it has not expired at
// `now_ms`; UNAUTHENTICATED naming what is wrong otherwise. Reads at most kMaxTokenBytes.
absl::StatusOr<ChunkToken> VerifyToken(absl::string_view wire, const TokenPublicKey& key,
                                       int64_t now_ms);

// Whether a verified token allows `mode` on exactly this chunk and version from `peer_ip`
// (a replicate token allows reading, writing and copying, for a copy; every other token only its
// own mode).
// PERMISSION_DENIED naming the mismatch.
absl::Status TokenAllows(const ChunkToken& token, uint64_t chunk_id, uint64_t version,
                         ChunkMode mode, absl::string_view peer_ip);

// Whether a verified replicate token lets a copy read from `source` (host:port).
// PERMISSION_DENIED naming the source otherwise.
absl::Status TokenAllowsCopyFrom(const ChunkToken& token, absl::string_view source);

// The IP address in a gRPC peer string ("ipv4:127.0.0.1:5000" -> "127.0.0.1", "ipv6:[::1]:5000"
// -> "::1").
std::string PeerIp(absl::string_view grpc_peer);

}  // namespace ternion::security
