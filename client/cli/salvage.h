#pragma once

// `ternion admin salvage PROJECT/FILE OUT`: writes every byte of a file that some copy still
// holds intact, live replicas first, then the damaged copies kept in quarantine (block by
// block, each 64 KiB block checked against its CRC32C by the chunkserver and on arrival).
// Blocks no copy holds intact are written as zeros and listed. Exit code 0 when everything
// was saved, 2 when some bytes could not be.

#include <string>

#include "client/cli/cli_common.h"

namespace ternion::cli {

int Salvage(const Globals& g, const std::string& project, const std::string& path,
            const std::string& out_path);

}  // namespace ternion::cli
