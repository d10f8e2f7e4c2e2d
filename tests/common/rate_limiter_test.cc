#include "common/rate_limiter.h"

#include <gtest/gtest.h>

#include "tests/testutil/fake_clock.h"

namespace ternion {
namespace {

TEST(RateLimiterTest, CallersTogetherKeepToTheRateInTheOrderTheyAsked) {
  testing::FakeClock clock;
  RateLimiter limiter(&clock);
  limiter.SetRate(1 << 20);  // 1 MiB/s
  EXPECT_EQ(limiter.Reserve(512 << 10), absl::ZeroDuration());
  EXPECT_EQ(limiter.Reserve(512 << 10), absl::Milliseconds(500));  // behind the first
  EXPECT_EQ(limiter.Reserve(1 << 20), absl::Seconds(1));           // behind both
  clock.Advance(absl::Seconds(2));  // everything reserved is paid for
  EXPECT_EQ(limiter.Reserve(1 << 20), absl::ZeroDuration());
}

TEST(RateLimiterTest, IdleTimeEarnsNoBurst) {
  testing::FakeClock clock;
  RateLimiter limiter(&clock);
  limiter.SetRate(1 << 20);
  clock.Advance(absl::Hours(1));
  EXPECT_EQ(limiter.Reserve(1 << 20), absl::ZeroDuration());
  EXPECT_EQ(limiter.Reserve(1 << 20), absl::Seconds(1));
}

TEST(RateLimiterTest, ZeroMeansNoLimitAndANewRateAppliesToTheNextReservation) {
  testing::FakeClock clock;
  RateLimiter limiter(&clock);
  EXPECT_EQ(limiter.Reserve(1ull << 40), absl::ZeroDuration());
  limiter.SetRate(2 << 20);
  EXPECT_EQ(limiter.Reserve(2 << 20), absl::ZeroDuration());
  EXPECT_EQ(limiter.Reserve(2 << 20), absl::Seconds(1));
  limiter.SetRate(0);
  EXPECT_EQ(limiter.Reserve(1ull << 40), absl::ZeroDuration());
}

}  // namespace
}  // namespace ternion
