#pragma once

// Signed requests (docs/security.md): every client RPC carries the id of the caller's AccessKey,
// a timestamp, a nonce and an HMAC-SHA256, keyed by the key's secret, over a canonical form of
// the method, the project, those three, and a SHA-256 digest of the request's bytes (the idea of
// AWS SigV4, smaller). The server recomputes the HMAC with the secret it keeps, so the secret
// never crosses the network, and refuses a request whose key is unknown or disabled, whose
// timestamp is more than 15 minutes from its clock, or whose nonce it has seen within that
// window (a replay). Nothing here logs, and no error names a secret or a signature.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace ternion::security {

// gRPC metadata keys of a signed request.
inline constexpr char kKeyIdHeader[] = "x-ternion-key-id";
inline constexpr char kTimestampHeader[] = "x-ternion-timestamp";  // Unix milliseconds
inline constexpr char kNonceHeader[] = "x-ternion-nonce";
inline constexpr char kSignatureHeader[] = "x-ternion-signature";  // lower-case hex

inline constexpr absl::Duration kMaxClockSkew = absl::Minutes(15);
// Bounds on the signed fields, checked before anything else is done with them.
inline constexpr size_t kMaxKeyIdBytes = 64;
inline constexpr size_t kMinNonceBytes = 16;
inline constexpr size_t kMaxNonceBytes = 64;

struct RequestSignature {
  std::string key_id;
  int64_t timestamp_ms = 0;
  std::string nonce;      // random, printable; 16-64 bytes
  std::string signature;  // 64 lower-case hex digits
};

// Hex of HMAC-SHA256(key, data) and of SHA-256(data).
std::string HmacSha256Hex(absl::string_view key, absl::string_view data);
std::string Sha256Hex(absl::string_view data);

// The bytes the signature covers, one field per line (the signature field itself excluded).
std::string CanonicalRequest(absl::string_view method, absl::string_view project,
                             absl::string_view payload, const RequestSignature& sig);

// A signature of the request by `key_id` / `secret` at `timestamp_ms` with `nonce`.
RequestSignature SignRequest(absl::string_view secret, absl::string_view method,
                             absl::string_view project, absl::string_view payload,
                             std::string key_id, int64_t timestamp_ms, std::string nonce);

// The signature carried by a request's four headers (each nullopt when absent): nullopt when it
// has no key id header (an unsigned request); UNAUTHENTICATED when another header is missing or
// longer than kMaxHeaderBytes, or the timestamp is not a number. The verifier checks the rest.
inline constexpr size_t kMaxHeaderBytes = 256;
absl::StatusOr<std::optional<RequestSignature>> ParseSignatureHeaders(
    std::optional<absl::string_view> key_id, std::optional<absl::string_view> timestamp_ms,
    std::optional<absl::string_view> nonce, std::optional<absl::string_view> signature);

// Why a request was not authenticated (a metric label; the error message says the same).
enum class AuthFailure {
  kMissing,       // no signature at all
  kMalformed,     // a field out of bounds or not parseable
  kUnknownKey,
  kDisabledKey,   // the key, or its user, is disabled or revoked
  kClockSkew,
  kReplay,
  kBadSignature,
};
const char* AuthFailureName(AuthFailure f);

// Nonces of the requests accepted in the last 2 × kMaxClockSkew (a request is only accepted with
// a timestamp inside the skew window, so an older one is refused by its timestamp). Kept as
// 64-bit hashes in buckets by the minute of the request's timestamp: 10-20 bytes per request of
// the last 30 minutes; a hash collision refuses an honest request with a chance of ~10^-12 at
// 20 M entries. Thread-safe.
class NonceCache {
 public:
  explicit NonceCache(const Clock* clock) : clock_(clock) {}
  // Records `nonce` of `key_id`; false when it was recorded already (a replay).
  bool Record(absl::string_view key_id, absl::string_view nonce, int64_t timestamp_ms);
  size_t size() const;

 private:
  static constexpr int kBuckets = 32;  // > the 31 minutes a ±15 minute window touches
  const Clock* const clock_;
  mutable absl::Mutex mu_;
  int64_t bucket_minute_[kBuckets] ABSL_GUARDED_BY(mu_) = {};
  absl::flat_hash_set<uint64_t> buckets_[kBuckets] ABSL_GUARDED_BY(mu_);
};

// Verifies signed requests against the keys the master keeps.
class RequestVerifier {
 public:
  struct Key {
    std::string user;
    std::string secret;
    bool enabled = true;  // false when the key or its user is disabled or revoked
  };
  // Finds a key by id (nullopt: unknown). Called once per request.
  using KeyLookup = std::function<std::optional<Key>(const std::string& key_id)>;

  RequestVerifier(KeyLookup lookup, const Clock* clock)
      : lookup_(std::move(lookup)), clock_(clock), nonces_(clock) {}

  // The user the request is signed by; or UNAUTHENTICATED naming the cause (also stored in
  // `*failure` when given), never a secret.
  absl::StatusOr<std::string> Verify(const std::optional<RequestSignature>& sig,
                                     absl::string_view method, absl::string_view project,
                                     absl::string_view payload, AuthFailure* failure = nullptr);

 private:
  const KeyLookup lookup_;
  const Clock* const clock_;
  NonceCache nonces_;
};

}  // namespace ternion::security
