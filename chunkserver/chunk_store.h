#pragma once

// ChunkStore keeps chunk replicas on one or more local disks (data directories).
//
// Each replica is two files under <disk>/chunks/<project>/: `<chunk id>.data` holds the bytes,
// `<chunk id>.meta` a header (chunk id, version, length) and one CRC32C per 64 KiB block
// (format: docs/formats.md). Replicas are append-only. An append is durable before Append()
// (or Sync) returns, through the disk's write journal (write_journal.h): a small append is
// written to the data file and, with its bytes, to the journal, and one journal fdatasync shared
// with every other writer on the disk makes it durable; a large one syncs the data file, then
// journals its range and CRC. The meta file catches up in the background (the journal's
// applier), and a restart replays the journal before serving. The in-memory length moves only
// once the append is durable, so a reader never sees bytes that are not. Every read verifies the
// CRC of every block it touches and fails with DATA_LOSS on a mismatch.
//
// Thread-safe. At most one ReplicaWriter exists per replica at a time; readers run alongside it.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "chunkserver/replica_meta.h"
#include "chunkserver/write_journal.h"
#include "common/file_system.h"

namespace ternion::chunkserver {

struct ReplicaInfo {
  uint64_t chunk_id = 0;
  uint64_t version = 0;
  uint64_t length = 0;
  std::string project;
  std::string disk;
  bool writing = false;  // a writer holds it now
};

// A replica set aside under <disk>/quarantine/<project>/: never served, never written, wiped
// only when the master says so. An orphan (the master did not know its chunk) has no bad
// blocks; a corrupt replica lists the 64 KiB blocks that failed their checksum.
struct QuarantinedReplica {
  ReplicaInfo info;
  std::vector<uint32_t> bad_blocks;
};

// Replicas this server has lost for certain, for its next report to the master.
struct LostReplicas {
  std::vector<uint64_t> failed_disk;  // on a data directory that failed
  std::vector<uint64_t> corrupt;      // a stored block failed its checksum
};

struct DiskInfo {
  std::string path;
  uint64_t capacity_bytes = 0;
  uint64_t used_bytes = 0;
  bool failed = false;
};

class ChunkStore;
class ReplicaReader;

// Appends to one replica. Holds the replica's files open; destroying it ends the write.
class ReplicaWriter {
 public:
  ~ReplicaWriter();
  ReplicaWriter(const ReplicaWriter&) = delete;
  ReplicaWriter& operator=(const ReplicaWriter&) = delete;

  // Appends `n` bytes at `offset`, which must equal the replica's current length, and makes
  // them durable: Write then Sync.
  absl::Status Append(uint64_t offset, const char* data, size_t n);

  // Writes `n` bytes at `offset` (the end of what was written so far) without making them
  // durable or visible. Several writes may share one Sync.
  absl::Status Write(uint64_t offset, const char* data, size_t n);

  // Makes everything written durable (one journal record per write, group-committed; the data
  // file synced first when a write was too large to journal whole), then visible to readers.
  // After any error the writer refuses further calls; nothing beyond the last successful Sync
  // is ever served.
  absl::Status Sync();

  // The durable, visible length.
  uint64_t length() const;

 private:
  friend class ChunkStore;
  friend class ReplicaReader;
  struct Replica;
  ReplicaWriter(std::shared_ptr<Replica> replica, int data_fd, bool direct, uint64_t max_length);
  // With O_DIRECT: loads the replica's last partial page into the buffer.
  absl::Status LoadTail(uint64_t length);
  void EnsureCapacity(size_t bytes);
  absl::Status WriteData(uint64_t offset, const char* data, size_t n);
  absl::Status WriteBuffered(int fd, uint64_t offset, const char* data, size_t n);

  std::shared_ptr<Replica> replica_;
  int data_fd_;
  const bool direct_;  // data_fd_ is O_DIRECT: writes go from buf_, page-aligned
  int buffered_fd_ = -1;  // with direct_: the data file without O_DIRECT, for journaled writes
  uint64_t max_length_;
  uint64_t version_;
  // O_DIRECT staging buffer, page-aligned and reused across appends. Its first tail_len_ bytes
  // are the replica's last partial page, rewritten (whole) with the next append.
  char* buf_ = nullptr;
  size_t buf_capacity_ = 0;
  size_t tail_len_ = 0;
  // Written but not yet synced: the CRCs from block pending_first_block_ on.
  uint64_t pending_length_ = 0;
  uint64_t pending_first_block_ = 0;
  std::vector<uint32_t> pending_crcs_;
  std::vector<JournalRecord> records_;  // one per Write since the last Sync
  bool data_sync_needed_ = false;       // a write too large to journal whole
  absl::Status failed_;
};

// Reads one replica; keeps its data file open. Sees every append made durable before each call.
class ReplicaReader {
 public:
  ~ReplicaReader();
  ReplicaReader(const ReplicaReader&) = delete;
  ReplicaReader& operator=(const ReplicaReader&) = delete;

  // See ChunkStore::Read.
  absl::Status Read(uint64_t offset, uint64_t length, std::string* out);

  // Asks the kernel to start reading [offset, offset+length) ahead of the Read calls
  // (buffered reads only).
  void WillNeed(uint64_t offset, uint64_t length);

 private:
  friend class ChunkStore;
  ReplicaReader(std::shared_ptr<ReplicaWriter::Replica> replica, int fd, bool direct,
                uint64_t version)
      : replica_(std::move(replica)), fd_(fd), direct_(direct), version_(version) {}
  std::shared_ptr<ReplicaWriter::Replica> replica_;
  int fd_;
  const bool direct_;  // fd_ is O_DIRECT: blocks are read into buf_, then copied out
  uint64_t version_;
  char* buf_ = nullptr;  // page-aligned, reused
  size_t buf_capacity_ = 0;
};

class ChunkStore {
 public:
  // Opens (creating if needed) every data directory, loads the replicas found there and applies
  // what each disk's write journal (`journal_bytes` large) still holds. A directory that cannot
  // be used (or whose journal cannot be read) is marked failed; at least one must work. Every
  // I/O of the store, its readers, writers, journals and wipes goes through `fs` (which must
  // outlive it).
  static absl::StatusOr<std::unique_ptr<ChunkStore>> Open(
      const std::vector<std::string>& dirs, FileSystem* fs = FileSystem::Default(),
      uint64_t journal_bytes = kDefaultJournalBytes);
  ~ChunkStore();

  // Starts appending to a replica, creating it (empty) when absent. `version` must match an
  // existing replica's. `max_length` bounds the replica (the chunk size).
  absl::StatusOr<std::unique_ptr<ReplicaWriter>> StartWrite(uint64_t chunk_id, uint64_t version,
                                                            const std::string& project,
                                                            uint64_t max_length);
  // Starts a copy (CopyChunk) into a new replica. Until FinishCopy it is nobody's replica: not
  // found (reads, GetReplica, UpdateReplica) and not reported, since a write recovery's writer
  // places it in the chunk's replicas before copying, and a partial copy counted there would
  // pull the chunk's visible length below what was acknowledged. A durable marker
  // (`<id>.copying`) says so across a crash: an unfinished copy found at Open is kept unserved
  // with the damaged replicas, wiped at the master's word.
  absl::StatusOr<std::unique_ptr<ReplicaWriter>> StartCopy(uint64_t chunk_id, uint64_t version,
                                                           const std::string& project,
                                                           uint64_t max_length);
  // The copy into `chunk_id` is whole and synced: the replica is served from now on.
  absl::Status FinishCopy(uint64_t chunk_id);

  // Reads up to `length` bytes at `offset` into *out (resized), verifying block checksums.
  // Returns OUT_OF_RANGE when offset is past the replica's durable length, DATA_LOSS on a
  // checksum mismatch, NOT_FOUND for an unknown chunk, FAILED_PRECONDITION for a version
  // mismatch.
  absl::Status Read(uint64_t chunk_id, uint64_t version, uint64_t offset, uint64_t length,
                    std::string* out);

  // Opens a replica for a series of reads (NOT_FOUND, FAILED_PRECONDITION as for Read).
  absl::StatusOr<std::unique_ptr<ReplicaReader>> OpenRead(uint64_t chunk_id, uint64_t version);

  absl::StatusOr<ReplicaInfo> GetReplica(uint64_t chunk_id);
  // Write recovery: moves a replica from `version` to `new_version` (higher) and cuts it to
  // `length` (at most its durable length), durably, so it matches the other surviving replicas
  // and a replica left behind at the old version is recognized as stale. Not while a writer
  // holds it (ABORTED: try again once the old write stream has ended).
  absl::Status UpdateReplica(uint64_t chunk_id, uint64_t version, uint64_t new_version,
                             uint64_t length);
  // Removes a replica (live or quarantined) by wiping it (not while it is being written): from
  // the moment it is called the replica cannot be opened; a journal entry is made durable,
  // every byte of its data and meta files is overwritten with zeros and synced, the files are
  // unlinked, and the entry is removed. A crash in between is finished by Open. The replica
  // stays known (and refused) until its wipe has succeeded, so a failed wipe is retried by
  // calling Delete again. Returns the bytes overwritten. A replica at a version newer than
  // `max_version` (moved since the master judged it) is not wiped: ABORTED, and it is served
  // again; once its wipe has begun it can no longer be moved to a newer version.
  static constexpr uint64_t kAnyVersion = ~uint64_t{0};
  absl::StatusOr<uint64_t> Delete(uint64_t chunk_id, uint64_t max_version);
  // Sets a live replica aside (renamed into quarantine, durably): it is no longer served or
  // listed among the replicas, only among the quarantined ones. Not while it is being written.
  absl::Status Quarantine(uint64_t chunk_id);
  // Puts an orphan quarantined replica back among the live ones (the master adopted its chunk).
  absl::Status Release(uint64_t chunk_id);
  std::vector<QuarantinedReplica> ListQuarantined();
  // Replicas found at load whose meta file cannot be read (bad header, short data): never
  // served; wiped only by Delete (the master's word).
  std::vector<ReplicaInfo> ListDamaged();
  // Opens a quarantined replica for reading what can be saved of it (ReplicaReader::Read fails
  // with DATA_LOSS on a damaged block, as for any replica).
  absl::StatusOr<std::unique_ptr<ReplicaReader>> OpenQuarantined(uint64_t chunk_id);
  // From now on the replica cannot be opened, read or looked up (it is about to be wiped).
  void RefuseReads(uint64_t chunk_id);
  // Limits wiping to this many bytes per second (0: no limit). For tests and busy disks.
  void SetWipeRate(double bytes_per_second) { wipe_bytes_per_second_ = bytes_per_second; }
  std::vector<ReplicaInfo> ListReplicas();
  std::vector<DiskInfo> Disks();
  // Marks a disk failed when its chunks directory is gone or unreadable, and forgets its
  // replicas (queued as lost, for the master, which re-replicates only those).
  void CheckDisks();
  // A replica whose stored bytes failed their checksum: every block is checked, then it is
  // quarantined with its bad blocks (kept: it may hold the last intact copy of other blocks)
  // and queued as lost. Not while it is being written (its tail may be changing under the
  // reader).
  void QuarantineCorrupt(uint64_t chunk_id);
  // Takes the replicas lost since the last call.
  LostReplicas TakeLost();
  // Every disk's journal, summed (for metrics).
  JournalStats Journals();

 private:
  friend class ReplicaWriter;
  friend class ReplicaReader;
  using Replica = ReplicaWriter::Replica;
  struct Disk {
    std::string path;
    bool failed = false;  // guarded by mu_ once the store is open
    std::shared_ptr<WriteJournal> journal;  // set once at open
  };
  ChunkStore(std::vector<Disk> disks, FileSystem* fs) : fs_(fs), disks_(std::move(disks)) {}
  // StartWrite and StartCopy.
  absl::StatusOr<std::unique_ptr<ReplicaWriter>> StartWriting(uint64_t chunk_id, uint64_t version,
                                                              const std::string& project,
                                                              uint64_t max_length, bool copy);
  // Loads the live and the quarantined replicas of a disk (finishing a move into or out of
  // quarantine that a crash interrupted).
  absl::Status LoadDisk(size_t disk_index);
  // Renames a replica's files from `from` to a new Replica under root `to_root` ("chunks" or
  // "quarantine"), data first, syncing both directories.
  absl::StatusOr<std::shared_ptr<Replica>> MoveReplica(Replica& from, const char* to_root);
  // Reads a replica's meta file under <disk>/<root>/<project>/; nullptr when it is damaged
  // (bad header, short data).
  std::shared_ptr<Replica> LoadReplica(const std::string& disk, const std::string& project,
                                       uint64_t id, const char* root);
  // The blocks of a replica that fail their checksum (or cannot be read).
  static std::vector<uint32_t> BadBlocks(std::shared_ptr<Replica> r);
  std::shared_ptr<Replica> Find(uint64_t chunk_id);
  // The journal's applier: makes the journaled appends of these replicas durable in their own
  // files (data file synced, then the meta file written and synced).
  absl::Status ApplyJournaled(const std::vector<uint64_t>& chunk_ids);
  // After a crash, before serving: applies the records a disk's journal still held, durably.
  // A record that cannot be applied (its bytes missing from the data file, a gap before it)
  // leaves its replica at the length before it; an I/O error is returned.
  absl::Status ApplyRecovered(const std::string& disk, const std::vector<JournalRecord>& records);
  // Makes `length` bytes of a replica's data file durable, then records them with their CRCs
  // and `version` in its meta file, durably.
  absl::Status PersistReplica(const Replica& r, uint64_t version, uint64_t length,
                              const std::vector<uint32_t>& crcs);
  // Waits until every journaled append of `r` is in its own files (before a change that
  // rewrites or removes them).
  absl::Status AwaitApplied(Replica& r);

  FileSystem* const fs_;
  std::vector<Disk> disks_;  // the list is fixed; `failed` changes under mu_
  absl::Mutex mu_;
  absl::flat_hash_map<uint64_t, std::shared_ptr<Replica>> replicas_ ABSL_GUARDED_BY(mu_);
  LostReplicas lost_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<uint64_t> refused_ ABSL_GUARDED_BY(mu_);  // declared deleted
  struct Quarantined {
    std::shared_ptr<Replica> replica;  // paths inside quarantine/
    std::vector<uint32_t> bad_blocks;
  };
  absl::flat_hash_map<uint64_t, Quarantined> quarantined_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, std::shared_ptr<Replica>> damaged_ ABSL_GUARDED_BY(mu_);
  std::atomic<double> wipe_bytes_per_second_{0};

  // Wipes a replica already forgotten by the store: journal, overwrite, sync, unlink (see
  // Delete). Returns the bytes overwritten.
  absl::StatusOr<uint64_t> Wipe(const Replica& r);
  // Overwrites, syncs and unlinks the files of a journaled wipe; returns the bytes overwritten.
  absl::StatusOr<uint64_t> WipeFiles(const std::vector<std::string>& paths);
  // Finishes the wipes journaled on a disk (after a crash).
  void ResumeWipes(const std::string& disk);
};

}  // namespace ternion::chunkserver
