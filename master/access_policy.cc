#include "master/access_policy.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/names.h"

namespace ternion::master {
namespace {

Decision Allow(std::string rule) { return {.allowed = true, .rule = std::move(rule)}; }
Decision Deny(std::string rule, std::string reason) {
  return {.allowed = false, .rule = std::move(rule), .reason = std::move(reason)};
}

}  // namespace

const char* ActionName(Action a) {
  switch (a) {
    case Action::kRead: return "read";
    case Action::kWrite: return "write";
    case Action::kList: return "list";
    case Action::kDelete: return "delete";
    case Action::kDescribe: return "describe";
    case Action::kDownload: return "download";
    case Action::kAdmin: return "admin";
  }
  return "?";
}

std::optional<Action> ActionFromName(const std::string& name) {
  for (Action a : kAllActions) {
    if (name == ActionName(a)) return a;
  }
  return std::nullopt;
}

namespace {

bool Contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// Whether an entry on `object` at `at` (a file, or a prefix) covers `path` (empty: the project
// itself).
bool Covers(GrantView::Object object, const std::string& at, const std::string& path) {
  switch (object) {
    case GrantView::Object::kProject:
      return true;
    case GrantView::Object::kFile:
      return !path.empty() && path == at;
    case GrantView::Object::kPrefix:
      return !path.empty() && absl::StartsWith(path, at);
    case GrantView::Object::kPackage:
      return false;
  }
  return false;
}

bool IsManager(const ProjectView& p, const std::string& user) {
  return (!p.owner.empty() && p.owner == user) || Contains(p.admins, user);
}

bool IsMember(const ProjectView& p, const std::string& user) {
  return IsManager(p, user) || Contains(p.members, user);
}

// Whether a grant of `p` gives `user` (or every member) `action` on an object `on` accepts.
template <typename Object>
bool AnyGrant(const ProjectView& p, const std::string& user, Action action, Object on) {
  return std::any_of(p.grants.begin(), p.grants.end(), [&](const GrantView& g) {
    return (g.grantee == user || g.grantee == kMemberRole) &&
           (g.actions & ActionBit(action)) != 0 && on(g);
  });
}

// ... on `path` (empty: the project itself).
bool Granted(const ProjectView& p, const std::string& user, Action action,
             const std::string& path) {
  return AnyGrant(p, user, action,
                  [&](const GrantView& g) { return Covers(g.object, g.path, path); });
}

// ... through the package installed as `installed`.
bool GrantedPackage(const ProjectView& p, const std::string& user, Action action,
                    const std::string& installed) {
  return AnyGrant(p, user, action, [&](const GrantView& g) {
    return g.object == GrantView::Object::kPackage && g.path == installed;
  });
}

// The level of `path` in `p` (with `column`: of that column of it).
int LevelOf(const ProjectView& p, const std::string& path, const std::string& column) {
  int level = 0;
  for (const LabelView& l : p.labels) {
    if (Covers(l.object, l.path, path) && (l.column.empty() || l.column == column)) {
      level = std::max(level, l.level);
    }
  }
  return level;
}

// Whether an unexpired exception lets `user` read `path` (its `column`) at `level`.
bool Excepted(const ProjectView& p, const std::string& user, const std::string& path,
              const std::string& column, int level, int64_t now_unix_ms) {
  for (const LabelExceptionView& e : p.label_exceptions) {
    if (e.user == user && Covers(e.object, e.path, path) &&
        (e.column.empty() || e.column == column) && e.level >= level &&
        now_unix_ms < e.expires_unix_ms) {
      return true;
    }
  }
  return false;
}

// The highest label through which `user`, acting for `context`, may do `action` on `path` of
// `p` by an installed package; nullopt when no package lets them.
std::optional<int> PackageLabel(const ProjectView& p, const ProjectView& context,
                                const std::string& user, Action action, const std::string& path) {
  if (!IsMember(context, user)) return std::nullopt;
  std::optional<int> best;
  for (const PackageView& k : p.packages) {
    auto allowed = k.allowed.find(context.name);
    const std::string installed = absl::StrCat(p.name, ".", k.name);
    if (allowed == k.allowed.end() || !Contains(context.installed, installed)) continue;
    if (!IsManager(context, user) && !GrantedPackage(context, user, action, installed)) {
      continue;
    }
    for (const PackageEntryView& e : k.entries) {
      if ((e.actions & ActionBit(action)) != 0 && e.object != GrantView::Object::kProject &&
          Covers(e.object, e.path, path)) {
        best = std::max(best.value_or(0), allowed->second);
      }
    }
  }
  return best;
}

bool ExceptionAllows(const ProjectView& p, const std::string& user, Action action,
                     const ObjectRef& object, const std::string& task_type) {
  for (const ExceptionStatement& st : p.exceptions) {
    if (!Contains(st.principals, user) && !Contains(st.principals, "*")) continue;
    if ((st.actions & ActionBit(action)) == 0) continue;
    if (!st.task_types.empty() && !Contains(st.task_types, task_type)) continue;
    for (const ExceptionStatement::Resource& r : st.resources) {
      const bool path_matches =
          r.path == "*" || r.path == object.path ||
          (absl::EndsWith(r.path, "*") && !object.path.empty() &&
           absl::StartsWith(object.path, absl::string_view(r.path).substr(0, r.path.size() - 1)));
      if (path_matches && (r.pinned_file_id == 0 || r.pinned_file_id == object.file_id)) {
        return true;
      }
    }
  }
  return false;
}

bool ReadsData(Action a) { return a == Action::kRead || a == Action::kDownload; }

}  // namespace

absl::Status ValidateObjectPath(GrantView::Object object, const std::string& path) {
  switch (object) {
    case GrantView::Object::kProject:
      return path.empty() ? absl::OkStatus()
                          : absl::InvalidArgumentError("the project takes no path");
    case GrantView::Object::kFile:
      return ValidatePath(path);
    case GrantView::Object::kPrefix: {
      absl::string_view dir = path;
      if (absl::EndsWith(dir, "/")) dir.remove_suffix(1);
      return ValidatePath(dir);
    }
    case GrantView::Object::kPackage: {
      const size_t dot = path.find('.');
      if (dot == std::string::npos) {
        return absl::InvalidArgumentError(
            absl::StrCat("an installed package is named <project>.<package>, not ", path));
      }
      absl::Status s = ValidateProjectName(path.substr(0, dot));
      return s.ok() ? ValidatePackageName(path.substr(dot + 1)) : s;
    }
  }
  return absl::InvalidArgumentError("unknown object kind");
}

const ProjectView* PolicySnapshot::Find(const std::string& name) const {
  auto it = projects.find(name);
  return it == projects.end() ? nullptr : &it->second;
}

Decision Decide(const PrincipalView& who, const AccessRequest& request,
                const PolicySnapshot& state) {
  // 1-2. Cluster administrators, and the scope of the call.
  if (who.cluster_admin) return Allow("cluster-admin");
  switch (request.need.scope) {
    case Requirement::Scope::kAuthenticated:
      return Allow("authenticated");
    case Requirement::Scope::kCluster:
      return Deny("cluster-role", absl::StrCat("user ", who.user, " lacks the cluster admin role"));
    case Requirement::Scope::kProject:
      break;
  }
  const Action action = request.need.action;
  const std::string& name = request.project;
  const std::string lacks =
      absl::StrCat("user ", who.user, " lacks ", ActionName(action), " on project ", name);
  // 3. Project state. A project that does not exist is refused like one the caller may not
  // see, so a refusal does not tell whether it exists.
  const ProjectView* project = state.Find(name);
  if (project == nullptr) return Deny("project-state", lacks);
  const bool elsewhere = !request.context_project.empty() && request.context_project != name;
  const ProjectView* context = elsewhere ? state.Find(request.context_project) : project;
  if (context == nullptr) {
    return Deny("project-state", absl::StrCat("user ", who.user, " may not act for project ",
                                              request.context_project));
  }
  // 4. IP whitelists.
  for (const ProjectView* p : {project, context}) {
    if (!p->whitelist.Allows(request.peer_ip)) {
      return Deny("ip-whitelist", absl::StrCat("address ", request.peer_ip, " is not on project ",
                                               p->name, "'s IP whitelist"));
    }
  }
  const bool member = IsMember(*project, who.user);
  const bool manager = IsManager(*project, who.user);
  const std::vector<ObjectRef> targets =
      request.objects.empty() ? std::vector<ObjectRef>{ObjectRef{}} : request.objects;
  Decision allowed =
      Allow(manager ? (project->owner == who.user ? "owner" : "project-admin") : "grant");
  for (const ObjectRef& object : targets) {
    const std::string where =
        object.path.empty() ? lacks : absl::StrCat(lacks, " (", name, "/", object.path, ")");
    // The caller's way to the object: membership of the project, or else a package installed
    // in the context project. A caller with neither is refused by the ACL check below.
    const std::optional<int> package =
        member || !elsewhere ? std::nullopt
                             : PackageLabel(*project, *context, who.user, action, object.path);
    // 5. Label: no reading above one's clearance (through a package: the package's label).
    if (project->label_security && (ReadsData(action) || request.need.column_keys) &&
        (member || package.has_value())) {
      auto c = project->clearances.find(who.user);
      const int clearance = member ? (c == project->clearances.end() ? 0 : c->second) : *package;
      // The object itself, and each column read: those asked for, or else every labelled one.
      std::vector<std::string> columns = {""};
      columns.insert(columns.end(), request.columns.begin(), request.columns.end());
      if (request.columns.empty()) {
        for (const LabelView& l : project->labels) {
          if (!l.column.empty() && Covers(l.object, l.path, object.path)) {
            columns.push_back(l.column);
          }
        }
      }
      for (const std::string& column : columns) {
        const int level = LevelOf(*project, object.path, column);
        if (level > clearance &&
            !Excepted(*project, who.user, object.path, column, level, state.now_unix_ms)) {
          return Deny("label",
                      absl::StrCat(column.empty() ? "" : absl::StrCat("column ", column, " of "),
                                   name, "/", object.path, " is at level ", level, ", above user ",
                                   who.user, "'s clearance ", clearance));
        }
      }
    }
    // 6. Roles, ACLs, packages. Acting for another project needs its membership.
    if (elsewhere && !IsMember(*context, who.user)) {
      return Deny("acl", absl::StrCat("user ", who.user, " is not a member of project ",
                                      context->name, ", for which it acts"));
    }
    if (!member) {
      if (!package.has_value()) return Deny("acl", where);
      allowed.rule = "package";
      continue;  // sharing wins over protection
    }
    if (!manager) {
      if (!Granted(*project, who.user, action, object.path)) return Deny("acl", where);
      if (action == Action::kAdmin && project->no_write_down) {
        return Deny("no-write-down",
                    absl::StrCat("project ", name, " lets only its owner and admins grant (",
                                 who.user, " is neither)"));
      }
    }
    // 7. Protection: data leaves a protected project only for a trusted project or under an
    // exception statement.
    if (project->protection && elsewhere && ReadsData(action)) {
      if (Contains(project->trusted, context->name)) {
        allowed.rule = "trusted";
      } else if (ExceptionAllows(*project, who.user, action, object, request.task_type)) {
        allowed.rule = "exception";
      } else {
        return Deny("protection",
                    absl::StrCat("project ", name, " is protected: ", name, "/", object.path,
                                 " may not flow to project ", context->name,
                                 " (no trust, exception statement or package covers it)"));
      }
    }
  }
  return allowed;
}

Decision Decide(const PrincipalView& who, const Requirement& need, const std::string& project,
                const std::optional<ProjectView>& view, const std::vector<std::string>& paths,
                const std::string& peer_ip) {
  AccessRequest request{.need = need, .project = project, .peer_ip = peer_ip};
  for (const std::string& path : paths) request.objects.push_back({.path = path});
  PolicySnapshot state;
  if (view.has_value()) state.projects.emplace(project, *view);
  return Decide(who, request, state);
}

Decision DecideCreateProject(const PrincipalView& who, const std::string& owner) {
  if (who.cluster_admin) return Allow("cluster-admin");
  if (owner.empty() || owner == who.user) return Allow("own-project");
  return Deny("cluster-role",
              absl::StrCat("user ", who.user,
                           " may create projects only for themselves (cluster admin role needed)"));
}

Decision DecideSelfOrAdmin(const PrincipalView& who, const std::string& user) {
  if (who.cluster_admin) return Allow("cluster-admin");
  if (who.user == user) return Allow("self");
  return Deny(
      "cluster-role",
      absl::StrCat("user ", who.user, " lacks the cluster admin role (acting for ", user, ")"));
}

}  // namespace ternion::master
