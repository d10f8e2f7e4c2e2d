#include "security/row_crypto.h"

#include <gtest/gtest.h>

#include <string>

#include "absl/strings/escaping.h"

namespace ternion::security {
namespace {

std::string Hex(absl::string_view s) { return absl::BytesToHexString(s); }
std::string Unhex(absl::string_view s) { return absl::HexStringToBytes(s); }

SecretBytes Key(absl::string_view hex) { return SecretBytes::Copy(Unhex(hex)); }

// NIST's GCM test case 16 (AES-256, 96-bit IV, 20 bytes of AAD, 60 bytes of plaintext).
constexpr char kKey16[] = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
constexpr char kIv16[] = "cafebabefacedbaddecaf888";
constexpr char kPlain16[] =
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e24"
    "49a6b525b16aedf5aa0de657ba637b39";
constexpr char kAad16[] = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
constexpr char kSealed16[] =
    "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b10"
    "56828838c5f61e6393ba7a0abcc9f662"
    "76fc6ece0f4e1768cddf8853bb2d551b";  // the tag

TEST(AesGcmTest, MatchesNistTestCase16BothWays) {
  absl::StatusOr<AesGcm> gcm = AesGcm::New(Key(kKey16));
  ASSERT_TRUE(gcm.ok()) << gcm.status();
  std::string sealed = "prefix";  // appended to, never replaced
  ASSERT_TRUE(gcm->Seal(Unhex(kIv16), Unhex(kAad16), Unhex(kPlain16), &sealed).ok());
  EXPECT_EQ(Hex(sealed.substr(6)), kSealed16);
  std::string plain;
  ASSERT_TRUE(gcm->Open(Unhex(kIv16), Unhex(kAad16), Unhex(kSealed16), &plain).ok());
  EXPECT_EQ(Hex(plain), kPlain16);
}

TEST(AesGcmTest, AnyChangeFailsAuthenticationAndYieldsNothing) {
  absl::StatusOr<AesGcm> gcm = AesGcm::New(Key(kKey16));
  ASSERT_TRUE(gcm.ok());
  const std::string sealed = Unhex(kSealed16), iv = Unhex(kIv16), aad = Unhex(kAad16);
  auto flipped = [](std::string s, size_t bit) {
    s[bit / 8] = static_cast<char>(s[bit / 8] ^ (1 << (bit % 8)));
    return s;
  };
  struct Case {
    const char* what;
    std::string iv, aad, sealed;
  };
  const Case cases[] = {
      {"ciphertext bit", iv, aad, flipped(sealed, 77)},
      {"tag bit", iv, aad, flipped(sealed, (sealed.size() - 1) * 8)},
      {"nonce bit", flipped(iv, 3), aad, sealed},
      {"aad bit", iv, flipped(aad, 100), sealed},
      {"no aad", iv, "", sealed},
      {"truncated", iv, aad, sealed.substr(0, sealed.size() - 1)},
      {"shorter than a tag", iv, aad, sealed.substr(0, 15)},
      {"empty", iv, aad, ""},
  };
  for (const Case& c : cases) {
    std::string out = "kept";
    absl::Status s = gcm->Open(c.iv, c.aad, c.sealed, &out);
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << c.what;
    EXPECT_EQ(out, "kept") << c.what;
  }
  // Under another key, too.
  absl::StatusOr<AesGcm> other = AesGcm::New(SecretBytes(32));
  ASSERT_TRUE(other.ok());
  std::string out;
  EXPECT_EQ(other->Open(iv, aad, sealed, &out).code(), absl::StatusCode::kDataLoss);
  // The context is still good after refusals.
  ASSERT_TRUE(gcm->Open(iv, aad, sealed, &out).ok());
  EXPECT_EQ(Hex(out), kPlain16);
}

TEST(AesGcmTest, RoundTripsFromNothingToOneMebibyteWithOneContext) {
  absl::StatusOr<AesGcm> gcm = AesGcm::New(SecretBytes::Copy(std::string(32, 'k')));
  ASSERT_TRUE(gcm.ok());
  uint64_t counter = 0;
  for (size_t n : {0, 1, 15, 16, 17, 100, 4096, 1 << 20}) {
    std::string plain(n, '\0');
    for (size_t i = 0; i < n; ++i) plain[i] = static_cast<char>(i * 131 + n);
    std::string nonce(12, '\0');
    ++counter;
    std::memcpy(nonce.data(), &counter, sizeof(counter));
    std::string sealed;
    ASSERT_TRUE(gcm->Seal(nonce, "row", plain, &sealed).ok()) << n;
    ASSERT_EQ(sealed.size(), n + AesGcm::kTagBytes);
    if (n >= 16) EXPECT_EQ(sealed.find(plain.substr(0, 16)), std::string::npos) << n;
    std::string back;
    ASSERT_TRUE(gcm->Open(nonce, "row", sealed, &back).ok()) << n;
    EXPECT_EQ(back, plain) << n;
  }
}

TEST(AesGcmTest, BadArgumentsAreRefused) {
  EXPECT_EQ(AesGcm::New(SecretBytes(16)).status().code(), absl::StatusCode::kInvalidArgument);
  absl::StatusOr<AesGcm> gcm = AesGcm::New(SecretBytes(32));
  ASSERT_TRUE(gcm.ok());
  std::string out;
  EXPECT_EQ(gcm->Seal("short", "", "x", &out).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(gcm->Open("short", "", std::string(20, 'x'), &out).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(out.empty());
}

// The expected bytes are `openssl kdf -keylen 42 -kdfopt digest:SHA512 -kdfopt hexkey:0b..0b
// -kdfopt hexsalt:000102030405060708090a0b0c -kdfopt hexinfo:f0f1f2f3f4f5f6f7f8f9 HKDF` (the
// inputs of RFC 5869's test case 1, with SHA-512).
TEST(HkdfSha512Test, MatchesOpenSslsCommandLine) {
  absl::StatusOr<SecretBytes> out =
      HkdfSha512(SecretBytes::Copy(std::string(22, '\x0b')), Unhex("000102030405060708090a0b0c"),
                 Unhex("f0f1f2f3f4f5f6f7f8f9"), 42);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(Hex(out->view()),
            "832390086cda71fb47625bb5ceb168e4c8e26a1a16ed34d9fc7fe92c1481579338da362cb8d9f925d7cb");
  // Other info, other key; the length is bounded.
  absl::StatusOr<SecretBytes> other = HkdfSha512(SecretBytes::Copy(std::string(22, '\x0b')),
                                                 Unhex("000102030405060708090a0b0c"), "other", 42);
  ASSERT_TRUE(other.ok());
  EXPECT_NE(Hex(other->view()), Hex(out->view()));
  EXPECT_EQ(HkdfSha512(SecretBytes(32), "", "", 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HkdfSha512(SecretBytes(32), "", "", 255 * 64 + 1).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SecretBytesTest, MovesWithoutCopying) {
  SecretBytes a = SecretBytes::Copy("key material");
  const unsigned char* where = a.data();
  SecretBytes b = std::move(a);
  EXPECT_EQ(b.data(), where);
  EXPECT_EQ(b.view(), "key material");
  EXPECT_EQ(a.size(), 0u);  // NOLINT(bugprone-use-after-move): the moved-from state is empty
  b = SecretBytes(3);
  EXPECT_EQ(b.view(), std::string(3, '\0'));
}

}  // namespace
}  // namespace ternion::security
