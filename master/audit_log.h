#pragma once

// The master's tamper-evident audit log (docs/security.md): every authentication result,
// authorization decision, change and data access, one AuditRecord each, in the master's
// RocksDB at a/<seq>. Each record carries the SHA-256 of its predecessor's hash and its own
// contents, so `ternion audit verify` finds a record that was edited, removed or reordered
// (not a cut-off tail: the newest hash is what an operator would anchor elsewhere).
//
// Records before the chain existed (plain text lines) are legacy: kept, shown, not verifiable.

#include <cstdint>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "master/metadata_store.h"
#include "ternion/v1/metadata.pb.h"

namespace ternion::master {

// What happened, as the caller of the audit log knows it (AuditRecord without the chain).
struct AuditEvent {
  std::string user;
  std::string project;
  std::string action;
  std::string object;
  std::string result = "ok";
  std::string peer;
  std::string detail;
};

// The stored form: "TAR1" and the record's serialization.
std::string EncodeAuditRecord(const ternion::v1::AuditRecord& record);
// The record in a stored value; nullopt for a legacy text line; DATA_LOSS when neither.
absl::StatusOr<std::optional<ternion::v1::AuditRecord>> DecodeAuditRecord(absl::string_view value);
// SHA-256 over the record's prev_hash and its serialization with `hash` cleared.
std::string AuditHash(const ternion::v1::AuditRecord& record);

// Checks a log read in key order: Add each stored record, then Finish. Pure.
class AuditChainVerifier {
 public:
  void Add(uint64_t key_seq, absl::string_view value);
  // OK with the counts, or DATA_LOSS naming the first record that breaks the chain.
  absl::Status Finish() const { return status_; }
  uint64_t records() const { return records_; }
  uint64_t legacy() const { return legacy_; }

 private:
  absl::Status status_;
  uint64_t records_ = 0;
  uint64_t legacy_ = 0;
  std::optional<ternion::v1::AuditRecord> last_;
};

// The head of the chain: appends records to metadata batches. Thread-safe; its lock is taken
// after every other lock of the master.
class AuditLog {
 public:
  // Continues after the newest stored record (value `newest` at `seq`; none: an empty log).
  absl::Status Load(std::optional<std::pair<uint64_t, std::string>> newest);
  // Adds the record of `event` at `now_ms` to `batch`, and returns it. The caller hands `batch`
  // to the metadata log before another record is made (Master::CommitAudited), so records reach
  // the disk in chain order.
  ternion::v1::AuditRecord Append(const AuditEvent& event, int64_t now_ms, MetadataBatch* batch)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

  absl::Mutex mu;

 private:
  uint64_t next_seq_ ABSL_GUARDED_BY(mu) = 1;
  std::string last_hash_ ABSL_GUARDED_BY(mu);
};

std::string AuditKey(uint64_t seq);

}  // namespace ternion::master
