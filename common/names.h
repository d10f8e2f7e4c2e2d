#pragma once

// Validation of user-supplied names. A name that fails is refused with INVALID_ARGUMENT and a
// message saying why; nothing is stored.

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace ternion {

inline constexpr size_t kMaxProjectNameBytes = 64;
inline constexpr size_t kMaxPathBytes = 1024;
inline constexpr size_t kMaxPathComponentBytes = 255;

// Projects: 1-64 characters of [a-z0-9_-], starting with a letter or digit.
absl::Status ValidateProjectName(absl::string_view name);

// User names: 1-64 characters of [a-z0-9_.-], starting with a letter or digit.
absl::Status ValidateUserName(absl::string_view name);

// Packages: 1-128 characters of [a-z0-9_-], starting with a letter or digit (installed, a
// package is named "<project>.<package>").
inline constexpr size_t kMaxPackageNameBytes = 128;
absl::Status ValidatePackageName(absl::string_view name);

// Table columns: 1-128 characters of [A-Za-z0-9_], not starting with a digit.
absl::Status ValidateColumnName(absl::string_view name);

// File paths inside a project: 1-1024 bytes, '/'-separated components of 1-255 bytes; no NUL,
// no control characters, no "." or ".." components, no leading, trailing or doubled '/'.
absl::Status ValidatePath(absl::string_view path);

// Topology names (data centres, power domains, racks, server ids): 1-64 characters of
// [A-Za-z0-9._-]. `what` names the kind in the error ("rack", "power domain").
absl::Status ValidateTopologyName(absl::string_view name, absl::string_view what);

}  // namespace ternion
