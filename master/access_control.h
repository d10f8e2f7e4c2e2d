#pragma once

// AccessControl: the users and AccessKeys of the cluster, with a lock of its own. Secrets are
// persisted only wrapped by the master key (security/master_key.h) and held unwrapped in memory
// to verify request signatures. Its lock comes after the namespace's and before the chunk
// manager's in the master's lock order (docs/architecture.md); admission takes it alone.
//
// As in the Namespace, a change is applied to memory and its records added to the caller's
// MetadataBatch, which the caller appends to the metadata log before releasing `mu`.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/random/random.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "master/metadata_store.h"
#include "security/master_key.h"
#include "security/request_signing.h"
#include "ternion/v1/metadata.pb.h"

namespace ternion::master {

inline constexpr char kUserPrefix[] = "us/";
inline constexpr char kAccessKeyPrefix[] = "ak/";
inline constexpr char kBootstrapAdmin[] = "admin";

struct UserView {
  std::string name;
  bool cluster_admin = false;
  bool disabled = false;
  int64_t created_unix_ms = 0;
};

struct AccessKeyView {
  std::string id;
  std::string user;
  int64_t created_unix_ms = 0;
  int64_t expires_unix_ms = 0;  // 0: never
  bool revoked = false;
};

// A key just made: the only moment its secret leaves the master.
struct NewAccessKey {
  AccessKeyView key;
  std::string secret;
};

class AccessControl {
 public:
  // `master_key` may be null: then no key can be made or loaded (a master without users).
  AccessControl(const security::MasterKey* master_key, const Clock* clock)
      : master_key_(master_key), clock_(clock) {}

  mutable absl::Mutex mu;

  // Loading, before the master serves. A key that does not unwrap is DATA_LOSS (wrong master
  // key): the master must not start without its users' keys.
  void LoadUser(const ternion::v1::UserRecord& u) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  absl::Status LoadKey(const ternion::v1::AccessKeyRecord& k) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

  // The key as the request verifier needs it (nullopt: unknown). Takes `mu`.
  std::optional<security::RequestVerifier::Key> FindKey(const std::string& id) const
      ABSL_LOCKS_EXCLUDED(mu);
  std::optional<UserView> FindUser(const std::string& name) const ABSL_SHARED_LOCKS_REQUIRED(mu);
  std::optional<AccessKeyView> FindKeyView(const std::string& id) const
      ABSL_SHARED_LOCKS_REQUIRED(mu);
  std::vector<UserView> Users() const ABSL_SHARED_LOCKS_REQUIRED(mu);
  // Every key, or those of `user`.
  std::vector<AccessKeyView> Keys(const std::string& user) const ABSL_SHARED_LOCKS_REQUIRED(mu);
  bool has_users() const ABSL_SHARED_LOCKS_REQUIRED(mu) { return !users_.empty(); }

  // Changes. Each validates first and changes nothing when refused.
  absl::StatusOr<UserView> CreateUser(const std::string& name, bool cluster_admin,
                                      MetadataBatch* batch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  absl::StatusOr<UserView> SetUserDisabled(const std::string& name, bool disabled,
                                           MetadataBatch* batch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  absl::StatusOr<NewAccessKey> CreateKey(const std::string& user, MetadataBatch* batch)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // A new key for the user of key `id`; `id` keeps working for `grace` (zero: revoked now).
  absl::StatusOr<NewAccessKey> RotateKey(const std::string& id, absl::Duration grace,
                                         MetadataBatch* batch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  absl::StatusOr<AccessKeyView> RevokeKey(const std::string& id, MetadataBatch* batch)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

  // At most this many users and keys per user (every input from the network is bounded).
  static constexpr size_t kMaxUsers = 100000;
  static constexpr size_t kMaxKeysPerUser = 16;

 private:
  struct Key {
    ternion::v1::AccessKeyRecord record;  // wrapped secret included, as persisted
    std::string secret;                   // unwrapped
  };
  static AccessKeyView ViewOf(const ternion::v1::AccessKeyRecord& k);
  static UserView ViewOf(const ternion::v1::UserRecord& u);
  bool Usable(const ternion::v1::AccessKeyRecord& k) const ABSL_SHARED_LOCKS_REQUIRED(mu);
  void PutKey(Key k, MetadataBatch* batch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

 public:
  // Every AccessKey secret wrapped by `to` instead (master-key rotation); returns how many.
  size_t Rewrap(const security::MasterKey& to, MetadataBatch* batch)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

 private:
  const security::MasterKey* const master_key_;
  const Clock* const clock_;
  std::map<std::string, ternion::v1::UserRecord> users_ ABSL_GUARDED_BY(mu);
  std::map<std::string, Key> keys_ ABSL_GUARDED_BY(mu);
};

}  // namespace ternion::master
