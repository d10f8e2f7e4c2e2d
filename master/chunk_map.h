#pragma once

// The master's in-memory chunk map: for every chunk, its file, version, acknowledged length and
// replica locations, in one fixed-size entry. GFS keeps under 64 bytes per chunk so the map of a
// large cluster fits in one machine's memory; ternion-placement-sim measures ours. Servers and
// projects appear as the master's dense ordinals; the persistent ChunkRecord keeps their names.

#include <algorithm>
#include <cstdint>

#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
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

// The chunk map, ordered by chunk id (so a scan can go on in slices from where it stopped,
// across changes), with the chunks of every server: a server's report, death or drain costs
// what it holds, not what the cluster holds (HDFS keeps the same per-DataNode block lists).
// Every change goes through Put and Erase, which keep the two in step. Not thread-safe.
class ChunkTable {
 public:
  using Map = absl::btree_map<uint64_t, ChunkEntry>;
  using const_iterator = Map::const_iterator;

  const_iterator begin() const { return map_.begin(); }
  const_iterator end() const { return map_.end(); }
  const_iterator find(uint64_t id) const { return map_.find(id); }
  // The first chunk with an id at or after `id`: where a sliced scan goes on.
  const_iterator lower_bound(uint64_t id) const { return map_.lower_bound(id); }
  const ChunkEntry& at(uint64_t id) const { return map_.at(id); }
  bool contains(uint64_t id) const { return map_.contains(id); }
  size_t size() const { return map_.size(); }

  // Sets the chunk's entry (adding the chunk if new).
  void Put(uint64_t id, const ChunkEntry& e) {
    auto [it, added] = map_.try_emplace(id, e);
    if (!added) {
      Unlist(id, it->second);
      it->second = e;
    }
    for (uint32_t r : e.replica_span()) {
      Lists(r).all.insert(id);
      if (e.deleted()) Lists(r).deleted.insert(id);
    }
    if (e.deleted()) {
      ++deleted_chunks_;
      deleted_replica_bytes_ += static_cast<uint64_t>(e.length) * e.num_replicas;
    }
  }
  void Erase(uint64_t id) {
    auto it = map_.find(id);
    if (it == map_.end()) return;
    Unlist(id, it->second);
    map_.erase(it);
  }

  // The chunks the map places on server `ordinal`, in id order; and those of them that are
  // deleted (replicas waiting to be wiped).
  const absl::btree_set<uint64_t>& OnServer(uint32_t ordinal) const {
    return ordinal < by_server_.size() ? by_server_[ordinal].all : kNone;
  }
  const absl::btree_set<uint64_t>& DeletedOnServer(uint32_t ordinal) const {
    return ordinal < by_server_.size() ? by_server_[ordinal].deleted : kNone;
  }
  // Deleted chunks (replicas not all wiped yet), and the bytes of their replicas.
  uint64_t DeletedChunks() const { return deleted_chunks_; }
  uint64_t DeletedReplicaBytes() const { return deleted_replica_bytes_; }

  // Whether the per-server lists and the counts agree with the map (for tests): every replica
  // listed once under its server, nothing else listed.
  bool Consistent() const {
    size_t listed = 0, deleted_listed = 0, replicas = 0, deleted_replicas = 0, deleted = 0;
    uint64_t bytes = 0;
    for (const auto& l : by_server_) {
      listed += l.all.size();
      deleted_listed += l.deleted.size();
    }
    for (const auto& [id, e] : map_) {
      replicas += e.num_replicas;
      for (int i = 0; i < e.num_replicas; ++i) {
        for (int j = 0; j < i; ++j) {
          if (e.replicas[i] == e.replicas[j]) return false;
        }
        if (!OnServer(e.replicas[i]).contains(id)) return false;
        if (e.deleted() && !DeletedOnServer(e.replicas[i]).contains(id)) return false;
      }
      if (e.deleted()) {
        ++deleted;
        deleted_replicas += e.num_replicas;
        bytes += static_cast<uint64_t>(e.length) * e.num_replicas;
      }
    }
    return listed == replicas && deleted_listed == deleted_replicas &&
           deleted == deleted_chunks_ && bytes == deleted_replica_bytes_;
  }

 private:
  struct ServerLists {
    absl::btree_set<uint64_t> all;
    absl::btree_set<uint64_t> deleted;
  };
  ServerLists& Lists(uint32_t ordinal) {
    if (ordinal >= by_server_.size()) by_server_.resize(ordinal + 1);
    return by_server_[ordinal];
  }
  void Unlist(uint64_t id, const ChunkEntry& e) {
    for (uint32_t r : e.replica_span()) {
      by_server_[r].all.erase(id);
      by_server_[r].deleted.erase(id);
    }
    if (e.deleted()) {
      --deleted_chunks_;
      deleted_replica_bytes_ -= static_cast<uint64_t>(e.length) * e.num_replicas;
    }
  }

  static inline const absl::btree_set<uint64_t> kNone;
  Map map_;
  std::vector<ServerLists> by_server_;  // by server ordinal
  uint64_t deleted_chunks_ = 0;
  uint64_t deleted_replica_bytes_ = 0;
};

}  // namespace ternion::master
