#pragma once

// `ternion whoami`, `ternion user ...` and `ternion key ...`: users and their AccessKeys
// (docs/security.md). Users are managed by cluster admins; a user manages their own keys.
// `ternion certs ...`: the cluster's CA and certificates, made offline. `ternion audit
// query|verify`: the master's audit log.

#include <CLI/CLI.hpp>

#include "client/cli/cli_common.h"

namespace ternion::cli {

void AddAccessCommands(CLI::App& app, const Globals& g, int* rc);

// `ternion package ...`, `ternion label ...` and `ternion project protection-report`: the
// data-flow policies of a project (policy_commands.cc).
void AddPolicyCommands(CLI::App& app, const Globals& g, int* rc);

// `ternion table create|put|scan|schema|reencrypt`: tables of encrypted rows
// (table_commands.cc).
void AddTableCommands(CLI::App& app, const Globals& g, int* rc);

// Prints a project as `project describe` does (with --json: every field); returns 0.
int PrintProject(const Globals& g, const ternion::v1::ProjectDescription& p);

// An object a command names: PROJECT (the project), PROJECT/FILE, PROJECT/PREFIX/ (every file
// under it; the trailing '/' says prefix) or PROJECT:OWNER.PACKAGE (a package installed in
// PROJECT).
struct ObjectName {
  std::string project;
  ternion::v1::GrantObject kind = ternion::v1::GRANT_PROJECT;
  std::string path;
};
absl::StatusOr<ObjectName> ParseObject(const std::string& object);

// Prints `m` as JSON with its proto field names; returns 0 (1 if it cannot be printed).
int PrintJson(const google::protobuf::Message& m);

}  // namespace ternion::cli
