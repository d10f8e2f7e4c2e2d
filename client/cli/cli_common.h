#pragma once

// What the `ternion` CLI's command files share: global flags, error printing, byte formatting.

#include <iostream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"

namespace ternion::cli {

struct Globals {
  std::string master;
  bool json = false;
};

// Prints the error for the user and returns the process exit code.
inline int Fail(const absl::Status& s) {
  std::cerr << "ternion: " << s.message() << " (" << absl::StatusCodeToString(s.code()) << ")\n";
  return 1;
}

inline std::string HumanBytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) {
    b /= 1024;
    ++u;
  }
  return absl::StrFormat(u == 0 ? "%.0f %s" : "%.1f %s", b, units[u]);
}

}  // namespace ternion::cli
