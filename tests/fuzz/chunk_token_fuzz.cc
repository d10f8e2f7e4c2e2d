// Fuzzes the chunk token parser (security/chunk_token.h), which reads bytes any client sends.
// Two paths: the input as a whole token (its signature almost never verifies: nothing past the
// signature check may be reached), and the input as a token body the fuzzer's own key signs,
// so the parser behind the signature sees arbitrary bytes too. A body that parses must sign back
// to exactly the same bytes (one encoding per token).

#include <sodium.h>

#include <cassert>
#include <cstdint>
#include <string>

#include "security/chunk_token.h"

namespace {

const ternion::security::TokenSigningKey& Key() {
  static const ternion::security::TokenSigningKey key = [] {
    unsigned char seed[crypto_sign_SEEDBYTES] = {7};
    ternion::security::TokenSigningKey k;
    if (sodium_init() < 0) __builtin_trap();
    crypto_sign_seed_keypair(k.public_key.data(), k.secret_key.data(), seed);
    return k;
  }();
  return key;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ternion::security;
  const TokenSigningKey& key = Key();
  const std::string input(reinterpret_cast<const char*>(data), size);
  (void)VerifyToken(input, key.public_key, /*now_ms=*/0);

  std::string wire = input;
  unsigned char sig[crypto_sign_BYTES];
  crypto_sign_detached(sig, nullptr, data, size, key.secret_key.data());
  wire.append(reinterpret_cast<const char*>(sig), sizeof(sig));
  absl::StatusOr<ChunkToken> token = VerifyToken(wire, key.public_key, /*now_ms=*/INT64_MIN);
  if (!token.ok()) return 0;
  (void)TokenAllows(*token, token->chunk_id, token->version, token->mode, token->client_address);
  (void)TokenAllowsCopyFrom(*token, "127.0.0.1:1");
  absl::StatusOr<std::string> again = SignToken(*token, key);
  if (!again.ok() || *again != wire) __builtin_trap();
  return 0;
}
