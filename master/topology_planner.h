#pragma once

// PlanTopologyChange validates a change of the rack topology as a whole and says what it
// changes (SPEC section 4): racks with their power domain and data centre, and the racks
// administrators place chunkservers in. The levels must form a tree (a power domain in one
// data centre, no name at two levels); a server must have registered, and its rack must exist.
// A refused change changes nothing. Pure: Master::ApplyTopology persists and applies the plan.

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "ternion/v1/master.pb.h"
#include "ternion/v1/metadata.pb.h"

namespace ternion::master {

inline constexpr char kDefaultDatacenter[] = "dc1";

struct TopologyPlan {
  std::map<std::string, ternion::v1::RackRecord> racks;  // every rack after the change
  std::vector<std::string> changed_racks;                // new or different, in request order
  std::vector<std::pair<std::string, std::string>> moved_servers;  // (server id, its new rack)
};

// `racks`: the racks now; `admin_rack_of`: every registered server's administrator-set rack
// (empty when none was set).
absl::StatusOr<TopologyPlan> PlanTopologyChange(
    const std::map<std::string, ternion::v1::RackRecord>& racks,
    const std::map<std::string, std::string>& admin_rack_of,
    const ternion::v1::ImportTopologyRequest& req);

}  // namespace ternion::master
