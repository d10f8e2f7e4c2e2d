#pragma once

// The namespace: projects, files and the leases of their writers, with a lock of its own. Its
// lock is the first of the master's lock order (namespace, then chunks, then servers, then file
// facts, then the metadata log; docs/architecture.md), so a call that changes files and chunks
// together (allocate, commit, delete, snapshot) takes it first, and a call on files alone
// (create, renew, seal, rename, list, a lookup without chunks) never takes the chunk lock that
// reports, scans and moves hold. It publishes what the chunk side needs of each file in a
// FileFactsTable.
//
// A change is applied to memory and its records added to the caller's MetadataBatch; the caller
// appends the batch to the metadata log before releasing `mu`, so the log orders the changes to
// any one record as memory does.

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/random/random.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "master/file_facts.h"
#include "master/file_view.h"
#include "master/metadata_store.h"
#include "ternion/v1/metadata.pb.h"

namespace ternion::master {

// Removes the entries of `list` that `drop` selects; returns how many went.
template <typename T, typename Pred>
int EraseIf(google::protobuf::RepeatedPtrField<T>* list, Pred drop) {
  const int before = list->size();
  list->erase(std::remove_if(list->begin(), list->end(), drop), list->end());
  return before - list->size();
}

// Removes the grants of `p` that `drop` selects; returns how many went.
template <typename Pred>
int EraseGrants(ternion::v1::ProjectRecord* p, Pred drop) {
  return EraseIf(p->mutable_grants(), drop);
}

class Namespace {
 public:
  Namespace(const Clock* clock, absl::Duration lease_duration, absl::Duration lease_hard_limit)
      : clock_(clock), lease_duration_(lease_duration), lease_hard_limit_(lease_hard_limit) {}

  // Held (shared to read) by every call that reads or changes projects or files.
  mutable absl::Mutex mu;

  // The facts of every file, for the chunk side (thread-safe; see FileFactsTable).
  const FileFactsTable& facts() const { return facts_; }

  // Loading, before the master serves.
  void LoadProject(ternion::v1::ProjectRecord p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void LoadFile(ternion::v1::FileRecord f) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void LoadNextFileId(uint64_t id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { next_file_id_ = id; }

  // Reads.
  const std::map<std::string, ternion::v1::ProjectRecord>& projects() const
      ABSL_SHARED_LOCKS_REQUIRED(mu) {
    return projects_;
  }
  // Every file, keyed by FileKey(project, path): a project's files (and a prefix) are a range.
  const std::map<std::string, ternion::v1::FileRecord>& files() const
      ABSL_SHARED_LOCKS_REQUIRED(mu) {
    return files_;
  }
  // NOT_FOUND naming the project when it does not exist.
  absl::Status CheckProject(const std::string& project) const ABSL_SHARED_LOCKS_REQUIRED(mu);
  bool Exists(const std::string& project, const std::string& path) const
      ABSL_SHARED_LOCKS_REQUIRED(mu);
  // The file (names validated; NOT_FOUND naming what is missing).
  absl::StatusOr<const ternion::v1::FileRecord*> Find(const std::string& project,
                                                      const std::string& path) const
      ABSL_SHARED_LOCKS_REQUIRED(mu);
  // The file, when `lease` is its writer's valid lease (FAILED_PRECONDITION saying why not).
  absl::StatusOr<const ternion::v1::FileRecord*> CheckLease(const LeaseRef& lease) const
      ABSL_SHARED_LOCKS_REQUIRED(mu);
  // Whether a writer holds an unexpired lease on `f`.
  bool UnderLease(const ternion::v1::FileRecord& f) const;
  // Whether `f`'s lease expired more than the hard limit ago (its holder is refused).
  bool LeasePastHardLimit(const ternion::v1::FileRecord& f) const;
  // Up to `max` files whose lease is past the hard limit and not yet recovered, in key order
  // from after `*cursor` (empty: the first), wrapping around; `*cursor` moves to the last one
  // returned, so files that cannot be recovered yet do not hold up the others.
  std::vector<const ternion::v1::FileRecord*> LeasesPastHardLimit(size_t max,
                                                                  std::string* cursor) const
      ABSL_SHARED_LOCKS_REQUIRED(mu);
  uint64_t next_file_id() const ABSL_SHARED_LOCKS_REQUIRED(mu) { return next_file_id_; }

  // Changes.
  absl::Status CreateProject(const ternion::v1::ProjectRecord& p, MetadataBatch* batch)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // Replaces project `p` (members, grants), which must exist.
  void UpdateProject(const ternion::v1::ProjectRecord& p, MetadataBatch* batch)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // Drops what names file `path` of `project` (the file is gone or renamed): its grants, labels,
  // label exceptions and package entries die with it.
  void DropFilePolicies(const std::string& project, const std::string& path, MetadataBatch* batch)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // Labels file `to` of `project` with every label that covers file `from` now (its own and its
  // prefixes', per column), so a rename or a snapshot never lowers a level.
  void CarryLabels(const std::string& project, const std::string& from, const std::string& to,
                   MetadataBatch* batch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // Adds or replaces file `f`; an id at or past next_file_id() advances it.
  const ternion::v1::FileRecord& Put(ternion::v1::FileRecord f, MetadataBatch* batch)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void Erase(const std::string& project, const std::string& path, MetadataBatch* batch)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // `f` with a new lease for `client_id` (to Put).
  ternion::v1::FileRecord WithNewLease(ternion::v1::FileRecord f, const std::string& client_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // `f` with its lease extended by the lease duration from now (to Put).
  ternion::v1::FileRecord WithLeaseRenewed(ternion::v1::FileRecord f) const;

  // Checks that the facts table agrees with the files (for tests). INTERNAL naming a file.
  absl::Status CheckFacts() const ABSL_SHARED_LOCKS_REQUIRED(mu);

 private:
  static FileFacts FactsOf(const ternion::v1::FileRecord& f);

  const Clock* const clock_;
  const absl::Duration lease_duration_;
  const absl::Duration lease_hard_limit_;
  std::map<std::string, ternion::v1::ProjectRecord> projects_ ABSL_GUARDED_BY(mu);
  std::map<std::string, ternion::v1::FileRecord> files_ ABSL_GUARDED_BY(mu);
  std::set<std::string> leased_ ABSL_GUARDED_BY(mu);  // the keys of files with a lease
  uint64_t next_file_id_ ABSL_GUARDED_BY(mu) = 1;
  absl::BitGen gen_ ABSL_GUARDED_BY(mu);  // lease ids
  FileFactsTable facts_;
};

}  // namespace ternion::master
