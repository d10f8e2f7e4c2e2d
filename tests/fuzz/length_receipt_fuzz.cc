// Fuzzes durable-length receipts (security/length_receipt.h): the master checks receipts a
// client passes on. Arbitrary receipts for arbitrary chunks, versions and lengths must never
// verify unless they are the MAC the server's key makes, and CheckLengthReceipts must accept a
// length only with a verifying receipt from every replica.

#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <string>
#include <vector>

#include "security/length_receipt.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ternion::security;
  FuzzedDataProvider in(data, size);
  const uint64_t chunk = in.ConsumeIntegral<uint64_t>();
  const uint64_t version = in.ConsumeIntegral<uint64_t>();
  const uint64_t length = in.ConsumeIntegral<uint64_t>();
  auto key_of = [](const std::string& server) { return DeriveReceiptKey("root", server); };
  const std::vector<std::string> replicas = {"cs-1", "cs-2", "cs-3"};
  std::vector<LengthReceipt> receipts;
  while (in.remaining_bytes() > 0 && receipts.size() < 8) {
    LengthReceipt r;
    r.server_id = in.ConsumeRandomLengthString(16);
    r.chunk_id = in.ConsumeBool() ? chunk : in.ConsumeIntegral<uint64_t>();
    r.length = in.ConsumeBool() ? length : in.ConsumeIntegral<uint64_t>();
    // Either a real receipt for some length, or fuzzer bytes.
    r.mac = in.ConsumeBool() ? SignReceipt(key_of(r.server_id), r.chunk_id, version, r.length)
                             : in.ConsumeRandomLengthString(40);
    const bool verifies = VerifyReceipt(key_of(r.server_id), r.chunk_id, version, r.length, r.mac);
    if (verifies != (r.mac == SignReceipt(key_of(r.server_id), r.chunk_id, version, r.length))) {
      __builtin_trap();
    }
    receipts.push_back(std::move(r));
  }
  const bool accepted =
      CheckLengthReceipts(chunk, version, length, replicas, receipts, key_of).ok();
  // The reference: every replica has a receipt for this chunk of at least `length` that is
  // byte for byte the MAC its key makes.
  bool expected = true;
  for (const std::string& server : replicas) {
    bool vouched = false;
    for (const LengthReceipt& r : receipts) {
      vouched |= r.server_id == server && r.chunk_id == chunk && r.length >= length &&
                 r.mac == SignReceipt(key_of(server), chunk, version, r.length);
    }
    expected &= vouched;
  }
  if (accepted != expected) __builtin_trap();
  return 0;
}
