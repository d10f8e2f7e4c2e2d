#include "master/access_policy.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace ternion::master {
namespace {

Decision Allow(std::string rule) { return {.allowed = true, .rule = std::move(rule)}; }
Decision Deny(std::string reason) {
  return {.allowed = false, .rule = "deny", .reason = std::move(reason)};
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

// Whether grant `g` covers `path` (empty: the project itself).
bool Covers(const GrantView& g, const std::string& path) {
  switch (g.object) {
    case GrantView::Object::kProject:
      return true;
    case GrantView::Object::kFile:
      return !path.empty() && path == g.path;
    case GrantView::Object::kPrefix:
      return !path.empty() && path.compare(0, g.path.size(), g.path) == 0;
  }
  return false;
}

}  // namespace

Decision Decide(const PrincipalView& who, const Requirement& need, const std::string& project,
                const std::optional<ProjectView>& view, const std::vector<std::string>& paths,
                const std::string& peer_ip) {
  if (who.cluster_admin) return Allow("cluster-admin");
  switch (need.scope) {
    case Requirement::Scope::kAuthenticated:
      return Allow("authenticated");
    case Requirement::Scope::kCluster:
      return Deny(absl::StrCat("user ", who.user, " lacks the cluster admin role"));
    case Requirement::Scope::kProject:
      break;
  }
  // A project that does not exist is refused like one the caller may not see, so a refusal
  // does not tell whether it exists.
  const std::string lacks =
      absl::StrCat("user ", who.user, " lacks ", ActionName(need.action), " on project ", project);
  if (!view.has_value()) return Deny(lacks);
  if (!view->whitelist.Allows(peer_ip)) {
    return {.allowed = false,
            .rule = "ip-whitelist",
            .reason = absl::StrCat("address ", peer_ip, " is not on project ", project,
                                   "'s IP whitelist")};
  }
  if (!view->owner.empty() && view->owner == who.user) return Allow("owner");
  if (Contains(view->admins, who.user)) return Allow("project-admin");
  if (!Contains(view->members, who.user)) return Deny(lacks);
  const std::vector<std::string> targets = paths.empty() ? std::vector<std::string>{""} : paths;
  for (const std::string& path : targets) {
    bool granted = false;
    for (const GrantView& g : view->grants) {
      granted |= (g.grantee == who.user || g.grantee == kMemberRole) &&
                 (g.actions & ActionBit(need.action)) != 0 && Covers(g, path);
    }
    if (!granted) {
      return Deny(path.empty() ? lacks : absl::StrCat(lacks, " (", project, "/", path, ")"));
    }
  }
  return Allow("grant");
}

Decision DecideCreateProject(const PrincipalView& who, const std::string& owner) {
  if (who.cluster_admin) return Allow("cluster-admin");
  if (owner.empty() || owner == who.user) return Allow("own-project");
  return Deny(absl::StrCat("user ", who.user,
                           " may create projects only for themselves (cluster admin role needed)"));
}

Decision DecideSelfOrAdmin(const PrincipalView& who, const std::string& user) {
  if (who.cluster_admin) return Allow("cluster-admin");
  if (who.user == user) return Allow("self");
  return Deny(absl::StrCat("user ", who.user, " lacks the cluster admin role (acting for ", user,
                           ")"));
}

}  // namespace ternion::master
