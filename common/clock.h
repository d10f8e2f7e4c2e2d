#pragma once

// The time seam: code that decides by time (leases, liveness, delays) asks a Clock, so tests
// move time forward instead of sleeping (as LevelDB's Env::NowMicros and Kudu's clock do).

#include "absl/time/time.h"

namespace ternion {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
  int64_t NowMs() const { return absl::ToUnixMillis(Now()); }

  // The system's wall clock; lives for the whole process.
  static const Clock* Real();
};

}  // namespace ternion
