#pragma once

// The building blocks of row encryption (docs/security.md, "Row encryption"): key material held
// in locked memory that is zeroed when freed, HKDF-SHA-512 to derive a table's keys from a
// project's data key, and AES-256-GCM (OpenSSL EVP, AES-NI) with a context reused across rows
// (a context per row is 2-3.5 times slower on this machine). Pure code over bytes; tested
// against published vectors.

#include <openssl/evp.h>

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ternion::security {

// Bytes of key material in memory from libsodium's sodium_malloc: guard pages, locked against
// swapping where RLIMIT_MEMLOCK allows, and zeroed when freed. Move-only, so a key is never
// copied into ordinary memory by accident.
class SecretBytes {
 public:
  // `n` zero bytes.
  explicit SecretBytes(size_t n);
  // A copy of `bytes` (the caller zeroes its own copy, with Wipe).
  static SecretBytes Copy(absl::string_view bytes);
  // `n` bytes from the operating system's cryptographic random source.
  static SecretBytes Random(size_t n);
  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  ~SecretBytes();

  unsigned char* data() { return data_; }
  const unsigned char* data() const { return data_; }
  size_t size() const { return size_; }
  absl::string_view view() const { return {reinterpret_cast<const char*>(data_), size_}; }

 private:
  unsigned char* data_ = nullptr;
  size_t size_ = 0;
};

// Zeroes every byte of `s` in a way the compiler does not optimise away (sodium_memzero).
void Wipe(std::string* s);

// HKDF-SHA-512 (RFC 5869): `length` bytes (at most 255 * 64) from `key` with `salt` and `info`.
absl::StatusOr<SecretBytes> HkdfSha512(const SecretBytes& key, absl::string_view salt,
                                       absl::string_view info, size_t length);

// AES-256-GCM under one key with 12-byte nonces and 16-byte tags. Not thread-safe: one per
// thread (the context is reused from call to call).
class AesGcm {
 public:
  static constexpr size_t kKeyBytes = 32;
  static constexpr size_t kNonceBytes = 12;
  static constexpr size_t kTagBytes = 16;

  // INVALID_ARGUMENT unless `key` is 32 bytes.
  static absl::StatusOr<AesGcm> New(const SecretBytes& key);

  // Appends the ciphertext of `plaintext` and its tag (plaintext.size() + 16 bytes) to `out`,
  // authenticating `aad` with it. A nonce must never repeat under one key.
  absl::Status Seal(absl::string_view nonce, absl::string_view aad, absl::string_view plaintext,
                    std::string* out);
  // Appends the plaintext of `sealed` (ciphertext and tag) to `out`; DATA_LOSS when the
  // ciphertext, the tag, the nonce or `aad` is not what was sealed (nothing is appended then).
  absl::Status Open(absl::string_view nonce, absl::string_view aad, absl::string_view sealed,
                    std::string* out);

 private:
  struct CtxFree {
    void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
  };
  AesGcm() = default;
  std::unique_ptr<EVP_CIPHER_CTX, CtxFree> encrypt_;
  std::unique_ptr<EVP_CIPHER_CTX, CtxFree> decrypt_;
};

}  // namespace ternion::security
