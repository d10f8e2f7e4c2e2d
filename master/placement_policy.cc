#include "master/placement_policy.h"

#include <algorithm>

#include "absl/random/distributions.h"
#include "absl/strings/str_cat.h"

namespace ternion::master {

namespace {

// How strictly a candidate must differ from the replicas chosen so far.
enum Level { kNewServer = 0, kNewRack = 1, kNewRackAndPowerDomain = 2 };
constexpr int kRedraws = 16;  // rejected draws before an exact scan takes over

bool Contains(absl::Span<const uint32_t> v, uint32_t x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

}  // namespace

double PlacementPolicy::ComputeWeight(const PlacementServer& s) const {
  if (!s.usable) return 0;
  const double limit = options_.high_water_mark * static_cast<double>(s.capacity_bytes);
  const double headroom = limit - static_cast<double>(s.used_bytes);
  if (headroom <= 0) return 0;
  const double load = 1 + options_.stream_penalty * s.active_streams +
                      options_.throughput_penalty * s.recent_write_mib_s;
  return headroom / load;
}

void PlacementPolicy::Reset(std::vector<PlacementServer> servers) {
  servers_ = std::move(servers);
  weights_.resize(servers_.size());
  for (size_t i = 0; i < servers_.size(); ++i) weights_[i] = ComputeWeight(servers_[i]);
  RebuildTree();
}

void PlacementPolicy::RebuildTree() {
  const size_t n = weights_.size();
  tree_.assign(n + 1, 0);
  total_ = 0;
  updates_since_rebuild_ = 0;
  for (size_t i = 0; i < n; ++i) {
    total_ += weights_[i];
    tree_[i + 1] += weights_[i];
    const size_t parent = (i + 1) + ((i + 1) & -(i + 1));
    if (parent <= n) tree_[parent] += tree_[i + 1];
  }
  top_bit_ = 1;
  while (top_bit_ * 2 <= n) top_bit_ *= 2;
  if (n == 0) top_bit_ = 0;
}

void PlacementPolicy::SetWeight(uint32_t server, double w) {
  const double delta = w - weights_[server];
  if (delta == 0) return;
  weights_[server] = w;
  if (++updates_since_rebuild_ >= (1u << 20)) {
    RebuildTree();
    return;
  }
  total_ += delta;
  for (size_t j = server + 1; j < tree_.size(); j += j & -j) tree_[j] += delta;
}

void PlacementPolicy::Update(uint32_t server, const PlacementServer& s) {
  if (server >= servers_.size()) {
    std::vector<PlacementServer> all = std::move(servers_);
    all.resize(server + 1);
    all[server] = s;
    Reset(std::move(all));
    return;
  }
  servers_[server] = s;
  SetWeight(server, ComputeWeight(s));
}

void PlacementPolicy::AddUsage(uint32_t server, int64_t bytes) {
  if (server >= servers_.size()) return;
  PlacementServer& s = servers_[server];
  s.used_bytes = bytes < 0 && static_cast<uint64_t>(-bytes) > s.used_bytes ? 0 : s.used_bytes + bytes;
  SetWeight(server, ComputeWeight(s));
}

uint32_t PlacementPolicy::FindByPrefix(double x) const {
  size_t pos = 0;
  for (size_t step = top_bit_; step != 0; step >>= 1) {
    if (pos + step < tree_.size() && tree_[pos + step] <= x) {
      pos += step;
      x -= tree_[pos];
    }
  }
  return static_cast<uint32_t>(std::min(pos, servers_.size() - 1));
}

absl::StatusOr<Placement> PlacementPolicy::Choose(int count, absl::Span<const uint32_t> kept,
                                                  absl::Span<const uint32_t> avoid,
                                                  absl::BitGenRef gen) const {
  std::vector<uint32_t> taken(kept.begin(), kept.end());  // every replica: kept, then new
  std::vector<uint32_t> racks, domains;
  for (uint32_t k : kept) {
    if (k >= servers_.size()) continue;
    racks.push_back(servers_[k].rack);
    domains.push_back(servers_[k].power_domain);
  }
  auto eligible = [&](uint32_t s, int level) {
    if (weights_[s] <= 0 || Contains(taken, s) || Contains(avoid, s)) return false;
    if (level >= kNewRack && Contains(racks, servers_[s].rack)) return false;
    if (level >= kNewRackAndPowerDomain && Contains(domains, servers_[s].power_domain)) {
      return false;
    }
    return true;
  };
  // One draw at `level`: rejection sampling from the whole tree (exact for the conditional
  // distribution), then an exact scan when the eligible set is a small part of the weight.
  auto draw = [&](int level) -> int64_t {
    if (total_ <= 0) return -1;
    for (int i = 0; i < kRedraws; ++i) {
      uint32_t s = FindByPrefix(absl::Uniform<double>(gen, 0, total_));
      if (eligible(s, level)) return s;
    }
    double sum = 0;
    for (uint32_t s = 0; s < servers_.size(); ++s) {
      if (eligible(s, level)) sum += weights_[s];
    }
    if (sum <= 0) return -1;
    double x = absl::Uniform<double>(gen, 0, sum);
    int64_t last = -1;
    for (uint32_t s = 0; s < servers_.size(); ++s) {
      if (!eligible(s, level)) continue;
      last = s;  // the last eligible one absorbs rounding
      x -= weights_[s];
      if (x < 0) break;
    }
    return last;
  };

  Placement out;
  for (int r = 0; r < count; ++r) {
    int64_t pick = -1;
    for (int level : {kNewRackAndPowerDomain, kNewRack, kNewServer}) {
      pick = draw(level);
      if (pick >= 0) break;
    }
    if (pick < 0) {
      // Full servers make it "no space" (final); too few live ones "unavailable" (may pass).
      int full = 0;
      for (uint32_t s = 0; s < servers_.size(); ++s) {
        full += servers_[s].usable && weights_[s] <= 0 && !Contains(taken, s) && !Contains(avoid, s);
      }
      const std::string why = absl::StrCat(
          "need ", count, " chunkservers that are live, not draining and below the ",
          static_cast<int>(options_.high_water_mark * 100), "% disk high-water mark; found ", r);
      if (r + full >= count) {
        return absl::ResourceExhaustedError(
            absl::StrCat(why, " (", full, " more are full)"));
      }
      return absl::UnavailableError(why);
    }
    const uint32_t s = static_cast<uint32_t>(pick);
    taken.push_back(s);
    racks.push_back(servers_[s].rack);
    domains.push_back(servers_[s].power_domain);
    out.servers.push_back(s);
  }
  std::sort(racks.begin(), racks.end());
  std::sort(domains.begin(), domains.end());
  out.rack_safe = std::adjacent_find(racks.begin(), racks.end()) == racks.end();
  out.power_domain_safe =
      out.rack_safe && std::adjacent_find(domains.begin(), domains.end()) == domains.end();
  return out;
}

bool PlacementPolicy::RackSafe(absl::Span<const uint32_t> replicas) const {
  // Pairwise, without allocating: a chunk has a handful of replicas, and a status walk asks
  // this of every chunk.
  for (size_t i = 0; i < replicas.size(); ++i) {
    if (replicas[i] >= servers_.size()) return false;
    for (size_t j = 0; j < i; ++j) {
      if (servers_[replicas[i]].rack == servers_[replicas[j]].rack) return false;
    }
  }
  return true;
}

}  // namespace ternion::master
