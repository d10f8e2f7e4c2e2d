#include "master/access_control.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/names.h"

namespace ternion::master {
namespace {

// What a key's secret is wrapped for: the key's own record, so it cannot be moved to another.
std::string WrapName(const std::string& id) { return absl::StrCat("access-key/", id); }

}  // namespace

UserView AccessControl::ViewOf(const ternion::v1::UserRecord& u) {
  return {.name = u.name(),
          .cluster_admin = u.cluster_admin(),
          .disabled = u.disabled(),
          .created_unix_ms = u.created_unix_ms()};
}

AccessKeyView AccessControl::ViewOf(const ternion::v1::AccessKeyRecord& k) {
  return {.id = k.id(),
          .user = k.user(),
          .created_unix_ms = k.created_unix_ms(),
          .expires_unix_ms = k.expires_unix_ms(),
          .revoked = k.revoked()};
}

void AccessControl::LoadUser(const ternion::v1::UserRecord& u) { users_[u.name()] = u; }

absl::Status AccessControl::LoadKey(const ternion::v1::AccessKeyRecord& k) {
  if (master_key_ == nullptr) {
    return absl::FailedPreconditionError(
        "the metadata holds AccessKeys but no master key was given (--master-key-file or "
        "TERNION_MASTER_KEY)");
  }
  absl::StatusOr<std::string> secret = master_key_->Unwrap(k.wrapped_secret(), WrapName(k.id()));
  if (!secret.ok()) return secret.status();
  keys_[k.id()] = Key{.record = k, .secret = *std::move(secret)};
  return absl::OkStatus();
}

bool AccessControl::Usable(const ternion::v1::AccessKeyRecord& k) const {
  if (k.revoked()) return false;
  if (k.expires_unix_ms() != 0 && clock_->NowMs() >= k.expires_unix_ms()) return false;
  auto u = users_.find(k.user());
  return u != users_.end() && !u->second.disabled();
}

std::optional<security::RequestVerifier::Key> AccessControl::FindKey(const std::string& id) const {
  absl::ReaderMutexLock lock(&mu);
  auto it = keys_.find(id);
  if (it == keys_.end()) return std::nullopt;
  return security::RequestVerifier::Key{.user = it->second.record.user(),
                                        .secret = it->second.secret,
                                        .enabled = Usable(it->second.record)};
}

std::optional<UserView> AccessControl::FindUser(const std::string& name) const {
  auto it = users_.find(name);
  if (it == users_.end()) return std::nullopt;
  return ViewOf(it->second);
}

std::optional<AccessKeyView> AccessControl::FindKeyView(const std::string& id) const {
  auto it = keys_.find(id);
  if (it == keys_.end()) return std::nullopt;
  return ViewOf(it->second.record);
}

std::vector<UserView> AccessControl::Users() const {
  std::vector<UserView> out;
  for (const auto& [name, u] : users_) out.push_back(ViewOf(u));
  return out;
}

std::vector<AccessKeyView> AccessControl::Keys(const std::string& user) const {
  std::vector<AccessKeyView> out;
  for (const auto& [id, k] : keys_) {
    if (user.empty() || k.record.user() == user) out.push_back(ViewOf(k.record));
  }
  return out;
}

absl::StatusOr<UserView> AccessControl::CreateUser(const std::string& name, bool cluster_admin,
                                                   MetadataBatch* batch) {
  if (absl::Status s = ValidateUserName(name); !s.ok()) return s;
  if (users_.contains(name)) return absl::AlreadyExistsError(absl::StrCat("user ", name, " exists"));
  if (users_.size() >= kMaxUsers) {
    return absl::ResourceExhaustedError(absl::StrCat("at most ", kMaxUsers, " users"));
  }
  ternion::v1::UserRecord u;
  u.set_name(name);
  u.set_cluster_admin(cluster_admin);
  u.set_created_unix_ms(clock_->NowMs());
  batch->Put(absl::StrCat(kUserPrefix, name), u.SerializeAsString());
  users_[name] = u;
  return ViewOf(u);
}

absl::StatusOr<UserView> AccessControl::SetUserDisabled(const std::string& name, bool disabled,
                                                        MetadataBatch* batch) {
  auto it = users_.find(name);
  if (it == users_.end()) return absl::NotFoundError(absl::StrCat("no user ", name));
  it->second.set_disabled(disabled);
  batch->Put(absl::StrCat(kUserPrefix, name), it->second.SerializeAsString());
  return ViewOf(it->second);
}

size_t AccessControl::Rewrap(const security::MasterKey& to, MetadataBatch* batch) {
  for (auto& [id, k] : keys_) {
    k.record.set_wrapped_secret(to.Wrap(k.secret, WrapName(id)));
    batch->Put(absl::StrCat(kAccessKeyPrefix, id), k.record.SerializeAsString());
  }
  return keys_.size();
}

void AccessControl::PutKey(Key k, MetadataBatch* batch) {
  batch->Put(absl::StrCat(kAccessKeyPrefix, k.record.id()), k.record.SerializeAsString());
  const std::string id = k.record.id();
  keys_[id] = std::move(k);
}

absl::StatusOr<NewAccessKey> AccessControl::CreateKey(const std::string& user,
                                                      MetadataBatch* batch) {
  if (master_key_ == nullptr) {
    return absl::FailedPreconditionError("this master has no master key: it cannot keep secrets");
  }
  auto u = users_.find(user);
  if (u == users_.end()) return absl::NotFoundError(absl::StrCat("no user ", user));
  size_t live = 0;
  for (const auto& [id, k] : keys_) live += k.record.user() == user && !k.record.revoked();
  if (live >= kMaxKeysPerUser) {
    return absl::ResourceExhaustedError(
        absl::StrCat("user ", user, " has ", live, " keys not revoked; revoke one first"));
  }
  Key k;
  do {
    k.record.set_id(absl::StrCat("TK", absl::AsciiStrToUpper(absl::BytesToHexString(
                                           security::SecureRandomBytes(10)))));
  } while (keys_.contains(k.record.id()));
  k.secret = absl::WebSafeBase64Escape(security::SecureRandomBytes(30));  // 40 characters
  k.record.set_user(user);
  k.record.set_wrapped_secret(master_key_->Wrap(k.secret, WrapName(k.record.id())));
  k.record.set_created_unix_ms(clock_->NowMs());
  NewAccessKey out{.key = ViewOf(k.record), .secret = k.secret};
  PutKey(std::move(k), batch);
  return out;
}

absl::StatusOr<NewAccessKey> AccessControl::RotateKey(const std::string& id, absl::Duration grace,
                                                      MetadataBatch* batch) {
  auto it = keys_.find(id);
  if (it == keys_.end()) return absl::NotFoundError(absl::StrCat("no access key ", id));
  if (it->second.record.revoked()) {
    return absl::FailedPreconditionError(absl::StrCat("access key ", id, " is revoked"));
  }
  if (grace < absl::ZeroDuration() || grace > absl::Hours(24 * 30)) {
    return absl::InvalidArgumentError("the grace period is 0 to 30 days");
  }
  Key old = it->second;  // CreateKey may count it; change it only once the new key exists
  if (grace == absl::ZeroDuration()) {
    old.record.set_revoked(true);
  } else {
    old.record.set_expires_unix_ms(clock_->NowMs() + absl::ToInt64Milliseconds(grace));
  }
  absl::StatusOr<NewAccessKey> fresh = CreateKey(old.record.user(), batch);
  if (!fresh.ok()) return fresh.status();
  PutKey(std::move(old), batch);
  return fresh;
}

absl::StatusOr<AccessKeyView> AccessControl::RevokeKey(const std::string& id,
                                                       MetadataBatch* batch) {
  auto it = keys_.find(id);
  if (it == keys_.end()) return absl::NotFoundError(absl::StrCat("no access key ", id));
  Key k = it->second;
  k.record.set_revoked(true);
  AccessKeyView view = ViewOf(k.record);
  PutKey(std::move(k), batch);
  return view;
}

}  // namespace ternion::master
