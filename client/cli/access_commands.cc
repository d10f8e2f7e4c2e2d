#include "client/cli/access_commands.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <deque>
#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/file_util.h"
#include "security/certificates.h"

namespace ternion::cli {
namespace {

using nlohmann::json;
using Stub = ternion::v1::MasterService::Stub;

json UserJson(const ternion::v1::UserInfo& u) {
  return {{"name", u.name()},
          {"cluster_admin", u.cluster_admin()},
          {"disabled", u.disabled()},
          {"created_unix_ms", u.created_unix_ms()}};
}

json KeyJson(const ternion::v1::AccessKeyInfo& k) {
  return {{"id", k.id()},
          {"user", k.user()},
          {"created_unix_ms", k.created_unix_ms()},
          {"expires_unix_ms", k.expires_unix_ms()},
          {"revoked", k.revoked()}};
}

std::string KeyState(const ternion::v1::AccessKeyInfo& k) {
  if (k.revoked()) return "revoked";
  if (k.expires_unix_ms() != 0) return absl::StrCat("expires ", Time(k.expires_unix_ms()));
  return "active";
}

int PrintUser(const Globals& g, const ternion::v1::UserInfo& u) {
  if (g.json) {
    std::cout << UserJson(u).dump(2) << "\n";
  } else {
    std::cout << "user " << u.name() << (u.cluster_admin() ? " (cluster admin)" : "")
              << (u.disabled() ? " disabled" : " enabled") << "\n";
  }
  return 0;
}

// Shows a new key, the only time its secret is shown; with `out`, writes it to that profile
// file (0600) instead of the terminal, with the master and transport the caller uses.
int ShowNewKey(const Globals& g, const ternion::v1::NewAccessKey& k, const std::string& out) {
  if (!out.empty()) {
    absl::StatusOr<security::Credentials> me = CallerCredentials(g);
    security::Credentials c{.key_id = k.key().id(), .secret = k.secret()};
    if (me.ok()) {
      c.master = me->master;
      c.ca = me->ca;
      c.insecure = me->insecure;
    }
    if (absl::Status s = security::WriteProfile(out, c); !s.ok()) return Fail(s);
    std::cout << "access key " << k.key().id() << " for " << k.key().user() << " written to "
              << out << " (mode 0600)\n";
    return 0;
  }
  if (g.json) {
    json j = KeyJson(k.key());
    j["secret"] = k.secret();
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << "access_key_id = " << k.key().id() << "\naccess_key_secret = " << k.secret()
              << "\n# for user " << k.key().user()
              << "; the secret is shown only now: keep it in a 0600 profile file\n";
  }
  return 0;
}

}  // namespace

int PrintProject(const Globals& g, const ternion::v1::ProjectDescription& p) {
  if (g.json) return PrintJson(p);
  std::cout << "project " << p.name() << ", owner " << p.owner() << ", IP whitelist "
            << (p.ip_whitelist().empty() ? "off" : p.ip_whitelist()) << ", protection "
            << (p.protection() ? "on" : "off") << ", label security "
            << (p.label_security() ? "on" : "off") << (p.no_write_down() ? " (no-write-down)" : "")
            << "\n";
  for (const auto& t : p.trusted()) std::cout << "  trusts " << t << "\n";
  if (!p.exception_policy().empty()) {
    std::cout << "  exception policy " << p.exception_policy() << "\n";
  }
  for (const auto& m : p.members()) {
    const bool admin = std::find(p.admins().begin(), p.admins().end(), m) != p.admins().end();
    std::cout << "  member " << m << (admin ? " (admin)" : "") << "\n";
  }
  for (const auto& gr : p.grants()) {
    std::cout << "  grant " << absl::StrJoin(gr.actions(), ",") << " on " << gr.object()
              << " to " << gr.grantee() << "\n";
  }
  for (const auto& k : p.packages()) std::cout << "  package " << k.name() << "\n";
  for (const auto& i : p.installed()) std::cout << "  installed package " << i << "\n";
  return 0;
}

int PrintJson(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  if (auto s = google::protobuf::util::MessageToJsonString(m, &out, options); !s.ok()) {
    return Fail(absl::InternalError(std::string(s.message())));
  }
  std::cout << out;
  return 0;
}

absl::StatusOr<ObjectName> ParseObject(const std::string& object) {
  ObjectName out;
  const size_t slash = object.find('/');
  const size_t colon = object.find(':');
  if (colon != std::string::npos && colon < slash) {  // PROJECT:OWNER.PACKAGE
    out.project = object.substr(0, colon);
    out.kind = ternion::v1::GRANT_PACKAGE;
    out.path = object.substr(colon + 1);
  } else if (slash == std::string::npos) {
    out.project = object;
  } else {
    out.project = object.substr(0, slash);
    out.path = object.substr(slash + 1);
    out.kind = !out.path.empty() && out.path.back() == '/' ? ternion::v1::GRANT_PREFIX
                                                           : ternion::v1::GRANT_FILE;
  }
  if (out.project.empty() || (out.kind != ternion::v1::GRANT_PROJECT && out.path.empty())) {
    return absl::InvalidArgumentError(
        "OBJECT is PROJECT, PROJECT/FILE, PROJECT/PREFIX/ or PROJECT:OWNER.PACKAGE");
  }
  return out;
}

void AddAccessCommands(CLI::App& app, const Globals& g, int* rc) {
  // Option values live as long as the app: they are static to this function's single call.
  static std::string name, id, out, project, actions, word1, object, word2, grantee;
  static bool cluster_admin = false, project_admin = false;
  static double grace_s = 0;

  app.add_subcommand("whoami", "The user your AccessKey authenticates as")->callback([&g, rc] {
    ternion::v1::WhoAmIResponse who;
    if (absl::Status s = Call(g, &Stub::WhoAmI, ternion::v1::WhoAmIRequest(), &who); !s.ok()) {
      *rc = Fail(s);
      return;
    }
    if (g.json) {
      std::cout << json({{"user", who.user()},
                         {"cluster_admin", who.cluster_admin()},
                         {"key_id", who.key_id()}})
                       .dump(2)
                << "\n";
    } else {
      std::cout << who.user() << (who.cluster_admin() ? " (cluster admin)" : "") << ", key "
                << who.key_id() << "\n";
    }
    *rc = 0;
  });

  auto* user = app.add_subcommand("user", "Users (cluster admins only)");
  user->require_subcommand(1);
  auto* create = user->add_subcommand("create", "Create a user");
  create->add_option("name", name, "User name: 1-64 of [a-z0-9_.-]")->required();
  create->add_flag("--cluster-admin", cluster_admin, "Give the cluster admin role");
  create->callback([&g, rc] {
    ternion::v1::CreateUserRequest req;
    req.set_name(name);
    req.set_cluster_admin(cluster_admin);
    ternion::v1::UserInfo u;
    absl::Status s = Call(g, &Stub::CreateUser, req, &u);
    *rc = s.ok() ? PrintUser(g, u) : Fail(s);
  });
  user->add_subcommand("ls", "List users")->callback([&g, rc] {
    ternion::v1::ListUsersResponse resp;
    if (absl::Status s = Call(g, &Stub::ListUsers, ternion::v1::ListUsersRequest(), &resp);
        !s.ok()) {
      *rc = Fail(s);
      return;
    }
    if (g.json) {
      json arr = json::array();
      for (const auto& u : resp.users()) arr.push_back(UserJson(u));
      std::cout << arr.dump(2) << "\n";
    } else {
      std::cout << absl::StrFormat("%-24s %-14s %-9s %s\n", "USER", "ROLE", "STATE", "CREATED");
      for (const auto& u : resp.users()) {
        std::cout << absl::StrFormat("%-24s %-14s %-9s %s\n", u.name(),
                                     u.cluster_admin() ? "cluster-admin" : "-",
                                     u.disabled() ? "disabled" : "enabled",
                                     Time(u.created_unix_ms()));
      }
    }
    *rc = 0;
  });
  for (bool disable : {true, false}) {
    auto* cmd = user->add_subcommand(disable ? "disable" : "enable",
                                     disable ? "Disable a user: every key of theirs is refused"
                                             : "Enable a disabled user again");
    cmd->add_option("name", name, "User name")->required();
    cmd->callback([&g, rc, disable] {
      ternion::v1::SetUserDisabledRequest req;
      req.set_name(name);
      req.set_disabled(disable);
      ternion::v1::UserInfo u;
      absl::Status s = Call(g, &Stub::SetUserDisabled, req, &u);
      *rc = s.ok() ? PrintUser(g, u) : Fail(s);
    });
  }

  // Members and the access list of a project (its owner, its admins, or a cluster admin).
  auto* proj = app.get_subcommand("project");
  auto* add_member = proj->add_subcommand("add-member", "Add a user to a project");
  add_member->add_option("project", project, "Project")->required();
  add_member->add_option("user", name, "User")->required();
  add_member->add_flag("--admin", project_admin, "With the project's admin role (every action)");
  auto* remove_member =
      proj->add_subcommand("remove-member", "Remove a user (and every grant to them)");
  remove_member->add_option("project", project, "Project")->required();
  remove_member->add_option("user", name, "User")->required();
  for (auto* cmd : {add_member, remove_member}) {
    cmd->callback([&g, rc, cmd, remove_member] {
      ternion::v1::SetProjectMemberRequest req;
      req.set_project(project);
      req.set_user(name);
      req.set_admin(project_admin);
      req.set_remove(cmd == remove_member);
      ternion::v1::ProjectDescription p;
      absl::Status s = Call(g, &Stub::SetProjectMember, req, &p);
      *rc = s.ok() ? PrintProject(g, p) : Fail(s);
    });
  }
  auto* whitelist = proj->add_subcommand("whitelist", "The project's IP whitelist");
  whitelist->require_subcommand(1);
  auto* wl_set = whitelist->add_subcommand(
      "set", "Only these addresses may use the project: \"10.0.0.1,10.0.0.5-10.0.0.9,"
             "10.1.0.0/16\"; \"\" turns the whitelist off");
  wl_set->add_option("project", project, "Project")->required();
  wl_set->add_option("list", object, "Addresses, ranges a-b, CIDR blocks; comma-separated")
      ->required()
      ->allow_extra_args(false);
  wl_set->callback([&g, rc] {
    ternion::v1::SetProjectWhitelistRequest req;
    req.set_project(project);
    req.set_whitelist(object);
    ternion::v1::ProjectDescription p;
    absl::Status s = Call(g, &Stub::SetProjectWhitelist, req, &p);
    *rc = s.ok() ? PrintProject(g, p) : Fail(s);
  });
  // Project protection and trusted projects (docs/security.md, "Order of checks").
  auto* protect = proj->add_subcommand(
      "protect",
      "on: the project's data may be read for another project only where it trusts "
      "that project, an exception allows, or a package shares it");
  protect->add_option("project", project, "Project")->required();
  protect->add_option("state", word1, "on or off")->required()->check(CLI::IsMember({"on", "off"}));
  protect->callback([&g, rc] {
    ternion::v1::SetProjectProtectionRequest req;
    req.set_project(project);
    req.set_on(word1 == "on");
    ternion::v1::ProjectDescription p;
    absl::Status s = Call(g, &Stub::SetProjectProtection, req, &p);
    *rc = s.ok() ? PrintProject(g, p) : Fail(s);
  });
  auto* exception = proj->add_subcommand(
      "exception", "The exception policy of a protected project (JSON; docs/security.md)");
  exception->require_subcommand(1);
  auto* exc_set =
      exception->add_subcommand("set", "Set the policy from a JSON file (at most 4 KiB)");
  exc_set->add_option("project", project, "Project")->required();
  exc_set->add_option("file", object, "JSON file")->required();
  auto* exc_clear = exception->add_subcommand("clear", "Remove the policy");
  exc_clear->add_option("project", project, "Project")->required();
  for (auto* cmd : {exc_set, exc_clear}) {
    cmd->callback([&g, rc, cmd, exc_clear] {
      ternion::v1::SetExceptionPolicyRequest req;
      req.set_project(project);
      if (cmd != exc_clear) {
        absl::StatusOr<std::string> text = ternion::ReadFileToString(object);
        if (!text.ok()) {
          *rc = Fail(text.status());
          return;
        }
        req.set_policy(*text);
      }
      ternion::v1::ProjectDescription p;
      absl::Status s = Call(g, &Stub::SetExceptionPolicy, req, &p);
      *rc = s.ok() ? PrintProject(g, p) : Fail(s);
    });
  }
  auto* trusted = app.add_subcommand("trusted", "Projects a protected project's data may go to");
  trusted->require_subcommand(1);
  for (const char* verb : {"add", "remove"}) {
    const bool remove = std::string_view(verb) == "remove";
    auto* cmd = trusted->add_subcommand(verb, remove ? "PROJECT no longer trusts TRUSTED"
                                                     : "PROJECT trusts TRUSTED: its data "
                                                       "may be read for TRUSTED's jobs");
    cmd->add_option("project", project, "Project")->required();
    cmd->add_option("trusted", object, "The trusted project")->required();
    cmd->callback([&g, rc, remove] {
      ternion::v1::SetTrustedRequest req;
      req.set_project(project);
      req.set_trusted_project(object);
      req.set_remove(remove);
      ternion::v1::ProjectDescription p;
      absl::Status s = Call(g, &Stub::SetTrusted, req, &p);
      *rc = s.ok() ? PrintProject(g, p) : Fail(s);
    });
  }
  auto* trusted_ls = trusted->add_subcommand("ls", "The projects PROJECT trusts");
  trusted_ls->add_option("project", project, "Project")->required();
  trusted_ls->callback([&g, rc] {
    ternion::v1::DescribeProjectRequest req;
    req.set_project(project);
    ternion::v1::ProjectDescription p;
    if (absl::Status s = Call(g, &Stub::DescribeProject, req, &p); !s.ok()) {
      *rc = Fail(s);
      return;
    }
    if (g.json) {
      std::cout << json(std::vector<std::string>(p.trusted().begin(), p.trusted().end())).dump(2)
                << "\n";
    } else {
      for (const auto& t : p.trusted()) std::cout << t << "\n";
    }
    *rc = 0;
  });
  auto* describe = proj->add_subcommand("describe", "Owner, members and access list");
  describe->add_option("project", project, "Project")->required();
  describe->callback([&g, rc] {
    ternion::v1::DescribeProjectRequest req;
    req.set_project(project);
    ternion::v1::ProjectDescription p;
    absl::Status s = Call(g, &Stub::DescribeProject, req, &p);
    *rc = s.ok() ? PrintProject(g, p) : Fail(s);
  });
  for (bool revoke : {false, true}) {
    auto* cmd = app.add_subcommand(
        revoke ? "revoke" : "grant",
        revoke ? "revoke ACTIONS on OBJECT from USER|role:member"
               : "grant ACTIONS on OBJECT to USER|role:member (ACTIONS: read,write,list,delete,"
                 "describe,download,admin; OBJECT: PROJECT, PROJECT/FILE, PROJECT/PREFIX/, or "
                 "PROJECT:OWNER.PACKAGE for a package installed in PROJECT)");
    cmd->add_option("actions", actions, "Comma-separated actions")->required();
    cmd->add_option("on", word1, "the word `on`")->required()->check(CLI::IsMember({"on"}));
    cmd->add_option("object", object,
                    "PROJECT, PROJECT/FILE, PROJECT/PREFIX/ or PROJECT:OWNER.PACKAGE")
        ->required();
    cmd->add_option("to", word2, revoke ? "the word `from`" : "the word `to`")
        ->required()
        ->check(CLI::IsMember({revoke ? "from" : "to"}));
    cmd->add_option("grantee", grantee, "A member, or role:member")->required();
    cmd->callback([&g, rc, revoke] {
      absl::StatusOr<ObjectName> o = ParseObject(object);
      if (!o.ok()) {
        *rc = Fail(o.status());
        return;
      }
      ternion::v1::GrantRequest req;
      req.set_project(o->project);
      req.set_object(o->kind);
      req.set_path(o->path);
      req.set_grantee(grantee);
      for (absl::string_view a : absl::StrSplit(actions, ',', absl::SkipEmpty())) {
        req.add_actions(std::string(a));
      }
      req.set_revoke(revoke);
      ternion::v1::ProjectDescription p;
      absl::Status s = Call(g, &Stub::Grant, req, &p);
      *rc = s.ok() ? PrintProject(g, p) : Fail(s);
    });
  }

  auto* key = app.add_subcommand("key", "AccessKeys: yours, or anyone's for a cluster admin");
  key->require_subcommand(1);
  auto* kcreate = key->add_subcommand("create", "Create an AccessKey (its secret is shown once)");
  kcreate->add_option("--user", name, "For this user (default: yourself)");
  kcreate->add_option("--out", out, "Write it to this profile file (0600) instead");
  kcreate->callback([&g, rc] {
    ternion::v1::CreateAccessKeyRequest req;
    req.set_user(name);
    ternion::v1::NewAccessKey k;
    absl::Status s = Call(g, &Stub::CreateAccessKey, req, &k);
    *rc = s.ok() ? ShowNewKey(g, k, out) : Fail(s);
  });
  auto* rotate = key->add_subcommand("rotate", "Replace a key by a new one for the same user");
  rotate->add_option("id", id, "Key id")->required();
  rotate->add_option("--grace", grace_s, "Seconds the old key keeps working (default 0: none)")
      ->check(CLI::Range(0.0, 30.0 * 86400));
  rotate->add_option("--out", out, "Write the new key to this profile file (0600) instead");
  rotate->callback([&g, rc] {
    ternion::v1::RotateAccessKeyRequest req;
    req.set_id(id);
    req.set_grace_s(static_cast<uint32_t>(grace_s));
    ternion::v1::NewAccessKey k;
    absl::Status s = Call(g, &Stub::RotateAccessKey, req, &k);
    *rc = s.ok() ? ShowNewKey(g, k, out) : Fail(s);
  });
  auto* revoke = key->add_subcommand("revoke", "Revoke a key at once");
  revoke->add_option("id", id, "Key id")->required();
  revoke->callback([&g, rc] {
    ternion::v1::RevokeAccessKeyRequest req;
    req.set_id(id);
    ternion::v1::AccessKeyInfo k;
    absl::Status s = Call(g, &Stub::RevokeAccessKey, req, &k);
    if (s.ok()) std::cout << (g.json ? KeyJson(k).dump(2) : "revoked " + k.id()) << "\n";
    *rc = s.ok() ? 0 : Fail(s);
  });
  auto* kls = key->add_subcommand("ls", "List keys (never their secrets)");
  kls->add_option("--user", name, "This user's (default: yours)");
  kls->callback([&g, rc] {
    ternion::v1::ListAccessKeysRequest req;
    req.set_user(name);
    ternion::v1::ListAccessKeysResponse resp;
    if (absl::Status s = Call(g, &Stub::ListAccessKeys, req, &resp); !s.ok()) {
      *rc = Fail(s);
      return;
    }
    if (g.json) {
      json arr = json::array();
      for (const auto& k : resp.keys()) arr.push_back(KeyJson(k));
      std::cout << arr.dump(2) << "\n";
    } else {
      std::cout << absl::StrFormat("%-24s %-16s %-22s %s\n", "KEY", "USER", "CREATED", "STATE");
      for (const auto& k : resp.keys()) {
        std::cout << absl::StrFormat("%-24s %-16s %-22s %s\n", k.id(), k.user(),
                                     Time(k.created_unix_ms()), KeyState(k));
      }
    }
    *rc = 0;
  });

  // Certificates are made offline, by whoever keeps the CA key: no master call.
  static std::string dir;
  static std::vector<std::string> hosts;
  auto* certs = app.add_subcommand("certs", "The cluster's CA and TLS certificates (offline)");
  certs->require_subcommand(1);
  auto* init = certs->add_subcommand(
      "init", "Make a CA, the master's certificate, and chunkserver certificates in DIR");
  init->add_option("dir", dir, "Directory for ca.crt, ca.key, master.crt, master.key")->required();
  init->add_option("--host", hosts,
                   "A DNS name or IP address the certificates also carry (repeatable; default "
                   "127.0.0.1, ::1, localhost)");
  static std::vector<std::string> chunkservers;
  init->add_option("--chunkserver", chunkservers,
                   "Also issue a certificate for this chunkserver id (repeatable)");
  init->callback([rc] {
    const std::vector<std::string> names = hosts.empty() ? security::kLoopbackHosts : hosts;
    const security::CertificateDir d{dir};
    absl::Status s = d.Init(names);
    for (const std::string& id : chunkservers) {
      if (s.ok()) s = d.IssueChunkserver(id, names);
    }
    if (!s.ok()) {
      *rc = Fail(s);
      return;
    }
    std::cout << "CA, master" << (chunkservers.empty() ? "" : " and chunkserver")
              << " certificates in " << dir << "; keep ca.key offline\n";
    *rc = 0;
  });
  static std::string server_id;
  auto* issue = certs->add_subcommand(
      "chunkserver", "Issue a chunkserver's certificate (its common name is the server id)");
  issue->add_option("dir", dir, "The directory `certs init` made")->required();
  issue->add_option("id", server_id, "The chunkserver's id: 1-64 of [A-Za-z0-9._-]")->required();
  issue->add_option("--host", hosts, "A DNS name or IP address it also carries (repeatable)");
  issue->callback([rc] {
    const std::vector<std::string> names = hosts.empty() ? security::kLoopbackHosts : hosts;
    const security::CertificateDir d{dir};
    if (absl::Status s = d.IssueChunkserver(server_id, names); !s.ok()) {
      *rc = Fail(s);
      return;
    }
    std::cout << d.cert(server_id) << " and " << d.key(server_id) << " issued\n";
    *rc = 0;
  });

  // The audit log (cluster admins).
  static std::string audit_project, audit_user, audit_action, since;
  static uint32_t audit_limit = 100;
  auto* audit =
      app.add_subcommand("audit", "The master's tamper-evident audit log (cluster admins)");
  audit->require_subcommand(1);
  auto* query = audit->add_subcommand("query", "Audit records, oldest first");
  query->add_option("--project", audit_project, "Only this project's");
  query->add_option("--user", audit_user,
                    "Only this user's (\"key:ID\" for a key that did not verify)");
  query->add_option("--action", audit_action,
                    "Only this action (the call, e.g. GetFileInfo, Grant)");
  query->add_option("--since", since,
                    "Only from this time: RFC 3339 (2026-11-30T10:00:00Z) or an age (2h, 30m)");
  query->add_option("--limit", audit_limit,
                    "At most this many records (the newest of those matching)");
  query->callback([&g, rc] {
    ternion::v1::AuditQueryRequest req;
    req.set_project(audit_project);
    req.set_user(audit_user);
    req.set_action(audit_action);
    if (!since.empty()) {
      absl::Time t;
      absl::Duration age;
      std::string err;
      if (absl::ParseDuration(since, &age)) {
        t = absl::Now() - age;
      } else if (!absl::ParseTime(absl::RFC3339_full, since, &t, &err)) {
        *rc = Fail(absl::InvalidArgumentError(
            absl::StrCat("--since: ", since, " is neither a time nor an age")));
        return;
      }
      req.set_since_unix_ms(absl::ToUnixMillis(t));
    }
    // Pages through everything that matches, keeping the newest `limit`.
    std::deque<ternion::v1::AuditRecord> kept;
    for (int pages = 0; pages < 100000; ++pages) {
      ternion::v1::AuditQueryResponse resp;
      if (absl::Status s = Call(g, &Stub::AuditQuery, req, &resp); !s.ok()) {
        *rc = Fail(s);
        return;
      }
      for (auto& r : *resp.mutable_records()) {
        req.set_after_seq(r.seq());
        kept.push_back(std::move(r));
        if (kept.size() > audit_limit) kept.pop_front();
      }
      if (!resp.truncated()) break;
    }
    if (g.json) {
      json arr = json::array();
      for (const auto& r : kept) {
        arr.push_back({{"seq", r.seq()},
                       {"time", Time(r.time_unix_ms())},
                       {"user", r.user()},
                       {"project", r.project()},
                       {"action", r.action()},
                       {"object", r.object()},
                       {"result", r.result()},
                       {"peer", r.peer()},
                       {"detail", r.detail()},
                       {"hash", absl::BytesToHexString(r.hash())}});
      }
      std::cout << arr.dump(2) << "\n";
    } else {
      for (const auto& r : kept) {
        std::cout << absl::StrFormat("%6d %s %-12s %-10s %-18s %s -> %s%s\n", r.seq(),
                                     Time(r.time_unix_ms()), r.user().empty() ? "-" : r.user(),
                                     r.project().empty() ? "-" : r.project(), r.action(),
                                     r.object().empty() ? "-" : r.object(), r.result(),
                                     r.detail().empty() ? "" : " (" + r.detail() + ")");
      }
    }
    *rc = 0;
  });
  audit->add_subcommand("verify", "Check the hash chain: exit 0 intact, 2 broken")
      ->callback([&g, rc] {
        ternion::v1::AuditVerifyResponse resp;
        if (absl::Status s = Call(g, &Stub::AuditVerify, ternion::v1::AuditVerifyRequest(), &resp);
            !s.ok()) {
          *rc = Fail(s);
          return;
        }
        if (g.json) {
          std::cout << json({{"intact", resp.intact()},
                             {"records", resp.records()},
                             {"legacy", resp.legacy()},
                             {"problem", resp.problem()}})
                           .dump(2)
                    << "\n";
        } else if (resp.intact()) {
          std::cout << "audit log intact: " << resp.records() << " chained record(s)"
                    << (resp.legacy()
                            ? absl::StrCat(", ", resp.legacy(), " legacy line(s) before the chain")
                            : "")
                    << "\n";
        } else {
          std::cout << "audit log BROKEN after " << resp.records()
                    << " good record(s): " << resp.problem() << "\n";
        }
        *rc = resp.intact() ? 0 : 2;
      });
}

}  // namespace ternion::cli
