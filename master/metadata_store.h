#pragma once

// MetadataStore is the master's durable key-value store (RocksDB). Every Write() is synced to
// disk before it returns, so an acknowledged metadata change survives kill -9 of the master.
// The only code in the master that includes RocksDB. Thread-safe.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace rocksdb {
class DB;
}

namespace ternion::master {

// A set of changes applied atomically.
struct MetadataBatch {
  std::vector<std::pair<std::string, std::string>> puts;
  std::vector<std::string> deletes;
  void Put(std::string key, std::string value) {
    puts.emplace_back(std::move(key), std::move(value));
  }
  void Delete(std::string key) { deletes.push_back(std::move(key)); }
};

class MetadataStore {
 public:
  // Opens the store in `dir`. With `create`, an absent store is created; without it, opening
  // an absent store fails with NOT_FOUND (so a typo in a path never starts an empty master).
  static absl::StatusOr<std::unique_ptr<MetadataStore>> Open(const std::string& dir,
                                                             bool create = false);
  ~MetadataStore();

  // Applies the batch atomically and durably (WAL fsync) before returning.
  absl::Status Write(const MetadataBatch& batch);
  // Applies the batches in order, all of them atomically, with one sync.
  absl::Status Write(absl::Span<const MetadataBatch> batches);

  // Writes a consistent copy of the whole store into `dir` (which must not exist yet) while
  // writes go on: a RocksDB checkpoint (hard links where the filesystem allows).
  absl::Status Checkpoint(const std::string& dir);

  // Flushes the memtable and rewrites every file of the store, so a value deleted before no
  // longer exists in any file (nor in a write-ahead log the flush made obsolete).
  absl::Status CompactAll();

  // The value of `key`, or NOT_FOUND.
  absl::StatusOr<std::string> Get(absl::string_view key);

  // Whether the store holds no key at all.
  absl::StatusOr<bool> Empty();

  // The last key starting with `prefix` (whose keys sort below prefix + 0xff) and its value;
  // nullopt when there is none.
  absl::StatusOr<std::optional<std::pair<std::string, std::string>>> Last(absl::string_view prefix);

  // Calls fn(key, value) for every key starting with `prefix`, in key order, from the first key
  // at or after `start` (empty: from the prefix's first).
  absl::Status Scan(absl::string_view prefix,
                    const std::function<void(absl::string_view, absl::string_view)>& fn,
                    absl::string_view start = {});

 private:
  explicit MetadataStore(rocksdb::DB* db);
  std::unique_ptr<rocksdb::DB> db_;
};

}  // namespace ternion::master
