#include "common/rate_limiter.h"

#include <algorithm>

namespace ternion {

void RateLimiter::SetRate(uint64_t bytes_per_s) {
  absl::MutexLock lock(&mu_);
  bytes_per_s_ = bytes_per_s;
}

absl::Duration RateLimiter::Reserve(uint64_t bytes) {
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  if (bytes_per_s_ == 0) return absl::ZeroDuration();
  const absl::Time start = std::max(paid_until_, now);
  paid_until_ = start + absl::Seconds(static_cast<double>(bytes) / bytes_per_s_);
  return start - now;
}

}  // namespace ternion
