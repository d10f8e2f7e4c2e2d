#pragma once

// WipeHandout decides which deleted replicas each chunkserver is told to wipe in its next
// heartbeat (garbage collection, SPEC section 6): a bounded number per heartbeat (the throttle),
// taken in order from where the last heartbeat stopped, so every pending replica gets its turn
// however many there are; a replica already asked for is asked again only when no confirmation
// came within `resend_after` (the heartbeat or the wipe was lost). Pure bookkeeping over an
// injected time; the master keeps one and feeds it each server's deleted replicas. Not
// thread-safe.

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"

namespace ternion::master {

class WipeHandout {
 public:
  WipeHandout(int per_heartbeat, absl::Duration resend_after)
      : per_heartbeat_(per_heartbeat), resend_after_(resend_after) {}

  // The wipes for `server`'s next heartbeat, from `pending` (its deleted, unwiped replicas).
  std::vector<uint64_t> Next(uint32_t server, const absl::btree_set<uint64_t>& pending,
                             absl::Time now);
  // `server` confirmed it wiped `chunk`.
  void Confirmed(uint32_t server, uint64_t chunk) { sent_.erase({chunk, server}); }

 private:
  const int per_heartbeat_;
  const absl::Duration resend_after_;
  absl::flat_hash_map<uint32_t, uint64_t> cursor_;  // per server: where the next look starts
  absl::flat_hash_map<std::pair<uint64_t, uint32_t>, absl::Time> sent_;  // (chunk, server)
};

}  // namespace ternion::master
