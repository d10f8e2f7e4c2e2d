#pragma once

// Lease recovery (HDFS's block recovery after the lease hard limit). Writers make appends
// durable on the three replicas without the master (`Flush` does not wait for it) and commit
// the length to it lazily, so when a writer vanishes the master's length of the file's last
// chunk may be behind what its replicas hold durably. Before that chunk may be moved or
// repaired (which copies only the master's length and then drops the source), the master
// asks the replicas for their durable length and commits the chunk's visible length
// (common/visible_length.h), which covers every flushed byte.
//
// A writer that died in the middle of write recovery leaves the chunk at a version no replica
// reached (FindResumePoint): the master then moves the chunk to a new version itself, orders
// the replicas that answered moved to it, and commits the next round.

#include <cstdint>
#include <string>
#include <vector>

#include "common/visible_length.h"
#include "master/file_view.h"

namespace ternion::master {

// A file whose writer's lease is past the hard limit, with what is needed to ask its last
// chunk's replicas for their length. `chunk_id` 0: nothing to ask (no chunk, or the master's
// length already ends at a chunk boundary), the lease is only released.
struct LeaseRecovery {
  LeaseRef lease;
  uint64_t chunk_id = 0;
  uint64_t version = 0;
  uint64_t committed = 0;              // the master's length of the chunk
  std::vector<std::string> addresses;  // its replicas' servers that are live
  std::string token;                   // a read token for the chunk (GetReplica takes any)
};

// A move lease recovery orders: the replicas of `chunk_id` at `version` go to `new_version`
// (already the chunk's), cut at `length`; `token` admits the move on their servers.
struct RecoveryMove {
  uint64_t chunk_id = 0;
  uint64_t version = 0;
  uint64_t new_version = 0;
  uint64_t length = 0;
  std::string token;
};

}  // namespace ternion::master
