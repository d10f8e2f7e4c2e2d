#include "master/access_control.h"

#include <gtest/gtest.h>

#include "tests/testutil/fake_clock.h"

namespace ternion::master {
namespace {

security::MasterKey Key(char digit) { return *security::MasterKey::FromHex(std::string(64, digit)); }

class AccessControlTest : public ::testing::Test {
 protected:
  // Loads every record `batch` wrote into a fresh AccessControl, as a restarted master would.
  absl::Status Reload(const MetadataBatch& batch, AccessControl* into) {
    absl::MutexLock lock(&into->mu);
    for (const auto& [key, value] : batch.puts) {
      if (key.rfind(kUserPrefix, 0) == 0) {
        ternion::v1::UserRecord u;
        EXPECT_TRUE(u.ParseFromString(value));
        into->LoadUser(u);
      } else if (key.rfind(kAccessKeyPrefix, 0) == 0) {
        ternion::v1::AccessKeyRecord k;
        EXPECT_TRUE(k.ParseFromString(value));
        if (absl::Status s = into->LoadKey(k); !s.ok()) return s;
      }
    }
    return absl::OkStatus();
  }

  // Runs `fn` under the lock, as the master's callers of AccessControl do (`fn` says it needs
  // the lock, so the thread-safety analysis checks the call).
  template <typename Fn>
  auto Locked(Fn fn) {
    absl::MutexLock lock(&access_.mu);
    return fn();
  }

  testing::FakeClock clock_;
  security::MasterKey key_ = Key('c');
  AccessControl access_{&key_, &clock_};
  MetadataBatch batch_;
};

TEST_F(AccessControlTest, AKeyAuthenticatesItsUserUntilDisabledOrRevoked) {
  ASSERT_TRUE(Locked([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(access_.mu) {
                return access_.CreateUser("ann", false, &batch_);
              }).ok());
  EXPECT_EQ(Locked([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(access_.mu) {
              return access_.CreateUser("ann", false, &batch_);
            })
                .status()
                .code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(Locked([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(access_.mu) {
              return access_.CreateUser("Bad Name", false, &batch_);
            })
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<NewAccessKey> k = Locked([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(access_.mu) {
    return access_.CreateKey("ann", &batch_);
  });
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_EQ(k->key.id.size(), 22u);
  EXPECT_EQ(k->secret.size(), 40u);
  EXPECT_FALSE(Locked([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(access_.mu) {
                 return access_.CreateKey("nobody", &batch_);
               }).ok());
  auto found = access_.FindKey(k->key.id);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->user, "ann");
  EXPECT_EQ(found->secret, k->secret);
  EXPECT_TRUE(found->enabled);

  ASSERT_TRUE(Locked([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(access_.mu) {
                return access_.SetUserDisabled("ann", true, &batch_);
              }).ok());
  EXPECT_FALSE(access_.FindKey(k->key.id)->enabled);
  ASSERT_TRUE(Locked([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(access_.mu) {
                return access_.SetUserDisabled("ann", false, &batch_);
              }).ok());
  EXPECT_TRUE(access_.FindKey(k->key.id)->enabled);
  ASSERT_TRUE(Locked([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(access_.mu) {
                return access_.RevokeKey(k->key.id, &batch_);
              }).ok());
  EXPECT_FALSE(access_.FindKey(k->key.id)->enabled);
  EXPECT_FALSE(access_.FindKey("TKNOSUCHKEY").has_value());
}

TEST_F(AccessControlTest, ARotatedKeyWorksThroughItsGraceOnly) {
  ASSERT_TRUE(Locked([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(access_.mu) {
                return access_.CreateUser("ann", false, &batch_);
              }).ok());
  NewAccessKey old = *Locked([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(access_.mu) {
    return access_.CreateKey("ann", &batch_);
  });
  absl::StatusOr<NewAccessKey> fresh = Locked([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(access_.mu) {
    return access_.RotateKey(old.key.id, absl::Hours(1), &batch_);
  });
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_NE(fresh->key.id, old.key.id);
  EXPECT_EQ(fresh->key.user, "ann");
  EXPECT_TRUE(access_.FindKey(old.key.id)->enabled);
  clock_.Advance(absl::Hours(1));
  EXPECT_FALSE(access_.FindKey(old.key.id)->enabled);
  EXPECT_TRUE(access_.FindKey(fresh->key.id)->enabled);
  // Without grace the old key is revoked at once; a revoked key cannot be rotated.
  absl::StatusOr<NewAccessKey> third = Locked([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(access_.mu) {
    return access_.RotateKey(fresh->key.id, absl::ZeroDuration(), &batch_);
  });
  ASSERT_TRUE(third.ok());
  EXPECT_FALSE(access_.FindKey(fresh->key.id)->enabled);
  EXPECT_FALSE(Locked([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(access_.mu) {
                 return access_.RotateKey(fresh->key.id, absl::ZeroDuration(), &batch_);
               }).ok());
  EXPECT_FALSE(Locked([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(access_.mu) {
                 return access_.RotateKey(third->key.id, absl::Hours(24 * 31), &batch_);
               }).ok());
}

TEST_F(AccessControlTest, SecretsArePersistedOnlyWrappedAndReloadWithTheSameMasterKey) {
  NewAccessKey k;
  {
    absl::MutexLock lock(&access_.mu);
    ASSERT_TRUE(access_.CreateUser("ann", true, &batch_).ok());
    k = *access_.CreateKey("ann", &batch_);
  }
  for (const auto& [key, value] : batch_.puts) {
    EXPECT_EQ(value.find(k.secret), std::string::npos) << key;
  }
  AccessControl reloaded(&key_, &clock_);
  ASSERT_TRUE(Reload(batch_, &reloaded).ok());
  EXPECT_EQ(reloaded.FindKey(k.key.id)->secret, k.secret);
  {
    absl::ReaderMutexLock lock(&reloaded.mu);
    EXPECT_TRUE(reloaded.FindUser("ann")->cluster_admin);
  }
  const security::MasterKey other = Key('d');
  AccessControl wrong(&other, &clock_);
  EXPECT_EQ(Reload(batch_, &wrong).code(), absl::StatusCode::kDataLoss);
  AccessControl keyless(nullptr, &clock_);
  EXPECT_EQ(Reload(batch_, &keyless).code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(AccessControlTest, KeysPerUserAreBounded) {
  absl::MutexLock lock(&access_.mu);
  ASSERT_TRUE(access_.CreateUser("ann", false, &batch_).ok());
  for (size_t i = 0; i < AccessControl::kMaxKeysPerUser; ++i) {
    ASSERT_TRUE(access_.CreateKey("ann", &batch_).ok());
  }
  EXPECT_EQ(access_.CreateKey("ann", &batch_).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(access_.Keys("ann").size(), AccessControl::kMaxKeysPerUser);
}

}  // namespace
}  // namespace ternion::master
