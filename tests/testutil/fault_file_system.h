#pragma once

// A FileSystem for tests that fails or shortens chosen operations (RocksDB's
// FaultInjectionTestFS in miniature): each rule names an operation, a fragment of the path it
// must touch, and what happens (an error, or half the bytes for a write), for its next N hits.
// Everything else goes to the real file system.

#include <fcntl.h>

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "common/file_system.h"

namespace ternion::testing {

class FaultFileSystem : public FileSystem {
 public:
  enum Op { kOpen, kWrite, kRead, kSync, kTruncate, kRename, kUnlink, kSyncDir };

  // The next `times` operations `op` on a path containing `path_part` fail with `error` (or,
  // for kWrite with an OK `error`, write only half of their bytes, as pwrite(2) may).
  void Inject(Op op, std::string path_part, absl::Status error, int times = 1) {
    absl::MutexLock lock(&mu_);
    rules_.push_back({op, std::move(path_part), std::move(error), times});
  }
  int hits() {
    absl::MutexLock lock(&mu_);
    return hits_;
  }

  absl::StatusOr<int> Open(const std::string& path, int flags, int mode) override {
    if (absl::Status s = Take(kOpen, path); !s.ok()) return s;
    absl::StatusOr<int> fd = FileSystem::Open(path, flags, mode);
    if (fd.ok()) {
      absl::MutexLock lock(&mu_);
      paths_[*fd] = path;
    }
    return fd;
  }
  absl::StatusOr<size_t> PWrite(int fd, const char* data, size_t n, uint64_t offset) override {
    bool shorten = false;
    if (absl::Status s = Take(kWrite, PathOf(fd), &shorten); !s.ok()) return s;
    return FileSystem::PWrite(fd, data, shorten && n > 1 ? n / 2 : n, offset);
  }
  absl::StatusOr<size_t> PRead(int fd, char* data, size_t n, uint64_t offset) override {
    if (absl::Status s = Take(kRead, PathOf(fd)); !s.ok()) return s;
    return FileSystem::PRead(fd, data, n, offset);
  }
  absl::Status DataSync(int fd) override {
    if (absl::Status s = Take(kSync, PathOf(fd)); !s.ok()) return s;
    return FileSystem::DataSync(fd);
  }
  absl::Status Truncate(int fd, uint64_t length) override {
    if (absl::Status s = Take(kTruncate, PathOf(fd)); !s.ok()) return s;
    return FileSystem::Truncate(fd, length);
  }
  absl::Status Rename(const std::string& from, const std::string& to) override {
    if (absl::Status s = Take(kRename, from); !s.ok()) return s;
    return FileSystem::Rename(from, to);
  }
  absl::Status Unlink(const std::string& path) override {
    if (absl::Status s = Take(kUnlink, path); !s.ok()) return s;
    return FileSystem::Unlink(path);
  }
  absl::Status SyncDir(const std::string& dir) override {
    if (absl::Status s = Take(kSyncDir, dir); !s.ok()) return s;
    return FileSystem::SyncDir(dir);
  }

 private:
  struct Rule {
    Op op;
    std::string path_part;
    absl::Status error;
    int times;
  };
  std::string PathOf(int fd) {
    absl::MutexLock lock(&mu_);
    auto it = paths_.find(fd);
    return it == paths_.end() ? "" : it->second;
  }
  // The injected error of the first matching rule (OK when none, or when it shortens).
  absl::Status Take(Op op, const std::string& path, bool* shorten = nullptr) {
    absl::MutexLock lock(&mu_);
    for (Rule& r : rules_) {
      if (r.op != op || r.times <= 0 || path.find(r.path_part) == std::string::npos) continue;
      --r.times;
      ++hits_;
      if (r.error.ok() && shorten != nullptr) *shorten = true;
      return r.error;
    }
    return absl::OkStatus();
  }

  absl::Mutex mu_;
  std::vector<Rule> rules_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<int, std::string> paths_ ABSL_GUARDED_BY(mu_);
  int hits_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace ternion::testing
