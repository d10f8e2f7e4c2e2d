#pragma once

// RETURN_IF_ERROR / ASSIGN_OR_RETURN with the meanings of Abseil's upstream macros (which
// Debian 12's Abseil 20220623 does not have), so moving to upstream is a text replacement.

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define TERNION_CONCAT_INNER(a, b) a##b
#define TERNION_CONCAT(a, b) TERNION_CONCAT_INNER(a, b)

#define RETURN_IF_ERROR(expr)                    \
  do {                                           \
    ::absl::Status _ternion_status = (expr);     \
    if (!_ternion_status.ok()) return _ternion_status; \
  } while (0)

#define ASSIGN_OR_RETURN(lhs, expr) \
  TERNION_ASSIGN_OR_RETURN_IMPL(TERNION_CONCAT(_ternion_statusor_, __LINE__), lhs, expr)

// NOLINTBEGIN(bugprone-macro-parentheses): `lhs` may be a declaration (`auto x`), `statusor` a
// name.
#define TERNION_ASSIGN_OR_RETURN_IMPL(statusor, lhs, expr) \
  auto statusor = (expr);                                  \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = *std::move(statusor)
// NOLINTEND(bugprone-macro-parentheses)
