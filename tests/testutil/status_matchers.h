#pragma once

// ASSERT_OK / EXPECT_OK / ASSERT_OK_AND_ASSIGN for absl::Status and absl::StatusOr (Debian 12's
// Abseil has no status matchers).

#include <gtest/gtest.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ternion::testing {
inline const absl::Status& GetStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& s) {
  return s.status();
}
}  // namespace ternion::testing

#define EXPECT_OK(expr) EXPECT_TRUE(::ternion::testing::GetStatus(expr).ok()) \
    << ::ternion::testing::GetStatus(expr)
#define ASSERT_OK(expr)                                                \
  do {                                                                 \
    const auto& _s = (expr);                                           \
    ASSERT_TRUE(::ternion::testing::GetStatus(_s).ok())                \
        << ::ternion::testing::GetStatus(_s);                          \
  } while (0)
#define TERNION_TEST_CONCAT_(a, b) a##b
#define TERNION_TEST_CONCAT(a, b) TERNION_TEST_CONCAT_(a, b)
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  ASSERT_OK_AND_ASSIGN_IMPL(TERNION_TEST_CONCAT(_statusor_, __LINE__), lhs, expr)
#define ASSERT_OK_AND_ASSIGN_IMPL(var, lhs, expr) \
  auto var = (expr);                              \
  ASSERT_TRUE(var.ok()) << var.status();          \
  lhs = *std::move(var)
