#pragma once

// Lease recovery (HDFS's block recovery after the lease hard limit). Writers make appends
// durable on the three replicas without the master (`Flush` does not wait for it) and commit
// the length to it lazily, so when a writer vanishes the master's length of the file's last
// chunk may be behind what its replicas hold durably. Before that chunk may be moved or
// repaired (which copies only the master's length and then drops the source), the master asks
// the replicas for their durable length and commits the least of them: every flushed byte is
// durable on every replica, so the least length any replica of the chunk's version reports
// covers all of them (a replica of an older version missed a write recovery and does not count).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "master/file_view.h"

namespace ternion::master {

// A file whose writer's lease is past the hard limit, with what is needed to ask its last
// chunk's replicas for their length. `chunk_id` 0: nothing to ask (no chunk, or the master's
// length already ends at a chunk boundary), the lease is only released.
struct LeaseRecovery {
  LeaseRef lease;
  uint64_t chunk_id = 0;
  uint64_t version = 0;
  uint64_t committed = 0;  // the master's length of the chunk
  std::vector<std::string> addresses;  // its replicas' servers that are live
  std::string token;                   // a read token for the chunk (GetReplica takes any)
};

// What one replica answered.
struct ReplicaLength {
  uint64_t version = 0;
  uint64_t length = 0;
};

// The chunk's recovered length: the least length among the answers of `version`, never below
// `committed` (what was acknowledged stands) nor above `chunk_size`. None when no replica of
// `version` answered: nothing is known, so nothing is decided (retried later).
inline std::optional<uint64_t> RecoveredLength(uint64_t version, uint64_t committed,
                                               uint64_t chunk_size,
                                               const std::vector<ReplicaLength>& answers) {
  std::optional<uint64_t> least;
  for (const ReplicaLength& a : answers) {
    if (a.version != version) continue;
    least = least ? std::min(*least, a.length) : a.length;
  }
  if (!least) return std::nullopt;
  return std::min(std::max(*least, committed), chunk_size);
}

}  // namespace ternion::master
