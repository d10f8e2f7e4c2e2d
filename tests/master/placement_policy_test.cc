#include "master/placement_policy.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "tests/testutil/status_matchers.h"

namespace ternion::master {
namespace {

constexpr uint64_t kGiB = 1ull << 30;

// `racks` racks of `per_rack` servers, `racks_per_pd` racks per power domain, 100 GiB each.
std::vector<PlacementServer> Cluster(int racks, int per_rack, int racks_per_pd = 1) {
  std::vector<PlacementServer> out;
  for (int r = 0; r < racks; ++r) {
    for (int i = 0; i < per_rack; ++i) {
      PlacementServer s;
      s.rack = r;
      s.power_domain = r / racks_per_pd;
      s.capacity_bytes = 100 * kGiB;
      s.usable = true;
      out.push_back(s);
    }
  }
  return out;
}

std::set<uint32_t> RacksOf(const PlacementPolicy& p, const std::vector<uint32_t>& servers) {
  std::set<uint32_t> racks;
  for (uint32_t s : servers) racks.insert(p.server(s).rack);
  return racks;
}

TEST(PlacementPolicyTest, ThreeReplicasOnThreeRacksAndPowerDomains) {
  PlacementPolicy policy;
  policy.Reset(Cluster(6, 4, /*racks_per_pd=*/2));  // 3 power domains
  std::mt19937_64 gen(1);
  for (int i = 0; i < 2000; ++i) {
    ASSERT_OK_AND_ASSIGN(Placement p, policy.Choose(3, {}, {}, gen));
    ASSERT_EQ(p.servers.size(), 3u);
    EXPECT_EQ(RacksOf(policy, p.servers).size(), 3u);
    std::set<uint32_t> pds;
    for (uint32_t s : p.servers) pds.insert(policy.server(s).power_domain);
    EXPECT_EQ(pds.size(), 3u);
    EXPECT_TRUE(p.rack_safe);
    EXPECT_TRUE(p.power_domain_safe);
  }
}

TEST(PlacementPolicyTest, RacksStayDistinctWhenPowerDomainsCannot) {
  PlacementPolicy policy;
  policy.Reset(Cluster(4, 2, /*racks_per_pd=*/2));  // 2 power domains, 4 racks
  std::mt19937_64 gen(2);
  for (int i = 0; i < 500; ++i) {
    ASSERT_OK_AND_ASSIGN(Placement p, policy.Choose(3, {}, {}, gen));
    EXPECT_EQ(RacksOf(policy, p.servers).size(), 3u);
    EXPECT_TRUE(p.rack_safe);
    EXPECT_FALSE(p.power_domain_safe);
  }
}

TEST(PlacementPolicyTest, WeightsByFreeSpace) {
  // One rack per server; server 0 has 3x the headroom of the others.
  std::vector<PlacementServer> servers = Cluster(6, 1);
  for (size_t i = 1; i < servers.size(); ++i) servers[i].used_bytes = 60 * kGiB;  // 30 GiB free
  PlacementPolicy policy;
  policy.Reset(servers);
  std::mt19937_64 gen(3);
  std::map<uint32_t, int> picks;
  constexpr int kDraws = 30000;
  for (int i = 0; i < kDraws; ++i) {
    ASSERT_OK_AND_ASSIGN(Placement p, policy.Choose(1, {}, {}, gen));
    ++picks[p.servers[0]];
  }
  // Headroom below 90%: 90 GiB vs 30 GiB, so server 0 gets 90/(90+5*30) = 37.5% of picks.
  EXPECT_NEAR(picks[0] / double(kDraws), 0.375, 0.02);
  EXPECT_NEAR(picks[1] / double(kDraws), 0.125, 0.01);
}

TEST(PlacementPolicyTest, NeverAboveTheHighWaterMark) {
  std::vector<PlacementServer> servers = Cluster(4, 2);
  servers[0].used_bytes = 90 * kGiB;  // exactly at 90%
  servers[1].used_bytes = 95 * kGiB;
  PlacementPolicy policy;
  policy.Reset(servers);
  std::mt19937_64 gen(4);
  for (int i = 0; i < 2000; ++i) {
    ASSERT_OK_AND_ASSIGN(Placement p, policy.Choose(3, {}, {}, gen));
    for (uint32_t s : p.servers) EXPECT_GT(s, 1u);
  }
}

TEST(PlacementPolicyTest, UsageAddedByPlacementsIsCounted) {
  std::vector<PlacementServer> servers = Cluster(3, 1);
  PlacementPolicy policy;
  policy.Reset(servers);
  std::mt19937_64 gen(5);
  // 90 GiB of headroom each: 90 one-GiB chunks fit, the 91st does not.
  for (int i = 0; i < 90; ++i) {
    ASSERT_OK_AND_ASSIGN(Placement p, policy.Choose(3, {}, {}, gen));
    for (uint32_t s : p.servers) policy.AddUsage(s, kGiB);
  }
  EXPECT_EQ(policy.Choose(3, {}, {}, gen).status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(PlacementPolicyTest, LoadedServersArePickedLess) {
  std::vector<PlacementServer> servers = Cluster(4, 1);
  servers[0].active_streams = 30;  // weight / (1 + 0.1 * 30) = 1/4
  PlacementPolicy policy;
  policy.Reset(servers);
  std::mt19937_64 gen(6);
  std::map<uint32_t, int> picks;
  constexpr int kDraws = 20000;
  for (int i = 0; i < kDraws; ++i) {
    ASSERT_OK_AND_ASSIGN(Placement p, policy.Choose(1, {}, {}, gen));
    ++picks[p.servers[0]];
  }
  EXPECT_NEAR(picks[0] / double(kDraws), 0.25 / 3.25, 0.015);
}

TEST(PlacementPolicyTest, OneRackSpreadsOverServersAndIsRackUnsafe) {
  PlacementPolicy policy;
  policy.Reset(Cluster(1, 4));
  std::mt19937_64 gen(7);
  ASSERT_OK_AND_ASSIGN(Placement p, policy.Choose(3, {}, {}, gen));
  EXPECT_EQ(std::set<uint32_t>(p.servers.begin(), p.servers.end()).size(), 3u);
  EXPECT_FALSE(p.rack_safe);
}

TEST(PlacementPolicyTest, TwoRacksUseBothRacks) {
  PlacementPolicy policy;
  policy.Reset(Cluster(2, 3));
  std::mt19937_64 gen(8);
  for (int i = 0; i < 200; ++i) {
    ASSERT_OK_AND_ASSIGN(Placement p, policy.Choose(3, {}, {}, gen));
    EXPECT_EQ(RacksOf(policy, p.servers).size(), 2u);
    EXPECT_FALSE(p.rack_safe);
  }
}

TEST(PlacementPolicyTest, TooFewServersIsUnavailable) {
  PlacementPolicy policy;
  policy.Reset(Cluster(2, 1));
  std::mt19937_64 gen(9);
  absl::StatusOr<Placement> p = policy.Choose(3, {}, {}, gen);
  EXPECT_EQ(p.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(p.status().message().find("found 2"), std::string::npos);
}

TEST(PlacementPolicyTest, UnusableServersAreNeverChosen) {
  // Draining, decommissioned and dead servers are all `usable = false` to the policy.
  std::vector<PlacementServer> servers = Cluster(4, 2);
  servers[2].usable = false;
  servers[3].usable = false;  // all of rack 1
  PlacementPolicy policy;
  policy.Reset(servers);
  std::mt19937_64 gen(10);
  for (int i = 0; i < 1000; ++i) {
    ASSERT_OK_AND_ASSIGN(Placement p, policy.Choose(3, {}, {}, gen));
    for (uint32_t s : p.servers) EXPECT_NE(policy.server(s).rack, 1u);
    EXPECT_TRUE(p.rack_safe);
  }
  // The view follows an update: rack 1 comes back.
  servers[2].usable = true;
  policy.Update(2, servers[2]);
  bool used = false;
  for (int i = 0; i < 1000 && !used; ++i) {
    ASSERT_OK_AND_ASSIGN(Placement p, policy.Choose(3, {}, {}, gen));
    for (uint32_t s : p.servers) used |= s == 2;
  }
  EXPECT_TRUE(used);
}

TEST(PlacementPolicyTest, AMoveKeepsTheOtherReplicasAndAvoidsTheOldOne) {
  PlacementPolicy policy;
  policy.Reset(Cluster(4, 2));  // servers 2r and 2r+1 are in rack r
  std::mt19937_64 gen(11);
  // Replicas on racks 0, 1 and 1 (servers 0, 2, 3): move server 3's replica.
  for (int i = 0; i < 200; ++i) {
    ASSERT_OK_AND_ASSIGN(Placement p, policy.Choose(1, {0, 2}, {0, 2, 3}, gen));
    ASSERT_EQ(p.servers.size(), 1u);
    EXPECT_GE(p.servers[0], 4u);  // racks 2 or 3
    EXPECT_TRUE(p.rack_safe);
  }
  EXPECT_TRUE(policy.RackSafe(std::vector<uint32_t>{0, 2, 4}));
  EXPECT_FALSE(policy.RackSafe(std::vector<uint32_t>{0, 2, 3}));
  EXPECT_FALSE(policy.RackSafe(std::vector<uint32_t>{2, 4, 0, 1}));  // the first and last share
  EXPECT_FALSE(policy.RackSafe(std::vector<uint32_t>{0, 2, 99}));    // an unknown server
  EXPECT_TRUE(policy.RackSafe(std::vector<uint32_t>{6}));
}

TEST(PlacementPolicyTest, HeterogeneousDisksFillEvenly) {
  // Capacities 1x..4x; after many 64 MiB placements every disk's fill is near the mean.
  std::vector<PlacementServer> servers;
  for (int i = 0; i < 40; ++i) {
    PlacementServer s;
    s.rack = i % 10;
    s.power_domain = i % 5;
    s.capacity_bytes = (1 + i % 4) * 100 * kGiB;
    s.usable = true;
    servers.push_back(s);
  }
  PlacementPolicy policy;
  policy.Reset(servers);
  std::mt19937_64 gen(12);
  for (int i = 0; i < 30000; ++i) {  // 5,625 GiB of 3 x 64 MiB chunks into 10,000 GiB: 56%
    ASSERT_OK_AND_ASSIGN(Placement p, policy.Choose(3, {}, {}, gen));
    for (uint32_t s : p.servers) policy.AddUsage(s, 64ll << 20);
  }
  double sum = 0, mx = 0, mn = 1;
  for (size_t i = 0; i < policy.size(); ++i) {
    double fill = double(policy.server(i).used_bytes) / policy.server(i).capacity_bytes;
    sum += fill;
    mx = std::max(mx, fill);
    mn = std::min(mn, fill);
  }
  const double mean = sum / policy.size();
  EXPECT_GT(mean, 0.5);
  EXPECT_LT(mx / mean, 1.05);
  EXPECT_GT(mn / mean, 0.95);
}

}  // namespace
}  // namespace ternion::master
