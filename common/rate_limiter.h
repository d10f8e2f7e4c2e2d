#pragma once

// RateLimiter paces bytes shared by many callers to one rate (RocksDB's GenericRateLimiter is
// the model). It only does the arithmetic over an injected clock: Reserve says how long the
// caller must wait before using its bytes, and the caller waits. Reservations are served in the
// order they are made, so every caller gets its share. Thread-safe.

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace ternion {

class RateLimiter {
 public:
  explicit RateLimiter(const Clock* clock) : clock_(clock) {}

  // Bytes per second from now on; 0 means no limit.
  void SetRate(uint64_t bytes_per_s);
  // Reserves `bytes` and returns how long to wait before using them: zero while the callers
  // together stay within the rate.
  absl::Duration Reserve(uint64_t bytes);

 private:
  const Clock* const clock_;
  absl::Mutex mu_;
  uint64_t bytes_per_s_ ABSL_GUARDED_BY(mu_) = 0;
  // When the bytes reserved so far have been paid for at the rate; never kept in the past, so
  // idle time earns no burst.
  absl::Time paid_until_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace ternion
