// ternion-placement-sim: drives the master's real PlacementPolicy and ChunkMap with a synthetic
// cluster at internet scale (by default 10,000 chunkservers in 500 racks and 25 power domains,
// heterogeneous capacities, 100 million 64 MiB chunks) and reports speed, memory, fairness and
// what a rack or power-domain loss would leave. With --recovery it instead reports how long
// re-protecting one lost server's data takes at several cluster sizes under the recovery
// throttles (see SimulateRecovery). A benchmark, not a test.

#include <malloc.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <queue>
#include <random>
#include <tuple>

#include "absl/strings/str_format.h"
#include "common/version.h"
#include "master/chunk_map.h"
#include "master/copy_slots.h"
#include "master/placement_policy.h"

namespace {

using ternion::master::ChunkEntry;
using ternion::master::ChunkTable;
using ternion::master::Placement;
using ternion::master::PlacementPolicy;
using ternion::master::PlacementServer;

struct Config {
  uint32_t servers = 10000;
  uint32_t racks = 500;
  uint32_t power_domains = 25;
  uint64_t chunks = 100'000'000;
  uint64_t chunk_bytes = 64ull << 20;
  double target_fill = 0.7;  // capacities are sized so the cluster ends this full on average
  uint64_t seed = 1;
  bool json = false;
};

double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

struct RecoveryConfig {
  uint32_t servers = 1000;
  double lost_bytes = 100e12;        // the lost server held this much (100 TB)
  uint64_t chunk_bytes = 64ull << 20;
  double fill = 0.7;                 // every server as full as the lost one, at this fill
  double link_bytes_per_s = 1ull << 30;
  int copies_per_server = ternion::master::kDefaultCopiesPerServer;
  double copy_bytes_per_s = ternion::master::kDefaultCopyBandwidthBytesPerS;
  double detect_s = 30;              // the master's default --dead-after
  double handout_s = 0.05;           // how often the master's scheduler hands out copies
  uint64_t seed = 1;
};

struct RecoveryResult {
  uint64_t chunks = 0;
  uint32_t racks = 0;
  double copy_s = 0;  // from the first copy handed out to the last one finished
  size_t peak_copies = 0;
  uint32_t sources = 0, targets = 0;  // servers that sent / received at least one copy
  double max_target_share = 0;        // the busiest target's bytes over the mean target's
  uint64_t unplaced = 0;              // repairs the placement policy found no target for
};

// Time to re-protect one lost server's data under the recovery throttles. The lost server's
// chunks have their two other replicas where the real PlacementPolicy put them; each repair's
// target is chosen by the policy as Master::PlanMove does (the kept replicas' racks excluded),
// when the repair enters the master's queue (bounded as in Master::ScanMoveSlice); and every
// handout obeys the real CopySlots, as Master::TakeMoves does: queue order, the least busy live
// holder as the source, nothing past the per-server limit. Copies into one server share its
// bandwidth cap equally (its RateLimiter serves them together), never faster than the link;
// sources are bounded by their slots (with the default limits a source sends at most two copies
// at their targets' rates, well under a 1 GiB/s link). Time is simulated: events are copy
// ends, and the scheduler hands out every `handout_s`.
RecoveryResult SimulateRecovery(const RecoveryConfig& cfg) {
  using ternion::master::CopySlots;
  std::mt19937_64 gen(cfg.seed);
  RecoveryResult out;
  out.racks = std::max<uint32_t>(3, cfg.servers / 20);
  const uint32_t power_domains = std::max<uint32_t>(3, out.racks / 5);
  std::vector<PlacementServer> servers(cfg.servers);
  for (uint32_t i = 0; i < cfg.servers; ++i) {
    servers[i].rack = i % out.racks;
    servers[i].power_domain = servers[i].rack % power_domains;
    servers[i].capacity_bytes = static_cast<uint64_t>(cfg.lost_bytes / cfg.fill);
    servers[i].used_bytes = static_cast<uint64_t>(cfg.lost_bytes);
    servers[i].usable = true;
  }
  PlacementPolicy policy;
  policy.Reset(servers);
  // The lost server's chunks, with the two replicas the policy placed beside it.
  out.chunks = static_cast<uint64_t>(cfg.lost_bytes / cfg.chunk_bytes);
  std::vector<std::array<uint32_t, 2>> holders(out.chunks);
  for (auto& h : holders) {
    absl::StatusOr<Placement> p = policy.Choose(2, {0}, {}, gen);
    if (!p.ok()) {
      std::cerr << "cannot place: " << p.status() << "\n";
      std::exit(1);
    }
    h = {p->servers[0], p->servers[1]};
  }
  servers[0].usable = false;  // server 0 dies
  policy.Update(0, servers[0]);

  struct Repair {
    uint64_t chunk;
    uint32_t target;
  };
  std::deque<Repair> queue;
  const size_t max_queued =
      std::max<size_t>(4096, size_t{cfg.servers} * static_cast<size_t>(cfg.copies_per_server));
  uint64_t next_chunk = 0;
  auto plan = [&] {
    while (queue.size() < max_queued && next_chunk < out.chunks) {
      const uint64_t c = next_chunk++;
      absl::StatusOr<Placement> p = policy.Choose(1, holders[c], {0}, gen);
      if (!p.ok()) {
        ++out.unplaced;
        continue;
      }
      policy.AddUsage(p->servers[0], cfg.chunk_bytes);
      queue.push_back({c, p->servers[0]});
    }
  };

  // Copies into each target progress together at its rate (processor sharing).
  struct Copy {
    double left;  // bytes
    uint32_t source;
  };
  struct Target {
    std::vector<Copy> copies;
    double since = 0;  // when `left` was last brought up to date
    uint64_t version = 0;
    double bytes_in = 0;
  };
  std::vector<Target> targets(cfg.servers);
  std::vector<uint8_t> sent(cfg.servers, 0);
  const double rate = std::min(cfg.copy_bytes_per_s, cfg.link_bytes_per_s);
  using Event = std::tuple<double, uint32_t, uint64_t>;  // time, target, its version
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events;
  auto advance = [&](Target& t, double now) {
    const double each = (now - t.since) * rate / std::max<size_t>(t.copies.size(), 1);
    for (Copy& c : t.copies) c.left -= each;
    t.since = now;
  };
  auto schedule = [&](uint32_t id) {
    Target& t = targets[id];
    ++t.version;
    if (t.copies.empty()) return;
    double least = t.copies[0].left;
    for (const Copy& c : t.copies) least = std::min(least, c.left);
    events.emplace(t.since + std::max(least, 0.0) * t.copies.size() / rate, id, t.version);
  };
  CopySlots slots(cfg.copies_per_server);
  size_t under_way = 0;
  uint64_t done = 0;
  auto hand_out = [&](double now) {
    plan();
    int retargets = 0;
    for (auto it = queue.begin(); it != queue.end();) {
      const std::optional<uint32_t> source = slots.PickSource(holders[it->chunk]);
      if (source && !slots.CanReceive(it->target) && retargets++ < 256) {  // as TakeMoves does
        absl::StatusOr<Placement> p = policy.Choose(1, holders[it->chunk], {0}, gen);
        if (p.ok() && p->rack_safe && slots.CanReceive(p->servers[0])) {
          policy.AddUsage(it->target, -static_cast<int64_t>(cfg.chunk_bytes));
          policy.AddUsage(p->servers[0], cfg.chunk_bytes);
          it->target = p->servers[0];
        }
      }
      if (!source || !slots.CanReceive(it->target)) {
        ++it;
        continue;
      }
      slots.Start(*source, it->target);
      Target& t = targets[it->target];
      advance(t, now);
      t.copies.push_back({static_cast<double>(cfg.chunk_bytes), *source});
      t.bytes_in += cfg.chunk_bytes;
      sent[*source] = 1;
      schedule(it->target);
      ++under_way;
      it = queue.erase(it);
    }
    out.peak_copies = std::max(out.peak_copies, under_way);
  };
  double now = 0;
  hand_out(now);
  while (!events.empty()) {
    // Every copy that ends before the next handout, then the handout.
    const double handout = (std::floor(std::get<0>(events.top()) / cfg.handout_s) + 1) * cfg.handout_s;
    while (!events.empty() && std::get<0>(events.top()) <= handout) {
      const auto [when, id, version] = events.top();
      events.pop();
      Target& t = targets[id];
      if (version != t.version) continue;  // superseded by a later start or end
      advance(t, when);
      for (auto c = t.copies.begin(); c != t.copies.end();) {
        if (c->left > 1) {
          ++c;
          continue;
        }
        slots.End(c->source, id);
        c = t.copies.erase(c);
        --under_way;
        ++done;
      }
      schedule(id);
      now = when;
    }
    hand_out(handout);
  }
  out.copy_s = now;
  double total = 0, most = 0;
  for (uint32_t i = 0; i < cfg.servers; ++i) {
    out.sources += sent[i];
    out.targets += targets[i].bytes_in > 0;
    total += targets[i].bytes_in;
    most = std::max(most, targets[i].bytes_in);
  }
  out.max_target_share = out.targets ? most / (total / out.targets) : 0;
  if (done + out.unplaced != out.chunks) {
    std::cerr << "simulation lost track: " << done << " copies of " << out.chunks << "\n";
    std::exit(1);
  }
  return out;
}

int RunRecovery(const std::vector<uint32_t>& sizes, RecoveryConfig cfg, bool json) {
  nlohmann::json runs = nlohmann::json::array();
  if (!json) {
    std::cout << absl::StrFormat(
        "ternion-placement-sim --recovery: one lost server holding %.0f TB (%d MiB chunks), "
        "%d copies per server, %.0f MiB/s into each server, %.0f MiB/s links, detection %.0f s\n"
        "%10s %8s %10s %12s %12s %10s %10s %10s\n",
        cfg.lost_bytes / 1e12, cfg.chunk_bytes >> 20, cfg.copies_per_server,
        cfg.copy_bytes_per_s / (1 << 20), cfg.link_bytes_per_s / (1 << 20), cfg.detect_s,
        "servers", "racks", "chunks", "re-protect", "GiB/s", "peak", "targets", "max/mean");
  }
  for (uint32_t n : sizes) {
    cfg.servers = n;
    const auto start = std::chrono::steady_clock::now();
    const RecoveryResult r = SimulateRecovery(cfg);
    const double total_s = cfg.detect_s + r.copy_s;
    const double gib_s = (r.chunks - r.unplaced) * static_cast<double>(cfg.chunk_bytes) /
                         r.copy_s / (1ull << 30);
    runs.push_back({{"servers", n},
                    {"racks", r.racks},
                    {"chunks", r.chunks},
                    {"unplaced", r.unplaced},
                    {"seconds_to_reprotect", total_s},
                    {"copy_seconds", r.copy_s},
                    {"recovery_gib_per_s", gib_s},
                    {"peak_copies", r.peak_copies},
                    {"sources", r.sources},
                    {"targets", r.targets},
                    {"max_over_mean_target_bytes", r.max_target_share},
                    {"simulation_wall_seconds", Seconds(std::chrono::steady_clock::now() - start)}});
    if (!json) {
      std::cout << absl::StrFormat("%10d %8d %10d %9.1f min %12.2f %10d %10d %10.2f\n", n, r.racks,
                                   r.chunks, total_s / 60, gib_s, r.peak_copies, r.targets,
                                   r.max_target_share);
    }
  }
  if (json) {
    std::cout << nlohmann::json{{"lost_bytes", cfg.lost_bytes},
                                {"chunk_bytes", cfg.chunk_bytes},
                                {"copies_per_server", cfg.copies_per_server},
                                {"copy_bytes_per_s", cfg.copy_bytes_per_s},
                                {"link_bytes_per_s", cfg.link_bytes_per_s},
                                {"detect_seconds", cfg.detect_s},
                                {"runs", runs}}
                     .dump()
              << "\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  CLI::App app{"Drives the real PlacementPolicy with a synthetic cluster."};
  app.set_version_flag("--version", ternion::VersionLine("ternion-placement-sim"));
  app.add_option("--servers", cfg.servers, "Chunkservers");
  app.add_option("--racks", cfg.racks, "Racks (servers are spread evenly)");
  app.add_option("--power-domains", cfg.power_domains, "Power domains (racks spread evenly)");
  app.add_option("--chunks", cfg.chunks, "Chunks to place (scale down for a quick run)");
  app.add_option("--target-fill", cfg.target_fill, "Mean disk fill at the end");
  app.add_option("--seed", cfg.seed, "Random seed");
  app.add_flag("--json", cfg.json, "Print one JSON object");
  bool recovery = false;
  std::vector<uint32_t> recovery_sizes = {100, 1000, 10000};
  RecoveryConfig rcfg;
  double lost_tb = 100, link_gib = 1, copy_mib = rcfg.copy_bytes_per_s / (1 << 20);
  app.add_flag("--recovery", recovery,
               "Simulate re-protecting one lost server's data instead (time to full redundancy)");
  app.add_option("--recovery-servers", recovery_sizes, "Cluster sizes to simulate")->delimiter(',');
  app.add_option("--lost-tb", lost_tb, "Data on the lost server, TB");
  app.add_option("--link-gib", link_gib, "Network link of each server, GiB/s");
  app.add_option("--copies-per-server", rcfg.copies_per_server, "Recovery throttle: copies at once");
  app.add_option("--copy-bandwidth-mib", copy_mib, "Recovery throttle: MiB/s into each server");
  CLI11_PARSE(app, argc, argv);
  if (recovery) {
    if (lost_tb <= 0 || link_gib <= 0 || copy_mib <= 0 || rcfg.copies_per_server < 1 ||
        recovery_sizes.empty() ||
        std::any_of(recovery_sizes.begin(), recovery_sizes.end(), [](uint32_t n) { return n < 4; })) {
      std::cerr << "need positive sizes and limits, and at least 4 servers\n";
      return 2;
    }
    rcfg.lost_bytes = lost_tb * 1e12;
    rcfg.link_bytes_per_s = link_gib * (1ull << 30);
    rcfg.copy_bytes_per_s = copy_mib * (1 << 20);
    rcfg.seed = cfg.seed;
    return RunRecovery(recovery_sizes, rcfg, cfg.json);
  }
  if (cfg.servers < 3 || cfg.racks == 0 || cfg.power_domains == 0 || cfg.racks > cfg.servers ||
      cfg.power_domains > cfg.racks || cfg.chunks == 0) {
    std::cerr << "need servers >= 3, 1 <= power domains <= racks <= servers, chunks >= 1\n";
    return 2;
  }

  // Heterogeneous servers: capacity 0.5x-1.5x the mean (e.g. different disk counts and sizes),
  // the mean sized so that the cluster ends at --target-fill.
  std::mt19937_64 gen(cfg.seed);
  const double mean_capacity = static_cast<double>(cfg.chunks) * 3 * cfg.chunk_bytes /
                               cfg.servers / cfg.target_fill;
  const double factors[] = {0.5, 0.75, 1.0, 1.25, 1.5};
  std::vector<PlacementServer> servers(cfg.servers);
  for (uint32_t i = 0; i < cfg.servers; ++i) {
    servers[i].rack = i % cfg.racks;
    servers[i].power_domain = servers[i].rack % cfg.power_domains;
    servers[i].capacity_bytes = static_cast<uint64_t>(mean_capacity * factors[gen() % 5]);
    servers[i].usable = true;
  }
  PlacementPolicy policy;
  policy.Reset(servers);

  // Place every chunk and record it in a chunk map, as AllocateChunk does.
  const size_t heap_before = mallinfo2().uordblks + mallinfo2().hblkhd;  // + mmapped blocks
  ChunkTable chunks;  // with its per-server lists, as in the master
  uint64_t failed = 0;
  const auto start = std::chrono::steady_clock::now();
  for (uint64_t id = 1; id <= cfg.chunks; ++id) {
    absl::StatusOr<Placement> p = policy.Choose(3, {}, {}, gen);
    if (!p.ok()) {
      ++failed;
      continue;
    }
    ChunkEntry e;
    e.file_id = id / 16;
    e.index = id % 16;
    e.length = static_cast<uint32_t>(cfg.chunk_bytes);
    e.version = 1;
    for (uint32_t s : p->servers) {
      e.AddReplica(s);
      policy.AddUsage(s, cfg.chunk_bytes);
    }
    chunks.Put(id, e);
  }
  const double place_s = Seconds(std::chrono::steady_clock::now() - start);
  const size_t heap_bytes = mallinfo2().uordblks + mallinfo2().hblkhd - heap_before;

  // Fairness: every server's fill against the mean.
  double sum = 0, max_fill = 0, min_fill = 1e9;
  for (uint32_t i = 0; i < cfg.servers; ++i) {
    const double fill = static_cast<double>(policy.server(i).used_bytes) / servers[i].capacity_bytes;
    sum += fill;
    max_fill = std::max(max_fill, fill);
    min_fill = std::min(min_fill, fill);
  }
  const double mean_fill = sum / cfg.servers;

  // Spreading, and what losing rack 0 or power domain 0 would leave of each chunk.
  uint64_t three_racks = 0, three_pds = 0;
  uint64_t rack_loss[4] = {}, pd_loss[4] = {};
  for (const auto& [id, e] : chunks) {
    uint32_t r[3], d[3];
    int left_rack = 0, left_pd = 0;
    for (int i = 0; i < 3; ++i) {
      r[i] = servers[e.replicas[i]].rack;
      d[i] = servers[e.replicas[i]].power_domain;
      left_rack += r[i] != 0;
      left_pd += d[i] != 0;
    }
    three_racks += r[0] != r[1] && r[1] != r[2] && r[0] != r[2];
    three_pds += d[0] != d[1] && d[1] != d[2] && d[0] != d[2];
    ++rack_loss[left_rack];
    ++pd_loss[left_pd];
  }
  const double n = static_cast<double>(chunks.size());
  const double bytes_per_chunk = heap_bytes / n;  // the map and the per-server lists

  nlohmann::json j = {
      {"servers", cfg.servers},
      {"racks", cfg.racks},
      {"power_domains", cfg.power_domains},
      {"chunks", chunks.size()},
      {"placement_failures", failed},
      {"seconds", place_s},
      {"placements_per_s", n / place_s},
      {"us_per_placement", place_s * 1e6 / n},
      {"bytes_per_chunk", bytes_per_chunk},
      {"chunk_entry_bytes", sizeof(ternion::master::ChunkEntry)},
      {"fill_mean", mean_fill},
      {"fill_max_over_mean", max_fill / mean_fill},
      {"fill_min_over_mean", min_fill / mean_fill},
      {"three_rack_fraction", three_racks / n},
      {"three_power_domain_fraction", three_pds / n},
      {"rack_loss_zero_replica_chunks", rack_loss[0]},
      {"rack_loss_one_replica_chunks", rack_loss[1]},
      {"rack_loss_two_replica_chunks", rack_loss[2]},
      {"power_domain_loss_zero_replica_chunks", pd_loss[0]},
      {"power_domain_loss_one_replica_chunks", pd_loss[1]},
      {"power_domain_loss_two_replica_chunks", pd_loss[2]},
  };
  if (cfg.json) {
    std::cout << j.dump() << "\n";
    return failed == 0 ? 0 : 1;
  }
  std::cout << absl::StrFormat(
      "ternion-placement-sim: %d servers, %d racks, %d power domains, %d chunks of %d MiB\n"
      "  placement (one core)        %.0f placements/s (%.2f us each), %d failed\n"
      "  chunk map memory            %.1f bytes/chunk (heap growth: map and per-server lists)\n"
      "  disk fill                   mean %.1f%%, max/mean %.3f, min/mean %.3f\n"
      "  spreading                   %.6f of chunks in 3 racks, %.6f in 3 power domains\n"
      "  rack 0 lost                 chunks left with 0/1/2 replicas: %d / %d / %d\n"
      "  power domain 0 lost         chunks left with 0/1/2 replicas: %d / %d / %d\n",
      cfg.servers, cfg.racks, cfg.power_domains, chunks.size(), cfg.chunk_bytes >> 20, n / place_s,
      place_s * 1e6 / n, failed, bytes_per_chunk, mean_fill * 100,
      max_fill / mean_fill, min_fill / mean_fill, three_racks / n, three_pds / n, rack_loss[0],
      rack_loss[1], rack_loss[2], pd_loss[0], pd_loss[1], pd_loss[2]);
  return failed == 0 ? 0 : 1;
}
