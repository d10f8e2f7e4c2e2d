#pragma once

// The master key: 32 random bytes that wrap every secret the master keeps at rest (AccessKey
// secrets, the chunk-token signing key, later the projects' data keys), as a KMS's root key
// wraps data keys. It lives outside the metadata (a 0600 file or an environment variable), so a
// copy of the master's RocksDB or of a backup holds no usable secret.
//
// Wrapping is XChaCha20-Poly1305 (libsodium) with a random 24-byte nonce and the secret's name
// as associated data: a wrapped secret moved to another record, or altered, does not unwrap.

#include <array>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ternion::security {

// `n` bytes from the operating system's cryptographic random source (libsodium).
std::string SecureRandomBytes(size_t n);

class MasterKey {
 public:
  // The key in `path`: 64 hex digits (and an optional newline). Refused when the file can be
  // read or written by anyone but its owner (mode & 077), or is not exactly one key.
  static absl::StatusOr<MasterKey> FromFile(const std::string& path);
  // The key from its 64 hex digits (the TERNION_MASTER_KEY environment variable).
  static absl::StatusOr<MasterKey> FromHex(absl::string_view hex);
  // Writes a new random key to `path` (mode 0600); ALREADY_EXISTS when the file exists, so a
  // key is never replaced by accident (that would make every wrapped secret unreadable).
  static absl::Status CreateFile(const std::string& path);

  // `secret` wrapped for the record named `name`: nonce (24 bytes) | ciphertext | tag (16).
  std::string Wrap(absl::string_view secret, absl::string_view name) const;
  // The secret; DATA_LOSS when `wrapped` was not made by this key for `name`.
  absl::StatusOr<std::string> Unwrap(absl::string_view wrapped, absl::string_view name) const;

  MasterKey(const MasterKey&) = default;
  MasterKey& operator=(const MasterKey&) = default;
  ~MasterKey();

 private:
  MasterKey() = default;
  std::array<unsigned char, 32> key_{};
};

}  // namespace ternion::security
