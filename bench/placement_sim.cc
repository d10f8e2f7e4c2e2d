// ternion-placement-sim: drives the master's real PlacementPolicy and ChunkMap with a synthetic
// cluster at internet scale (by default 10,000 chunkservers in 500 racks and 25 power domains,
// heterogeneous capacities, 100 million 64 MiB chunks) and reports speed, memory, fairness and
// what a rack or power-domain loss would leave. A benchmark, not a test.

#include <malloc.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>

#include "absl/strings/str_format.h"
#include "master/chunk_map.h"
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

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  CLI::App app{"Drives the real PlacementPolicy with a synthetic cluster."};
  app.add_option("--servers", cfg.servers, "Chunkservers");
  app.add_option("--racks", cfg.racks, "Racks (servers are spread evenly)");
  app.add_option("--power-domains", cfg.power_domains, "Power domains (racks spread evenly)");
  app.add_option("--chunks", cfg.chunks, "Chunks to place (scale down for a quick run)");
  app.add_option("--target-fill", cfg.target_fill, "Mean disk fill at the end");
  app.add_option("--seed", cfg.seed, "Random seed");
  app.add_flag("--json", cfg.json, "Print one JSON object");
  CLI11_PARSE(app, argc, argv);
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
