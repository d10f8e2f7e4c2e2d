#pragma once

// The visible length of a chunk being written (HDFS's visible length). Writers make appends
// durable on every replica of the chunk before `Flush` returns and give the master the length
// only lazily, so the master's length of a file's last chunk may be behind. Every flushed byte
// is durable on every replica of the chunk's current version, so the least durable length any
// of them reports covers all of them (a replica of an older version missed a write recovery and
// does not count). It may also cover bytes that reached every replica but were never
// acknowledged, as HDFS's block recovery may.

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

namespace ternion {

// What one replica reports of itself.
struct ReplicaLength {
  uint64_t version = 0;
  uint64_t length = 0;  // durable bytes
};

// The least length among the `answers` of `version`, never below `committed` (what the master
// recorded stands) nor above `chunk_size`. None when no replica of `version` answered: nothing
// is known.
inline std::optional<uint64_t> VisibleLength(uint64_t version, uint64_t committed,
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

}  // namespace ternion
