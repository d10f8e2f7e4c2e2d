#pragma once

// Small helpers for whole files.

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ternion {

// Maps errno to a status code by meaning (ENOSPC -> RESOURCE_EXHAUSTED, ENOENT -> NOT_FOUND...).
absl::Status ErrnoToStatus(int err, absl::string_view context);

absl::StatusOr<std::string> ReadFileToString(const std::string& path);

// Publishes `contents` at `path` atomically and durably: write a temp file, fsync, rename,
// fsync the directory. Readers see the old file or the new one, never a torn one. The file is
// created with `mode` (less the umask); secrets use 0600.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents,
                                 int mode = 0644);

// fsyncs a directory so that entries created or renamed in it are durable.
absl::Status SyncDir(const std::string& dir);

}  // namespace ternion
