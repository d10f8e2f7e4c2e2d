// Master: the projects' data keys for row encryption (envelope encryption, as a KMS keeps data
// keys under its root key). A key exists in clear only in this process while it is handed out,
// in locked memory; at rest it is wrapped by the master key; destroyed, it is gone from every
// file of the store.

#include "absl/strings/str_cat.h"
#include "common/names.h"
#include "common/status_macros.h"
#include "master/master.h"
#include "master/metadata_keys.h"

namespace ternion::master {
namespace {

constexpr size_t kDataKeyBytes = 32;
constexpr uint32_t kMaxDataKeyVersions = 10000;

std::string WrapName(const std::string& project, uint32_t version) {
  return absl::StrCat("data-key/", project, "/", version);
}

Master::DataKeyInfo InfoOf(const ternion::v1::DataKeyRecord& r) {
  return {.version = r.version(),
          .created_unix_ms = r.created_unix_ms(),
          .destroyed_unix_ms = r.destroyed_unix_ms()};
}

}  // namespace

absl::StatusOr<Master::DataKeyInfo> Master::RotateDataKey(const std::string& project,
                                                          const std::string& actor) {
  if (options_.master_key == nullptr) {
    return absl::FailedPreconditionError("no master key: data keys cannot be kept");
  }
  {
    absl::ReaderMutexLock ns(&ns_.mu);
    RETURN_IF_ERROR(ns_.CheckProject(project));
  }
  ternion::v1::DataKeyRecord r;
  {
    absl::MutexLock lock(&keys_mu_);
    uint32_t newest = 0;
    for (auto it = data_keys_.lower_bound({project, 0});
         it != data_keys_.end() && it->first.first == project; ++it) {
      newest = it->first.second;
    }
    if (newest >= kMaxDataKeyVersions) {
      return absl::ResourceExhaustedError(
          absl::StrCat("project ", project, " has ", kMaxDataKeyVersions, " data key versions"));
    }
    const security::SecretBytes secret = security::SecretBytes::Random(kDataKeyBytes);
    r.set_project(project);
    r.set_version(newest + 1);
    r.set_wrapped(options_.master_key->Wrap(secret.view(), WrapName(project, r.version())));
    r.set_created_unix_ms(NowMs());
    data_keys_[{project, r.version()}] = r;
    MetadataBatch batch;
    batch.Put(DataKeyKey(project, r.version()), r.SerializeAsString());
    CommitAudited(std::move(batch),
                  {.action = "master",
                   .detail = absl::StrCat("project ", project, ": data key version ", r.version(),
                                          " created by ", actor)});
  }
  RETURN_IF_ERROR(WaitDurable());
  return InfoOf(r);
}

absl::StatusOr<std::vector<Master::DataKeyInfo>> Master::ListDataKeys(const std::string& project) {
  {
    absl::ReaderMutexLock ns(&ns_.mu);
    RETURN_IF_ERROR(ns_.CheckProject(project));
  }
  absl::MutexLock lock(&keys_mu_);
  std::vector<DataKeyInfo> out;
  for (auto it = data_keys_.lower_bound({project, 0});
       it != data_keys_.end() && it->first.first == project; ++it) {
    out.push_back(InfoOf(it->second));
  }
  return out;
}

absl::StatusOr<std::pair<uint32_t, security::SecretBytes>> Master::DataKey(
    const std::string& project, uint32_t version, bool create, const std::string& actor) {
  if (options_.master_key == nullptr) {
    return absl::FailedPreconditionError("no master key: data keys cannot be kept");
  }
  ASSIGN_OR_RETURN(std::vector<DataKeyInfo> versions, ListDataKeys(project));
  if (versions.empty() && create) {
    ASSIGN_OR_RETURN(DataKeyInfo first, RotateDataKey(project, actor));
    versions.push_back(first);
  }
  if (versions.empty()) {
    return absl::NotFoundError(absl::StrCat("project ", project, " has no data key yet"));
  }
  if (version == 0) version = versions.back().version;
  ternion::v1::DataKeyRecord r;
  {
    absl::MutexLock lock(&keys_mu_);
    auto it = data_keys_.find({project, version});
    if (it == data_keys_.end()) {
      return absl::NotFoundError(
          absl::StrCat("project ", project, " has no data key version ", version));
    }
    r = it->second;
  }
  if (r.destroyed_unix_ms() != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "data key version ", version, " of project ", project, " was destroyed at ",
        absl::FormatTime(absl::FromUnixMillis(r.destroyed_unix_ms()), absl::UTCTimeZone()),
        ": its rows can no longer be read"));
  }
  absl::StatusOr<std::string> secret =
      options_.master_key->Unwrap(r.wrapped(), WrapName(project, version));
  if (!secret.ok()) return secret.status();
  security::SecretBytes key = security::SecretBytes::Copy(*secret);
  security::Wipe(&*secret);
  return std::make_pair(version, std::move(key));
}

absl::Status Master::DestroyDataKey(const std::string& project, uint32_t version,
                                    const std::string& actor) {
  {
    absl::MutexLock lock(&keys_mu_);
    auto it = data_keys_.find({project, version});
    if (it == data_keys_.end()) {
      return absl::NotFoundError(
          absl::StrCat("project ", project, " has no data key version ", version));
    }
    if (it->second.destroyed_unix_ms() == 0) {
      it->second.clear_wrapped();
      it->second.set_destroyed_unix_ms(NowMs());
      MetadataBatch batch;
      batch.Put(DataKeyKey(project, version), it->second.SerializeAsString());
      CommitAudited(std::move(batch),
                    {.action = "master",
                     .detail = absl::StrCat("project ", project, ": data key version ", version,
                                            " destroyed by ", actor)});
    }
  }
  RETURN_IF_ERROR(WaitDurable());
  // The record is overwritten; the older value may still sit in a file until compacted. Done
  // even when the version was destroyed before, in case the first compaction failed.
  return store_->CompactAll();
}

absl::Status Master::RewrapSecrets(const security::MasterKey& to, const std::string& actor) {
  if (options_.master_key == nullptr) {
    return absl::FailedPreconditionError("no master key: nothing is wrapped");
  }
  MetadataBatch batch;
  batch.Put(kTokenKeyKey, WrappedTokenKey(to));
  size_t secrets = 1;
  {
    absl::MutexLock access(&access_.mu);
    secrets += access_.Rewrap(to, &batch);
  }
  {
    absl::MutexLock lock(&keys_mu_);
    std::map<std::pair<std::string, uint32_t>, ternion::v1::DataKeyRecord> rewrapped = data_keys_;
    for (auto& [id, r] : rewrapped) {
      if (r.destroyed_unix_ms() != 0) continue;
      const std::string name = WrapName(id.first, id.second);
      ASSIGN_OR_RETURN(std::string secret, options_.master_key->Unwrap(r.wrapped(), name));
      r.set_wrapped(to.Wrap(secret, name));
      security::Wipe(&secret);
      batch.Put(DataKeyKey(id.first, id.second), r.SerializeAsString());
      ++secrets;
    }
    data_keys_ = std::move(rewrapped);
    CommitAudited(std::move(batch),
                  {.action = "master",
                   .detail = absl::StrCat("master key rotated by ", actor, ": ", secrets,
                                          " secrets wrapped by the new key")});
  }
  RETURN_IF_ERROR(WaitDurable());
  return store_->CompactAll();
}

absl::StatusOr<Master::ColumnKeys> Master::DeriveColumnKeys(const std::string& project,
                                                            const std::string& path,
                                                            uint32_t version, bool for_write,
                                                            const std::vector<std::string>& columns,
                                                            const std::string& actor) {
  if (columns.empty()) return absl::InvalidArgumentError("no columns named");
  for (const std::string& c : columns) RETURN_IF_ERROR(ValidateColumnName(c));
  ColumnKeys out;
  {
    absl::ReaderMutexLock ns(&ns_.mu);
    ASSIGN_OR_RETURN(const ternion::v1::FileRecord* f, ns_.Find(project, path));
    out.table_id = f->table_id();
  }
  if (out.table_id == 0) {
    return absl::FailedPreconditionError(absl::StrCat(project, "/", path, " is not a table"));
  }
  ASSIGN_OR_RETURN(auto data_key, DataKey(project, version, for_write && version == 0, actor));
  out.version = data_key.first;
  for (const std::string& column : columns) {
    ASSIGN_OR_RETURN(security::SecretBytes key,
                     security::HkdfSha512(data_key.second, "ternion column key v1",
                                          absl::StrCat(project, std::string(1, '\0'), out.table_id,
                                                       std::string(1, '\0'), column),
                                          kDataKeyBytes));
    out.keys.push_back(std::move(key));
  }
  return out;
}

}  // namespace ternion::master
