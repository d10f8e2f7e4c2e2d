#pragma once

// The file-system seam of the chunk store and its wipe path (LevelDB's Env and RocksDB's
// FileSystem in miniature): every open, read, write, sync, rename, unlink and directory
// operation they make goes through a FileSystem, so a test can hand them one that fails or
// shortens exactly the operations it wants (tests/testutil/fault_file_system.h). The methods
// here are the real thing (POSIX); a test subclass overrides what it breaks.
//
// Errors are statuses by meaning (ErrnoToStatus): ENOSPC is RESOURCE_EXHAUSTED, EINVAL (e.g.
// O_DIRECT where the file system has none) INVALID_ARGUMENT, ENOENT NOT_FOUND. Thread-safe.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ternion {

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  // The POSIX file system; never destroyed.
  static FileSystem* Default();

  virtual absl::StatusOr<int> Open(const std::string& path, int flags, int mode = 0644);
  virtual void Close(int fd);
  // One pwrite(2) / pread(2), retried on EINTR: the bytes done (a read returns 0 at the end).
  virtual absl::StatusOr<size_t> PWrite(int fd, const char* data, size_t n, uint64_t offset);
  virtual absl::StatusOr<size_t> PRead(int fd, char* data, size_t n, uint64_t offset);
  virtual absl::Status DataSync(int fd);
  virtual absl::StatusOr<uint64_t> FileSize(int fd);
  virtual absl::Status Truncate(int fd, uint64_t length);
  virtual absl::Status Rename(const std::string& from, const std::string& to);
  virtual absl::Status Unlink(const std::string& path);
  // ALREADY_EXISTS when the directory exists.
  virtual absl::Status MakeDir(const std::string& path);
  virtual absl::Status SyncDir(const std::string& dir);
  // The names in a directory (without . and ..); empty when it cannot be read.
  virtual std::vector<std::string> ListDir(const std::string& dir);
  virtual bool Exists(const std::string& path);
  virtual absl::StatusOr<uint64_t> AvailableBytes(const std::string& dir);

  // Built on the operations above (so faults injected there reach them too). `what` names
  // the file in errors.
  // Writes all `n` bytes, continuing short writes.
  absl::Status WriteAll(int fd, const char* data, size_t n, uint64_t offset,
                        const std::string& what);
  // Reads all `n` bytes; DATA_LOSS when the file ends first.
  absl::Status ReadAll(int fd, char* data, size_t n, uint64_t offset, const std::string& what);
  // A whole (small) file, read to its end.
  absl::StatusOr<std::string> ReadFile(const std::string& path);
  // Publishes a small file durably: temporary file, sync, rename, sync of its directory.
  absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents,
                                   int mode = 0644);
};

}  // namespace ternion
