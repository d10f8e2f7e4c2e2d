#include "common/names.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace ternion {

absl::Status ValidateProjectName(absl::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("project name is empty");
  if (name.size() > kMaxProjectNameBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("project name is longer than ", kMaxProjectNameBytes, " bytes"));
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) {
      return absl::InvalidArgumentError(
          "project name may contain only lower-case letters, digits, '_' and '-'");
    }
  }
  if (name[0] == '_' || name[0] == '-') {
    return absl::InvalidArgumentError("project name must start with a letter or digit");
  }
  return absl::OkStatus();
}

absl::Status ValidateUserName(absl::string_view name) {
  if (name.empty() || name.size() > 64) {
    return absl::InvalidArgumentError("a user name is 1-64 characters");
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
    if (!ok) {
      return absl::InvalidArgumentError(
          "a user name may contain only lower-case letters, digits, '_', '-' and '.'");
    }
  }
  if (!((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= '0' && name[0] <= '9'))) {
    return absl::InvalidArgumentError("a user name must start with a letter or digit");
  }
  return absl::OkStatus();
}

absl::Status ValidatePackageName(absl::string_view name) {
  if (name.empty() || name.size() > kMaxPackageNameBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("a package name is 1-", kMaxPackageNameBytes, " characters"));
  }
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) {
      return absl::InvalidArgumentError(
          "a package name may contain only lower-case letters, digits, '_' and '-'");
    }
  }
  if (name[0] == '_' || name[0] == '-') {
    return absl::InvalidArgumentError("a package name must start with a letter or digit");
  }
  return absl::OkStatus();
}

absl::Status ValidateColumnName(absl::string_view name) {
  if (name.empty() || name.size() > 128) {
    return absl::InvalidArgumentError("a column name is 1-128 characters");
  }
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) {
      return absl::InvalidArgumentError("a column name may contain only letters, digits and '_'");
    }
  }
  if (name[0] >= '0' && name[0] <= '9') {
    return absl::InvalidArgumentError("a column name must not start with a digit");
  }
  return absl::OkStatus();
}

absl::Status ValidateTopologyName(absl::string_view name, absl::string_view what) {
  if (name.empty() || name.size() > 64) {
    return absl::InvalidArgumentError(absl::StrCat(what, " name must be 1-64 characters"));
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.';
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, " name '", absl::CEscape(name), "' may contain only letters, digits, '.', '_' and '-'"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidatePath(absl::string_view path) {
  if (path.empty()) return absl::InvalidArgumentError("path is empty");
  if (path.size() > kMaxPathBytes) {
    return absl::InvalidArgumentError(absl::StrCat("path is longer than ", kMaxPathBytes, " bytes"));
  }
  for (unsigned char c : path) {
    if (c == 0) return absl::InvalidArgumentError("path contains a NUL byte");
    if (c < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError("path contains a control character");
    }
  }
  if (path.front() == '/' || path.back() == '/') {
    return absl::InvalidArgumentError("path must not start or end with '/'");
  }
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part.empty()) return absl::InvalidArgumentError("path contains an empty component ('//')");
    if (part == "." || part == "..") {
      return absl::InvalidArgumentError("path must not contain '.' or '..' components");
    }
    if (part.size() > kMaxPathComponentBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("path component is longer than ", kMaxPathComponentBytes, " bytes"));
    }
  }
  return absl::OkStatus();
}

}  // namespace ternion
