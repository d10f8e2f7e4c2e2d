// `ternion package ...`, `ternion label ...` and `ternion project protection-report`: packages,
// label security and the checklist of a protected project (docs/security.md). Every decision is
// the master's; these commands only set policy and show it.

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "client/cli/access_commands.h"

namespace ternion::cli {
namespace {

using Stub = ternion::v1::MasterService::Stub;
using ternion::v1::ProjectDescription;

absl::StatusOr<ProjectDescription> Describe(const Globals& g, const std::string& project) {
  ternion::v1::DescribeProjectRequest req;
  req.set_project(project);
  ProjectDescription p;
  if (absl::Status s = Call(g, &Stub::DescribeProject, req, &p); !s.ok()) return s;
  return p;
}

// Calls `method` and prints the project it answers with.
template <typename Req, typename Method>
int Change(const Globals& g, Method method, const Req& req) {
  ProjectDescription p;
  absl::Status s = Call(g, method, req, &p);
  return s.ok() ? PrintProject(g, p) : Fail(s);
}

// A file or a prefix (PROJECT/FILE, PROJECT/PREFIX/); never the project or a package.
absl::StatusOr<ObjectName> ParseDataObject(const std::string& object) {
  absl::StatusOr<ObjectName> o = ParseObject(object);
  if (o.ok() && o->kind != ternion::v1::GRANT_FILE && o->kind != ternion::v1::GRANT_PREFIX) {
    return absl::InvalidArgumentError("OBJECT is PROJECT/FILE or PROJECT/PREFIX/");
  }
  return o;
}

void PrintPackage(const ternion::v1::PackageInfo& k, const std::string& owner) {
  std::cout << "package " << owner << "." << k.name() << "\n";
  for (const auto& e : k.entries()) {
    std::cout << "  entry " << e.object() << " (" << absl::StrJoin(e.actions(), ",") << ")\n";
  }
  for (const auto& [project, label] : k.allowed()) {
    std::cout << "  allowed " << project << " (label " << label << ")\n";
  }
}

// Every way data can still leave protected project `p`: the operator's checklist.
int PrintProtectionReport(const Globals& g, const ProjectDescription& p) {
  if (g.json) {
    ternion::v1::ProjectDescription report;
    report.set_name(p.name());
    report.set_protection(p.protection());
    *report.mutable_trusted() = p.trusted();
    report.set_exception_policy(p.exception_policy());
    *report.mutable_packages() = p.packages();
    return PrintJson(report);
  }
  std::cout << "project " << p.name() << ": protection "
            << (p.protection() ? "on" : "OFF: its data may be read for any project") << "\n";
  std::cout << "trusted projects (data may be read for them): "
            << (p.trusted().empty() ? "none" : absl::StrJoin(p.trusted(), ", ")) << "\n";
  std::cout << "exception policy: "
            << (p.exception_policy().empty() ? "none" : p.exception_policy()) << "\n";
  int shared = 0;
  for (const auto& k : p.packages()) {
    if (k.allowed().empty()) continue;
    ++shared;
    PrintPackage(k, p.name());
  }
  if (shared == 0) std::cout << "packages that share data: none\n";
  return 0;
}

}  // namespace

void AddPolicyCommands(CLI::App& app, const Globals& g, int* rc) {
  // Option values live as long as the app: they are static to this function's single call.
  static std::string project, package, object, target, user, column, actions, state, lifetime;
  static int level = 0;
  using Op = ternion::v1::ChangePackageRequest;

  // Packages.
  auto* pkg = app.add_subcommand(
      "package", "Share files of a project with other projects (docs/security.md, Packages)");
  pkg->require_subcommand(1);
  struct Verb {
    const char* name;
    Op::Op op;
    const char* help;
  };
  for (const Verb& v : {Verb{"create", Op::CREATE, "Create package PACKAGE of PROJECT"},
                        Verb{"delete", Op::DELETE, "Delete it (uninstalled everywhere at once)"},
                        Verb{"add", Op::ADD,
                             "Add OBJECT (PROJECT/FILE or PROJECT/PREFIX/) with --actions "
                             "(default read,describe)"},
                        Verb{"remove", Op::REMOVE, "Remove the entry on OBJECT"},
                        Verb{"allow", Op::ALLOW,
                             "Let TARGET install it; its members read up to --label through it"},
                        Verb{"disallow", Op::DISALLOW, "No longer (uninstalled from TARGET)"}}) {
    auto* cmd = pkg->add_subcommand(v.name, v.help);
    const bool entry = v.op == Op::ADD || v.op == Op::REMOVE;
    const bool allow = v.op == Op::ALLOW || v.op == Op::DISALLOW;
    if (entry) {
      cmd->add_option("package", package, "OWNER.PACKAGE")->required();
      cmd->add_option("object", object, "PROJECT/FILE or PROJECT/PREFIX/")->required();
      if (v.op == Op::ADD) {
        cmd->add_option("--actions", actions, "Comma-separated (default read,describe)");
      }
    } else {
      cmd->add_option("project", project, "The package's project")->required();
      cmd->add_option("package", package, "Package name (1-128 of a-z 0-9 _ -)")->required();
    }
    if (allow) cmd->add_option("target", target, "The installing project")->required();
    if (v.op == Op::ALLOW) cmd->add_option("--label", level, "Highest level readable (0-9)");
    const Op::Op op = v.op;
    cmd->callback([&g, rc, op, entry] {
      Op req;
      req.set_op(op);
      req.set_project(project);
      req.set_package(package);
      if (entry) {
        const size_t dot = package.find('.');
        absl::StatusOr<ObjectName> o = ParseDataObject(object);
        if (!o.ok() || dot == std::string::npos || o->project != package.substr(0, dot)) {
          *rc = Fail(o.ok() ? absl::InvalidArgumentError(
                                  "PACKAGE is OWNER.PACKAGE, and OBJECT is in project OWNER")
                            : o.status());
          return;
        }
        req.set_project(o->project);
        req.set_package(package.substr(dot + 1));
        req.set_object(o->kind);
        req.set_path(o->path);
        for (absl::string_view a : absl::StrSplit(actions, ',', absl::SkipEmpty())) {
          req.add_actions(std::string(a));
        }
      }
      req.set_target_project(target);
      req.set_label(level);
      *rc = Change(g, &Stub::ChangePackage, req);
    });
  }
  for (const bool uninstall : {false, true}) {
    auto* cmd = pkg->add_subcommand(uninstall ? "uninstall" : "install",
                                    uninstall ? "Uninstall OWNER.PACKAGE from PROJECT (and every "
                                                "grant on it)"
                                              : "Install OWNER.PACKAGE in PROJECT; then grant "
                                                "read on PROJECT:OWNER.PACKAGE to its users");
    cmd->add_option("project", project, "The installing project")->required();
    cmd->add_option("package", package, "OWNER.PACKAGE")->required();
    cmd->callback([&g, rc, uninstall] {
      ternion::v1::InstallPackageRequest req;
      req.set_project(project);
      req.set_package(package);
      req.set_uninstall(uninstall);
      *rc = Change(g, &Stub::InstallPackage, req);
    });
  }
  auto* describe = pkg->add_subcommand("describe", "A package's entries and allowed projects");
  describe->add_option("package", package, "OWNER.PACKAGE")->required();
  describe->callback([&g, rc] {
    const size_t dot = package.find('.');
    absl::StatusOr<ProjectDescription> p = Describe(g, package.substr(0, dot));
    if (!p.ok()) {
      *rc = Fail(p.status());
      return;
    }
    for (const auto& k : p->packages()) {
      if (dot == std::string::npos || k.name() != package.substr(dot + 1)) continue;
      *rc = g.json ? PrintJson(k) : (PrintPackage(k, p->name()), 0);
      return;
    }
    *rc = Fail(absl::NotFoundError(absl::StrCat("no package ", package)));
  });
  auto* ls = pkg->add_subcommand("ls", "The packages PROJECT made and those installed in it");
  ls->add_option("project", project, "Project")->required();
  ls->callback([&g, rc] {
    absl::StatusOr<ProjectDescription> p = Describe(g, project);
    if (!p.ok()) {
      *rc = Fail(p.status());
      return;
    }
    if (g.json) {
      ProjectDescription out;
      *out.mutable_packages() = p->packages();
      *out.mutable_installed() = p->installed();
      *rc = PrintJson(out);
      return;
    }
    for (const auto& k : p->packages()) PrintPackage(k, p->name());
    for (const auto& i : p->installed()) std::cout << "installed " << i << "\n";
    *rc = 0;
  });

  // Label security.
  auto* label = app.add_subcommand(
      "label", "Sensitivity levels 0-9 and clearances (docs/security.md, Label security)");
  label->require_subcommand(1);
  for (const char* sw : {"security", "no-write-down"}) {
    auto* cmd = label->add_subcommand(
        sw, std::string_view(sw) == "security"
                ? "Turn label security (No-ReadUp) on or off for PROJECT"
                : "on: only the owner and admins grant (creators cannot grant onward)");
    cmd->add_option("project", project, "Project")->required();
    cmd->add_option("state", state, "on or off")->required()->check(CLI::IsMember({"on", "off"}));
    const bool security = std::string_view(sw) == "security";
    cmd->callback([&g, rc, security] {
      ternion::v1::SetLabelPolicyRequest req;
      req.set_project(project);
      if (security) {
        req.set_label_security(state == "on");
      } else {
        req.set_no_write_down(state == "on");
      }
      *rc = Change(g, &Stub::SetLabelPolicy, req);
    });
  }
  auto* set = label->add_subcommand("set", "Set the level of OBJECT (0 removes its label)");
  set->add_option("object", object, "PROJECT/FILE or PROJECT/PREFIX/")->required();
  set->add_option("level", level, "0-9")->required();
  set->add_option("--column", column, "Label this column of the table instead");
  set->callback([&g, rc] {
    absl::StatusOr<ObjectName> o = ParseDataObject(object);
    if (!o.ok()) {
      *rc = Fail(o.status());
      return;
    }
    ternion::v1::SetLabelRequest req;
    req.set_project(o->project);
    req.set_object(o->kind);
    req.set_path(o->path);
    req.set_column(column);
    req.set_level(level);
    *rc = Change(g, &Stub::SetLabel, req);
  });
  auto* clearance = label->add_subcommand("clearance", "Set USER's clearance in PROJECT (0-9)");
  clearance->add_option("project", project, "Project")->required();
  clearance->add_option("user", user, "A member")->required();
  clearance->add_option("level", level, "0-9")->required();
  clearance->callback([&g, rc] {
    ternion::v1::SetClearanceRequest req;
    req.set_project(project);
    req.set_user(user);
    req.set_level(level);
    *rc = Change(g, &Stub::SetClearance, req);
  });
  for (const bool revoke : {false, true}) {
    auto* cmd = label->add_subcommand(
        revoke ? "revoke-exception" : "grant-exception",
        revoke ? "Take USER's exception on OBJECT away"
               : "Let USER read OBJECT up to LEVEL above their clearance, --for a while");
    cmd->add_option("object", object, "PROJECT/FILE or PROJECT/PREFIX/")->required();
    cmd->add_option("user", user, "A member")->required();
    if (!revoke) {
      cmd->add_option("level", level, "0-9")->required();
      cmd->add_option("--for", lifetime, "How long: 1s to 8784h (366 days)")->required();
    }
    cmd->add_option("--column", column, "Only this column of the table");
    cmd->callback([&g, rc, revoke] {
      absl::StatusOr<ObjectName> o = ParseDataObject(object);
      absl::Duration d;
      if (!o.ok() || (!revoke && !absl::ParseDuration(lifetime, &d))) {
        *rc = Fail(o.ok() ? absl::InvalidArgumentError("--for takes a duration, e.g. 24h")
                          : o.status());
        return;
      }
      ternion::v1::SetLabelExceptionRequest req;
      req.set_project(o->project);
      req.set_user(user);
      req.set_object(o->kind);
      req.set_path(o->path);
      req.set_column(column);
      req.set_level(level);
      req.set_expires_in_s(revoke ? 0
                                  : static_cast<uint32_t>(std::clamp<int64_t>(
                                        absl::ToInt64Seconds(d), 0, UINT32_MAX)));
      req.set_revoke(revoke);
      *rc = Change(g, &Stub::SetLabelException, req);
    });
  }
  auto* lls = label->add_subcommand("ls", "PROJECT's labels, clearances and exceptions");
  lls->add_option("project", project, "Project")->required();
  lls->callback([&g, rc] {
    absl::StatusOr<ProjectDescription> p = Describe(g, project);
    if (!p.ok()) {
      *rc = Fail(p.status());
      return;
    }
    if (g.json) {
      ProjectDescription out;
      out.set_label_security(p->label_security());
      out.set_no_write_down(p->no_write_down());
      *out.mutable_labels() = p->labels();
      *out.mutable_clearances() = p->clearances();
      *out.mutable_label_exceptions() = p->label_exceptions();
      *rc = PrintJson(out);
      return;
    }
    std::cout << "label security " << (p->label_security() ? "on" : "off") << ", no-write-down "
              << (p->no_write_down() ? "on" : "off") << "\n";
    for (const auto& l : p->labels()) {
      std::cout << "level " << l.level() << " " << l.object()
                << (l.column().empty() ? "" : " column " + l.column()) << "\n";
    }
    for (const auto& [u, c] : p->clearances()) std::cout << "clearance " << c << " " << u << "\n";
    for (const auto& e : p->label_exceptions()) {
      std::cout << "exception " << e.user() << " up to level " << e.level() << " on " << e.object()
                << (e.column().empty() ? "" : " column " + e.column()) << " until "
                << Time(e.expires_unix_ms()) << "\n";
    }
    *rc = 0;
  });

  // Row encryption's data keys (docs/security.md, "Row encryption"): versions, never the keys.
  auto* key = app.get_subcommand("key");
  static uint32_t version = 0;
  static bool yes_destroy = false;
  auto print_keys = [&g](const ternion::v1::DataKeysResponse& r) {
    if (g.json) return PrintJson(r);
    for (const auto& v : r.versions()) {
      std::cout << "data key " << v.version() << " created " << Time(v.created_unix_ms())
                << (v.destroyed_unix_ms() != 0 ? " DESTROYED " + Time(v.destroyed_unix_ms()) : "")
                << "\n";
    }
    return 0;
  };
  for (const char* verb : {"rotate-data", "ls-data"}) {
    const bool rotate = std::string_view(verb) == "rotate-data";
    auto* cmd = key->add_subcommand(
        verb, rotate ? "Add a data key version to PROJECT: new rows use it, old rows stay readable"
                     : "PROJECT's data key versions");
    cmd->add_option("project", project, "Project")->required();
    cmd->callback([&g, rc, rotate, print_keys] {
      ternion::v1::DataKeysRequest req;
      req.set_project(project);
      ternion::v1::DataKeysResponse resp;
      absl::Status s = Call(g, rotate ? &Stub::RotateDataKey : &Stub::ListDataKeys, req, &resp);
      *rc = s.ok() ? print_keys(resp) : Fail(s);
    });
  }
  auto* destroy = key->add_subcommand(
      "destroy-data", "Destroy data key VERSION of PROJECT: its rows become unreadable everywhere");
  destroy->add_option("project", project, "Project")->required();
  destroy->add_option("version", version, "Version")->required();
  destroy->add_flag("--yes-destroy", yes_destroy, "Required: there is no undo");
  destroy->callback([&g, rc, print_keys] {
    if (!yes_destroy) {
      *rc = Fail(absl::InvalidArgumentError(
          "destroying a data key makes every row under it unreadable for good; add --yes-destroy"));
      return;
    }
    ternion::v1::DestroyDataKeyRequest req;
    req.set_project(project);
    req.set_version(version);
    req.set_confirm(absl::StrCat(project, "/", version));
    ternion::v1::DataKeysResponse resp;
    absl::Status s = Call(g, &Stub::DestroyDataKey, req, &resp);
    *rc = s.ok() ? print_keys(resp) : Fail(s);
  });

  // The protected project's checklist.
  auto* report = app.get_subcommand("project")->add_subcommand(
      "protection-report",
      "Every way PROJECT's data can still leave it: trusted projects, "
      "exception statements, packages with their objects");
  report->add_option("project", project, "Project")->required();
  report->callback([&g, rc] {
    absl::StatusOr<ProjectDescription> p = Describe(g, project);
    *rc = p.ok() ? PrintProtectionReport(g, *p) : Fail(p.status());
  });
}

}  // namespace ternion::cli
