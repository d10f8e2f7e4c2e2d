#pragma once

// This build's version: the project's version (CMakeLists.txt) and the git commit it was built
// from ("unknown" outside a git work tree), for --version, logs and ternion_build_info.

#include <string>

namespace ternion {

const char* TernionVersion();  // e.g. "0.1.0"
const char* TernionCommit();   // e.g. "a21f81b0c3d4"

// "PROGRAM VERSION (commit COMMIT)": what every binary's --version prints.
std::string VersionLine(const std::string& program);

}  // namespace ternion
