#include "security/master_key.h"

#include <sodium.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/file_util.h"

namespace ternion::security {
namespace {

void InitSodium() {
  static const bool ok = sodium_init() >= 0;
  if (!ok) std::abort();  // no randomness source: nothing here can be done safely
}

constexpr size_t kNonceBytes = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr size_t kTagBytes = crypto_aead_xchacha20poly1305_ietf_ABYTES;

}  // namespace

std::string SecureRandomBytes(size_t n) {
  InitSodium();
  std::string out(n, '\0');
  randombytes_buf(out.data(), n);
  return out;
}

MasterKey::~MasterKey() { sodium_memzero(key_.data(), key_.size()); }

absl::StatusOr<MasterKey> MasterKey::FromHex(absl::string_view hex) {
  hex = absl::StripAsciiWhitespace(hex);
  if (hex.size() != 64) {
    return absl::InvalidArgumentError("a master key is 64 hex digits (32 bytes)");
  }
  for (char c : hex) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError("a master key is 64 hex digits (32 bytes)");
    }
  }
  MasterKey k;
  std::string bytes = absl::HexStringToBytes(hex);
  std::copy(bytes.begin(), bytes.end(), k.key_.begin());
  sodium_memzero(bytes.data(), bytes.size());
  return k;
}

absl::StatusOr<MasterKey> MasterKey::FromFile(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ErrnoToStatus(errno, absl::StrCat("master key ", path));
  if ((st.st_mode & 077) != 0) {
    return absl::PermissionDeniedError(absl::StrCat(
        "master key file ", path, " is readable or writable by others (mode ",
        absl::StrFormat("%04o", st.st_mode & 07777), "); it must be 0600 (chmod 600 ", path, ")"));
  }
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) return text.status();
  absl::StatusOr<MasterKey> key = FromHex(*text);
  sodium_memzero(text->data(), text->size());
  if (!key.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": ", key.status().message()));
  return key;
}

absl::Status MasterKey::CreateFile(const std::string& path) {
  InitSodium();
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    return absl::AlreadyExistsError(absl::StrCat("master key file ", path, " exists"));
  }
  unsigned char key[32];
  randombytes_buf(key, sizeof(key));
  std::string hex = absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(key), sizeof(key)));
  sodium_memzero(key, sizeof(key));
  absl::Status s = WriteFileAtomically(path, hex + "\n", 0600);
  sodium_memzero(hex.data(), hex.size());
  return s;
}

std::string MasterKey::Wrap(absl::string_view secret, absl::string_view name) const {
  InitSodium();
  std::string out(kNonceBytes + secret.size() + kTagBytes, '\0');
  auto* nonce = reinterpret_cast<unsigned char*>(out.data());
  randombytes_buf(nonce, kNonceBytes);
  unsigned long long len = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      nonce + kNonceBytes, &len, reinterpret_cast<const unsigned char*>(secret.data()),
      secret.size(), reinterpret_cast<const unsigned char*>(name.data()), name.size(), nullptr,
      nonce, key_.data());
  return out;
}

absl::StatusOr<std::string> MasterKey::Unwrap(absl::string_view wrapped,
                                              absl::string_view name) const {
  InitSodium();
  if (wrapped.size() < kNonceBytes + kTagBytes) {
    return absl::DataLossError(absl::StrCat("wrapped secret of ", name, " is truncated"));
  }
  std::string out(wrapped.size() - kNonceBytes - kTagBytes, '\0');
  const auto* nonce = reinterpret_cast<const unsigned char*>(wrapped.data());
  unsigned long long len = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          reinterpret_cast<unsigned char*>(out.data()), &len, nullptr, nonce + kNonceBytes,
          wrapped.size() - kNonceBytes, reinterpret_cast<const unsigned char*>(name.data()),
          name.size(), nonce, key_.data()) != 0) {
    return absl::DataLossError(absl::StrCat(
        "the secret of ", name, " does not unwrap with this master key (wrong key, or altered)"));
  }
  return out;
}

}  // namespace ternion::security
