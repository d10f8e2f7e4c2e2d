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

// Where appending to a chunk whose writer is gone goes on (a new writer's takeover, the master's
// lease recovery): the replicas of `version` at their visible length, when any answered. A
// writer that died in the middle of write recovery leaves the chunk at a version no replica
// reached (the master moves the version first, then the writer moves the replicas). Every
// replica the master lists still holds every acknowledged byte at the version it has (the
// failed ones left the list at the version move, and nothing more is acknowledged until all are
// moved), so then the replicas of the newest older version that answered are the ones to move
// on, cut at their least length. HDFS's block recovery does the same with generation stamps.
struct ResumePoint {
  uint64_t version = 0;  // of the replicas to go on from: `version`, or an older one to move
  uint64_t length = 0;
};
inline std::optional<ResumePoint> FindResumePoint(uint64_t version, uint64_t committed,
                                                  uint64_t chunk_size,
                                                  const std::vector<ReplicaLength>& answers) {
  std::optional<uint64_t> newest;  // a version above the master's is no answer
  for (const ReplicaLength& a : answers) {
    if (a.version <= version && (!newest || a.version > *newest)) newest = a.version;
  }
  if (!newest) return std::nullopt;
  return ResumePoint{*newest, *VisibleLength(*newest, committed, chunk_size, answers)};
}

}  // namespace ternion
