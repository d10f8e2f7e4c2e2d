#pragma once

// PlacementPolicy chooses the chunkservers for a new chunk's replicas. Pure: it decides from a
// snapshot of candidate servers and a random source, and touches nothing else.
//
// Rules (SPEC section 4; the full policy with power domains and load is a later step):
//  - only candidates that are live and below the disk high-water mark;
//  - replicas on distinct racks while racks remain, then on distinct servers;
//  - within that, servers drawn with probability proportional to their free space.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/random/bit_gen_ref.h"
#include "absl/status/statusor.h"

namespace ternion::master {

struct PlacementCandidate {
  std::string server_id;
  std::string rack;
  uint64_t capacity_bytes = 0;
  uint64_t used_bytes = 0;
};

struct PlacementResult {
  std::vector<std::string> server_ids;
  bool rack_safe = false;  // every replica on its own rack
};

class PlacementPolicy {
 public:
  explicit PlacementPolicy(double high_water_mark = 0.90) : high_water_mark_(high_water_mark) {}

  // Returns `replicas` distinct servers, or UNAVAILABLE when fewer usable servers exist.
  absl::StatusOr<PlacementResult> Choose(const std::vector<PlacementCandidate>& candidates,
                                         int replicas, absl::BitGenRef gen) const;

 private:
  double high_water_mark_;
};

}  // namespace ternion::master
