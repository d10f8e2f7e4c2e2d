#include "master/server_registry.h"

namespace ternion::master {

void ServerInfo::SetDisks(
    const google::protobuf::RepeatedPtrField<ternion::v1::DiskUsage>& reported) {
  disks.assign(reported.begin(), reported.end());
  capacity_bytes = used_bytes = 0;
  for (const auto& d : reported) {
    if (d.failed()) continue;
    capacity_bytes += d.capacity_bytes();
    used_bytes += d.used_bytes();
  }
}

ServerInfo& ServerRegistry::Add(const std::string& id) {
  auto [it, added] = servers_.try_emplace(id);
  ServerInfo& s = it->second;
  if (added) {
    s.record.set_server_id(id);
    s.ordinal = by_ordinal_.size();
    by_ordinal_.push_back(&s);
    placement_.Update(s.ordinal, PlacementServer{});  // not usable until it registers
  }
  return s;
}

ServerInfo* ServerRegistry::Find(const std::string& id) {
  auto it = servers_.find(id);
  return it == servers_.end() ? nullptr : &it->second;
}

std::string ServerRegistry::PowerDomainOf(const std::string& rack) const {
  auto it = racks_.find(rack);
  return it == racks_.end() ? "" : it->second.power_domain();
}

bool ServerRegistry::Usable(const ServerInfo& s, absl::Time now) const {
  return IsLive(s, now) && !IsSuspect(s, now) && !IsAway(s, now) &&
         s.record.state() == ternion::v1::SERVER_ACTIVE;
}

const char* ServerRegistry::StateName(const ServerInfo& s, absl::Time now) const {
  if (IsStopping(s, now)) return "stopping";
  if (IsSuspect(s, now)) return "suspect";
  return IsLive(s, now) ? "live" : "dead";
}

void ServerRegistry::RefreshPlacement(const ServerInfo& s, absl::Time now) {
  PlacementServer v;
  v.rack = rack_ordinals_.try_emplace(s.rack(), rack_ordinals_.size()).first->second;
  const std::string pd = PowerDomainOf(s.rack());
  v.power_domain = power_domain_ordinals_.try_emplace(pd, power_domain_ordinals_.size()).first->second;
  v.capacity_bytes = s.capacity_bytes;
  v.used_bytes = s.used_bytes;
  v.active_streams = s.active_streams;
  v.recent_write_mib_s = s.recent_write_mib_s;
  v.usable = Usable(s, now);
  placement_.Update(s.ordinal, v);
}

std::vector<uint32_t> ServerRegistry::SweepLiveness(absl::Time now) {
  std::vector<uint32_t> died;
  if (now - last_sweep_ < absl::Milliseconds(100)) return died;
  last_sweep_ = now;
  for (ServerInfo* s : by_ordinal_) {
    const bool present = IsLive(*s, now) || IsAway(*s, now);
    if (Usable(*s, now) != placement_.server(s->ordinal).usable) RefreshPlacement(*s, now);
    if (s->seen_present && !present) died.push_back(s->ordinal);
    s->seen_present = present;
  }
  return died;
}

}  // namespace ternion::master
