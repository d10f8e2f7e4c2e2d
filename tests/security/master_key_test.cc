#include "security/master_key.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "tests/testutil/temp_dir.h"

namespace ternion::security {
namespace {

MasterKey Key(char digit) { return *MasterKey::FromHex(std::string(64, digit)); }

TEST(MasterKeyTest, WrapsForOneNameUnderOneKey) {
  const MasterKey key = Key('a');
  const std::string wrapped = key.Wrap("the secret", "access-key/TK1");
  EXPECT_EQ(wrapped.find("the secret"), std::string::npos);
  EXPECT_EQ(*key.Unwrap(wrapped, "access-key/TK1"), "the secret");
  // Two wraps of the same secret differ (random nonce).
  EXPECT_NE(key.Wrap("the secret", "access-key/TK1"), wrapped);
  // Another record, another key, any altered byte, a truncation: refused.
  EXPECT_EQ(key.Unwrap(wrapped, "access-key/TK2").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(Key('b').Unwrap(wrapped, "access-key/TK1").status().code(),
            absl::StatusCode::kDataLoss);
  for (size_t i = 0; i < wrapped.size(); ++i) {
    std::string bad = wrapped;
    bad[i] ^= 1;
    EXPECT_FALSE(key.Unwrap(bad, "access-key/TK1").ok()) << "byte " << i;
  }
  EXPECT_FALSE(key.Unwrap(wrapped.substr(0, 30), "access-key/TK1").ok());
  EXPECT_FALSE(key.Unwrap("", "access-key/TK1").ok());
}

TEST(MasterKeyTest, KeyFilesAreMadeOnceAndMustBePrivate) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/master.key";
  ASSERT_TRUE(MasterKey::CreateFile(path).ok());
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  EXPECT_EQ(MasterKey::CreateFile(path).code(), absl::StatusCode::kAlreadyExists);
  absl::StatusOr<MasterKey> key = MasterKey::FromFile(path);
  ASSERT_TRUE(key.ok()) << key.status();
  absl::StatusOr<MasterKey> again = MasterKey::FromFile(path);
  EXPECT_EQ(*again->Unwrap(key->Wrap("s", "n"), "n"), "s");  // the same key

  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  absl::StatusOr<MasterKey> open = MasterKey::FromFile(path);
  EXPECT_EQ(open.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(open.status().message().find("0644"), std::string::npos) << open.status();
  EXPECT_EQ(MasterKey::FromFile(dir.path() + "/absent").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(MasterKeyTest, OnlySixtyFourHexDigitsAreAKey) {
  EXPECT_TRUE(MasterKey::FromHex(std::string(64, 'F') + "\n").ok());
  EXPECT_FALSE(MasterKey::FromHex(std::string(63, 'a')).ok());
  EXPECT_FALSE(MasterKey::FromHex(std::string(66, 'a')).ok());
  EXPECT_FALSE(MasterKey::FromHex(std::string(63, 'a') + "g").ok());
  EXPECT_FALSE(MasterKey::FromHex("").ok());
}

}  // namespace
}  // namespace ternion::security
