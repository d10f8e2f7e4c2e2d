#pragma once

// The chunk manager: the chunk map (every chunk's file, version, acknowledged length, replicas,
// and the references of snapshots; deleted chunks until their replicas are wiped), allocation
// of chunk ids, and each chunk's persistent record. Under its own lock `mu`, second in the
// master's lock order (namespace, chunks, server registry, file facts, log;
// docs/architecture.md). The master keeps what it decides about chunks (moves, quarantine,
// garbage collection) under the same lock.
//
// A change is applied to memory and its records added to the caller's MetadataBatch; the caller
// appends the batch to the metadata log before releasing `mu`, so the log orders the changes to
// any one chunk as memory does (as Namespace does for files).

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "master/chunk_map.h"
#include "master/metadata_store.h"
#include "ternion/v1/metadata.pb.h"

namespace ternion::master {

class ChunkManager {
 public:
  explicit ChunkManager(const Clock* clock) : clock_(clock) {}

  // Held (shared to read) by every call that reads or changes chunks.
  mutable absl::Mutex mu;

  // Server names by ordinal, for chunk records: the master numbers servers as they come and
  // names each here once.
  void NameServer(uint32_t ordinal, const std::string& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // Dense numbering of projects (a chunk entry holds its project's ordinal).
  uint32_t ProjectOrdinal(const std::string& name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  const std::string& ProjectName(uint32_t ordinal) const ABSL_SHARED_LOCKS_REQUIRED(mu) {
    return project_names_[ordinal];
  }

  // Loading, before the master serves. `ordinal_of` numbers a server named in a record.
  void Load(const ternion::v1::ChunkRecord& c,
            const std::function<uint32_t(const std::string&)>& ordinal_of)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void LoadNextChunkId(uint64_t id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { next_chunk_id_ = id; }
  // Moves the next chunk id `gap` ahead (after a restore from backup, ids allocated since the
  // backup may exist on chunkservers).
  void SkipChunkIds(uint64_t gap, MetadataBatch* batch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  uint64_t next_chunk_id() const ABSL_SHARED_LOCKS_REQUIRED(mu) { return next_chunk_id_; }

  // The chunk map (with its per-server lists).
  const ChunkTable& table() const ABSL_SHARED_LOCKS_REQUIRED(mu) { return table_; }

  // Changes.
  // A new chunk with the next id (its version 1); returns the id.
  uint64_t Allocate(ChunkEntry e, MetadataBatch* batch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // Sets chunk `id`'s entry (adding the chunk if new).
  void Put(uint64_t id, const ChunkEntry& e, MetadataBatch* batch)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // Forgets a chunk whose replicas are all wiped.
  void Erase(uint64_t id, MetadataBatch* batch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // One more file (a snapshot) references each of `ids`; nothing changes when one cannot take
  // another reference (RESOURCE_EXHAUSTED).
  absl::Status AddReferences(const std::vector<uint64_t>& ids, MetadataBatch* batch)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // A file referencing `id` is gone: the chunk loses a reference, or is deleted (its replicas
  // wait to be wiped) when that was the last.
  void DropReference(uint64_t id, MetadataBatch* batch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

  // Whether chunk `id` gained or lost a replica within `window` (so a replica report built just
  // before the change is not taken as a loss). Changes are remembered for a minute at least.
  bool ReplicasChangedWithin(uint64_t id, absl::Duration window) const
      ABSL_SHARED_LOCKS_REQUIRED(mu);
  // Forgets replica changes older than a minute (called once per move pass).
  void PruneReplicaChanges() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

  // The persistent form of a chunk.
  ternion::v1::ChunkRecord RecordOf(uint64_t id, const ChunkEntry& e) const
      ABSL_SHARED_LOCKS_REQUIRED(mu);

 private:
  const Clock* const clock_;
  ChunkTable table_ ABSL_GUARDED_BY(mu);
  uint64_t next_chunk_id_ ABSL_GUARDED_BY(mu) = 1;
  std::vector<std::string> server_ids_ ABSL_GUARDED_BY(mu);     // by ordinal
  std::vector<std::string> project_names_ ABSL_GUARDED_BY(mu);  // by ordinal
  absl::flat_hash_map<std::string, uint32_t> project_ordinals_ ABSL_GUARDED_BY(mu);
  // When chunks last gained or lost a replica (pruned after a minute).
  absl::flat_hash_map<uint64_t, absl::Time> replicas_changed_at_ ABSL_GUARDED_BY(mu);
};

}  // namespace ternion::master
