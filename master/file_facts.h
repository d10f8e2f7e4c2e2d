#pragma once

// What the chunk side of the master needs to know of a file: its chunk size, whether it is
// sealed, its writer's lease, when it last changed. The Namespace publishes these facts on every
// change of a file, under a lock of their own that is the last of the master's lock order, so
// report reconciliation and move planning (under the chunk lock) never take the namespace lock.

#include <cstdint>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace ternion::master {

struct FileFacts {
  int64_t lease_expires_unix_ms = 0;  // meaningful when `leased`
  int64_t modified_unix_ms = 0;
  uint32_t chunk_size = 0;  // at most 1 GiB
  bool sealed = false;
  bool leased = false;  // a writer holds (or held, until it is recovered) the lease

  bool operator==(const FileFacts&) const = default;
};
static_assert(sizeof(FileFacts) == 24, "one per file, kept small");

// Whether a lease expired more than `hard_limit` before `now_unix_ms`: its holder may no longer
// use it, and the file's last chunk counts as stable (MasterOptions::lease_hard_limit).
inline bool LeaseRecovered(const FileFacts& f, int64_t now_unix_ms, absl::Duration hard_limit) {
  return f.leased && now_unix_ms > f.lease_expires_unix_ms + absl::ToInt64Milliseconds(hard_limit);
}

// File id -> facts. Thread-safe.
class FileFactsTable {
 public:
  void Put(uint64_t file_id, const FileFacts& f) {
    absl::MutexLock lock(&mu_);
    facts_[file_id] = f;
  }
  void Erase(uint64_t file_id) {
    absl::MutexLock lock(&mu_);
    facts_.erase(file_id);
  }
  std::optional<FileFacts> Get(uint64_t file_id) const {
    absl::MutexLock lock(&mu_);
    auto it = facts_.find(file_id);
    if (it == facts_.end()) return std::nullopt;
    return it->second;
  }
  size_t size() const {
    absl::MutexLock lock(&mu_);
    return facts_.size();
  }

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<uint64_t, FileFacts> facts_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ternion::master
