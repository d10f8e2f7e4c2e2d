#pragma once

// CopySlots is the per-server throttle on replica copies (repairs, drains, the balancer): at
// most `limit` copies at once out of each chunkserver and `limit` into it (counted apart, as
// Ceph counts an OSD's backfills; HDFS bounds a DataNode's replication streams likewise). Together with the bandwidth cap
// each chunkserver applies to the copies into it, it bounds what recovery takes from any one
// server, while the cluster's recovery rate grows with the number of servers. Pure bookkeeping:
// the master and ternion-placement-sim drive the same code. Not thread-safe.

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/types/span.h"

namespace ternion::master {

// The default recovery throttles, per chunkserver: copies at once out of it (and, apart, into
// it), and the cap on the bandwidth of all copies into it.
inline constexpr int kDefaultCopiesPerServer = 2;
inline constexpr uint64_t kDefaultCopyBandwidthBytesPerS = 128ull << 20;

class CopySlots {
 public:
  explicit CopySlots(int limit) : limit_(limit) {}

  void set_limit(int limit) { limit_ = limit; }
  int limit() const { return limit_; }
  int sending(uint32_t server) const { return server < out_.size() ? out_[server] : 0; }
  int receiving(uint32_t server) const { return server < in_.size() ? in_[server] : 0; }
  bool CanReceive(uint32_t server) const { return receiving(server) < limit_; }

  // The source for a copy: among `holders` (live replicas of the chunk), the one sending the
  // fewest copies, so a lost server's chunks are read from many servers at once. nullopt when
  // every holder sends its limit.
  std::optional<uint32_t> PickSource(absl::Span<const uint32_t> holders) const;

  // A copy from `source` to `target` starts, or ends.
  void Start(uint32_t source, uint32_t target);
  void End(uint32_t source, uint32_t target);

 private:
  int limit_;
  std::vector<int> out_, in_;  // copies under way from / to each server, by its number
};

}  // namespace ternion::master
