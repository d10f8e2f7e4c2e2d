#pragma once

// The access decision: pure functions over a view of the caller and the object, tested without
// daemons. MasterService asks it for every call after the signature is verified, and refuses
// (PERMISSION_DENIED) with the rule's reason, which names the missing action.
//
// The rules, in order: a cluster administrator may do anything; a project's owner, and its
// members with the `admin` role, anything in it; any other member what a grant (to them, or to
// the role `member`) allows on the object: the project, the file, or a prefix of its path;
// everyone else nothing. Cluster-wide administration needs a cluster administrator. The next
// rules (packages, labels, protection) extend the views and this function, in the fixed order
// of SPEC section 7.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "master/ip_whitelist.h"

namespace ternion::master {

enum class Action { kRead, kWrite, kList, kDelete, kDescribe, kDownload, kAdmin };
inline constexpr Action kAllActions[] = {Action::kRead,     Action::kWrite,    Action::kList,
                                         Action::kDelete,   Action::kDescribe, Action::kDownload,
                                         Action::kAdmin};
const char* ActionName(Action a);
// The action named `name`; nullopt when there is none.
std::optional<Action> ActionFromName(const std::string& name);
constexpr uint32_t ActionBit(Action a) { return 1u << static_cast<int>(a); }

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

// A grant: `grantee` (a user, or "role:member") may do `actions` (ActionBit bits) on the
// project, one file, or the files under a prefix.
struct GrantView {
  enum class Object { kProject, kFile, kPrefix };
  std::string grantee;
  uint32_t actions = 0;
  Object object = Object::kProject;
  std::string path;  // the file, or the prefix
};
inline constexpr char kMemberRole[] = "role:member";
// Bounds on a project's access list (every input from the network is bounded).
inline constexpr size_t kMaxProjectMembers = 10000;
inline constexpr size_t kMaxProjectGrants = 10000;

// The project a call acts on; nullopt when it does not exist.
struct ProjectView {
  std::string name;
  std::string owner;
  std::vector<std::string> members;
  std::vector<std::string> admins;  // members with the project's admin role
  std::vector<GrantView> grants;
  IpWhitelist whitelist;     // off when empty
  std::string ip_whitelist;  // as set
};

struct Decision {
  bool allowed = false;
  std::string rule;    // the rule that decided: "cluster-admin", "owner", "deny"
  std::string reason;  // for a refusal: what is missing, naming the action
};

// `paths`: the files or prefixes inside the project the call names (empty: the project itself);
// a project-scope requirement must hold for each. `peer_ip`: the address the call came from,
// checked against the project's whitelist (cluster admins are not bound by it) before any role
// or grant.
Decision Decide(const PrincipalView& who, const Requirement& need, const std::string& project,
                const std::optional<ProjectView>& view,
                const std::vector<std::string>& paths = {}, const std::string& peer_ip = "");

// Creating a project owned by `owner` (empty: the caller): anyone may create a project they own;
// only a cluster administrator one owned by someone else.
Decision DecideCreateProject(const PrincipalView& who, const std::string& owner);

// Acting on `user`'s own things (their AccessKeys): that user or a cluster administrator.
Decision DecideSelfOrAdmin(const PrincipalView& who, const std::string& user);

}  // namespace ternion::master
