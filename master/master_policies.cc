// Master: packages and label security, the data-flow policies a project's owner or admins set
// (docs/security.md). Each change is one ChangeProject: validated, then committed with its audit
// record; what it refuses changes nothing.

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/names.h"
#include "common/status_macros.h"
#include "master/master.h"

namespace ternion::master {
namespace {

using ternion::v1::GrantRecord;
using ternion::v1::PackageRecord;
using ternion::v1::ProjectRecord;

constexpr size_t kMaxPackages = 1000;
constexpr size_t kMaxPackageEntries = 1000;
constexpr size_t kMaxLabels = 10000;
constexpr size_t kMaxLabelExceptions = 10000;
constexpr absl::Duration kMaxExceptionLifetime = absl::Hours(366 * 24);

GrantRecord::Kind KindOf(GrantView::Object o) { return static_cast<GrantRecord::Kind>(o); }

const char* ObjectWord(GrantView::Object o) {
  return o == GrantView::Object::kFile ? "file" : "prefix";
}

// Labels, entries and exceptions name files or prefixes, never the project or a package.
absl::Status ValidateDataObject(GrantView::Object object, const std::string& path) {
  if (object != GrantView::Object::kFile && object != GrantView::Object::kPrefix) {
    return absl::InvalidArgumentError(
        "the object must be a file or a prefix (a package never shares a whole project)");
  }
  return ValidateObjectPath(object, path);
}

absl::Status ValidateLevel(int level) {
  if (level < 0 || level > kMaxLevel) {
    return absl::InvalidArgumentError(absl::StrCat("level ", level, " is outside 0-", kMaxLevel));
  }
  return absl::OkStatus();
}

PackageRecord* FindPackage(ProjectRecord* p, const std::string& name) {
  for (PackageRecord& k : *p->mutable_packages()) {
    if (k.name() == name) return &k;
  }
  return nullptr;
}

bool IsMember(const ProjectRecord& p, const std::string& user) {
  return p.owner() == user ||
         std::find(p.members().begin(), p.members().end(), user) != p.members().end();
}

// Takes `installed` out of `p` with every grant on it; whether it was installed.
bool Uninstall(ProjectRecord* p, const std::string& installed) {
  EraseGrants(p, [&](const GrantRecord& g) {
    return g.kind() == GrantRecord::PACKAGE && g.path() == installed;
  });
  return EraseIf(p->mutable_installed(), [&](const std::string& i) { return i == installed; }) > 0;
}

}  // namespace

absl::StatusOr<ProjectView> Master::ChangePackage(const std::string& project,
                                                  const PackageChange& change,
                                                  const std::string& actor) {
  using Op = PackageChange::Op;
  RETURN_IF_ERROR(ValidatePackageName(change.package));
  if (change.op == Op::kAdd || change.op == Op::kRemove) {
    RETURN_IF_ERROR(ValidateDataObject(change.entry.object, change.entry.path));
    if (change.op == Op::kAdd && change.entry.actions == 0) {
      return absl::InvalidArgumentError("a package entry names at least one action");
    }
  }
  if (change.op == Op::kAllow || change.op == Op::kDisallow) {
    RETURN_IF_ERROR(ValidateProjectName(change.target_project));
    RETURN_IF_ERROR(ValidateLevel(change.label));
    if (change.target_project == project) {
      return absl::InvalidArgumentError("a project shares with itself without a package");
    }
  }
  const std::string installed = absl::StrCat(project, ".", change.package);
  return ChangeProject(
      project, actor,
      [&](ProjectRecord* p, MetadataBatch* batch)
          ABSL_EXCLUSIVE_LOCKS_REQUIRED(ns_.mu) -> absl::StatusOr<std::string> {
            PackageRecord* k = FindPackage(p, change.package);
            if (change.op == Op::kCreate) {
              if (k != nullptr) {
                return absl::AlreadyExistsError(absl::StrCat("package ", installed, " exists"));
              }
              if (static_cast<size_t>(p->packages_size()) >= kMaxPackages) {
                return absl::ResourceExhaustedError(
                    absl::StrCat("project ", project, " has ", kMaxPackages, " packages"));
              }
              p->add_packages()->set_name(change.package);
              return absl::StrCat("package ", change.package, " created");
            }
            if (k == nullptr) return absl::NotFoundError(absl::StrCat("no package ", installed));
            const std::string& target = change.target_project;
            switch (change.op) {
              case Op::kCreate:
                break;
              case Op::kDelete: {
                // Every installation goes with it, so a package made later under the same
                // name shares nothing until installed and granted again.
                for (const auto& [name, allowed] : k->allowed()) {
                  (void)allowed;
                  if (!ns_.projects().contains(name)) continue;
                  ProjectRecord other = ns_.projects().at(name);
                  if (Uninstall(&other, installed)) ns_.UpdateProject(other, batch);
                }
                EraseIf(p->mutable_packages(),
                        [&](const PackageRecord& r) { return r.name() == change.package; });
                return absl::StrCat("package ", change.package, " deleted");
              }
              case Op::kAdd:
              case Op::kRemove: {
                const PackageEntryView& e = change.entry;
                auto* entries = k->mutable_entries();
                auto same = [&](const PackageRecord::Entry& r) {
                  return r.kind() == KindOf(e.object) && r.path() == e.path;
                };
                const bool present = std::any_of(entries->begin(), entries->end(), same);
                const std::string what = absl::StrCat(ObjectWord(e.object), " ", e.path);
                if (change.op == Op::kRemove) {
                  if (EraseIf(entries, same) == 0) {
                    return absl::NotFoundError(
                        absl::StrCat("package ", installed, " has no entry on ", what));
                  }
                  return absl::StrCat("package ", change.package, ": removed ", what);
                }
                if (present) {
                  return absl::AlreadyExistsError(
                      absl::StrCat("package ", installed, " has an entry on ", what,
                                   " (an entry never changes: remove it and add it again)"));
                }
                if (e.object == GrantView::Object::kFile && !ns_.Exists(project, e.path)) {
                  return absl::NotFoundError(absl::StrCat("no file ", project, "/", e.path));
                }
                if (static_cast<size_t>(entries->size()) >= kMaxPackageEntries) {
                  return absl::ResourceExhaustedError(
                      absl::StrCat("package ", installed, " has ", kMaxPackageEntries, " entries"));
                }
                PackageRecord::Entry* r = entries->Add();
                r->set_kind(KindOf(e.object));
                r->set_path(e.path);
                r->set_actions(e.actions);
                return absl::StrCat("package ", change.package, ": added ", what, " (actions ",
                                    e.actions, ")");
              }
              case Op::kAllow:
                RETURN_IF_ERROR(ns_.CheckProject(target));
                if (static_cast<size_t>(k->allowed_size()) >= kMaxTrustedProjects &&
                    !k->allowed().contains(target)) {
                  return absl::ResourceExhaustedError(absl::StrCat(
                      "package ", installed, " allows ", kMaxTrustedProjects, " projects"));
                }
                (*k->mutable_allowed())[target] = change.label;
                return absl::StrCat("package ", change.package, ": ", target,
                                    " may install it (label ", change.label, ")");
              case Op::kDisallow:
                if (!k->allowed().contains(target)) {
                  return absl::NotFoundError(
                      absl::StrCat("package ", installed, " does not allow ", target));
                }
                k->mutable_allowed()->erase(target);
                if (ns_.projects().contains(target)) {
                  ProjectRecord other = ns_.projects().at(target);
                  if (Uninstall(&other, installed)) ns_.UpdateProject(other, batch);
                }
                return absl::StrCat("package ", change.package, ": ", target,
                                    " may no longer install it");
            }
            return absl::InvalidArgumentError("unknown package change");
          });
}

absl::StatusOr<ProjectView> Master::InstallPackage(const std::string& project,
                                                   const std::string& installed, bool uninstall,
                                                   const std::string& actor) {
  RETURN_IF_ERROR(ValidateObjectPath(GrantView::Object::kPackage, installed));
  const std::string owner = installed.substr(0, installed.find('.'));
  const std::string name = installed.substr(installed.find('.') + 1);
  return ChangeProject(
      project, actor,
      [&](ProjectRecord* p, MetadataBatch*)
          ABSL_EXCLUSIVE_LOCKS_REQUIRED(ns_.mu) -> absl::StatusOr<std::string> {
            if (uninstall) {
              if (!Uninstall(p, installed)) {
                return absl::NotFoundError(
                    absl::StrCat("package ", installed, " is not installed in ", project));
              }
              return absl::StrCat("uninstalled package ", installed);
            }
            if (owner == project) {
              return absl::InvalidArgumentError("a project does not install its own package");
            }
            RETURN_IF_ERROR(ns_.CheckProject(owner));
            ProjectRecord from = ns_.projects().at(owner);
            const PackageRecord* k = FindPackage(&from, name);
            if (k == nullptr) return absl::NotFoundError(absl::StrCat("no package ", installed));
            if (!k->allowed().contains(project)) {
              return absl::PermissionDeniedError(
                  absl::StrCat("package ", installed, " does not allow project ", project,
                               " to install it (ternion package allow, by ", owner, "'s owner)"));
            }
            if (std::find(p->installed().begin(), p->installed().end(), installed) ==
                p->installed().end()) {
              if (static_cast<size_t>(p->installed_size()) >= kMaxPackages) {
                return absl::ResourceExhaustedError(
                    absl::StrCat("project ", project, " has ", kMaxPackages, " packages"));
              }
              p->add_installed(installed);
            }
            return absl::StrCat("installed package ", installed);
          });
}

absl::StatusOr<ProjectView> Master::SetLabelPolicy(const std::string& project,
                                                   std::optional<bool> label_security,
                                                   std::optional<bool> no_write_down,
                                                   const std::string& actor) {
  return ChangeProject(project, actor, [&](ProjectRecord* p, MetadataBatch*) {
    p->set_label_security(label_security.value_or(p->label_security()));
    p->set_no_write_down(no_write_down.value_or(p->no_write_down()));
    return absl::StrCat("label security ", p->label_security() ? "on" : "off", ", no-write-down ",
                        p->no_write_down() ? "on" : "off");
  });
}

absl::StatusOr<ProjectView> Master::SetLabel(const std::string& project, const LabelView& label,
                                             const std::string& actor) {
  RETURN_IF_ERROR(ValidateDataObject(label.object, label.path));
  RETURN_IF_ERROR(ValidateLevel(label.level));
  if (!label.column.empty()) RETURN_IF_ERROR(ValidateColumnName(label.column));
  return ChangeProject(
      project, actor,
      [&](ProjectRecord* p, MetadataBatch*)
          ABSL_EXCLUSIVE_LOCKS_REQUIRED(ns_.mu) -> absl::StatusOr<std::string> {
            if (label.object == GrantView::Object::kFile && label.level > 0 &&
                !ns_.Exists(project, label.path)) {
              return absl::NotFoundError(absl::StrCat("no file ", project, "/", label.path));
            }
            auto* labels = p->mutable_labels();
            EraseIf(labels, [&](const ternion::v1::LabelRecord& r) {
              return r.kind() == KindOf(label.object) && r.path() == label.path &&
                     r.column() == label.column;
            });
            if (label.level > 0) {
              if (static_cast<size_t>(labels->size()) >= kMaxLabels) {
                return absl::ResourceExhaustedError(
                    absl::StrCat("project ", project, " has ", kMaxLabels, " labels"));
              }
              ternion::v1::LabelRecord* r = labels->Add();
              r->set_kind(KindOf(label.object));
              r->set_path(label.path);
              r->set_column(label.column);
              r->set_level(label.level);
            }
            return absl::StrCat("label of ", ObjectWord(label.object), " ", label.path,
                                label.column.empty() ? "" : " column " + label.column, " set to ",
                                label.level);
          });
}

absl::StatusOr<ProjectView> Master::SetClearance(const std::string& project,
                                                 const std::string& user, int level,
                                                 const std::string& actor) {
  RETURN_IF_ERROR(ValidateUserName(user));
  RETURN_IF_ERROR(ValidateLevel(level));
  return ChangeProject(
      project, actor, [&](ProjectRecord* p, MetadataBatch*) -> absl::StatusOr<std::string> {
        if (level > 0 && !IsMember(*p, user)) {
          return absl::FailedPreconditionError(absl::StrCat(
              user, " is not a member of project ", project, " (ternion project add-member)"));
        }
        if (level == 0) {
          p->mutable_clearances()->erase(user);
        } else {
          (*p->mutable_clearances())[user] = level;
        }
        return absl::StrCat("clearance of ", user, " set to ", level);
      });
}

absl::StatusOr<ProjectView> Master::SetLabelException(const std::string& project,
                                                      LabelExceptionView exception,
                                                      absl::Duration lifetime, bool revoke,
                                                      const std::string& actor) {
  LabelExceptionView& e = exception;
  RETURN_IF_ERROR(ValidateUserName(e.user));
  RETURN_IF_ERROR(ValidateDataObject(e.object, e.path));
  RETURN_IF_ERROR(ValidateLevel(e.level));
  if (!e.column.empty()) RETURN_IF_ERROR(ValidateColumnName(e.column));
  if (!revoke && (lifetime < absl::Seconds(1) || lifetime > kMaxExceptionLifetime)) {
    return absl::InvalidArgumentError("a label exception lasts 1 s to 366 days");
  }
  e.expires_unix_ms = NowMs() + absl::ToInt64Milliseconds(lifetime);
  return ChangeProject(
      project, actor,
      [&](ProjectRecord* p,
          MetadataBatch*) ABSL_EXCLUSIVE_LOCKS_REQUIRED(ns_.mu) -> absl::StatusOr<std::string> {
        auto* list = p->mutable_label_exceptions();
        const std::string what =
            absl::StrCat(ObjectWord(e.object), " ", e.path,
                         e.column.empty() ? "" : " column " + e.column, " for ", e.user);
        EraseIf(list, [&](const ternion::v1::LabelExceptionRecord& r) {
          return r.user() == e.user && r.kind() == KindOf(e.object) && r.path() == e.path &&
                 r.column() == e.column;
        });
        if (revoke) return absl::StrCat("label exception revoked: ", what);
        if (!IsMember(*p, e.user)) {
          return absl::FailedPreconditionError(absl::StrCat(
              e.user, " is not a member of project ", project, " (ternion project add-member)"));
        }
        if (e.object == GrantView::Object::kFile && !ns_.Exists(project, e.path)) {
          return absl::NotFoundError(absl::StrCat("no file ", project, "/", e.path));
        }
        if (static_cast<size_t>(list->size()) >= kMaxLabelExceptions) {
          return absl::ResourceExhaustedError(
              absl::StrCat("project ", project, " has ", kMaxLabelExceptions, " label exceptions"));
        }
        ternion::v1::LabelExceptionRecord* r = list->Add();
        r->set_user(e.user);
        r->set_kind(KindOf(e.object));
        r->set_path(e.path);
        r->set_column(e.column);
        r->set_level(e.level);
        r->set_expires_unix_ms(e.expires_unix_ms);
        return absl::StrCat("label exception: ", what, " up to level ", e.level, " until ",
                            e.expires_unix_ms, " (unix ms)");
      });
}

}  // namespace ternion::master
