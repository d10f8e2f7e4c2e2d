#include "client/cli/admin_commands.h"

#include <grpcpp/grpcpp.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "client/cli/topology_yaml.h"
#include "common/rpc_status.h"
#include "ternion/v1/master.grpc.pb.h"

namespace ternion::cli {

namespace {

using nlohmann::json;
using ternion::v1::MasterService;

json ServerJson(const ternion::v1::ChunkServerStatus& s) {
  json disks = json::array();
  for (const auto& d : s.disks()) {
    disks.push_back({{"path", d.path()},
                     {"capacity_bytes", d.capacity_bytes()},
                     {"used_bytes", d.used_bytes()},
                     {"failed", d.failed()}});
  }
  return {{"server_id", s.server_id()},
          {"address", s.address()},
          {"rack", s.rack()},
          {"power_domain", s.power_domain()},
          {"state", s.state()},
          {"admin_state", s.admin_state()},
          {"capacity_bytes", s.capacity_bytes()},
          {"used_bytes", s.used_bytes()},
          {"replicas", s.replicas()},
          {"disks", disks},
          {"maintenance_ends_in_ms", s.maintenance_ends_in_ms()}};
}

int Show(const Globals& g) {
  ternion::v1::GetTopologyResponse topo;
  if (auto s = Call(g, &MasterService::Stub::GetTopology, ternion::v1::GetTopologyRequest(), &topo);
      !s.ok()) {
    return Fail(s);
  }
  if (g.json) {
    json racks = json::array();
    for (const auto& r : topo.racks()) {
      json servers = json::array();
      for (const auto& s : r.servers()) servers.push_back(ServerJson(s));
      racks.push_back({{"name", r.name()},
                       {"power_domain", r.power_domain()},
                       {"datacenter", r.datacenter()},
                       {"servers", servers}});
    }
    std::cout << json({{"racks", racks}}).dump(2) << "\n";
    return 0;
  }
  // data centre > power domain > rack > server > disk
  std::map<std::string, std::map<std::string, std::vector<const ternion::v1::RackInfo*>>> tree;
  for (const auto& r : topo.racks()) {
    tree[r.datacenter().empty() ? "(no data centre)" : r.datacenter()]
        [r.power_domain().empty() ? "(no power domain)" : r.power_domain()]
            .push_back(&r);
  }
  for (const auto& [dc, pds] : tree) {
    std::cout << dc << "\n";
    for (const auto& [pd, racks] : pds) {
      std::cout << "  " << pd << "\n";
      for (const auto* r : racks) {
        uint64_t used = 0, cap = 0;
        for (const auto& s : r->servers()) {
          used += s.used_bytes();
          cap += s.capacity_bytes();
        }
        std::cout << absl::StrFormat("    %-16s %d servers, %s of %s\n", r->name(),
                                     r->servers_size(), HumanBytes(used), HumanBytes(cap));
        for (const auto& s : r->servers()) {
          std::cout << absl::StrFormat("      %-22s %-20s %-18s %-15s %10s of %-10s %6d replicas\n",
                                       s.server_id(), s.address(), ServerState(s), s.admin_state(),
                                       HumanBytes(s.used_bytes()), HumanBytes(s.capacity_bytes()),
                                       s.replicas());
          for (const auto& d : s.disks()) {
            std::cout << absl::StrFormat("        disk %s %s of %s%s\n", d.path(),
                                         HumanBytes(d.used_bytes()),
                                         HumanBytes(d.capacity_bytes()),
                                         d.failed() ? " FAILED" : "");
          }
        }
      }
    }
  }
  return 0;
}

template <typename Req, typename Method>
int Change(const Globals& g, Method method, const Req& req) {
  ternion::v1::TopologyChangeResponse resp;
  if (auto s = Call(g, method, req, &resp); !s.ok()) return Fail(s);
  std::cout << resp.summary() << "\n";
  return 0;
}

int Import(const Globals& g, const std::string& file) {
  std::ifstream in(file);
  if (!in) return Fail(absl::NotFoundError(absl::StrCat("cannot read ", file)));
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<ternion::v1::ImportTopologyRequest> req = ParseTopologyYaml(text.str());
  if (!req.ok()) return Fail(req.status());
  return Change(g, &MasterService::Stub::ImportTopology, *req);
}

int Export(const Globals& g) {
  ternion::v1::GetTopologyResponse topo;
  if (auto s = Call(g, &MasterService::Stub::GetTopology, ternion::v1::GetTopologyRequest(), &topo);
      !s.ok()) {
    return Fail(s);
  }
  std::cout << TopologyToYaml(topo);
  return 0;
}

int Balancer(const Globals& g, ternion::v1::BalancerRequest::Action action, double band,
             double bandwidth_mib) {
  ternion::v1::BalancerRequest req;
  req.set_action(action);
  req.set_band(band);
  req.set_bandwidth_bytes_per_s(static_cast<uint64_t>(bandwidth_mib * (1 << 20)));
  ternion::v1::BalancerResponse st;
  if (auto s = Call(g, &MasterService::Stub::Balancer, req, &st); !s.ok()) return Fail(s);
  if (g.json) {
    std::cout << json({{"running", st.running()},
                       {"band", st.band()},
                       {"bandwidth_bytes_per_s", st.bandwidth_bytes_per_s()},
                       {"fill_mean", st.fill_mean()},
                       {"fill_min", st.fill_min()},
                       {"fill_max", st.fill_max()},
                       {"bytes_moved", st.bytes_moved()},
                       {"moves_done", st.moves_done()},
                       {"moves_queued", st.moves_queued()}})
                     .dump(2)
              << "\n";
    return 0;
  }
  std::cout << absl::StrFormat(
      "balancer %s (band ±%.1f%%, %s/s per server): fill min %.1f%% mean %.1f%% max %.1f%%; moved %s in "
      "%d moves, %d queued\n",
      st.running() ? "running" : "stopped", st.band() * 100,
      HumanBytes(st.bandwidth_bytes_per_s()), st.fill_min() * 100, st.fill_mean() * 100,
      st.fill_max() * 100, HumanBytes(st.bytes_moved()), st.moves_done(), st.moves_queued());
  return 0;
}

// The byte ranges of a chunk no kept copy holds intact, as [[offset, length], ...].
json Ranges(const ternion::v1::FsckChunk& p) {
  json out = json::array();
  for (const auto& r : p.damaged()) out.push_back({r.offset(), r.length()});
  return out;
}

int Fsck(const Globals& g, const std::string& project) {
  ternion::v1::FsckRequest req;
  req.set_project(project);
  ternion::v1::FsckResponse resp;
  if (auto s = Call(g, &MasterService::Stub::Fsck, req, &resp); !s.ok()) return Fail(s);
  if (g.json) {
    json problems = json::array();
    for (const auto& p : resp.problems()) {
      problems.push_back({{"project", p.project()},
                          {"path", p.path()},
                          {"index", p.index()},
                          {"chunk_id", p.chunk_id()},
                          {"live_replicas", p.live_replicas()},
                          {"state", p.state()},
                          {"corrupt_copies", p.corrupt_copies()},
                          {"damaged", Ranges(p)}});
    }
    std::cout << json({{"files", resp.files()}, {"chunks", resp.chunks()}, {"problems", problems}})
                     .dump(2)
              << "\n";
  } else {
    for (const auto& p : resp.problems()) {
      std::cout << absl::StrFormat("%s/%s chunk %d (id %d): %s, %d live replica(s)", p.project(),
                                   p.path(), p.index(), p.chunk_id(), p.state(), p.live_replicas());
      if (p.state() == "corrupt") {
        std::cout << absl::StrFormat(", %d damaged cop%s kept; beyond salvage: %s",
                                     p.corrupt_copies(), p.corrupt_copies() == 1 ? "y" : "ies",
                                     p.damaged().empty() ? "nothing" : Ranges(p).dump());
      }
      std::cout << "\n";
    }
    std::cout << absl::StrFormat("%d files, %d chunks: %s\n", resp.files(), resp.chunks(),
                                 resp.problems_size() == 0
                                     ? "HEALTHY"
                                     : absl::StrCat(resp.problems_size(), " chunk(s) not healthy"));
  }
  // Like HDFS fsck: non-zero when data is lost or damaged.
  for (const auto& p : resp.problems()) {
    if (p.state() == "lost" || p.state() == "corrupt") return 2;
  }
  return 0;
}

int Orphans(const Globals& g, ternion::v1::OrphansRequest::Action action, const std::string& server,
            const std::vector<uint64_t>& chunk_ids, bool all) {
  ternion::v1::OrphansRequest req;
  req.set_action(action);
  req.set_server_id(server);
  for (uint64_t id : chunk_ids) req.add_chunk_ids(id);
  req.set_all(all);
  ternion::v1::OrphansResponse resp;
  if (auto s = Call(g, &MasterService::Stub::Orphans, req, &resp); !s.ok()) return Fail(s);
  if (g.json) {
    json replicas = json::array();
    for (const auto& r : resp.replicas()) {
      replicas.push_back({{"server_id", r.server_id()},
                          {"chunk_id", r.chunk_id()},
                          {"project", r.project()},
                          {"version", r.version()},
                          {"length", r.length()},
                          {"state", r.state()},
                          {"reason", r.reason()},
                          {"age_ms", r.age_ms()},
                          {"wipe_in_ms", r.wipe_in_ms()},
                          {"bad_blocks", std::vector<uint32_t>(r.bad_blocks().begin(),
                                                               r.bad_blocks().end())}});
    }
    json held = json::array();
    for (const auto& h : resp.held()) {
      held.push_back({{"server_id", h.server_id()},
                      {"replicas_reported", h.replicas_reported()},
                      {"would_remove", h.would_remove()},
                      {"held_ms", h.held_ms()}});
    }
    std::cout << json({{"replicas", replicas},
                       {"held", held},
                       {"released_files", std::vector<std::string>(resp.released_files().begin(),
                                                                   resp.released_files().end())},
                       {"affected", resp.affected()}})
                     .dump(2)
              << "\n";
    return 0;
  }
  if (action == ternion::v1::OrphansRequest::RELEASE) {
    for (const auto& f : resp.released_files()) std::cout << "released as " << f << "\n";
    std::cout << resp.affected() << " replica(s) released\n";
    return 0;
  }
  if (action == ternion::v1::OrphansRequest::WIPE) {
    std::cout << resp.affected() << " replica(s) will be wiped with their servers' next reports\n";
    return 0;
  }
  if (action == ternion::v1::OrphansRequest::ACK_DESTROYED) {
    std::cout << resp.affected() << " unwiped replica(s) acknowledged as destroyed\n";
    return 0;
  }
  for (const auto& h : resp.held()) {
    std::cout << absl::StrFormat(
        "HELD: %s reports %d replicas, %d of chunks this master does not know (held %ds)\n",
        h.server_id(), h.replicas_reported(), h.would_remove(), h.held_ms() / 1000);
  }
  std::cout << absl::StrFormat("%-22s %-18s %-12s %-12s %-8s %10s %12s\n", "SERVER", "CHUNK",
                               "PROJECT", "STATE", "REASON", "LENGTH", "WIPE IN");
  for (const auto& r : resp.replicas()) {
    std::cout << absl::StrFormat(
        "%-22s %-18d %-12s %-12s %-8s %10s %12s\n", r.server_id(), r.chunk_id(), r.project(),
        r.state(), r.reason(), HumanBytes(r.length()),
        r.wipe_in_ms() < 0 ? "-" : absl::StrCat(r.wipe_in_ms() / 1000, "s"));
  }
  return 0;
}

int Replication(const Globals& g, const std::string& action, double bandwidth_mib,
                uint32_t per_server) {
  ternion::v1::ReplicationControlRequest control;
  control.set_action(action == "pause"    ? ternion::v1::ReplicationControlRequest::PAUSE
                     : action == "resume" ? ternion::v1::ReplicationControlRequest::RESUME
                                          : ternion::v1::ReplicationControlRequest::STATUS);
  ternion::v1::ReplicationControlResponse paused;
  if (auto s = Call(g, &MasterService::Stub::ReplicationControl, control, &paused); !s.ok()) {
    return Fail(s);
  }
  ternion::v1::ReplicationLimits req;
  req.set_bandwidth_bytes_per_s(static_cast<uint64_t>(bandwidth_mib * (1 << 20)));
  req.set_copies_per_server(per_server);
  ternion::v1::ReplicationLimits resp;
  if (auto s = Call(g, &MasterService::Stub::SetReplicationLimits, req, &resp); !s.ok()) {
    return Fail(s);
  }
  if (g.json) {
    std::cout << json({{"paused", paused.paused()},
                       {"bandwidth_bytes_per_s", resp.bandwidth_bytes_per_s()},
                       {"copies_per_server", resp.copies_per_server()}})
                     .dump(2)
              << "\n";
  } else {
    std::cout << "replication " << (paused.paused() ? "PAUSED" : "running")
              << "; limits: " << HumanBytes(resp.bandwidth_bytes_per_s()) << "/s into each server, "
              << resp.copies_per_server() << " copies per server\n";
  }
  return 0;
}

}  // namespace

void AddAdminCommands(CLI::App& app, const Globals& g, int* rc) {
  // Option values live as long as the app: they are static to this function's single call.
  static std::string rack, server, power_domain, dc, file;
  static bool maintenance_rack = false;
  static double band = 0, bandwidth_mib = 0;
  static uint32_t per_server = 0;
  static std::string project;
  using Stub = MasterService::Stub;

  auto* topo = app.add_subcommand("topology", "Rack topology: data centre > power domain > rack");
  topo->require_subcommand(1);
  topo->add_subcommand("show", "The topology tree with capacity, usage and state")
      ->callback([&g, rc] { *rc = Show(g); });

  auto* add = topo->add_subcommand("add-rack", "Add a rack (or change its power domain)");
  add->add_option("rack", rack, "Rack name")->required();
  add->add_option("--power-domain", power_domain, "Power domain of the rack")->required();
  add->add_option("--dc", dc, "Data centre (default dc1)");
  add->callback([&g, rc] {
    ternion::v1::AddRackRequest req;
    req.set_rack(rack);
    req.set_power_domain(power_domain);
    req.set_datacenter(dc);
    *rc = Change(g, &Stub::AddRack, req);
  });

  auto* remove = topo->add_subcommand("remove-rack", "Remove an empty rack");
  remove->add_option("rack", rack, "Rack name")->required();
  remove->callback([&g, rc] {
    ternion::v1::RemoveRackRequest req;
    req.set_rack(rack);
    *rc = Change(g, &Stub::RemoveRack, req);
  });

  auto* move = topo->add_subcommand("move", "Place a chunkserver in a rack");
  move->add_option("server", server, "Chunkserver id")->required();
  move->add_option("rack", rack, "Rack name")->required();
  move->callback([&g, rc] {
    ternion::v1::MoveServerRequest req;
    req.set_server_id(server);
    req.set_rack(rack);
    *rc = Change(g, &Stub::MoveServer, req);
  });

  using Action = ternion::v1::SetServerStateRequest;
  for (auto [name, help, action] :
       {std::tuple{"drain", "Move a server's replicas away, then mark it drained", Action::DRAIN},
        std::tuple{"decommission", "Drain a server, then refuse it", Action::DECOMMISSION},
        std::tuple{"activate", "Return a drained or draining server to service",
                   Action::ACTIVATE}}) {
    auto* cmd = topo->add_subcommand(name, help);
    cmd->add_option("server", server, "Chunkserver id")->required();
    cmd->callback([&g, rc, action = action] {
      ternion::v1::SetServerStateRequest req;
      req.set_server_id(server);
      req.set_action(action);
      *rc = Change(g, &Stub::SetServerState, req);
    });
  }

  static std::string maintenance_for;
  static bool maintenance_end = false;
  auto* maint = topo->add_subcommand(
      "maintenance",
      "Take a server or a whole rack into maintenance: its replicas are not re-replicated "
      "(unless a chunk is left with fewer than two live replicas elsewhere) until --for ends");
  maint->add_option("target", server, "Chunkserver id, or rack name with --rack")->required();
  maint->add_flag("--rack", maintenance_rack, "TARGET is a rack: all its servers");
  maint->add_option("--for", maintenance_for, "How long, e.g. 30m, 2h (at most 7 days)");
  maint->add_flag("--end", maintenance_end, "End the maintenance now");
  maint->callback([&g, rc] {
    ternion::v1::SetMaintenanceRequest req;
    (maintenance_rack ? *req.mutable_rack() : *req.mutable_server_id()) = server;
    absl::Duration d;
    if (maintenance_end == !maintenance_for.empty()) {
      *rc = Fail(absl::InvalidArgumentError("give either --for DURATION or --end"));
      return;
    }
    if (!maintenance_end && !absl::ParseDuration(maintenance_for, &d)) {
      *rc = Fail(absl::InvalidArgumentError(
          absl::StrCat("--for ", maintenance_for, " is not a duration (e.g. 45m, 2h)")));
      return;
    }
    req.set_end(maintenance_end);
    if (!maintenance_end) req.set_duration_ms(absl::ToInt64Milliseconds(d));
    *rc = Change(g, &Stub::SetMaintenance, req);
  });

  auto* import = topo->add_subcommand("import", "Merge a topology YAML file (all or nothing)");
  import->add_option("file", file, "YAML file")->required();
  import->callback([&g, rc] { *rc = Import(g, file); });
  topo->add_subcommand("export", "Print the topology as YAML")->callback([&g, rc] {
    *rc = Export(g);
  });

  auto* fsck = app.add_subcommand("fsck", "Chunks that are under-replicated, lost or rack-unsafe");
  fsck->add_option("project", project, "Only this project");
  fsck->callback([&g, rc] { *rc = Fsck(g, project); });

  auto* admin = app.add_subcommand("admin", "Master administration");
  admin->require_subcommand(1);
  auto* backup = admin->add_subcommand(
      "backup", "Consistent copy of the master's metadata, taken while it serves");
  backup->add_option("dir", file, "Absolute directory on the master's machine (must not exist)")
      ->required();
  backup->callback([&g, rc] {
    ternion::v1::BackupRequest req;
    req.set_dir(file);
    ternion::v1::BackupResponse resp;
    absl::Status s = Call(g, &Stub::Backup, req, &resp);
    *rc = s.ok() ? 0 : Fail(s);
    if (s.ok()) std::cout << "metadata backup written to " << file << "\n";
  });
  static std::vector<uint64_t> chunk_ids;
  static bool all = false;
  auto* orphans = admin->add_subcommand(
      "orphans", "Replicas quarantined (unknown chunks, damaged copies) or held by the deletion valve");
  orphans->require_subcommand(1);
  using OrphansAction = ternion::v1::OrphansRequest::Action;
  for (auto [name, action, help] :
       {std::tuple{"ls", ternion::v1::OrphansRequest::LIST, "List them"},
        std::tuple{"release", ternion::v1::OrphansRequest::RELEASE,
                   "Adopt unknown ones as files PROJECT/lost+found/chunk-ID, readable again"},
        std::tuple{"wipe", ternion::v1::OrphansRequest::WIPE,
                   "Wipe quarantined or damaged ones now; let a held server's deletions go ahead"},
        std::tuple{"ack-destroyed", ternion::v1::OrphansRequest::ACK_DESTROYED,
                   "The failed disks of --server were destroyed: forget their unwiped replicas"}}) {
    auto* cmd = orphans->add_subcommand(name, help);
    cmd->add_option("--server", server, "Only this chunkserver's");
    cmd->add_option("--chunk", chunk_ids, "Only these chunk ids");
    if (action == ternion::v1::OrphansRequest::WIPE) {
      cmd->add_flag("--all", all, "Every one listed (with --server: that server's)");
    }
    cmd->callback([&g, rc, action = static_cast<OrphansAction>(action)] {
      *rc = Orphans(g, action, server, chunk_ids, all);
    });
  }
  static std::string log_level, log_server;
  static bool log_all = false;
  auto* log = admin->add_subcommand(
      "log-level", "Set the log level of the master, of one chunkserver (--server) or of all");
  log->add_option("level", log_level, "debug, info, warning or error")->required();
  log->add_option("--server", log_server, "This chunkserver (from its next heartbeat)");
  log->add_flag("--all", log_all, "The master and every chunkserver");
  log->callback([&g, rc] {
    ternion::v1::SetLogLevelRequest req;
    req.set_level(log_level);
    req.set_server_id(log_server);
    req.set_all(log_all);
    ternion::v1::SetLogLevelResponse resp;
    absl::Status s = Call(g, &Stub::SetLogLevel, req, &resp);
    *rc = s.ok() ? 0 : Fail(s);
    if (s.ok()) std::cout << resp.summary() << "\n";
  });
  static std::string repl_action;
  auto* repl = admin->add_subcommand(
      "replication",
      "Show or set re-replication throttles; pause or resume every replica move (kept across "
      "master restarts)");
  repl->add_option("action", repl_action, "pause or resume (none: show)")
      ->check(CLI::IsMember({"pause", "resume"}));
  repl->add_option("--bandwidth-mib", bandwidth_mib, "Per chunkserver: cap on the copies into it, MiB/s");
  repl->add_option("--per-server", per_server, "Copies at once out of one server (and, apart, into it)");
  repl->callback([&g, rc] { *rc = Replication(g, repl_action, bandwidth_mib, per_server); });

  auto* gc = app.add_subcommand("gc", "Garbage collection of deleted chunks");
  gc->require_subcommand(1);
  gc->add_subcommand("status", "Chunks awaiting wipe, bytes pending and wiped")->callback([&g, rc] {
    ternion::v1::GcStatusResponse st;
    if (auto s = Call(g, &Stub::GcStatus, ternion::v1::GcStatusRequest(), &st); !s.ok()) {
      *rc = Fail(s);
      return;
    }
    if (g.json) {
      std::cout << json({{"chunks_pending", st.chunks_pending()},
                         {"bytes_pending_wipe", st.bytes_pending_wipe()},
                         {"bytes_wiped_total", st.bytes_wiped_total()},
                         {"replicas_wiped_total", st.replicas_wiped_total()},
                         {"orphans_quarantined", st.orphans_quarantined()},
                         {"corrupt_quarantined", st.corrupt_quarantined()},
                         {"deletion_valve_held_servers", st.deletion_valve_held_servers()},
                         {"replicas_unwiped", st.replicas_unwiped()}})
                       .dump(2)
                << "\n";
    } else {
      std::cout << absl::StrFormat(
          "%d deleted chunks awaiting wipe (%s of replicas); wiped so far: %d replicas, %s\n",
          st.chunks_pending(), HumanBytes(st.bytes_pending_wipe()), st.replicas_wiped_total(),
          HumanBytes(st.bytes_wiped_total()));
      std::cout << absl::StrFormat(
          "quarantined: %d orphan replica(s), %d corrupt replica(s); deletion valve holding %d "
          "server(s); %d replica(s) not wiped (failed disks, damaged at load)\n",
          st.orphans_quarantined(), st.corrupt_quarantined(), st.deletion_valve_held_servers(),
          st.replicas_unwiped());
    }
    *rc = 0;
  });

  auto* bal = app.add_subcommand("balancer", "Even out disk usage by moving replicas");
  bal->require_subcommand(1);
  auto* start = bal->add_subcommand("start", "Run until every server is within the band");
  start->add_option("--band", band, "Allowed distance from the mean fill (default 0.05)");
  start->add_option("--bandwidth-mib", bandwidth_mib, "Per chunkserver: cap on the copies into it, MiB/s");
  start->callback([&g, rc] {
    *rc = Balancer(g, ternion::v1::BalancerRequest::START, band, bandwidth_mib);
  });
  bal->add_subcommand("stop", "Stop moving")->callback([&g, rc] {
    *rc = Balancer(g, ternion::v1::BalancerRequest::STOP, 0, 0);
  });
  bal->add_subcommand("status", "Fill spread and bytes moved")->callback([&g, rc] {
    *rc = Balancer(g, ternion::v1::BalancerRequest::STATUS, 0, 0);
  });
}

}  // namespace ternion::cli
