#include "security/row_crypto.h"

#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <sodium.h>

#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace ternion::security {
namespace {

unsigned char* Allocate(size_t n) {
  static const bool ok = sodium_init() >= 0;
  if (!ok) std::abort();  // no libsodium: no safe place for a key
  // sodium_malloc(0) may return null; one byte keeps every SecretBytes backed.
  auto* p = static_cast<unsigned char*>(sodium_malloc(n == 0 ? 1 : n));
  if (p == nullptr) std::abort();  // out of memory
  std::memset(p, 0, n == 0 ? 1 : n);
  return p;
}

absl::Status OpenSslError(const char* what) {
  return absl::InternalError(absl::StrCat("OpenSSL: ", what, " failed"));
}

// OpenSSL takes lengths as int.
bool FitsInt(size_t n) { return n <= static_cast<size_t>(INT32_MAX) - AesGcm::kTagBytes; }

const unsigned char* Bytes(absl::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

SecretBytes::SecretBytes(size_t n) : data_(Allocate(n)), size_(n) {}

SecretBytes SecretBytes::Copy(absl::string_view bytes) {
  SecretBytes out(bytes.size());
  if (!bytes.empty()) std::memcpy(out.data_, bytes.data(), bytes.size());
  return out;
}

SecretBytes SecretBytes::Random(size_t n) {
  SecretBytes out(n);
  randombytes_buf(out.data_, n);
  return out;
}

void Wipe(std::string* s) { sodium_memzero(s->data(), s->size()); }

SecretBytes::SecretBytes(SecretBytes&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) sodium_free(data_);  // zeroes before it frees
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

SecretBytes::~SecretBytes() {
  if (data_ != nullptr) sodium_free(data_);
}

absl::StatusOr<SecretBytes> HkdfSha512(const SecretBytes& key, absl::string_view salt,
                                       absl::string_view info, size_t length) {
  if (length == 0 || length > 255 * 64) {
    return absl::InvalidArgumentError("HKDF-SHA-512 derives 1 to 16,320 bytes");
  }
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  if (kdf == nullptr) return OpenSslError("EVP_KDF_fetch(HKDF)");
  EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(kdf);
  EVP_KDF_free(kdf);
  if (ctx == nullptr) return OpenSslError("EVP_KDF_CTX_new");
  char digest[] = "SHA512";
  // OpenSSL's parameter API takes non-const pointers; it does not write through them.
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<unsigned char*>(key.data()),
                                        key.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<char*>(salt.data()),
                                        salt.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<char*>(info.data()),
                                        info.size()),
      OSSL_PARAM_construct_end()};
  SecretBytes out(length);
  const int ok = EVP_KDF_derive(ctx, out.data(), out.size(), params);
  EVP_KDF_CTX_free(ctx);
  if (ok <= 0) return OpenSslError("EVP_KDF_derive(HKDF-SHA-512)");
  return out;
}

absl::StatusOr<AesGcm> AesGcm::New(const SecretBytes& key) {
  if (key.size() != kKeyBytes) {
    return absl::InvalidArgumentError("an AES-256-GCM key is 32 bytes");
  }
  AesGcm g;
  g.encrypt_.reset(EVP_CIPHER_CTX_new());
  g.decrypt_.reset(EVP_CIPHER_CTX_new());
  if (g.encrypt_ == nullptr || g.decrypt_ == nullptr) return OpenSslError("EVP_CIPHER_CTX_new");
  // The cipher and key are set once; each call sets only its nonce.
  if (EVP_EncryptInit_ex(g.encrypt_.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(g.encrypt_.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceBytes, nullptr) != 1 ||
      EVP_EncryptInit_ex(g.encrypt_.get(), nullptr, nullptr, key.data(), nullptr) != 1 ||
      EVP_DecryptInit_ex(g.decrypt_.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(g.decrypt_.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceBytes, nullptr) != 1 ||
      EVP_DecryptInit_ex(g.decrypt_.get(), nullptr, nullptr, key.data(), nullptr) != 1) {
    return OpenSslError("AES-256-GCM set-up");
  }
  return g;
}

absl::Status AesGcm::Seal(absl::string_view nonce, absl::string_view aad,
                          absl::string_view plaintext, std::string* out) {
  if (nonce.size() != kNonceBytes) return absl::InvalidArgumentError("a nonce is 12 bytes");
  if (!FitsInt(plaintext.size()) || !FitsInt(aad.size())) {
    return absl::InvalidArgumentError("AES-256-GCM input over 2 GiB");
  }
  EVP_CIPHER_CTX* c = encrypt_.get();
  const size_t start = out->size();
  out->resize(start + plaintext.size() + kTagBytes);
  auto* dst = reinterpret_cast<unsigned char*>(out->data() + start);
  int n = 0;
  int tail = 0;
  if (EVP_EncryptInit_ex(c, nullptr, nullptr, nullptr, Bytes(nonce)) != 1 ||
      (!aad.empty() &&
       EVP_EncryptUpdate(c, nullptr, &n, Bytes(aad), static_cast<int>(aad.size())) != 1) ||
      EVP_EncryptUpdate(c, dst, &n, Bytes(plaintext), static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(c, dst + n, &tail) != 1 ||
      EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, kTagBytes, dst + plaintext.size()) != 1) {
    out->resize(start);
    return OpenSslError("AES-256-GCM encryption");
  }
  return absl::OkStatus();
}

absl::Status AesGcm::Open(absl::string_view nonce, absl::string_view aad, absl::string_view sealed,
                          std::string* out) {
  if (nonce.size() != kNonceBytes) return absl::InvalidArgumentError("a nonce is 12 bytes");
  if (sealed.size() < kTagBytes) {
    return absl::DataLossError("authentication failed: the sealed bytes are shorter than a tag");
  }
  if (!FitsInt(sealed.size()) || !FitsInt(aad.size())) {
    return absl::InvalidArgumentError("AES-256-GCM input over 2 GiB");
  }
  EVP_CIPHER_CTX* c = decrypt_.get();
  const size_t length = sealed.size() - kTagBytes;
  const size_t start = out->size();
  out->resize(start + length);
  auto* dst = reinterpret_cast<unsigned char*>(out->data() + start);
  unsigned char tag[kTagBytes];
  std::memcpy(tag, sealed.data() + length, kTagBytes);
  int n = 0;
  int tail = 0;
  const bool ok = EVP_DecryptInit_ex(c, nullptr, nullptr, nullptr, Bytes(nonce)) == 1 &&
                  (aad.empty() || EVP_DecryptUpdate(c, nullptr, &n, Bytes(aad),
                                                    static_cast<int>(aad.size())) == 1) &&
                  EVP_DecryptUpdate(c, dst, &n, Bytes(sealed), static_cast<int>(length)) == 1 &&
                  EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, kTagBytes, tag) == 1 &&
                  EVP_DecryptFinal_ex(c, dst + n, &tail) > 0;
  if (!ok) {
    // Nothing unauthenticated is ever handed out.
    sodium_memzero(dst, length);
    out->resize(start);
    return absl::DataLossError(
        "authentication failed: the row was altered, moved, or sealed under another key");
  }
  return absl::OkStatus();
}

}  // namespace ternion::security
