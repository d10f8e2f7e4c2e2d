#pragma once

// Administrator commands of the `ternion` CLI: `topology ...` (show, add-rack, remove-rack,
// move, drain, decommission, activate, import, export), `balancer start|stop|status`, `fsck`,
// `admin backup|replication`.

#include <CLI/CLI.hpp>

#include "client/cli/cli_common.h"

namespace ternion::cli {

// Adds the commands to `app`; a command's exit code lands in *rc. `g` and `rc` must outlive
// the parse.
void AddAdminCommands(CLI::App& app, const Globals& g, int* rc);

}  // namespace ternion::cli
