#pragma once

// `ternion whoami`, `ternion user ...` and `ternion key ...`: users and their AccessKeys
// (docs/security.md). Users are managed by cluster admins; a user manages their own keys.
// `ternion certs ...`: the cluster's CA and certificates, made offline. `ternion audit
// query|verify`: the master's audit log.

#include <CLI/CLI.hpp>

#include "client/cli/cli_common.h"

namespace ternion::cli {

void AddAccessCommands(CLI::App& app, const Globals& g, int* rc);

}  // namespace ternion::cli
