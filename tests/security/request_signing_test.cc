#include "security/request_signing.h"

#include <gtest/gtest.h>

#include <map>

#include "absl/strings/ascii.h"

#include "tests/testutil/fake_clock.h"

namespace ternion::security {
namespace {

TEST(HmacSha256Test, MatchesTheRfcVectors) {
  // RFC 4231, test case 2; FIPS 180-2, "abc".
  EXPECT_EQ(HmacSha256Hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

class RequestVerifierTest : public ::testing::Test {
 protected:
  RequestVerifierTest() {
    keys_["AK1"] = {"ann", "secret-of-ann", true};
    keys_["AK2"] = {"bob", "secret-of-bob", false};
  }

  RequestSignature Signed(const std::string& payload, const std::string& nonce,
                          const std::string& key_id = "AK1",
                          const std::string& secret = "secret-of-ann") {
    return SignRequest(secret, "/ternion.v1.MasterService/GetFileInfo", "proj", payload, key_id,
                       clock_.NowMs(), nonce);
  }
  absl::StatusOr<std::string> Verify(const std::optional<RequestSignature>& sig,
                                     const std::string& payload, AuthFailure* why,
                                     const std::string& project = "proj") {
    return verifier_.Verify(sig, "/ternion.v1.MasterService/GetFileInfo", project, payload, why);
  }

  testing::FakeClock clock_;
  std::map<std::string, RequestVerifier::Key> keys_;
  RequestVerifier verifier_{[this](const std::string& id) -> std::optional<RequestVerifier::Key> {
                              auto it = keys_.find(id);
                              if (it == keys_.end()) return std::nullopt;
                              return it->second;
                            },
                            &clock_};
};

TEST_F(RequestVerifierTest, ACorrectlySignedRequestNamesItsUserOnce) {
  const RequestSignature sig = Signed("payload", "nonce-0000000001");
  AuthFailure why;
  absl::StatusOr<std::string> user = Verify(sig, "payload", &why);
  ASSERT_TRUE(user.ok()) << user.status();
  EXPECT_EQ(*user, "ann");
  // The same request again is a replay, even a second later.
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(Verify(sig, "payload", &why).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(why, AuthFailure::kReplay);
}

TEST_F(RequestVerifierTest, EveryAlterationIsRefusedWithItsCauseAndNoSecret) {
  AuthFailure why;
  auto refused = [&](const std::optional<RequestSignature>& sig, const std::string& payload,
                     AuthFailure cause, const std::string& project = "proj") {
    absl::StatusOr<std::string> r = Verify(sig, payload, &why, project);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_EQ(why, cause) << r.status();
    EXPECT_EQ(r.status().message().find("secret-of"), absl::string_view::npos);
    if (sig) {
      EXPECT_EQ(r.status().message().find(sig->signature), absl::string_view::npos);
    }
  };
  refused(std::nullopt, "payload", AuthFailure::kMissing);
  refused(Signed("payload", "nonce-0000000002"), "payload!", AuthFailure::kBadSignature);
  refused(Signed("payload", "nonce-0000000003"), "payload", AuthFailure::kBadSignature, "other");
  refused(Signed("payload", "nonce-0000000004", "AK1", "wrong"), "payload",
          AuthFailure::kBadSignature);
  refused(Signed("payload", "nonce-0000000005", "AK9"), "payload", AuthFailure::kUnknownKey);
  refused(Signed("payload", "nonce-0000000006", "AK2", "secret-of-bob"), "payload",
          AuthFailure::kDisabledKey);
  refused(Signed("payload", "short"), "payload", AuthFailure::kMalformed);
  RequestSignature upper = Signed("payload", "nonce-0000000007");
  for (char& c : upper.signature) c = absl::ascii_toupper(c);
  refused(upper, "payload", AuthFailure::kMalformed);
  RequestSignature old = Signed("payload", "nonce-0000000008");
  clock_.Advance(kMaxClockSkew + absl::Seconds(1));
  refused(old, "payload", AuthFailure::kClockSkew);
  // A refused request was not remembered: signed afresh with the same nonce, it is accepted.
  EXPECT_TRUE(Verify(Signed("payload", "nonce-0000000002"), "payload", &why).ok());
}

TEST_F(RequestVerifierTest, TheSameNonceAtAnotherTimeIsAnotherRequest) {
  AuthFailure why;
  EXPECT_TRUE(Verify(Signed("a", "nonce-0000000010"), "a", &why).ok());
  clock_.Advance(absl::Milliseconds(1));
  EXPECT_TRUE(Verify(Signed("a", "nonce-0000000010"), "a", &why).ok());
}

TEST(NonceCacheTest, ForgetsAMinuteOnlyWhenItsSlotIsReused) {
  testing::FakeClock clock;
  NonceCache cache(&clock);
  const int64_t t0 = clock.NowMs();
  EXPECT_TRUE(cache.Record("AK1", "n", t0));
  EXPECT_FALSE(cache.Record("AK1", "n", t0));
  EXPECT_TRUE(cache.Record("AK2", "n", t0));  // another key's nonce
  // 31 minutes of requests later (past the window of t0), t0's are still held...
  for (int m = 1; m <= 31; ++m) EXPECT_TRUE(cache.Record("AK1", "n", t0 + m * 60000));
  EXPECT_FALSE(cache.Record("AK1", "n", t0));
  // ...until the minute that shares its slot comes.
  EXPECT_TRUE(cache.Record("AK1", "x", t0 + 32 * 60000));
  EXPECT_EQ(cache.size(), 32u);
}

}  // namespace
}  // namespace ternion::security
