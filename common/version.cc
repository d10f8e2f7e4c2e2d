#include "common/version.h"

#include "absl/strings/str_cat.h"

namespace ternion {

const char* TernionVersion() { return TERNION_VERSION; }

std::string VersionLine(const std::string& program) {
  return absl::StrCat(program, " ", TernionVersion(), " (commit ", TernionCommit(), ")");
}

}  // namespace ternion
