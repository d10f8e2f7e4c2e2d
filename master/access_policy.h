#pragma once

// The access decision: pure functions over a view of the caller and the object, tested without
// daemons. MasterService asks it for every call after the signature is verified, and refuses
// (PERMISSION_DENIED) with the rule's reason, which names the missing action.
//
// Today's rules: a cluster administrator may do anything; a project's owner may do anything in
// it; cluster-wide administration needs a cluster administrator. The next rules (members, the
// `admin` role, grants on projects, files and prefixes; then packages, labels and protection)
// extend the views and this function, in the fixed order of SPEC section 7.

#include <optional>
#include <string>

namespace ternion::master {

enum class Action { kRead, kWrite, kList, kDelete, kDescribe, kDownload, kAdmin };
const char* ActionName(Action a);

// What a call needs.
struct Requirement {
  enum class Scope {
    kAuthenticated,  // any signed caller (the handler narrows what it sees)
    kCluster,        // cluster administration
    kProject,        // `action` in the request's project
  };
  Scope scope = Scope::kAuthenticated;
  Action action = Action::kRead;
};

// The caller, as verified.
struct PrincipalView {
  std::string user;
  bool cluster_admin = false;
};

// The project a call acts on; nullopt when it does not exist.
struct ProjectView {
  std::string name;
  std::string owner;
};

struct Decision {
  bool allowed = false;
  std::string rule;    // the rule that decided: "cluster-admin", "owner", "deny"
  std::string reason;  // for a refusal: what is missing, naming the action
};

Decision Decide(const PrincipalView& who, const Requirement& need, const std::string& project,
                const std::optional<ProjectView>& view);

// Creating a project owned by `owner` (empty: the caller): anyone may create a project they own;
// only a cluster administrator one owned by someone else.
Decision DecideCreateProject(const PrincipalView& who, const std::string& owner);

// Acting on `user`'s own things (their AccessKeys): that user or a cluster administrator.
Decision DecideSelfOrAdmin(const PrincipalView& who, const std::string& user);

}  // namespace ternion::master
