#include "security/length_receipt.h"

#include <gtest/gtest.h>

namespace ternion::security {
namespace {

TEST(LengthReceiptTest, AReceiptVouchesForExactlyItsChunkVersionAndLength) {
  const ReceiptKey key = DeriveReceiptKey("root secret", "cs-1");
  const std::string r = SignReceipt(key, 7, 3, 4096);
  EXPECT_EQ(r.size(), kReceiptBytes);
  EXPECT_TRUE(VerifyReceipt(key, 7, 3, 4096, r));
  EXPECT_FALSE(VerifyReceipt(key, 8, 3, 4096, r));
  EXPECT_FALSE(VerifyReceipt(key, 7, 4, 4096, r));
  EXPECT_FALSE(VerifyReceipt(key, 7, 3, 4097, r));
  EXPECT_FALSE(VerifyReceipt(key, 7, 3, 4096, r.substr(1)));
  EXPECT_FALSE(VerifyReceipt(key, 7, 3, 4096, ""));
  std::string altered = r;
  altered[31] ^= 1;
  EXPECT_FALSE(VerifyReceipt(key, 7, 3, 4096, altered));
  // Another server's key, or another root's, makes another receipt.
  EXPECT_FALSE(VerifyReceipt(DeriveReceiptKey("root secret", "cs-2"), 7, 3, 4096, r));
  EXPECT_FALSE(VerifyReceipt(DeriveReceiptKey("other root", "cs-1"), 7, 3, 4096, r));
  EXPECT_EQ(DeriveReceiptKey("root secret", "cs-1"), key);  // deterministic
}

TEST(LengthReceiptTest, EveryReplicaMustVouchForAtLeastTheLength) {
  auto key_of = [](const std::string& server) { return DeriveReceiptKey("root", server); };
  auto receipt = [&](const std::string& server, uint64_t chunk, uint64_t length) {
    return LengthReceipt{.server_id = server,
                         .chunk_id = chunk,
                         .length = length,
                         .mac = SignReceipt(key_of(server), chunk, 5, length)};
  };
  const std::vector<std::string> replicas = {"a", "b", "c"};
  const std::vector<LengthReceipt> all = {receipt("a", 1, 100), receipt("b", 1, 100),
                                          receipt("c", 1, 150)};
  EXPECT_TRUE(CheckLengthReceipts(1, 5, 100, replicas, all, key_of).ok());
  EXPECT_TRUE(CheckLengthReceipts(1, 5, 0, replicas, all, key_of).ok());
  const absl::Status more = CheckLengthReceipts(1, 5, 101, replicas, all, key_of);
  EXPECT_EQ(more.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(more.message().find("chunkserver a"), std::string::npos) << more;
  EXPECT_FALSE(CheckLengthReceipts(2, 5, 100, replicas, all, key_of).ok());  // another chunk
  EXPECT_FALSE(CheckLengthReceipts(1, 6, 100, replicas, all, key_of).ok());  // another version
  EXPECT_FALSE(
      CheckLengthReceipts(1, 5, 100, {"a", "b", "c", "d"}, all, key_of).ok());  // d said nothing
  // A receipt relabelled as another server's does not verify under that server's key.
  LengthReceipt stolen = all[0];
  stolen.server_id = "d";
  EXPECT_FALSE(CheckLengthReceipts(1, 5, 100, {"d"}, {stolen}, key_of).ok());
  EXPECT_TRUE(CheckLengthReceipts(1, 5, 100, {}, {}, key_of).ok());  // nothing to vouch for
}

}  // namespace
}  // namespace ternion::security
