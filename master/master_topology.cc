// Master: topology administration (racks, power domains, server placement and admin state) and
// the balancer's controls. See master.h.

#include <algorithm>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/logging.h"
#include "common/names.h"
#include "common/status_macros.h"
#include "master/master.h"
#include "master/topology_planner.h"

namespace ternion::master {

using ternion::v1::ChunkServerRecord;
using ternion::v1::RackRecord;

ternion::v1::GetTopologyResponse Master::GetTopology() {
  absl::ReaderMutexLock lock(&chunks_.mu);
  absl::ReaderMutexLock servers(&registry_.mu);
  const absl::Time now = Now();
  // Racks of the topology, plus racks that servers claim but no administrator has added.
  std::map<std::string, RackRecord> racks = registry_.racks();
  for (const auto& [id, s] : registry_.servers()) {
    racks.try_emplace(s.rack()).first->second.set_name(s.rack());
  }
  ternion::v1::GetTopologyResponse resp;
  for (const auto& [name, r] : racks) {
    ternion::v1::RackInfo* info = resp.add_racks();
    info->set_name(name);
    info->set_power_domain(r.power_domain());
    info->set_datacenter(r.datacenter());
    for (const auto& [id, s] : registry_.servers()) {
      if (s.rack() == name) {
        FillServerStatus(s, now, info->add_servers());
      }
    }
  }
  return resp;
}

absl::StatusOr<std::string> Master::ApplyTopology(const ternion::v1::ImportTopologyRequest& req,
                                                  const std::string& action) {
  std::map<std::string, std::string> admin_rack_of;
  for (const auto& [id, s] : registry_.servers()) admin_rack_of[id] = s.record.admin_rack();
  ASSIGN_OR_RETURN(TopologyPlan plan, PlanTopologyChange(registry_.racks(), admin_rack_of, req));
  MetadataBatch batch;
  for (const std::string& name : plan.changed_racks) {
    batch.Put(absl::StrCat("r/", name), plan.racks.at(name).SerializeAsString());
  }
  std::vector<ChunkServerRecord> server_changes;
  for (const auto& [id, rack] : plan.moved_servers) {
    ChunkServerRecord rec = registry_.Find(id)->record;
    rec.set_admin_rack(rack);
    PutServer(&batch, rec);
    server_changes.push_back(std::move(rec));
  }
  std::string summary = absl::StrCat(plan.changed_racks.size(), " rack(s) and ",
                                     server_changes.size(), " server placement(s) changed");
  if (batch.puts.empty()) return summary;  // idempotent: nothing to do
  CommitAudited(std::move(batch),
                {.action = "master", .detail = absl::StrCat(action, ": ", summary)});

  registry_.SetRacks(std::move(plan.racks));
  for (auto& rec : server_changes) registry_.Find(rec.server_id())->record = std::move(rec);
  const absl::Time now = Now();
  for (uint32_t o = 0; o < registry_.size(); ++o) registry_.RefreshPlacement(registry_.at(o), now);
  last_move_scan_ = absl::InfinitePast();  // chunks that now break the policy move soon
  return summary;
}

absl::StatusOr<std::string> Master::AddRack(const ternion::v1::AddRackRequest& req) {
  absl::MutexLock lock(&chunks_.mu);
  absl::MutexLock servers(&registry_.mu);
  ternion::v1::ImportTopologyRequest change;
  *change.add_racks() = req;
  return ApplyTopology(change, absl::StrCat("add-rack ", req.rack(), " power-domain ",
                                            req.power_domain(), " dc ", req.datacenter()));
}

absl::StatusOr<std::string> Master::MoveServer(const std::string& server_id,
                                               const std::string& rack) {
  absl::MutexLock lock(&chunks_.mu);
  absl::MutexLock servers(&registry_.mu);
  ternion::v1::ImportTopologyRequest change;
  auto* m = change.add_servers();
  m->set_server_id(server_id);
  m->set_rack(rack);
  return ApplyTopology(change, absl::StrCat("move ", server_id, " to rack ", rack));
}

absl::StatusOr<std::string> Master::ImportTopology(const ternion::v1::ImportTopologyRequest& req) {
  absl::MutexLock lock(&chunks_.mu);
  absl::MutexLock servers(&registry_.mu);
  return ApplyTopology(req, "import");
}

absl::StatusOr<std::string> Master::RemoveRack(const std::string& rack) {
  RETURN_IF_ERROR(ValidateTopologyName(rack, "rack"));
  absl::MutexLock lock(&chunks_.mu);
  absl::MutexLock servers(&registry_.mu);
  if (!registry_.racks().contains(rack)) {
    return absl::NotFoundError(absl::StrCat("unknown rack ", rack));
  }
  std::vector<std::string> members;
  for (const auto& [id, s] : registry_.servers()) {
    if (s.rack() == rack && s.record.state() != ternion::v1::SERVER_DECOMMISSIONED) {
      members.push_back(id);
    }
  }
  if (!members.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "rack ", rack, " still holds chunkservers: ", absl::StrJoin(members, ", "),
        " (move or decommission them first)"));
  }
  MetadataBatch batch;
  batch.Delete(absl::StrCat("r/", rack));
  CommitAudited(std::move(batch),
                {.action = "master", .detail = absl::StrCat("remove-rack ", rack)});
  std::map<std::string, RackRecord> racks = registry_.racks();
  racks.erase(rack);
  registry_.SetRacks(std::move(racks));
  return absl::StrCat("rack ", rack, " removed");
}

absl::StatusOr<std::string> Master::SetServerState(const ternion::v1::SetServerStateRequest& req) {
  using ternion::v1::SetServerStateRequest;
  absl::MutexLock lock(&chunks_.mu);
  absl::MutexLock servers(&registry_.mu);
  ServerInfo* found = registry_.Find(req.server_id());
  if (found == nullptr) {
    return absl::NotFoundError(absl::StrCat("unknown chunkserver ", req.server_id()));
  }
  ServerInfo& s = *found;
  ChunkServerRecord rec = s.record;
  switch (req.action()) {
    case SetServerStateRequest::DRAIN:
      if (rec.state() != ternion::v1::SERVER_ACTIVE) {
        return absl::FailedPreconditionError(
            absl::StrCat(req.server_id(), " is not active (",
                         ternion::v1::ServerAdminState_Name(rec.state()), ")"));
      }
      rec.set_state(ternion::v1::SERVER_DRAINING);
      break;
    case SetServerStateRequest::DECOMMISSION:
      if (rec.state() == ternion::v1::SERVER_DECOMMISSIONED) return "already decommissioned";
      rec.set_state(ternion::v1::SERVER_DECOMMISSIONING);
      break;
    case SetServerStateRequest::ACTIVATE:
      rec.set_state(ternion::v1::SERVER_ACTIVE);
      break;
    default:
      return absl::InvalidArgumentError("unknown server state action");
  }
  if (rec.state() == s.record.state()) return "no change";
  MetadataBatch batch;
  PutServer(&batch, rec);
  const std::string change =
      absl::StrCat(req.server_id(), " ", ternion::v1::ServerAdminState_Name(s.record.state()),
                   " -> ", ternion::v1::ServerAdminState_Name(rec.state()));
  CommitAudited(std::move(batch),
                {.action = "master", .detail = absl::StrCat("server-state ", change)});
  s.record = std::move(rec);
  registry_.RefreshPlacement(s, Now());
  last_move_scan_ = absl::InfinitePast();
  return change;
}

absl::StatusOr<ternion::v1::SetLogLevelResponse> Master::SetLogLevel(
    const ternion::v1::SetLogLevelRequest& req) {
  ternion::v1::SetLogLevelResponse resp;
  if (!req.server_id().empty() && req.all()) {
    return absl::InvalidArgumentError("name one server, or all, not both");
  }
  RETURN_IF_ERROR(CheckLogLevel(req.level()));
  const std::string before = LogLevelName();
  if (req.server_id().empty()) {
    RETURN_IF_ERROR(ternion::SetLogLevel(req.level()));
    if (!req.all()) {
      resp.set_summary(absl::StrCat("master log level ", before, " -> ", req.level()));
      return resp;
    }
  }
  absl::MutexLock servers(&registry_.mu);
  if (req.all()) {
    for (const auto& [id, s] : registry_.servers()) registry_.Find(id)->log_level = req.level();
    resp.set_summary(absl::StrCat("log level ", req.level(), " for the master and ",
                                  registry_.servers().size(),
                                  " chunkserver(s), from their next heartbeat"));
    return resp;
  }
  ServerInfo* s = registry_.Find(req.server_id());
  if (s == nullptr) {
    return absl::NotFoundError(absl::StrCat("unknown chunkserver ", req.server_id()));
  }
  s->log_level = req.level();
  resp.set_summary(absl::StrCat("log level ", req.level(), " for chunkserver ", req.server_id(),
                                ", from its next heartbeat"));
  return resp;
}

absl::StatusOr<std::string> Master::SetMaintenance(const ternion::v1::SetMaintenanceRequest& req) {
  constexpr absl::Duration kLongest = absl::Hours(24 * 7);
  if (req.server_id().empty() == req.rack().empty()) {
    return absl::InvalidArgumentError("maintenance names one server or one rack");
  }
  const absl::Duration duration = absl::Milliseconds(req.duration_ms());
  if (!req.end() && (duration <= absl::ZeroDuration() || duration > kLongest)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "maintenance lasts from a second to ", absl::FormatDuration(kLongest), " (or is ended)"));
  }
  absl::MutexLock lock(&chunks_.mu);
  absl::MutexLock servers(&registry_.mu);
  const absl::Time now = Now();
  const int64_t until = req.end() ? 0 : absl::ToUnixMillis(now + duration);
  // A rack's maintenance is that of each of its servers (as they are now).
  std::vector<ServerInfo*> affected;
  std::string target;
  if (!req.server_id().empty()) {
    ServerInfo* s = registry_.Find(req.server_id());
    if (s == nullptr) {
      return absl::NotFoundError(absl::StrCat("unknown chunkserver ", req.server_id()));
    }
    affected.push_back(s);
    target = absl::StrCat("server ", req.server_id());
  } else {
    RETURN_IF_ERROR(ValidateTopologyName(req.rack(), "rack"));
    for (const auto& [id, s] : registry_.servers()) {
      if (s.rack() == req.rack()) affected.push_back(registry_.Find(id));
    }
    if (affected.empty()) {
      return absl::NotFoundError(absl::StrCat("no chunkserver is in rack ", req.rack()));
    }
    target = absl::StrCat("rack ", req.rack(), " (", affected.size(), " servers)");
  }
  MetadataBatch batch;
  for (ServerInfo* s : affected) {
    ChunkServerRecord rec = s->record;
    rec.set_maintenance_until_unix_ms(until);
    PutServer(&batch, rec);
    s->record = std::move(rec);
  }
  const std::string summary =
      req.end() ? absl::StrCat("maintenance of ", target, " ended")
                : absl::StrCat(target, " in maintenance for ", absl::FormatDuration(duration),
                               " (until ", absl::FormatTime(absl::FromUnixMillis(until)), ")");
  CommitAudited(std::move(batch), {.action = "master", .detail = summary});
  // Its chunks are examined first: an emergency (too few live replicas elsewhere) is repaired
  // at once, and at the end a dead server's replicas no longer count.
  for (ServerInfo* s : affected) {
    registry_.RefreshPlacement(*s, now);
    const auto& held = chunks_.table().OnServer(s->ordinal);
    urgent_chunks_.insert(held.begin(), held.end());
  }
  registry_.ForceSweep();
  return summary;
}

ternion::v1::BalancerResponse Master::Balancer(const ternion::v1::BalancerRequest& req) {
  absl::MutexLock lock(&chunks_.mu);
  switch (req.action()) {
    case ternion::v1::BalancerRequest::START:
      balancer_running_ = true;
      balancer_band_ = req.band() > 0 ? req.band() : options_.balancer_band;
      if (req.bandwidth_bytes_per_s() > 0) {
        copy_bandwidth_ = req.bandwidth_bytes_per_s();
        SaveReplicationSettings(
            absl::StrCat("replication bandwidth ", copy_bandwidth_, " B/s (balancer start)"));
      }
      last_move_scan_ = absl::InfinitePast();
      TLOG(INFO) << "audit: balancer start band " << balancer_band_ << " bandwidth "
                 << copy_bandwidth_ << " B/s";
      break;
    case ternion::v1::BalancerRequest::STOP:
      balancer_running_ = false;
      TLOG(INFO) << "audit: balancer stop";
      break;
    default:
      break;
  }
  ternion::v1::BalancerResponse resp;
  resp.set_running(balancer_running_);
  resp.set_band(balancer_band_);
  resp.set_bandwidth_bytes_per_s(copy_bandwidth_);
  resp.set_bytes_moved(balancer_bytes_moved_);
  resp.set_moves_done(balancer_moves_done_);
  resp.set_moves_queued(move_queue_.size());
  const absl::Time now = Now();
  double sum = 0, mx = 0, mn = 1;
  int n = 0;
  absl::ReaderMutexLock servers(&registry_.mu);
  for (const auto& [id, s] : registry_.servers()) {
    if (!registry_.IsLive(s, now) || s.capacity_bytes == 0) continue;
    const double fill = static_cast<double>(s.used_bytes) / s.capacity_bytes;
    sum += fill;
    mx = std::max(mx, fill);
    mn = std::min(mn, fill);
    ++n;
  }
  resp.set_fill_mean(n ? sum / n : 0);
  resp.set_fill_max(n ? mx : 0);
  resp.set_fill_min(n ? mn : 0);
  return resp;
}

absl::Status Master::Backup(const std::string& dir) {
  if (options_.backup_root.empty()) {
    return absl::FailedPreconditionError(
        "backups are off: start the master with --backup-root DIR to allow them (under DIR)");
  }
  if (dir.empty() || dir[0] != '/' || dir.size() > kMaxPathBytes) {
    return absl::InvalidArgumentError("backup directory must be an absolute path");
  }
  // Under the root, symbolic links resolved: a caller never chooses where the master writes.
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path root = fs::weakly_canonical(options_.backup_root, ec);
  const fs::path target = fs::path(dir).lexically_normal();
  const fs::path parent = fs::weakly_canonical(target.parent_path(), ec);
  const auto [r, p] = std::mismatch(root.begin(), root.end(), parent.begin(), parent.end());
  if (ec || r != root.end() || target.filename().empty() || target.filename() == "..") {
    return absl::PermissionDeniedError(absl::StrCat(
        "backup directory ", dir, " is outside the backup root ", options_.backup_root));
  }
  RETURN_IF_ERROR(WaitDurable());  // the copy holds every change answered so far
  RETURN_IF_ERROR(store_->Checkpoint(dir));
  TLOG(INFO) << "audit: metadata backup written to " << dir;
  return absl::OkStatus();
}

}  // namespace ternion::master
