#pragma once

// WriteJournal: one disk's write-ahead journal (docs/formats.md "Write journal"), the way
// BlueStore defers small writes and a database group-commits its log.
//
// A durable append to a replica becomes one record: the bytes themselves when they are small
// (the replica's data file gets them too, unsynced), or only their range and CRC32C when the
// data file was synced first. Records of every replica and writer on the disk share the
// journal's fdatasync: Commit returns once a sync covering its records has finished, and each
// sync carries every record that arrived while the previous one ran (group commit). A
// background thread then makes the records' replicas durable in their own files (the Applier
// given to Start), releases the records and overwrites their space with zeros, so journaled
// bytes are wiped like any freed replica byte. Commit waits while the journal is full.
//
// The file holds two header slots and a ring of `capacity` bytes. After a crash, Open hands
// back the records never released, in commit order; the caller applies them durably, then
// calls Start, which wipes the ring, before anything is served. Thread-safe.

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/file_system.h"

namespace ternion::chunkserver {

// Appends of at most this many bytes carry their bytes in the record; larger ones are synced to
// the replica's data file first and journal only their range and checksum.
inline constexpr size_t kJournalInlineBytes = 64 * 1024;
inline constexpr uint64_t kDefaultJournalBytes = 64ull << 20;
inline constexpr uint64_t kMinJournalBytes = 1ull << 20;
inline constexpr uint64_t kMaxJournalBytes = 4ull << 30;
inline constexpr size_t kJournalRecordHeaderSize = 56;

struct JournalRecord {
  uint64_t chunk_id = 0;
  uint64_t version = 0;
  uint64_t offset = 0;  // in the replica
  uint32_t length = 0;  // bytes covered
  uint32_t crc = 0;     // CRC32C of the covered bytes
  // The covered bytes, or empty when they reached the data file durably before the record.
  std::string data;
};

// Appends the record, numbered `seq`, to *out.
void EncodeJournalRecord(const JournalRecord& record, uint64_t seq, std::string* out);
inline size_t EncodedJournalRecordSize(const JournalRecord& r) {
  return kJournalRecordHeaderSize + r.data.size();
}
// The record at the start of `bytes` and its number; nullopt unless `bytes` starts with a
// whole, valid record (magic, sizes and CRC32C checked: the bytes come from a disk).
struct DecodedJournalRecord {
  uint64_t seq = 0;
  size_t size = 0;  // encoded bytes
  JournalRecord record;
};
std::optional<DecodedJournalRecord> DecodeJournalRecord(absl::string_view bytes);

struct JournalStats {
  uint64_t capacity = 0;
  uint64_t used = 0;       // bytes not yet released (with the space skipped at the ring's end)
  uint64_t records = 0;    // committed since open
  uint64_t syncs = 0;      // group commits since open
  uint64_t throttled = 0;  // commits that waited for space
  uint64_t applies = 0;    // apply rounds finished
};

class WriteJournal {
 public:
  // Makes every byte committed so far for each chunk in `chunk_ids` durable in its replica's
  // own files.
  using Applier = std::function<absl::Status(const std::vector<uint64_t>& chunk_ids)>;

  // Opens the journal at `path`, creating it (zero-filled) when absent, and puts into
  // *recovered the records a crash left unreleased. A damaged header fails: what the journal
  // holds cannot be known, so nothing on the disk may be served as if it were complete.
  static absl::StatusOr<std::unique_ptr<WriteJournal>> Open(FileSystem* fs, const std::string& path,
                                                            uint64_t capacity,
                                                            std::vector<JournalRecord>* recovered);
  // Stops the applier; unreleased records stay for the next Open.
  ~WriteJournal();
  WriteJournal(const WriteJournal&) = delete;
  WriteJournal& operator=(const WriteJournal&) = delete;

  // Once the recovered records are durable in their replicas: releases and wipes them (the whole
  // ring, at the requested capacity) and starts the background applier.
  absl::Status Start(Applier applier);

  // Appends the records durably; returns the number of the last. Waits while the journal is
  // full. After a failed write or sync of the journal every call fails (the bytes' fate is
  // unknown: the caller's writer fails, as after any failed fsync).
  absl::StatusOr<uint64_t> Commit(const std::vector<JournalRecord>& records);

  // Returns once every record committed before the call is applied and its space wiped.
  absl::Status Drain();

  // Every record numbered up to this one is applied and wiped.
  uint64_t released_seq();
  JournalStats Stats();

 private:
  struct Header {
    uint64_t generation = 0;
    uint64_t capacity = 0;
    uint64_t released_lsn = 0;  // records start here (a log byte position; ring = lsn % capacity)
    uint64_t next_seq = 1;      // the number of the record at released_lsn
    uint64_t wiped_lsn = 0;     // ring bytes before this position are zero
  };
  struct Piece {  // bytes for the ring, from log position lsn
    uint64_t lsn = 0;
    std::string bytes;
  };
  struct Entry {  // a record not yet released
    uint64_t seq = 0;
    uint64_t end_lsn = 0;
    uint64_t chunk_id = 0;
  };
  WriteJournal(FileSystem* fs, std::string path, int fd, uint64_t capacity);
  absl::Status WriteHeader(const Header& h);
  // Reads the records from the header's released position on.
  absl::Status Replay(const Header& h, std::vector<JournalRecord>* out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Overwrites the ring between two log positions with zeros and syncs.
  absl::Status Zero(uint64_t from_lsn, uint64_t to_lsn);
  absl::Status WritePieces(const std::vector<Piece>& pieces);
  void ApplyLoop();
  bool Due() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  FileSystem* const fs_;
  const std::string path_;
  const int fd_;
  uint64_t capacity_;  // of the ring; fixed once started

  absl::Mutex mu_;
  absl::CondVar cv_;
  Applier applier_;
  Header header_ ABSL_GUARDED_BY(mu_);          // as last written
  uint64_t tail_lsn_ ABSL_GUARDED_BY(mu_) = 0;  // where the next record goes
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t durable_seq_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t released_seq_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t released_lsn_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t drain_seq_ ABSL_GUARDED_BY(mu_) = 0;      // Drain waits for this one
  std::vector<Piece> pending_ ABSL_GUARDED_BY(mu_);  // assigned, not yet written
  std::deque<Entry> entries_ ABSL_GUARDED_BY(mu_);
  bool syncing_ ABSL_GUARDED_BY(mu_) = false;
  bool wake_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status error_ ABSL_GUARDED_BY(mu_);        // the journal failed: no more commits
  absl::Status apply_error_ ABSL_GUARDED_BY(mu_);  // the last apply round failed
  JournalStats stats_ ABSL_GUARDED_BY(mu_);
  std::thread applier_thread_;
};

}  // namespace ternion::chunkserver
