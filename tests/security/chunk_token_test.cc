#include "security/chunk_token.h"

#include <gtest/gtest.h>

namespace ternion::security {
namespace {

constexpr int64_t kNow = 1'800'000'000'000;

ChunkToken ReadToken() {
  return {.project = "proj",
          .chunk_id = 42,
          .version = 3,
          .mode = ChunkMode::kRead,
          .expires_unix_ms = kNow + 600'000,
          .client_address = "127.0.0.5"};
}

TEST(ChunkTokenTest, ASignedTokenVerifiesAndSaysWhatItAllows) {
  const TokenSigningKey key = TokenSigningKey::Generate();
  absl::StatusOr<std::string> wire = SignToken(ReadToken(), key);
  ASSERT_TRUE(wire.ok()) << wire.status();
  EXPECT_LE(wire->size(), kMaxTokenBytes);
  absl::StatusOr<ChunkToken> t = VerifyToken(*wire, key.public_key, kNow);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->project, "proj");
  EXPECT_EQ(t->client_address, "127.0.0.5");
  EXPECT_EQ(t->read_end, kNoReadEnd);
  EXPECT_TRUE(TokenAllows(*t, 42, 3, ChunkMode::kRead, "127.0.0.5").ok());
  // A snapshot's read token ends where the snapshot does; the end is signed like the rest.
  ChunkToken ending = ReadToken();
  ending.read_end = 14;
  absl::StatusOr<ChunkToken> ends = VerifyToken(*SignToken(ending, key), key.public_key, kNow);
  ASSERT_TRUE(ends.ok()) << ends.status();
  EXPECT_EQ(ends->read_end, 14u);
  // Exactly that chunk, version, mode and address.
  for (absl::Status s : {TokenAllows(*t, 43, 3, ChunkMode::kRead, "127.0.0.5"),
                         TokenAllows(*t, 42, 2, ChunkMode::kRead, "127.0.0.5"),
                         TokenAllows(*t, 42, 3, ChunkMode::kWrite, "127.0.0.5"),
                         TokenAllows(*t, 42, 3, ChunkMode::kReplicate, "127.0.0.5"),
                         TokenAllows(*t, 42, 3, ChunkMode::kRead, "127.0.0.6")}) {
    EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  }
  ChunkToken replicate = ReadToken();
  replicate.mode = ChunkMode::kReplicate;
  replicate.client_address.clear();  // any address
  EXPECT_TRUE(TokenAllows(replicate, 42, 3, ChunkMode::kRead, "127.0.0.9").ok());
  EXPECT_TRUE(TokenAllows(replicate, 42, 3, ChunkMode::kWrite, "127.0.0.9").ok());
  EXPECT_FALSE(TokenAllows(replicate, 42, 4, ChunkMode::kWrite, "127.0.0.9").ok());
  EXPECT_FALSE(TokenAllows(replicate, 42, 3, ChunkMode::kDelete, "127.0.0.9").ok());
  ChunkToken write = ReadToken();
  write.mode = ChunkMode::kWrite;
  EXPECT_TRUE(TokenAllows(write, 42, 3, ChunkMode::kWrite, "127.0.0.5").ok());
  EXPECT_FALSE(TokenAllows(write, 42, 3, ChunkMode::kRead, "127.0.0.5").ok());
  EXPECT_FALSE(TokenAllows(write, 42, 3, ChunkMode::kReplicate, "127.0.0.5").ok());
}

TEST(ChunkTokenTest, PeerAddressesAreReducedToTheirIp) {
  EXPECT_EQ(PeerIp("ipv4:127.0.0.1:57464"), "127.0.0.1");
  EXPECT_EQ(PeerIp("ipv6:[::1]:57464"), "::1");
  EXPECT_EQ(PeerIp("ipv6:[fe80::1%eth0]:1"), "fe80::1%eth0");
  EXPECT_EQ(PeerIp("unix:/tmp/s"), "/tmp/s");
}

TEST(ChunkTokenTest, AForgedAlteredExpiredOrForeignTokenIsRefused) {
  const TokenSigningKey key = TokenSigningKey::Generate();
  const TokenSigningKey other = TokenSigningKey::Generate();
  const std::string wire = *SignToken(ReadToken(), key);
  auto refused = [&](absl::string_view w, const TokenPublicKey& k, int64_t now) {
    EXPECT_EQ(VerifyToken(w, k, now).status().code(), absl::StatusCode::kUnauthenticated);
  };
  refused("", key.public_key, kNow);
  refused(wire, other.public_key, kNow);                 // another master's
  refused(*SignToken(ReadToken(), other), key.public_key, kNow);
  refused(wire, key.public_key, kNow + 600'000);         // expired
  for (size_t i = 0; i < wire.size(); ++i) {             // any byte changed
    std::string altered = wire;
    altered[i] ^= 0x01;
    refused(altered, key.public_key, kNow);
  }
  refused(wire.substr(0, wire.size() - 1), key.public_key, kNow);
  refused(wire + "x", key.public_key, kNow);
  refused(std::string(kMaxTokenBytes + 1, 'T'), key.public_key, kNow);
}

TEST(ChunkTokenTest, FieldsOutOfBoundsAreNotSigned) {
  const TokenSigningKey key = TokenSigningKey::Generate();
  ChunkToken t = ReadToken();
  t.project = std::string(kMaxTokenProjectBytes + 1, 'p');
  EXPECT_EQ(SignToken(t, key).status().code(), absl::StatusCode::kInvalidArgument);
  t = ReadToken();
  t.client_address = std::string(kMaxTokenAddressBytes + 1, '1');
  EXPECT_EQ(SignToken(t, key).status().code(), absl::StatusCode::kInvalidArgument);
  t = ReadToken();
  t.copy_sources = {std::string(kMaxTokenSourceBytes + 1, 'h')};
  EXPECT_EQ(SignToken(t, key).status().code(), absl::StatusCode::kInvalidArgument);
  t.copy_sources.assign(kMaxTokenSources + 1, "10.0.0.1:7100");
  EXPECT_EQ(SignToken(t, key).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ChunkTokenTest, AReplicateTokenNamesTheOnlySourcesACopyMayReadFrom) {
  const TokenSigningKey key = TokenSigningKey::Generate();
  ChunkToken t = ReadToken();
  t.mode = ChunkMode::kReplicate;
  t.copy_sources = {"10.0.1.11:7100", "10.0.2.11:7100"};
  absl::StatusOr<std::string> wire = SignToken(t, key);
  ASSERT_TRUE(wire.ok()) << wire.status();
  absl::StatusOr<ChunkToken> got = VerifyToken(*wire, key.public_key, kNow);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->copy_sources, t.copy_sources);
  EXPECT_TRUE(TokenAllowsCopyFrom(*got, "10.0.2.11:7100").ok());
  for (const char* other : {"10.0.2.11:7101", "10.0.2.1:7100", "evil.example:7100", ""}) {
    EXPECT_EQ(TokenAllowsCopyFrom(*got, other).code(), absl::StatusCode::kPermissionDenied)
        << other;
  }
  EXPECT_FALSE(TokenAllowsCopyFrom(ReadToken(), "10.0.1.11:7100").ok());  // names none
  // The largest token fits its bound.
  t.copy_sources.assign(kMaxTokenSources, std::string(kMaxTokenSourceBytes, 'h'));
  t.project = std::string(kMaxTokenProjectBytes, 'p');
  t.client_address = std::string(kMaxTokenAddressBytes, '1');
  wire = SignToken(t, key);
  ASSERT_TRUE(wire.ok());
  EXPECT_EQ(wire->size(), kMaxTokenBytes);
  EXPECT_TRUE(VerifyToken(*wire, key.public_key, kNow).ok());
}

}  // namespace
}  // namespace ternion::security
