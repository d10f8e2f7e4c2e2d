#pragma once

// The master's in-memory chunk map: for every chunk, its file, version, acknowledged length and
// replica locations, in one fixed-size entry. GFS keeps under 64 bytes per chunk so the map of a
// large cluster fits in one machine's memory; ternion-placement-sim measures ours with
// ChunkMapBytes(). Servers and projects appear as the master's dense ordinals; the persistent
// ChunkRecord keeps their names.

#include <algorithm>
#include <cstdint>

#include "absl/container/flat_hash_map.h"
#include "absl/types/span.h"

namespace ternion::master {

inline constexpr int kMaxReplicas = 3;  // the replication factor; a move replaces in place

struct ChunkEntry {
  enum Flags : uint8_t { kDeleted = 1 };

  uint64_t file_id = 0;
  uint32_t length = 0;   // acknowledged bytes (chunks are at most 1 GiB)
  uint32_t version = 0;
  uint32_t index = 0;    // position of the chunk in its file
  uint32_t project = 0;  // project ordinal
  uint8_t flags = 0;
  uint8_t num_replicas = 0;
  uint16_t extra_refs = 0;  // files referencing the chunk beyond its first (snapshots)
  uint32_t replicas[kMaxReplicas] = {};  // server ordinals

  absl::Span<const uint32_t> replica_span() const { return {replicas, num_replicas}; }
  bool deleted() const { return flags & kDeleted; }
  bool HasReplica(uint32_t server) const {
    return std::find(replicas, replicas + num_replicas, server) != replicas + num_replicas;
  }
  bool AddReplica(uint32_t server) {
    if (num_replicas >= kMaxReplicas || HasReplica(server)) return false;
    replicas[num_replicas++] = server;
    return true;
  }
  bool RemoveReplica(uint32_t server) {
    uint32_t* end = replicas + num_replicas;
    uint32_t* it = std::find(replicas, end, server);
    if (it == end) return false;
    std::copy(it + 1, end, it);
    --num_replicas;
    return true;
  }
  // Moves the replica on `from` to `to`.
  bool ReplaceReplica(uint32_t from, uint32_t to) {
    uint32_t* end = replicas + num_replicas;
    uint32_t* it = std::find(replicas, end, from);
    if (it == end || HasReplica(to)) return false;
    *it = to;
    return true;
  }
};

static_assert(sizeof(ChunkEntry) == 40, "keep the chunk map small");

using ChunkMap = absl::flat_hash_map<uint64_t, ChunkEntry>;

// Bytes the map's table occupies: one slot (key + entry) and one control byte per bucket.
inline size_t ChunkMapBytes(const ChunkMap& map) {
  return map.bucket_count() * (sizeof(ChunkMap::value_type) + 1);
}

}  // namespace ternion::master
