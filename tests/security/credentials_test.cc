#include "security/credentials.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>

#include "tests/testutil/temp_dir.h"

namespace ternion::security {
namespace {

TEST(CredentialsTest, AProfileRoundTrips) {
  const Credentials c{.key_id = "TK01", .secret = "s3cr=t", .master = "127.0.0.1:7000"};
  absl::StatusOr<Credentials> back = ParseProfile(FormatProfile(c));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->key_id, "TK01");
  EXPECT_EQ(back->secret, "s3cr=t");  // only the first '=' separates
  EXPECT_EQ(back->master, "127.0.0.1:7000");
}

TEST(CredentialsTest, ABadProfileIsRefusedNamingTheLine) {
  EXPECT_FALSE(ParseProfile("access_key_id = TK01\n").ok());  // no secret
  absl::StatusOr<Credentials> c = ParseProfile("# c\naccess_key_id = a\nsecret b\n");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("line 3"), std::string::npos) << c.status();
  EXPECT_FALSE(ParseProfile("access_key_id=a\naccess_key_secret=b\nregion=x\n").ok());
}

TEST(CredentialsTest, ProfilesArePrivateAndTheEnvironmentIsRead) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/profile";
  ASSERT_TRUE(WriteProfile(path, {.key_id = "TK02", .secret = "x"}).ok());
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  EXPECT_EQ(FindCredentials(path)->key_id, "TK02");
  ASSERT_EQ(::chmod(path.c_str(), 0640), 0);
  EXPECT_EQ(ReadProfile(path).status().code(), absl::StatusCode::kPermissionDenied);
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);

  ::setenv(kProfileEnv, path.c_str(), 1);
  EXPECT_EQ(FindCredentials("")->key_id, "TK02");
  ::setenv(kAccessKeyIdEnv, "TK03", 1);
  EXPECT_FALSE(FindCredentials("").ok());  // an id without its secret
  ::setenv(kAccessKeySecretEnv, "y", 1);
  EXPECT_EQ(FindCredentials("")->key_id, "TK03");  // the variables come before the profile
  EXPECT_EQ(FindCredentials(path)->key_id, "TK02");  // an explicit profile comes first
  ::unsetenv(kAccessKeyIdEnv);
  ::unsetenv(kAccessKeySecretEnv);
  ::unsetenv(kProfileEnv);
}

}  // namespace
}  // namespace ternion::security
