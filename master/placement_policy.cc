#include "master/placement_policy.h"

#include "absl/container/flat_hash_set.h"
#include "absl/random/distributions.h"
#include "absl/strings/str_cat.h"

namespace ternion::master {

absl::StatusOr<PlacementResult> PlacementPolicy::Choose(
    const std::vector<PlacementCandidate>& candidates, int replicas, absl::BitGenRef gen) const {
  std::vector<const PlacementCandidate*> usable;
  for (const PlacementCandidate& c : candidates) {
    if (c.capacity_bytes == 0) continue;
    if (static_cast<double>(c.used_bytes) >= high_water_mark_ * c.capacity_bytes) continue;
    usable.push_back(&c);
  }
  if (usable.size() < static_cast<size_t>(replicas)) {
    return absl::UnavailableError(absl::StrCat("need ", replicas,
                                               " live chunkservers with free space, have ",
                                               usable.size()));
  }

  PlacementResult result;
  absl::flat_hash_set<std::string> used_racks;
  std::vector<bool> taken(usable.size(), false);
  for (int r = 0; r < replicas; ++r) {
    // Prefer servers on racks not used yet; fall back to any untaken server.
    for (bool new_rack_only : {true, false}) {
      double total = 0;
      for (size_t i = 0; i < usable.size(); ++i) {
        if (taken[i] || (new_rack_only && used_racks.contains(usable[i]->rack))) continue;
        total += static_cast<double>(usable[i]->capacity_bytes - usable[i]->used_bytes) + 1;
      }
      if (total == 0) continue;
      double pick = absl::Uniform<double>(gen, 0, total);
      size_t chosen = usable.size();
      for (size_t i = 0; i < usable.size(); ++i) {
        if (taken[i] || (new_rack_only && used_racks.contains(usable[i]->rack))) continue;
        chosen = i;  // the last eligible one absorbs rounding
        pick -= static_cast<double>(usable[i]->capacity_bytes - usable[i]->used_bytes) + 1;
        if (pick < 0) break;
      }
      taken[chosen] = true;
      used_racks.insert(usable[chosen]->rack);
      result.server_ids.push_back(usable[chosen]->server_id);
      break;
    }
  }
  result.rack_safe = used_racks.size() == static_cast<size_t>(replicas);
  return result;
}

}  // namespace ternion::master
