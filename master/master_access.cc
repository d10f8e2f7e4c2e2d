// Master: users and AccessKeys (access_control.h), and the views the access policy decides on.
// Every change is one batch with its audit record (ChangeAccess).

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/names.h"
#include "common/status_macros.h"
#include "master/exception_policy.h"
#include "master/master.h"
#include "master/metadata_keys.h"

namespace ternion::master {

namespace {
constexpr char kTokenKeyWrapName[] = "chunk-token-signing-key";
}  // namespace

std::string Master::WrappedTokenKey(const security::MasterKey& key) const {
  return key.Wrap(absl::string_view(reinterpret_cast<const char*>(token_key_.secret_key.data()),
                                    token_key_.secret_key.size()),
                  kTokenKeyWrapName);
}

absl::Status Master::LoadTokenKey() {
  if (options_.master_key == nullptr) {  // unit tests: a key for this process only
    token_key_ = security::TokenSigningKey::Generate();
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> wrapped = store_->Get(kTokenKeyKey);
  if (wrapped.ok()) {
    absl::StatusOr<std::string> secret = options_.master_key->Unwrap(*wrapped, kTokenKeyWrapName);
    if (!secret.ok()) return secret.status();
    absl::StatusOr<security::TokenSigningKey> key = security::TokenSigningKey::FromSecretKey(*secret);
    if (!key.ok()) return key.status();
    token_key_ = *key;
    return absl::OkStatus();
  }
  if (!absl::IsNotFound(wrapped.status())) return wrapped.status();
  token_key_ = security::TokenSigningKey::Generate();
  MetadataBatch batch;
  batch.Put(kTokenKeyKey, WrappedTokenKey(*options_.master_key));
  return store_->Write(batch);
}

std::string Master::SignChunkToken(security::ChunkToken t, int64_t* expires_unix_ms) const {
  t.expires_unix_ms = NowMs() + absl::ToInt64Milliseconds(options_.token_lifetime);
  if (expires_unix_ms != nullptr) *expires_unix_ms = t.expires_unix_ms;
  absl::StatusOr<std::string> wire = security::SignToken(t, token_key_);
  return wire.ok() ? *wire : std::string();  // out of bounds (never for a valid chunk): none
}

security::ReceiptKey Master::ReceiptKeyOf(const std::string& server_id) const {
  return security::DeriveReceiptKey(
      absl::string_view(reinterpret_cast<const char*>(token_key_.secret_key.data()),
                        token_key_.secret_key.size()),
      server_id);
}

std::optional<PrincipalView> Master::Principal(const std::string& user) {
  absl::ReaderMutexLock lock(&access_.mu);
  std::optional<UserView> u = access_.FindUser(user);
  if (!u.has_value()) return std::nullopt;
  return PrincipalView{.user = u->name, .cluster_admin = u->cluster_admin};
}

namespace {

ProjectView ViewOfProject(const ternion::v1::ProjectRecord& p) {
  ProjectView v{.name = p.name(),
                .owner = p.owner(),
                .members = {p.members().begin(), p.members().end()},
                .admins = {p.admins().begin(), p.admins().end()}};
  for (const ternion::v1::GrantRecord& g : p.grants()) {
    v.grants.push_back({.grantee = g.grantee(),
                        .actions = g.actions(),
                        .object = static_cast<GrantView::Object>(g.kind()),
                        .path = g.path()});
  }
  absl::StatusOr<IpWhitelist> whitelist = IpWhitelist::Parse(p.ip_whitelist());
  v.whitelist = whitelist.ok() ? *std::move(whitelist) : IpWhitelist::Nobody();
  v.ip_whitelist = p.ip_whitelist();
  v.protection = p.protection();
  v.trusted = {p.trusted().begin(), p.trusted().end()};
  v.exception_policy = p.exception_policy();
  for (const ternion::v1::ExceptionStatementRecord& r : p.exceptions()) {
    ExceptionStatement& st = v.exceptions.emplace_back();
    st.principals = {r.principals().begin(), r.principals().end()};
    st.actions = r.actions();
    for (const auto& res : r.resources()) {
      st.resources.push_back({.path = res.path(), .pinned_file_id = res.pinned_file_id()});
    }
    st.task_types = {r.task_types().begin(), r.task_types().end()};
  }
  for (const ternion::v1::PackageRecord& k : p.packages()) {
    PackageView& out = v.packages.emplace_back();
    out.name = k.name();
    for (const auto& e : k.entries()) {
      out.entries.push_back({.object = static_cast<GrantView::Object>(e.kind()),
                             .path = e.path(),
                             .actions = e.actions()});
    }
    out.allowed = {k.allowed().begin(), k.allowed().end()};
  }
  v.installed = {p.installed().begin(), p.installed().end()};
  v.label_security = p.label_security();
  v.no_write_down = p.no_write_down();
  for (const ternion::v1::LabelRecord& l : p.labels()) {
    v.labels.push_back({.object = static_cast<GrantView::Object>(l.kind()),
                        .path = l.path(),
                        .column = l.column(),
                        .level = l.level()});
  }
  v.clearances = {p.clearances().begin(), p.clearances().end()};
  for (const ternion::v1::LabelExceptionRecord& e : p.label_exceptions()) {
    v.label_exceptions.push_back({.user = e.user(),
                                  .object = static_cast<GrantView::Object>(e.kind()),
                                  .path = e.path(),
                                  .column = e.column(),
                                  .level = e.level(),
                                  .expires_unix_ms = e.expires_unix_ms()});
  }
  return v;
}

void Remove(google::protobuf::RepeatedPtrField<std::string>* list, const std::string& x) {
  list->erase(std::remove(list->begin(), list->end(), x), list->end());
}

}  // namespace

std::optional<ProjectView> Master::Project(const std::string& name) {
  absl::ReaderMutexLock lock(&ns_.mu);
  auto it = ns_.projects().find(name);
  if (it == ns_.projects().end()) return std::nullopt;
  return ViewOfProject(it->second);
}

absl::StatusOr<ProjectView> Master::SetProjectMember(const std::string& project,
                                                     const std::string& user, bool admin,
                                                     bool remove, const std::string& actor) {
  absl::MutexLock ns(&ns_.mu);
  RETURN_IF_ERROR(ns_.CheckProject(project));
  {
    absl::ReaderMutexLock access(&access_.mu);
    if (!remove && !access_.FindUser(user).has_value()) {
      return absl::NotFoundError(absl::StrCat("no user ", user));
    }
  }
  ternion::v1::ProjectRecord p = ns_.projects().at(project);
  Remove(p.mutable_members(), user);
  Remove(p.mutable_admins(), user);
  if (remove) {
    EraseGrants(&p, [&](const ternion::v1::GrantRecord& g) { return g.grantee() == user; });
  } else {
    if (static_cast<size_t>(p.members_size()) >= kMaxProjectMembers) {
      return absl::ResourceExhaustedError(
          absl::StrCat("project ", project, " has ", kMaxProjectMembers, " members"));
    }
    p.add_members(user);
    if (admin) p.add_admins(user);
  }
  MetadataBatch batch;
  ns_.UpdateProject(p, &batch);
  CommitAudited(
      std::move(batch),
      {.action = "master",
       .detail = absl::StrCat("project ", project, remove ? ": removed member " : ": member ", user,
                              admin && !remove ? " (admin)" : "", " by ", actor)});
  return ViewOfProject(p);
}

PolicySnapshot Master::PolicyState(const std::vector<std::string>& projects,
                                   const std::string& project, std::vector<ObjectRef>* objects) {
  PolicySnapshot state{.now_unix_ms = NowMs()};
  absl::ReaderMutexLock lock(&ns_.mu);
  for (const std::string& name : projects) {
    auto it = ns_.projects().find(name);
    if (it != ns_.projects().end()) state.projects.emplace(name, ViewOfProject(it->second));
  }
  for (ObjectRef& o : *objects) {
    absl::StatusOr<const ternion::v1::FileRecord*> f = ns_.Find(project, o.path);
    o.file_id = f.ok() ? (*f)->file_id() : 0;
  }
  return state;
}

absl::StatusOr<ProjectView> Master::ChangeProject(const std::string& project,
                                                  const std::string& actor,
                                                  const ProjectEdit& edit) {
  absl::MutexLock ns(&ns_.mu);
  RETURN_IF_ERROR(ns_.CheckProject(project));
  ternion::v1::ProjectRecord p = ns_.projects().at(project);
  MetadataBatch batch;
  ASSIGN_OR_RETURN(const std::string what, edit(&p, &batch));
  ns_.UpdateProject(p, &batch);
  CommitAudited(
      std::move(batch),
      {.action = "master", .detail = absl::StrCat("project ", project, ": ", what, " by ", actor)});
  return ViewOfProject(p);
}

absl::StatusOr<ProjectView> Master::SetProjectWhitelist(const std::string& project,
                                                        const std::string& whitelist,
                                                        const std::string& actor) {
  RETURN_IF_ERROR(IpWhitelist::Parse(whitelist).status());
  return ChangeProject(project, actor, [&](ternion::v1::ProjectRecord* p, MetadataBatch*) {
    p->set_ip_whitelist(whitelist);
    return absl::StrCat("IP whitelist ", whitelist.empty() ? "off" : "set to " + whitelist);
  });
}

absl::StatusOr<ProjectView> Master::SetProjectProtection(const std::string& project, bool on,
                                                         const std::string& actor) {
  return ChangeProject(project, actor, [&](ternion::v1::ProjectRecord* p, MetadataBatch*) {
    p->set_protection(on);
    return std::string(on ? "protection on" : "protection off");
  });
}

absl::StatusOr<ProjectView> Master::SetTrusted(const std::string& project,
                                               const std::string& trusted, bool remove,
                                               const std::string& actor) {
  return ChangeProject(
      project, actor,
      [&](ternion::v1::ProjectRecord* p, MetadataBatch*)
          ABSL_EXCLUSIVE_LOCKS_REQUIRED(ns_.mu) -> absl::StatusOr<std::string> {
            if (remove) {
              Remove(p->mutable_trusted(), trusted);
              return absl::StrCat("no longer trusts ", trusted);
            }
            if (trusted == project) {
              return absl::InvalidArgumentError("a project need not trust itself");
            }
            RETURN_IF_ERROR(ns_.CheckProject(trusted));
            if (static_cast<size_t>(p->trusted_size()) >= kMaxTrustedProjects) {
              return absl::ResourceExhaustedError(absl::StrCat(
                  "project ", project, " trusts ", kMaxTrustedProjects, " projects already"));
            }
            Remove(p->mutable_trusted(), trusted);
            p->add_trusted(trusted);
            return absl::StrCat("trusts ", trusted);
          });
}

absl::StatusOr<ProjectView> Master::SetExceptionPolicy(const std::string& project,
                                                       const std::string& policy,
                                                       const std::string& actor) {
  ASSIGN_OR_RETURN(const std::vector<ExceptionStatement> statements, ParseExceptionPolicy(policy));
  return ChangeProject(
      project, actor,
      [&](ternion::v1::ProjectRecord* p,
          MetadataBatch*) ABSL_EXCLUSIVE_LOCKS_REQUIRED(ns_.mu) -> absl::StatusOr<std::string> {
        google::protobuf::RepeatedPtrField<ternion::v1::ExceptionStatementRecord> records;
        for (const ExceptionStatement& st : statements) {
          ternion::v1::ExceptionStatementRecord* r = records.Add();
          *r->mutable_principals() = {st.principals.begin(), st.principals.end()};
          r->set_actions(st.actions);
          *r->mutable_task_types() = {st.task_types.begin(), st.task_types.end()};
          for (const ExceptionStatement::Resource& res : st.resources) {
            auto* out = r->add_resources();
            out->set_path(res.path);
            if (!absl::StartsWith(res.path, kSnapshotResourcePrefix)) continue;
            // Pinned: the file at the path now, which must be a snapshot (sealed: its bytes
            // never change), and only it.
            out->set_path(res.path.substr(sizeof(kSnapshotResourcePrefix) - 1));
            ASSIGN_OR_RETURN(const ternion::v1::FileRecord* f, ns_.Find(project, out->path()));
            if (!f->sealed()) {
              return absl::FailedPreconditionError(absl::StrCat(
                  res.path, ": ", project, "/", out->path(),
                  " is not sealed; pin a snapshot (ternion snapshot), whose bytes never change"));
            }
            out->set_pinned_file_id(f->file_id());
          }
        }
        p->set_exception_policy(policy);
        *p->mutable_exceptions() = std::move(records);
        return absl::StrCat("exception policy ", policy.empty() ? "cleared" : "set: " + policy);
      });
}

absl::StatusOr<ProjectView> Master::ChangeGrant(const std::string& project, const GrantView& grant,
                                                bool revoke, const std::string& actor) {
  if (grant.actions == 0) return absl::InvalidArgumentError("a grant names at least one action");
  RETURN_IF_ERROR(ValidateObjectPath(grant.object, grant.path));
  absl::MutexLock ns(&ns_.mu);
  RETURN_IF_ERROR(ns_.CheckProject(project));
  ternion::v1::ProjectRecord p = ns_.projects().at(project);
  if (grant.grantee != kMemberRole &&
      std::find(p.members().begin(), p.members().end(), grant.grantee) == p.members().end()) {
    return absl::FailedPreconditionError(absl::StrCat(
        grant.grantee, " is not a member of project ", project, " (ternion project add-member)"));
  }
  if (grant.object == GrantView::Object::kFile && !revoke && !ns_.Exists(project, grant.path)) {
    return absl::NotFoundError(absl::StrCat("no file ", project, "/", grant.path));
  }
  if (grant.object == GrantView::Object::kPackage && !revoke &&
      std::find(p.installed().begin(), p.installed().end(), grant.path) == p.installed().end()) {
    return absl::NotFoundError(absl::StrCat("package ", grant.path, " is not installed in ",
                                            project, " (ternion package install)"));
  }
  const auto kind = static_cast<ternion::v1::GrantRecord::Kind>(grant.object);
  ternion::v1::GrantRecord* entry = nullptr;
  for (auto& g : *p.mutable_grants()) {
    if (g.grantee() == grant.grantee && g.kind() == kind && g.path() == grant.path) entry = &g;
  }
  if (entry == nullptr && !revoke) {
    if (static_cast<size_t>(p.grants_size()) >= kMaxProjectGrants) {
      return absl::ResourceExhaustedError(
          absl::StrCat("project ", project, " has ", kMaxProjectGrants, " grants"));
    }
    entry = p.add_grants();
    entry->set_grantee(grant.grantee);
    entry->set_kind(kind);
    entry->set_path(grant.path);
  }
  if (entry != nullptr) {
    entry->set_actions(revoke ? entry->actions() & ~grant.actions
                              : entry->actions() | grant.actions);
  }
  EraseGrants(&p, [](const ternion::v1::GrantRecord& g) { return g.actions() == 0; });
  MetadataBatch batch;
  ns_.UpdateProject(p, &batch);
  CommitAudited(std::move(batch),
                {.action = "master",
                 .detail = absl::StrCat(
                     "project ", project, revoke ? ": revoked " : ": granted ", grant.actions,
                     " (action bits) on ",
                     grant.object == GrantView::Object::kProject ? "the project" : grant.path,
                     revoke ? " from " : " to ", grant.grantee, " by ", actor)});
  return ViewOfProject(p);
}

std::vector<UserView> Master::ListUsers() {
  absl::ReaderMutexLock lock(&access_.mu);
  return access_.Users();
}

std::vector<AccessKeyView> Master::ListAccessKeys(const std::string& user) {
  absl::ReaderMutexLock lock(&access_.mu);
  return access_.Keys(user);
}

std::optional<AccessKeyView> Master::FindAccessKey(const std::string& id) {
  absl::ReaderMutexLock lock(&access_.mu);
  return access_.FindKeyView(id);
}

template <typename T>
absl::StatusOr<T> Master::ChangeAccess(
    const std::function<absl::StatusOr<T>(MetadataBatch*)>& change,
    const std::function<std::string(const T&)>& audit) {
  absl::MutexLock lock(&access_.mu);
  MetadataBatch batch;
  absl::StatusOr<T> done = change(&batch);
  if (!done.ok()) return done.status();
  CommitAudited(std::move(batch), {.action = "master", .detail = audit(*done)});
  return done;
}

absl::StatusOr<UserView> Master::CreateUser(const std::string& name, bool cluster_admin,
                                            const std::string& actor) {
  return ChangeAccess<UserView>(
      [&](MetadataBatch* b) ABSL_EXCLUSIVE_LOCKS_REQUIRED(access_.mu) {
        return access_.CreateUser(name, cluster_admin, b);
      },
      [&](const UserView&) {
        return absl::StrCat("user ", name, " created", cluster_admin ? " (cluster admin)" : "",
                            " by ", actor);
      });
}

absl::StatusOr<UserView> Master::SetUserDisabled(const std::string& name, bool disabled,
                                                 const std::string& actor) {
  return ChangeAccess<UserView>(
      [&](MetadataBatch* b) ABSL_EXCLUSIVE_LOCKS_REQUIRED(access_.mu) {
        return access_.SetUserDisabled(name, disabled, b);
      },
      [&](const UserView&) {
        return absl::StrCat("user ", name, disabled ? " disabled" : " enabled", " by ", actor);
      });
}

absl::StatusOr<NewAccessKey> Master::CreateAccessKey(const std::string& user,
                                                     const std::string& actor) {
  return ChangeAccess<NewAccessKey>(
      [&](MetadataBatch* b) ABSL_EXCLUSIVE_LOCKS_REQUIRED(access_.mu) {
        return access_.CreateKey(user, b);
      },
      [&](const NewAccessKey& k) {
        return absl::StrCat("access key ", k.key.id, " created for ", user, " by ", actor);
      });
}

absl::StatusOr<NewAccessKey> Master::RotateAccessKey(const std::string& id, absl::Duration grace,
                                                     const std::string& actor) {
  return ChangeAccess<NewAccessKey>(
      [&](MetadataBatch* b) ABSL_EXCLUSIVE_LOCKS_REQUIRED(access_.mu) {
        return access_.RotateKey(id, grace, b);
      },
      [&](const NewAccessKey& k) {
        return absl::StrCat("access key ", id, " rotated to ", k.key.id, " (old key valid ",
                            absl::FormatDuration(grace), " more) by ", actor);
      });
}

absl::StatusOr<AccessKeyView> Master::RevokeAccessKey(const std::string& id,
                                                      const std::string& actor) {
  return ChangeAccess<AccessKeyView>(
      [&](MetadataBatch* b) ABSL_EXCLUSIVE_LOCKS_REQUIRED(access_.mu) {
        return access_.RevokeKey(id, b);
      },
      [&](const AccessKeyView&) { return absl::StrCat("access key ", id, " revoked by ", actor); });
}

absl::StatusOr<std::optional<NewAccessKey>> Master::BootstrapAdmin() {
  absl::MutexLock lock(&access_.mu);
  if (access_.has_users()) return std::nullopt;
  if (options_.master_key == nullptr) {
    return absl::FailedPreconditionError("no master key: the admin's key could not be kept");
  }
  MetadataBatch batch;
  absl::StatusOr<UserView> u = access_.CreateUser(kBootstrapAdmin, /*cluster_admin=*/true, &batch);
  if (!u.ok()) return u.status();
  absl::StatusOr<NewAccessKey> k = access_.CreateKey(kBootstrapAdmin, &batch);
  if (!k.ok()) return k.status();
  CommitAudited(std::move(batch),
                {.action = "master",
                 .detail = absl::StrCat("bootstrap: cluster admin ", kBootstrapAdmin,
                                        " created with key ", k->key.id)});
  return std::optional<NewAccessKey>(*std::move(k));
}

}  // namespace ternion::master
