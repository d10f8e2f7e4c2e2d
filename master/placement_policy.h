#pragma once

// PlacementPolicy chooses the chunkservers for a chunk's replicas (SPEC section 4). Pure: it
// decides from its own view of the servers and a random source, and touches nothing else, so the
// master, the unit tests and ternion-placement-sim all drive the same code.
//
// Rules, strongest first:
//  - never on a server that is not usable (dead, suspect, draining, decommissioned) or whose
//    disks are at or above the high-water mark;
//  - replicas on distinct racks, and on distinct power domains while that is possible;
//  - with fewer usable racks than replicas, distinct servers (the chunk is then rack-unsafe);
//  - within what the rules allow, a server is drawn with probability proportional to its
//    headroom (free bytes below the high-water mark), divided by a load factor that grows with
//    its active streams and recent write throughput. Headroom weighting makes every disk fill at
//    the same fractional rate, so heterogeneous disks stay evenly filled.
//
// Servers are numbered 0..n-1 by the caller. Weights sit in a Fenwick tree, so a draw costs
// O(log n) and an update after a placement or a heartbeat O(log n); a draw that breaks a rule
// is redrawn a bounded number of times before an exact scan over all servers takes over, which
// only happens in small or degraded clusters.

#include <cstdint>
#include <vector>

#include "absl/random/bit_gen_ref.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace ternion::master {

struct PlacementServer {
  uint32_t rack = 0;          // dense rack number, chosen by the caller
  uint32_t power_domain = 0;  // dense power-domain number
  uint64_t capacity_bytes = 0;
  uint64_t used_bytes = 0;
  uint32_t active_streams = 0;
  double recent_write_mib_s = 0;
  bool usable = false;  // live and accepting new replicas
};

struct PlacementOptions {
  double high_water_mark = 0.90;        // fraction of capacity never filled by placement
  double stream_penalty = 0.10;         // weight /= 1 + stream_penalty * active_streams + ...
  double throughput_penalty = 1.0 / 200;  // ... + throughput_penalty * recent MiB/s
};

struct Placement {
  std::vector<uint32_t> servers;  // the new replicas, in choice order
  bool rack_safe = false;          // kept + new replicas all on distinct racks
  bool power_domain_safe = false;  // ... and on distinct power domains
};

class PlacementPolicy {
 public:
  explicit PlacementPolicy(PlacementOptions options = {}) : options_(options) {}

  // Replaces the whole view. Servers are numbered by their position.
  void Reset(std::vector<PlacementServer> servers);
  // Replaces one server's view (a heartbeat, a state or topology change). `server` may be the
  // next number, which adds a server.
  void Update(uint32_t server, const PlacementServer& s);
  // Counts `bytes` as used on `server` until its next Update (placed, not yet reported).
  void AddUsage(uint32_t server, int64_t bytes);

  // Chooses `count` more servers for a chunk whose replicas already on `kept` stay where they
  // are; servers in `avoid` are not chosen (for a move: the replica being moved away).
  // RESOURCE_EXHAUSTED when too few servers have room below the high-water mark, UNAVAILABLE
  // when too few are usable at all.
  absl::StatusOr<Placement> Choose(int count, absl::Span<const uint32_t> kept,
                                   absl::Span<const uint32_t> avoid, absl::BitGenRef gen) const;

  // Whether `replicas` all sit on distinct racks.
  bool RackSafe(absl::Span<const uint32_t> replicas) const;

  size_t size() const { return servers_.size(); }
  const PlacementServer& server(uint32_t i) const { return servers_[i]; }
  double Weight(uint32_t server) const { return weights_[server]; }

 private:
  double ComputeWeight(const PlacementServer& s) const;
  void SetWeight(uint32_t server, double w);
  void RebuildTree();  // from weights_, also bounding floating-point drift of the sums
  // Index of the server whose cumulative weight interval holds `x`, x in [0, total).
  uint32_t FindByPrefix(double x) const;

  PlacementOptions options_;
  std::vector<PlacementServer> servers_;
  std::vector<double> weights_;
  std::vector<double> tree_;  // Fenwick tree over weights_, 1-based
  double total_ = 0;
  uint32_t top_bit_ = 0;  // highest power of two <= size, for the tree descent
  uint32_t updates_since_rebuild_ = 0;
};

}  // namespace ternion::master
