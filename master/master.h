#pragma once

// Master holds the cluster's metadata: projects, the namespace of files, the chunk map and the
// chunkserver registry, and makes every decision about them (leases, allocation, liveness).
// Persistent state lives in a MetadataStore and is mirrored in memory; every change is written
// durably before the call returns and before memory changes, so a failed write changes nothing.
//
// Thread-safe (one mutex; metadata operations are short and the sync write dominates).

#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/random/random.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "master/metadata_store.h"
#include "master/placement_policy.h"
#include "ternion/v1/master.pb.h"
#include "ternion/v1/metadata.pb.h"

namespace ternion::master {

struct MasterOptions {
  uint64_t default_chunk_size = 64ull << 20;
  absl::Duration lease_duration = absl::Seconds(60);
  absl::Duration dead_after = absl::Seconds(30);  // silence after which a chunkserver is dead
  int replicas = 3;
};

class Master {
 public:
  static absl::StatusOr<std::unique_ptr<Master>> Open(const std::string& metadata_dir,
                                                      const MasterOptions& options);

  // Chunkserver membership.
  absl::Status RegisterChunkServer(const ternion::v1::RegisterChunkServerRequest& req);
  // Returns false when the server must register again (unknown to this master incarnation).
  bool Heartbeat(const ternion::v1::HeartbeatRequest& req);

  // Projects.
  absl::Status CreateProject(const std::string& name, const std::string& owner);
  std::vector<ternion::v1::ProjectEntry> ListProjects();

  // Namespace. Writers hold a lease; the lease id names it in later calls.
  absl::StatusOr<ternion::v1::LeaseResponse> CreateFile(const std::string& project,
                                                        const std::string& path,
                                                        uint64_t chunk_size,
                                                        const std::string& client_id);
  absl::StatusOr<ternion::v1::LeaseResponse> OpenForAppend(const std::string& project,
                                                           const std::string& path,
                                                           const std::string& client_id);
  absl::StatusOr<ternion::v1::LeaseResponse> RenewLease(const ternion::v1::LeaseRef& lease);
  // Allocates chunk `index` (the file's next) on `replicas` servers, or returns the chunk
  // already allocated there (a retried call).
  absl::StatusOr<ternion::v1::ChunkInfo> AllocateChunk(const ternion::v1::LeaseRef& lease,
                                                       uint64_t index);
  // Records `length` bytes as acknowledged (durable on every replica). Never shrinks a file.
  absl::StatusOr<uint64_t> CommitLength(const ternion::v1::LeaseRef& lease, uint64_t length);
  absl::StatusOr<ternion::v1::FileInfo> SealFile(const ternion::v1::LeaseRef& lease, bool seal);
  absl::StatusOr<ternion::v1::FileInfo> GetFileInfo(const std::string& project,
                                                    const std::string& path, bool with_chunks);
  absl::StatusOr<std::vector<ternion::v1::FileInfo>> ListFiles(const std::string& project,
                                                               const std::string& prefix,
                                                               uint32_t limit);
  absl::Status DeleteFile(const std::string& project, const std::string& path);

  ternion::v1::ClusterStatusResponse ClusterStatus();

  // Refreshes the gauges in the default metrics registry.
  void UpdateMetrics();

 private:
  struct ServerState {
    ternion::v1::ChunkServerRecord record;
    bool registered = false;  // registered with this master incarnation
    absl::Time last_heartbeat = absl::InfinitePast();
    uint64_t capacity_bytes = 0;
    uint64_t used_bytes = 0;
    uint32_t active_streams = 0;
    uint64_t reported_replicas = 0;
  };

  Master(std::unique_ptr<MetadataStore> store, const MasterOptions& options)
      : store_(std::move(store)), options_(options) {}
  absl::Status Load();

  bool IsLive(const ServerState& s, absl::Time now) const {
    return s.registered && now - s.last_heartbeat <= options_.dead_after;
  }
  absl::StatusOr<ternion::v1::FileRecord*> FindFile(const std::string& project,
                                                     const std::string& path)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<ternion::v1::FileRecord*> CheckLease(const ternion::v1::LeaseRef& lease)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<ternion::v1::LeaseResponse> GrantLease(ternion::v1::FileRecord record,
                                                        const std::string& client_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  ternion::v1::FileInfo ToFileInfo(const ternion::v1::FileRecord& f, bool with_chunks)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  ternion::v1::ChunkInfo ToChunkInfo(const ternion::v1::ChunkRecord& c)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Counts the live replicas of a chunk and whether they sit in distinct racks.
  void ReplicaHealth(const ternion::v1::ChunkRecord& c, absl::Time now, int* live,
                     bool* rack_safe) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::unique_ptr<MetadataStore> store_;
  const MasterOptions options_;
  const PlacementPolicy placement_;

  absl::Mutex mu_;
  absl::BitGen gen_ ABSL_GUARDED_BY(mu_);
  uint64_t next_file_id_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t next_chunk_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<std::string, ternion::v1::ProjectRecord> projects_ ABSL_GUARDED_BY(mu_);
  // Keyed by project + '\0' + path: ordered, so a prefix listing is a range scan.
  std::map<std::string, ternion::v1::FileRecord> files_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, ternion::v1::ChunkRecord> chunks_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, ServerState> servers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ternion::master
