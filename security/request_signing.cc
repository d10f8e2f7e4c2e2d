#include "security/request_signing.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdlib>

#include "absl/hash/hash.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace ternion::security {
namespace {

std::string Hex(const unsigned char* bytes, size_t n) {
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(bytes), n));
}

bool Printable(absl::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isgraph(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

bool LowerHex(absl::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c)) || absl::ascii_isupper(c)) {
      return false;
    }
  }
  return true;
}

absl::Status Refuse(AuthFailure f, AuthFailure* out, absl::string_view why) {
  if (out != nullptr) *out = f;
  return absl::UnauthenticatedError(why);
}

}  // namespace

std::string HmacSha256Hex(absl::string_view key, absl::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  return Hex(mac, len);
}

std::string Sha256Hex(absl::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return Hex(md, len);
}

std::string CanonicalRequest(absl::string_view method, absl::string_view project,
                             absl::string_view payload, const RequestSignature& sig) {
  return absl::StrCat("TERNION-HMAC-SHA256\n", method, "\n", project, "\n", sig.key_id, "\n",
                      sig.timestamp_ms, "\n", sig.nonce, "\n", Sha256Hex(payload));
}

RequestSignature SignRequest(absl::string_view secret, absl::string_view method,
                             absl::string_view project, absl::string_view payload,
                             std::string key_id, int64_t timestamp_ms, std::string nonce) {
  RequestSignature sig;
  sig.key_id = std::move(key_id);
  sig.timestamp_ms = timestamp_ms;
  sig.nonce = std::move(nonce);
  sig.signature = HmacSha256Hex(secret, CanonicalRequest(method, project, payload, sig));
  return sig;
}

const char* AuthFailureName(AuthFailure f) {
  switch (f) {
    case AuthFailure::kMissing: return "missing";
    case AuthFailure::kMalformed: return "malformed";
    case AuthFailure::kUnknownKey: return "unknown_key";
    case AuthFailure::kDisabledKey: return "disabled_key";
    case AuthFailure::kClockSkew: return "clock_skew";
    case AuthFailure::kReplay: return "replay";
    case AuthFailure::kBadSignature: return "bad_signature";
  }
  return "unknown";
}

bool NonceCache::Record(absl::string_view key_id, absl::string_view nonce, int64_t timestamp_ms) {
  // A replay repeats the signed request whole, timestamp included, so (key, nonce, timestamp)
  // names it, and only the bucket of its timestamp's minute need be looked at.
  const int64_t minute = timestamp_ms / 60000;
  const size_t slot = static_cast<size_t>(((minute % kBuckets) + kBuckets) % kBuckets);
  const uint64_t h = absl::HashOf(key_id, nonce, timestamp_ms);
  absl::MutexLock lock(&mu_);
  if (bucket_minute_[slot] != minute) {  // the slot's previous minute is out of the window
    buckets_[slot].clear();
    bucket_minute_[slot] = minute;
  }
  return buckets_[slot].insert(h).second;
}

size_t NonceCache::size() const {
  absl::MutexLock lock(&mu_);
  size_t n = 0;
  for (const auto& b : buckets_) n += b.size();
  return n;
}

absl::StatusOr<std::optional<RequestSignature>> ParseSignatureHeaders(
    std::optional<absl::string_view> key_id, std::optional<absl::string_view> timestamp_ms,
    std::optional<absl::string_view> nonce, std::optional<absl::string_view> signature) {
  if (!key_id.has_value()) return std::nullopt;
  auto fits = [](const std::optional<absl::string_view>& h) {
    return h.has_value() && h->size() <= kMaxHeaderBytes;
  };
  RequestSignature out;
  if (!fits(key_id) || !fits(timestamp_ms) || !fits(nonce) || !fits(signature) ||
      !absl::SimpleAtoi(*timestamp_ms, &out.timestamp_ms)) {
    return absl::UnauthenticatedError(
        "malformed request signature (key id, timestamp, nonce and signature headers needed)");
  }
  out.key_id = std::string(*key_id);
  out.nonce = std::string(*nonce);
  out.signature = std::string(*signature);
  return out;
}

absl::StatusOr<std::string> RequestVerifier::Verify(const std::optional<RequestSignature>& sig,
                                                    absl::string_view method,
                                                    absl::string_view project,
                                                    absl::string_view payload,
                                                    AuthFailure* failure) {
  if (!sig.has_value()) {
    return Refuse(AuthFailure::kMissing, failure,
                  "the request is not signed (no AccessKey): set a profile or "
                  "TERNION_ACCESS_KEY_ID / TERNION_ACCESS_KEY_SECRET");
  }
  if (sig->key_id.empty() || sig->key_id.size() > kMaxKeyIdBytes || !Printable(sig->key_id) ||
      sig->nonce.size() < kMinNonceBytes || sig->nonce.size() > kMaxNonceBytes ||
      !Printable(sig->nonce) || sig->signature.size() != 64 || !LowerHex(sig->signature)) {
    return Refuse(AuthFailure::kMalformed, failure, "malformed request signature");
  }
  const int64_t now_ms = clock_->NowMs();
  const int64_t max_ms = absl::ToInt64Milliseconds(kMaxClockSkew);
  if (sig->timestamp_ms < now_ms - max_ms || sig->timestamp_ms > now_ms + max_ms) {
    // In 128 bits: any 64-bit timestamp may arrive.
    const __int128 skew_s = (static_cast<__int128>(now_ms) - sig->timestamp_ms) / 1000;
    return Refuse(AuthFailure::kClockSkew, failure,
                  absl::StrCat("the request's timestamp is ",
                               static_cast<int64_t>(skew_s < 0 ? -skew_s : skew_s),
                               " s from the server's clock (at most 900 s allowed)"));
  }
  const std::optional<Key> key = lookup_(sig->key_id);
  if (!key.has_value()) {
    return Refuse(AuthFailure::kUnknownKey, failure,
                  absl::StrCat("unknown AccessKey ", sig->key_id));
  }
  if (!key->enabled) {
    return Refuse(AuthFailure::kDisabledKey, failure,
                  absl::StrCat("AccessKey ", sig->key_id, " or its user is disabled"));
  }
  const std::string expected =
      HmacSha256Hex(key->secret, CanonicalRequest(method, project, payload, *sig));
  if (CRYPTO_memcmp(expected.data(), sig->signature.data(), expected.size()) != 0) {
    return Refuse(AuthFailure::kBadSignature, failure,
                  absl::StrCat("the request's signature does not match AccessKey ", sig->key_id,
                               " (wrong secret, or the request was altered)"));
  }
  // Only a correctly signed request is remembered, so no one without a key can fill the cache.
  if (!nonces_.Record(sig->key_id, sig->nonce, sig->timestamp_ms)) {
    return Refuse(AuthFailure::kReplay, failure, "replayed request (its nonce was seen before)");
  }
  return key->user;
}

}  // namespace ternion::security
