#pragma once

// MetadataLog: the master's log of metadata changes, made durable in groups.
//
// A component changes its in-memory state and appends the matching batch under its own lock, so
// the log's order is the order the changes were applied. The log then makes batches durable in
// that order, many at a time with one sync (group commit, as the HDFS NameNode's logSync does),
// without any component lock held. Nobody may act on a change, or answer a caller who saw it,
// before WaitDurable says it is durable: MasterService waits at the end of every call for
// everything appended so far, so no answer ever reflects a change a crash could still undo.
//
// A failed write fails the log for good: memory is then ahead of the disk, and the master must
// restart from what is durable (HDFS terminates the NameNode for the same reason).
//
// The durable backend is replaceable: today the MetadataStore (RocksDB); next, a replicated
// journal that standby masters tail.

#include <cstdint>
#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "master/metadata_store.h"

namespace ternion::master {

class MetadataLog {
 public:
  virtual ~MetadataLog() = default;

  // Appends `batch` (never blocks on I/O) and returns its sequence number, 1, 2, ... Batches
  // become durable in append order, each all or nothing.
  virtual uint64_t Append(MetadataBatch batch) = 0;

  // The sequence number of the last batch appended.
  virtual uint64_t LastAppended() const = 0;

  // Blocks until every batch up to `seq` is durable. Once a write has failed, returns that
  // error for every batch not durable before it.
  virtual absl::Status WaitDurable(uint64_t seq) = 0;

  // Durable writes so far and the batches they carried (so batches / writes is the group size).
  struct Stats {
    uint64_t writes = 0;
    uint64_t batches = 0;
  };
  virtual Stats stats() const = 0;
};

// Group commit into `store` (which must outlive the log): a writer thread writes every batch
// appended while the previous write ran as one synced write. `on_failure` is called once, from
// the writer thread, with the error of the first failed write.
std::unique_ptr<MetadataLog> NewGroupCommitLog(
    MetadataStore* store, std::function<void(const absl::Status&)> on_failure = nullptr);

}  // namespace ternion::master
