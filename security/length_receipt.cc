#include "security/length_receipt.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "absl/strings/str_cat.h"

namespace ternion::security {
namespace {

std::array<unsigned char, 32> HmacSha256(absl::string_view key, absl::string_view data) {
  std::array<unsigned char, 32> out{};
  unsigned int n = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), &n);
  return out;
}

// "TRC1" | chunk id u64 | version u64 | length u64, little-endian.
std::string ReceiptBody(uint64_t chunk_id, uint64_t version, uint64_t length) {
  std::string body = "TRC1";
  for (uint64_t v : {chunk_id, version, length}) {
    for (int i = 0; i < 8; ++i) body.push_back(static_cast<char>(v >> (8 * i)));
  }
  return body;
}

absl::string_view View(const std::array<unsigned char, 32>& a) {
  return absl::string_view(reinterpret_cast<const char*>(a.data()), a.size());
}

}  // namespace

ReceiptKey DeriveReceiptKey(absl::string_view root, absl::string_view server_id) {
  return HmacSha256(root, std::string("ternion receipt key\0", 20) + std::string(server_id));
}

std::string SignReceipt(const ReceiptKey& key, uint64_t chunk_id, uint64_t version,
                        uint64_t length) {
  return std::string(View(HmacSha256(View(key), ReceiptBody(chunk_id, version, length))));
}

bool VerifyReceipt(const ReceiptKey& key, uint64_t chunk_id, uint64_t version, uint64_t length,
                   absl::string_view receipt) {
  if (receipt.size() != kReceiptBytes) return false;
  const std::string expected = SignReceipt(key, chunk_id, version, length);
  return CRYPTO_memcmp(expected.data(), receipt.data(), kReceiptBytes) == 0;
}

absl::Status CheckLengthReceipts(uint64_t chunk_id, uint64_t version, uint64_t length,
                                 const std::vector<std::string>& replicas,
                                 const std::vector<LengthReceipt>& receipts,
                                 const std::function<ReceiptKey(const std::string&)>& key_of) {
  for (const std::string& server : replicas) {
    bool vouched = false;
    for (const LengthReceipt& r : receipts) {
      if (r.server_id == server && r.chunk_id == chunk_id && r.length >= length &&
          VerifyReceipt(key_of(server), chunk_id, version, r.length, r.mac)) {
        vouched = true;
        break;
      }
    }
    if (!vouched) {
      return absl::FailedPreconditionError(
          absl::StrCat("no valid durable-length receipt from chunkserver ", server, " for ", length,
                       " bytes of chunk ", chunk_id, " version ", version));
    }
  }
  return absl::OkStatus();
}

}  // namespace ternion::security
