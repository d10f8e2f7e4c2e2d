#include "master/topology_planner.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "common/names.h"
#include "common/status_macros.h"

namespace ternion::master {

using ternion::v1::RackRecord;

absl::StatusOr<TopologyPlan> PlanTopologyChange(
    const std::map<std::string, RackRecord>& current,
    const std::map<std::string, std::string>& admin_rack_of,
    const ternion::v1::ImportTopologyRequest& req) {
  TopologyPlan plan;
  std::map<std::string, RackRecord>& racks = plan.racks;
  racks = current;
  std::set<std::string> seen;
  for (const auto& r : req.racks()) {
    RETURN_IF_ERROR(ValidateTopologyName(r.rack(), "rack"));
    RETURN_IF_ERROR(ValidateTopologyName(r.power_domain(), "power domain"));
    if (!r.datacenter().empty()) {
      RETURN_IF_ERROR(ValidateTopologyName(r.datacenter(), "data centre"));
    }
    if (!seen.insert(r.rack()).second) {
      return absl::InvalidArgumentError(absl::StrCat("rack ", r.rack(), " is listed twice"));
    }
    RackRecord& rec = racks[r.rack()];
    rec.set_name(r.rack());
    rec.set_power_domain(r.power_domain());
    rec.set_datacenter(r.datacenter().empty() ? kDefaultDatacenter : r.datacenter());
  }
  // The levels must form a tree: a power domain sits in one data centre, and no name is used
  // at two levels (which would make the tree a graph with a cycle).
  std::map<std::string, std::string> dc_of_pd;
  std::set<std::string> dcs;
  for (const auto& [name, rec] : racks) {
    auto [it, added] = dc_of_pd.emplace(rec.power_domain(), rec.datacenter());
    if (!added && it->second != rec.datacenter()) {
      return absl::InvalidArgumentError(absl::StrCat("power domain ", rec.power_domain(),
                                                     " is in two data centres: ", it->second,
                                                     " and ", rec.datacenter()));
    }
    dcs.insert(rec.datacenter());
  }
  for (const auto& [pd, dc] : dc_of_pd) {
    if (racks.contains(pd) || dcs.contains(pd)) {
      return absl::InvalidArgumentError(
          absl::StrCat("name ", pd, " is used at two levels of the topology (a cycle)"));
    }
  }
  for (const std::string& dc : dcs) {
    if (racks.contains(dc)) {
      return absl::InvalidArgumentError(
          absl::StrCat("name ", dc, " is used at two levels of the topology (a cycle)"));
    }
  }
  std::set<std::string> seen_servers;
  for (const auto& m : req.servers()) {
    if (!seen_servers.insert(m.server_id()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("chunkserver ", m.server_id(), " is listed twice"));
    }
    auto it = admin_rack_of.find(m.server_id());
    if (it == admin_rack_of.end()) {
      return absl::NotFoundError(absl::StrCat("unknown chunkserver ", m.server_id(),
                                              " (a server must register before it is placed)"));
    }
    if (!racks.contains(m.rack())) {
      return absl::NotFoundError(absl::StrCat("unknown rack ", m.rack(), " for chunkserver ",
                                              m.server_id(), " (add the rack first)"));
    }
    if (it->second != m.rack()) plan.moved_servers.emplace_back(m.server_id(), m.rack());
  }
  for (const auto& r : req.racks()) {
    auto old = current.find(r.rack());
    if (old == current.end() ||
        old->second.SerializeAsString() != racks.at(r.rack()).SerializeAsString()) {
      plan.changed_racks.push_back(r.rack());
    }
  }
  return plan;
}

}  // namespace ternion::master
