#include "security/chunk_token.h"

#include <sodium.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace ternion::security {
namespace {

constexpr absl::string_view kMagic = "TCT3";

void InitSodium() {
  static const bool ok = sodium_init() >= 0;
  if (!ok) abort();  // no randomness or no CPU support: nothing here can be trusted
}

void PutU64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}

// Reads the signed fields from `in`, advancing it; false when short or out of bounds.
class Reader {
 public:
  explicit Reader(absl::string_view in) : in_(in) {}
  bool U8(uint8_t* v) {
    if (in_.size() < 1) return false;
    *v = static_cast<uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return true;
  }
  bool U64(uint64_t* v) {
    if (in_.size() < 8) return false;
    *v = 0;
    for (int i = 0; i < 8; ++i) *v |= uint64_t{static_cast<uint8_t>(in_[i])} << (8 * i);
    in_.remove_prefix(8);
    return true;
  }
  bool Bytes(size_t max, std::string* s) {
    uint8_t n;
    if (!U8(&n) || n > max || in_.size() < n) return false;
    s->assign(in_.data(), n);
    in_.remove_prefix(n);
    return true;
  }
  size_t left() const { return in_.size(); }

 private:
  absl::string_view in_;
};

}  // namespace

const char* ChunkModeName(ChunkMode m) {
  switch (m) {
    case ChunkMode::kRead: return "read";
    case ChunkMode::kWrite: return "write";
    case ChunkMode::kReplicate: return "replicate";
    case ChunkMode::kDelete: return "delete";
  }
  return "unknown";
}

TokenSigningKey TokenSigningKey::Generate() {
  InitSodium();
  TokenSigningKey k;
  crypto_sign_keypair(k.public_key.data(), k.secret_key.data());
  return k;
}

absl::StatusOr<TokenSigningKey> TokenSigningKey::FromSecretKey(absl::string_view secret_key) {
  InitSodium();
  TokenSigningKey k;
  if (secret_key.size() != k.secret_key.size()) {
    return absl::DataLossError("a token signing key is 64 bytes");
  }
  std::copy(secret_key.begin(), secret_key.end(), k.secret_key.begin());
  crypto_sign_ed25519_sk_to_pk(k.public_key.data(), k.secret_key.data());
  return k;
}

absl::StatusOr<std::string> SignToken(const ChunkToken& t, const TokenSigningKey& key) {
  bool sources_fit = t.copy_sources.size() <= kMaxTokenSources;
  for (const std::string& source : t.copy_sources) {
    sources_fit &= source.size() <= kMaxTokenSourceBytes;
  }
  if (t.project.empty() || t.project.size() > kMaxTokenProjectBytes ||
      t.client_address.size() > kMaxTokenAddressBytes || !sources_fit) {
    return absl::InvalidArgumentError("chunk token field out of bounds");
  }
  InitSodium();
  std::string out(kMagic);
  out.push_back(static_cast<char>(t.mode));
  PutU64(&out, t.chunk_id);
  PutU64(&out, t.version);
  PutU64(&out, t.read_end);
  PutU64(&out, static_cast<uint64_t>(t.expires_unix_ms));
  out.push_back(static_cast<char>(t.project.size()));
  out += t.project;
  out.push_back(static_cast<char>(t.client_address.size()));
  out += t.client_address;
  out.push_back(static_cast<char>(t.copy_sources.size()));
  for (const std::string& source : t.copy_sources) {
    out.push_back(static_cast<char>(source.size()));
    out += source;
  }
  unsigned char sig[crypto_sign_BYTES];
  crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(out.data()),
                       out.size(), key.secret_key.data());
  out.append(reinterpret_cast<const char*>(sig), sizeof(sig));
  return out;
}

absl::StatusOr<ChunkToken> VerifyToken(absl::string_view wire, const TokenPublicKey& key,
                                       int64_t now_ms) {
  if (wire.empty()) return absl::UnauthenticatedError("no chunk token");
  if (wire.size() > kMaxTokenBytes || wire.size() < kMagic.size() + crypto_sign_BYTES ||
      wire.substr(0, kMagic.size()) != kMagic) {
    return absl::UnauthenticatedError("malformed chunk token");
  }
  InitSodium();
  const absl::string_view body = wire.substr(0, wire.size() - crypto_sign_BYTES);
  const absl::string_view sig = wire.substr(body.size());
  if (crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(sig.data()),
                                  reinterpret_cast<const unsigned char*>(body.data()),
                                  body.size(), key.data()) != 0) {
    return absl::UnauthenticatedError("chunk token signature is not the master's");
  }
  ChunkToken t;
  Reader r(body.substr(kMagic.size()));
  uint8_t mode, sources;
  uint64_t expires;
  bool ok = r.U8(&mode) && mode >= 1 && mode <= 4 && r.U64(&t.chunk_id) && r.U64(&t.version) &&
            r.U64(&t.read_end) && r.U64(&expires) && r.Bytes(kMaxTokenProjectBytes, &t.project) &&
            r.Bytes(kMaxTokenAddressBytes, &t.client_address) && r.U8(&sources) &&
            sources <= kMaxTokenSources;
  for (uint8_t i = 0; ok && i < sources; ++i) {
    ok = r.Bytes(kMaxTokenSourceBytes, &t.copy_sources.emplace_back());
  }
  // Exactly what SignToken writes, nothing more (the fuzz target checks both agree).
  if (!ok || r.left() != 0 || t.project.empty()) {
    return absl::UnauthenticatedError("malformed chunk token");
  }
  t.mode = static_cast<ChunkMode>(mode);
  t.expires_unix_ms = static_cast<int64_t>(expires);
  if (now_ms >= t.expires_unix_ms) {
    return absl::UnauthenticatedError(absl::StrCat("chunk token expired ",
                                                   (now_ms - t.expires_unix_ms) / 1000, " s ago"));
  }
  return t;
}

absl::Status TokenAllows(const ChunkToken& t, uint64_t chunk_id, uint64_t version,
                         ChunkMode mode, absl::string_view peer_ip) {
  if (t.chunk_id != chunk_id || t.version != version) {
    return absl::PermissionDeniedError(
        absl::StrCat("the chunk token is for chunk ", t.chunk_id, " version ", t.version,
                     ", not chunk ", chunk_id, " version ", version));
  }
  // A replicate token covers a whole copy: reading the source, creating and writing the target.
  const bool allowed =
      t.mode == mode || (t.mode == ChunkMode::kReplicate && mode != ChunkMode::kDelete);
  if (!allowed) {
    return absl::PermissionDeniedError(absl::StrCat("the chunk token allows ",
                                                    ChunkModeName(t.mode), ", not ",
                                                    ChunkModeName(mode)));
  }
  if (!t.client_address.empty() && t.client_address != peer_ip) {
    return absl::PermissionDeniedError(
        absl::StrCat("the chunk token was issued to ", t.client_address, ", not ", peer_ip));
  }
  return absl::OkStatus();
}

absl::Status TokenAllowsCopyFrom(const ChunkToken& t, absl::string_view source) {
  for (const std::string& named : t.copy_sources) {
    if (named == source) return absl::OkStatus();
  }
  return absl::PermissionDeniedError(
      absl::StrCat("the chunk token does not name ", source, " as a source to copy from"));
}

std::string PeerIp(absl::string_view grpc_peer) {
  // "ipv4:127.0.0.1:57464", "ipv6:[::1]:57464"
  const size_t colon = grpc_peer.find(':');
  if (colon == absl::string_view::npos) return std::string(grpc_peer);
  absl::string_view rest = grpc_peer.substr(colon + 1);
  if (!rest.empty() && rest[0] == '[') {
    const size_t close = rest.find(']');
    return std::string(rest.substr(1, close == absl::string_view::npos ? rest.size() : close - 1));
  }
  return std::string(rest.substr(0, rest.rfind(':')));
}

}  // namespace ternion::security
