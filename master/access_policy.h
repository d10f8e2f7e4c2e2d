#pragma once

// The access decision: one pure function over a consistent snapshot of the policy state, tested
// without daemons and against a separate reference model. MasterService asks it for every call
// after the signature is verified, and refuses with the rule that refused and its reason.
//
// The checks run in a fixed order (docs/security.md, "Order of checks"); the first that decides
// ends the decision:
//   1. cluster administrators may do anything (they administer every policy below);
//   2. scope: cluster administration needs a cluster administrator; a call of any signed
//      caller needs nothing more;
//   3. project state: the project, and the context project a call names, must exist (a missing
//      project is refused like a forbidden one);
//   4. IP whitelist of the project (and of the context project);
//   5. label (mandatory access control, where the project turned it on): reading (read,
//      download) an object or a column above the reader's clearance is refused unless a
//      per-object exception, unexpired, covers that level (a read naming no columns reads
//      every column); so is being handed a column's key, for writing too;
//   6. roles, ACLs and packages: the owner and project admins may do anything; a member what a
//      grant (to them or to the member role) covers; a member of the context project what an
//      installed package of the project allows (the package's entries, the installing
//      project's grant on it); with no-write-down on, only the owner and admins grant;
//   7. protection: when the project is protected, data may not leave it for another context
//      project unless the project trusts that project, an exception statement allows it, or
//      the object came through a package (sharing wins over protection).
// The context project is where the data goes: the project of the job a read is made for, or
// the destination of a copy (it travels in the signed request); empty: the project itself.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
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
  // The call hands out keys of the table's columns: a key decrypts as well as it encrypts, so
  // the label check applies to a writer's columns as to a reader's.
  bool column_keys = false;
};

// The caller, as verified.
struct PrincipalView {
  std::string user;
  bool cluster_admin = false;
};

// A grant: `grantee` (a user, or "role:member") may do `actions` (ActionBit bits) on the
// project, one file, the files under a prefix, or an installed package (path "<project>.<name>").
struct GrantView {
  enum class Object { kProject, kFile, kPrefix, kPackage };
  std::string grantee;
  uint32_t actions = 0;
  Object object = Object::kProject;
  std::string path;  // the file, the prefix, or the installed package
};
inline constexpr char kMemberRole[] = "role:member";
// Bounds on a project's access list (every input from the network is bounded).
inline constexpr size_t kMaxProjectMembers = 10000;
inline constexpr size_t kMaxProjectGrants = 10000;
inline constexpr size_t kMaxTrustedProjects = 1000;

// Sensitivity levels and clearances: 0 (unclassified, every new object's) to 9.
inline constexpr int kMaxLevel = 9;

// A sensitivity label on a file (a table is a file) or the files under a prefix; with `column`
// set, on that column of the table at `path`. An object's level is the highest of the labels
// covering it; a column's, the highest of its object's and its own.
struct LabelView {
  GrantView::Object object = GrantView::Object::kFile;  // kFile or kPrefix
  std::string path;
  std::string column;
  int level = 0;
};

// An explicit exception to No-ReadUp: `user` may read the object (or its column) up to
// `level` until `expires_unix_ms`.
struct LabelExceptionView {
  std::string user;
  GrantView::Object object = GrantView::Object::kFile;
  std::string path;
  std::string column;  // empty: the object and every column of it
  int level = 0;
  int64_t expires_unix_ms = 0;
};

// An object in a package with its privileges (read and describe unless stated); immutable.
struct PackageEntryView {
  GrantView::Object object = GrantView::Object::kFile;  // kFile or kPrefix, never the project
  std::string path;
  uint32_t actions = ActionBit(Action::kRead) | ActionBit(Action::kDescribe);
};

struct PackageView {
  std::string name;
  std::vector<PackageEntryView> entries;
  // The projects allowed to install it, each with the highest level its members may read
  // through it.
  std::map<std::string, int> allowed;
};

// One statement of a protected project's exception policy: Effect Allow for `principals`
// (users; "*": anyone) doing `actions` on `resources` (paths in the project; a trailing '*'
// matches every path it prefixes; "*": all), when the call's task type is one of `task_types`
// (empty: any). A resource may be pinned to a file id (a snapshot's): then it covers that file
// only, not a file later put at the same path.
struct ExceptionStatement {
  std::vector<std::string> principals;
  uint32_t actions = 0;
  struct Resource {
    std::string path;
    uint64_t pinned_file_id = 0;  // 0: whatever file is at `path`
  };
  std::vector<Resource> resources;
  std::vector<std::string> task_types;
};

// A project as a decision sees it.
struct ProjectView {
  std::string name;
  std::string owner;
  std::vector<std::string> members;
  std::vector<std::string> admins;  // members with the project's admin role
  std::vector<GrantView> grants;
  IpWhitelist whitelist;     // off when empty
  std::string ip_whitelist;  // as set
  // Label security (off until the owner turns it on).
  bool label_security = false;
  bool no_write_down = false;  // only the owner and project admins grant
  std::vector<LabelView> labels;
  std::map<std::string, int> clearances;  // user -> clearance (absent: 0)
  std::vector<LabelExceptionView> label_exceptions;
  // Sharing and protection.
  std::vector<PackageView> packages;   // made in this project
  std::vector<std::string> installed;  // packages of other projects, "<project>.<name>"
  bool protection = false;
  std::vector<std::string> trusted;  // projects this one's data may flow to
  std::vector<ExceptionStatement> exceptions;
  std::string exception_policy;  // as set (JSON)
};

// Every project a decision may read, as of one moment.
struct PolicySnapshot {
  std::map<std::string, ProjectView> projects;
  int64_t now_unix_ms = 0;
  const ProjectView* Find(const std::string& name) const;
};

// An object a call names inside its project.
struct ObjectRef {
  std::string path;
  uint64_t file_id = 0;  // the file now at `path`; 0 when none or unknown
};

// What a call asks for.
struct AccessRequest {
  Requirement need;
  std::string project;               // whose objects the call acts on
  std::vector<ObjectRef> objects;    // empty: the project itself
  std::vector<std::string> columns;  // the columns a scan reads (of its one object); empty: all
  std::string peer_ip;
  std::string context_project;  // where the data goes; empty: `project`
  std::string task_type;        // the job's, for exception policies
};

struct Decision {
  bool allowed = false;
  // The rule that decided. Allowed: cluster-admin, authenticated, own-project, self, owner,
  // project-admin, grant, package (and, past protection, trusted or exception). Refused:
  // cluster-role, project-state, ip-whitelist, label, acl, no-write-down, protection.
  std::string rule;
  std::string reason;  // for a refusal: what is missing, naming the action (or column)
};

// OK when `path` suits an object of kind `object`: empty for the project; a valid file path; a
// prefix: a path or a directory ending in '/'; an installed package: "<project>.<package>".
absl::Status ValidateObjectPath(GrantView::Object object, const std::string& path);

// The decision for `who` making `request` against `state`.
Decision Decide(const PrincipalView& who, const AccessRequest& request,
                const PolicySnapshot& state);

// The same, for a call within one project with no context, columns or labels' exceptions in
// play: `paths` inside the project (empty: the project itself), `view` the project (nullopt:
// missing).
Decision Decide(const PrincipalView& who, const Requirement& need, const std::string& project,
                const std::optional<ProjectView>& view,
                const std::vector<std::string>& paths = {}, const std::string& peer_ip = "");

// Creating a project owned by `owner` (empty: the caller): anyone may create a project they own;
// only a cluster administrator one owned by someone else.
Decision DecideCreateProject(const PrincipalView& who, const std::string& owner);

// Acting on `user`'s own things (their AccessKeys): that user or a cluster administrator.
Decision DecideSelfOrAdmin(const PrincipalView& who, const std::string& user);

}  // namespace ternion::master
