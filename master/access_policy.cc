#include "master/access_policy.h"

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

Decision Decide(const PrincipalView& who, const Requirement& need, const std::string& project,
                const std::optional<ProjectView>& view) {
  if (who.cluster_admin) return Allow("cluster-admin");
  switch (need.scope) {
    case Requirement::Scope::kAuthenticated:
      return Allow("authenticated");
    case Requirement::Scope::kCluster:
      return Deny(absl::StrCat("user ", who.user, " lacks the cluster admin role"));
    case Requirement::Scope::kProject:
      // A project that does not exist is refused like one the caller may not see, so a
      // refusal does not tell whether it exists.
      if (view.has_value() && !view->owner.empty() && view->owner == who.user) {
        return Allow("owner");
      }
      return Deny(absl::StrCat("user ", who.user, " lacks ", ActionName(need.action),
                               " on project ", project));
  }
  return Deny("unknown requirement");
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
