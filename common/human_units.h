#pragma once

// Sizes as people read them: "512 B", "1.5 GiB".

#include <string>

#include "absl/strings/str_format.h"

namespace ternion {

inline std::string HumanBytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) {
    b /= 1024;
    ++u;
  }
  return u == 0 ? absl::StrFormat("%.0f %s", b, units[u]) : absl::StrFormat("%.1f %s", b, units[u]);
}

}  // namespace ternion
