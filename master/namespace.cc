#include "master/namespace.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/names.h"
#include "common/status_macros.h"
#include "master/metadata_keys.h"

namespace ternion::master {

using ternion::v1::FileRecord;

FileFacts Namespace::FactsOf(const FileRecord& f) {
  FileFacts facts;
  facts.chunk_size = static_cast<uint32_t>(f.chunk_size());
  facts.sealed = f.sealed();
  facts.leased = !f.lease_id().empty();
  facts.lease_expires_unix_ms = f.lease_expires_unix_ms();
  facts.modified_unix_ms = f.modified_unix_ms();
  return facts;
}

void Namespace::LoadProject(ternion::v1::ProjectRecord p) {
  std::string name = p.name();
  projects_[name] = std::move(p);
}

void Namespace::LoadFile(FileRecord f) {
  facts_.Put(f.file_id(), FactsOf(f));
  std::string key = FileKey(f.project(), f.path());
  if (!f.lease_id().empty()) leased_.insert(key);
  files_[key] = std::move(f);
}

absl::Status Namespace::CheckProject(const std::string& project) const {
  if (!projects_.contains(project)) {
    return absl::NotFoundError(absl::StrCat("project ", project, " does not exist"));
  }
  return absl::OkStatus();
}

bool Namespace::Exists(const std::string& project, const std::string& path) const {
  return files_.contains(FileKey(project, path));
}

absl::StatusOr<const FileRecord*> Namespace::Find(const std::string& project,
                                                  const std::string& path) const {
  RETURN_IF_ERROR(ValidateProjectName(project));
  RETURN_IF_ERROR(ValidatePath(path));
  RETURN_IF_ERROR(CheckProject(project));
  auto it = files_.find(FileKey(project, path));
  if (it == files_.end()) {
    return absl::NotFoundError(absl::StrCat("file ", project, "/", path, " does not exist"));
  }
  return &it->second;
}

absl::StatusOr<const FileRecord*> Namespace::CheckLease(const LeaseRef& lease) const {
  ASSIGN_OR_RETURN(const FileRecord* f, Find(lease.project, lease.path));
  if (f->sealed()) return absl::FailedPreconditionError("file is sealed");
  if (lease.lease_id.empty() || f->lease_id() != lease.lease_id) {
    return absl::FailedPreconditionError(
        absl::StrCat("no valid lease on ", lease.project, "/", lease.path,
                     " (expired and taken by another writer, or released)"));
  }
  if (LeasePastHardLimit(*f)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the lease on ", lease.project, "/", lease.path, " expired more than ",
        absl::FormatDuration(lease_hard_limit_), " ago and was recovered; reopen the file"));
  }
  return f;
}

bool Namespace::UnderLease(const FileRecord& f) const {
  return !f.lease_id().empty() && f.lease_expires_unix_ms() > clock_->NowMs();
}

bool Namespace::LeasePastHardLimit(const FileRecord& f) const {
  return LeaseRecovered(FactsOf(f), clock_->NowMs(), lease_hard_limit_);
}

std::vector<const FileRecord*> Namespace::LeasesPastHardLimit(size_t max,
                                                              std::string* cursor) const {
  std::vector<const FileRecord*> out;
  const auto start = leased_.upper_bound(*cursor);
  auto take = [&](auto from, auto to) ABSL_SHARED_LOCKS_REQUIRED(mu) {
    for (auto it = from; it != to && out.size() < max; ++it) {
      const FileRecord& f = files_.at(*it);
      if (!LeasePastHardLimit(f)) continue;
      out.push_back(&f);
      *cursor = *it;
    }
  };
  take(start, leased_.end());
  take(leased_.begin(), start);
  return out;
}

absl::Status Namespace::CreateProject(const ternion::v1::ProjectRecord& p, MetadataBatch* batch) {
  if (projects_.contains(p.name())) {
    return absl::AlreadyExistsError(absl::StrCat("project ", p.name(), " already exists"));
  }
  batch->Put(kProjectPrefix + p.name(), p.SerializeAsString());
  projects_[p.name()] = p;
  return absl::OkStatus();
}

void Namespace::UpdateProject(const ternion::v1::ProjectRecord& p, MetadataBatch* batch) {
  batch->Put(kProjectPrefix + p.name(), p.SerializeAsString());
  projects_[p.name()] = p;
}

void Namespace::DropFilePolicies(const std::string& project, const std::string& path,
                                 MetadataBatch* batch) {
  auto it = projects_.find(project);
  if (it == projects_.end()) return;
  ternion::v1::ProjectRecord p = it->second;
  auto names_file = [&](const auto& r) {
    return r.kind() == ternion::v1::GrantRecord::FILE && r.path() == path;
  };
  int dropped = EraseGrants(&p, names_file) + EraseIf(p.mutable_labels(), names_file) +
                EraseIf(p.mutable_label_exceptions(), names_file);
  for (ternion::v1::PackageRecord& k : *p.mutable_packages()) {
    dropped += EraseIf(k.mutable_entries(), names_file);
  }
  if (dropped > 0) UpdateProject(p, batch);
}

void Namespace::CarryLabels(const std::string& project, const std::string& from,
                            const std::string& to, MetadataBatch* batch) {
  auto it = projects_.find(project);
  if (it == projects_.end()) return;
  ternion::v1::ProjectRecord p = it->second;
  std::map<std::string, int> levels;  // column ("" the file itself) -> level
  for (const ternion::v1::LabelRecord& l : p.labels()) {
    const bool covers = l.kind() == ternion::v1::GrantRecord::FILE
                            ? l.path() == from
                            : absl::StartsWith(from, l.path());
    if (covers) levels[l.column()] = std::max(levels[l.column()], l.level());
  }
  if (levels.empty()) return;
  for (const auto& [column, level] : levels) {
    ternion::v1::LabelRecord* r = p.add_labels();
    r->set_kind(ternion::v1::GrantRecord::FILE);
    r->set_path(to);
    r->set_column(column);
    r->set_level(level);
  }
  UpdateProject(p, batch);
}

const FileRecord& Namespace::Put(FileRecord f, MetadataBatch* batch) {
  batch->Put(kFilePrefix + FileKey(f.project(), f.path()), f.SerializeAsString());
  if (f.file_id() >= next_file_id_) {
    next_file_id_ = f.file_id() + 1;
    batch->Put(kNextFileIdKey, absl::StrCat(next_file_id_));
  }
  facts_.Put(f.file_id(), FactsOf(f));
  std::string key = FileKey(f.project(), f.path());
  if (f.lease_id().empty()) {
    leased_.erase(key);
  } else {
    leased_.insert(key);
  }
  FileRecord& stored = files_[std::move(key)];
  stored = std::move(f);
  return stored;
}

void Namespace::Erase(const std::string& project, const std::string& path, MetadataBatch* batch) {
  auto it = files_.find(FileKey(project, path));
  if (it == files_.end()) return;
  batch->Delete(kFilePrefix + it->first);
  leased_.erase(it->first);
  facts_.Erase(it->second.file_id());
  files_.erase(it);
}

FileRecord Namespace::WithNewLease(FileRecord f, const std::string& client_id) {
  f.set_lease_id(absl::StrFormat("%016x", absl::Uniform<uint64_t>(gen_)));
  f.set_lease_holder(client_id);
  f.set_modified_unix_ms(clock_->NowMs());
  return WithLeaseRenewed(std::move(f));
}

FileRecord Namespace::WithLeaseRenewed(FileRecord f) const {
  f.set_lease_expires_unix_ms(clock_->NowMs() + absl::ToInt64Milliseconds(lease_duration_));
  return f;
}

absl::Status Namespace::CheckFacts() const {
  if (facts_.size() != files_.size()) {
    return absl::InternalError(absl::StrCat("facts of ", facts_.size(), " files, not ",
                                            files_.size()));
  }
  for (const auto& [key, f] : files_) {
    std::optional<FileFacts> facts = facts_.Get(f.file_id());
    if (!facts || !(*facts == FactsOf(f))) {
      return absl::InternalError(absl::StrCat("the facts of file ", f.path(), " are stale"));
    }
    if (leased_.contains(key) != facts->leased) {
      return absl::InternalError(absl::StrCat("the lease index of file ", f.path(), " is stale"));
    }
  }
  if (leased_.size() > files_.size()) return absl::InternalError("the lease index has extra files");
  return absl::OkStatus();
}

}  // namespace ternion::master
