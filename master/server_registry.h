#pragma once

// The server registry: every chunkserver the master knows, by id and by ordinal (its dense
// number in the chunk map and the placement policy), with its membership (address, rack, admin
// state), liveness (heartbeats), load (capacity, use, write streams), the rack topology, and the
// placement view built from them. It has its own lock, after the chunk lock in the master's lock
// order: a heartbeat's update of liveness and load takes this lock alone (its wipe handout then
// takes the chunk lock, briefly), and decisions under the chunk lock read servers by taking this
// lock after it.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "master/placement_policy.h"
#include "ternion/v1/master.pb.h"
#include "ternion/v1/metadata.pb.h"

namespace ternion::master {

// One chunkserver as the registry knows it.
struct ServerInfo {
  ternion::v1::ChunkServerRecord record;  // persistent: address, racks, admin state
  uint32_t ordinal = 0;
  bool registered = false;    // registered with this master incarnation
  bool seen_present = false;  // live or away at the last liveness sweep
  absl::Time last_heartbeat = absl::InfinitePast();
  absl::Time graceful_until = absl::InfinitePast();  // stopped gracefully: not dead until then
  uint64_t capacity_bytes = 0;
  uint64_t used_bytes = 0;
  uint32_t active_streams = 0;
  double recent_write_mib_s = 0;
  uint64_t heartbeats = 0;          // since registration with this incarnation
  uint64_t usage_fresh_after = 0;   // heartbeats needed before its usage shows recent moves
  uint64_t bytes_written = 0;       // as last reported, for the recent throughput
  int64_t clock_skew_ms = 0;        // its clock minus the master's, at its last heartbeat
  std::string log_level;            // set by an administrator; sent with every heartbeat
  std::vector<ternion::v1::DiskUsage> disks;

  // The rack an administrator placed it in, else the one it says it is in.
  const std::string& rack() const {
    return record.admin_rack().empty() ? record.rack() : record.admin_rack();
  }
  // Its disks as reported; capacity and use count the disks that have not failed.
  void SetDisks(const google::protobuf::RepeatedPtrField<ternion::v1::DiskUsage>& reported);
};

// How long a silent server stays live, and how long before it is suspect.
struct LivenessTimes {
  absl::Duration dead_after = absl::Seconds(30);
  absl::Duration suspect_after = absl::Seconds(10);
};

class ServerRegistry {
 public:
  ServerRegistry(const PlacementOptions& placement, LivenessTimes times)
      : times_(times), placement_(placement) {}

  mutable absl::Mutex mu;

  // The server `id`, added when new (not usable for placement until it registers).
  ServerInfo& Add(const std::string& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  ServerInfo* Find(const std::string& id) ABSL_SHARED_LOCKS_REQUIRED(mu);
  ServerInfo& at(uint32_t ordinal) ABSL_SHARED_LOCKS_REQUIRED(mu) { return *by_ordinal_[ordinal]; }
  const ServerInfo& at(uint32_t ordinal) const ABSL_SHARED_LOCKS_REQUIRED(mu) {
    return *by_ordinal_[ordinal];
  }
  size_t size() const ABSL_SHARED_LOCKS_REQUIRED(mu) { return by_ordinal_.size(); }
  // Every server by id.
  const std::map<std::string, ServerInfo>& servers() const ABSL_SHARED_LOCKS_REQUIRED(mu) {
    return servers_;
  }

  // Registered with this incarnation and heard from within --dead-after.
  bool IsLive(const ServerInfo& s, absl::Time now) const {
    return s.registered && now - s.last_heartbeat <= times_.dead_after;
  }
  bool IsLive(uint32_t ordinal, absl::Time now) const ABSL_SHARED_LOCKS_REQUIRED(mu) {
    return IsLive(at(ordinal), now);
  }
  // Live, but silent for longer than --suspect-after: no new replicas go to it, and its
  // replicas are not repaired yet.
  bool IsSuspect(const ServerInfo& s, absl::Time now) const {
    return IsLive(s, now) && now - s.last_heartbeat > times_.suspect_after;
  }
  // Its last heartbeat said it was stopping gracefully, less than --graceful-grace ago.
  static bool IsStopping(const ServerInfo& s, absl::Time now) { return now < s.graceful_until; }
  // When its maintenance ends (a rack's is that of each of its servers); InfinitePast when it
  // has none.
  static absl::Time MaintenanceEnd(const ServerInfo& s) {
    const int64_t until = s.record.maintenance_until_unix_ms();
    return until > 0 ? absl::FromUnixMillis(until) : absl::InfinitePast();
  }
  // Away: in maintenance or stopping gracefully. Its replicas still count while their chunks
  // have enough live replicas elsewhere (master/move_planner.h); no new replicas go to it.
  static bool IsAway(const ServerInfo& s, absl::Time now) {
    return IsStopping(s, now) || now < MaintenanceEnd(s);
  }
  // Whether new replicas may go to it: live, not suspect, not away, and active.
  bool Usable(const ServerInfo& s, absl::Time now) const;
  // live, suspect, stopping or dead.
  const char* StateName(const ServerInfo& s, absl::Time now) const;

  // The placement view of every server (updated by RefreshPlacement and SweepLiveness).
  PlacementPolicy& placement() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return placement_; }
  const PlacementPolicy& placement() const ABSL_SHARED_LOCKS_REQUIRED(mu) { return placement_; }
  // Whether the replicas on these servers all sit in distinct racks.
  bool RackSafe(absl::Span<const uint32_t> replicas) const ABSL_SHARED_LOCKS_REQUIRED(mu) {
    return placement_.RackSafe(replicas);
  }
  // Refreshes the placement view of `s` (after its membership, liveness or load changed).
  void RefreshPlacement(const ServerInfo& s, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // At most every 100 ms: refreshes the placement view of the servers whose liveness, state or
  // maintenance changed, and returns the ordinals of those found neither live nor away since
  // the last sweep (dead, or dead and their maintenance or grace over).
  std::vector<uint32_t> SweepLiveness(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // The next SweepLiveness looks again at once.
  void ForceSweep() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { last_sweep_ = absl::InfinitePast(); }

  // The rack topology: racks an administrator added, with their power domains.
  const std::map<std::string, ternion::v1::RackRecord>& racks() const
      ABSL_SHARED_LOCKS_REQUIRED(mu) {
    return racks_;
  }
  void SetRacks(std::map<std::string, ternion::v1::RackRecord> racks)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    racks_ = std::move(racks);
  }
  // The power domain of `rack` ("" when the rack is not in the topology).
  std::string PowerDomainOf(const std::string& rack) const ABSL_SHARED_LOCKS_REQUIRED(mu);

 private:
  const LivenessTimes times_;
  std::map<std::string, ServerInfo> servers_ ABSL_GUARDED_BY(mu);  // nodes are stable
  std::vector<ServerInfo*> by_ordinal_ ABSL_GUARDED_BY(mu);
  std::map<std::string, ternion::v1::RackRecord> racks_ ABSL_GUARDED_BY(mu);
  absl::flat_hash_map<std::string, uint32_t> rack_ordinals_ ABSL_GUARDED_BY(mu);
  absl::flat_hash_map<std::string, uint32_t> power_domain_ordinals_ ABSL_GUARDED_BY(mu);
  PlacementPolicy placement_ ABSL_GUARDED_BY(mu);
  absl::Time last_sweep_ ABSL_GUARDED_BY(mu) = absl::InfinitePast();
};

}  // namespace ternion::master
