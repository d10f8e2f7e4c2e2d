#pragma once

// Durable-length receipts (docs/security.md): a chunkserver's MAC over "this replica of chunk C
// at version V holds L bytes durably", carried in its write acknowledgements. The writer hands
// the master one from every replica when it commits a length, so the master never advertises
// bytes that a replica does not hold, whatever the writer claims.
//
// Keys: the master derives one key per chunkserver from a root secret (HMAC-SHA256 of the
// server id) and sends it only to that server, in the answer to its registration over mutual
// TLS; the master recomputes it to verify. A server cannot make receipts for another.

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace ternion::security {

using ReceiptKey = std::array<unsigned char, 32>;
inline constexpr size_t kReceiptBytes = 32;

// The receipt key of chunkserver `server_id` under the master's `root` secret.
ReceiptKey DeriveReceiptKey(absl::string_view root, absl::string_view server_id);

// The receipt for `length` durable bytes of chunk `chunk_id` at `version` (kReceiptBytes bytes).
std::string SignReceipt(const ReceiptKey& key, uint64_t chunk_id, uint64_t version,
                        uint64_t length);

// Whether `receipt` is the one `key` makes for exactly these values (constant time).
bool VerifyReceipt(const ReceiptKey& key, uint64_t chunk_id, uint64_t version, uint64_t length,
                   absl::string_view receipt);

// A receipt as a writer passes it on: which server said what about which chunk.
struct LengthReceipt {
  std::string server_id;
  uint64_t chunk_id = 0;
  uint64_t length = 0;
  std::string mac;
};

// Whether every server of `replicas` vouched for at least `length` bytes of chunk `chunk_id` at
// `version`: one receipt among `receipts` from it, for that chunk, verifying under
// key_of(server). FAILED_PRECONDITION naming the first replica without one.
absl::Status CheckLengthReceipts(uint64_t chunk_id, uint64_t version, uint64_t length,
                                 const std::vector<std::string>& replicas,
                                 const std::vector<LengthReceipt>& receipts,
                                 const std::function<ReceiptKey(const std::string&)>& key_of);

}  // namespace ternion::security
