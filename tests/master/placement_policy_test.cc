#include "master/placement_policy.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "tests/testutil/status_matchers.h"

namespace ternion::master {
namespace {

constexpr uint64_t kGiB = 1ull << 30;

std::vector<PlacementCandidate> Cluster(int racks, int per_rack, uint64_t used = 0) {
  std::vector<PlacementCandidate> out;
  for (int r = 0; r < racks; ++r) {
    for (int i = 0; i < per_rack; ++i) {
      out.push_back({"s" + std::to_string(r) + "-" + std::to_string(i), "rack" + std::to_string(r),
                     100 * kGiB, used});
    }
  }
  return out;
}

std::string RackOf(const std::vector<PlacementCandidate>& c, const std::string& id) {
  for (const auto& p : c) {
    if (p.server_id == id) return p.rack;
  }
  return "";
}

TEST(PlacementPolicyTest, ThreeDistinctRacksWheneverPossible) {
  PlacementPolicy policy;
  std::mt19937_64 gen(42);
  auto cluster = Cluster(3, 4);
  for (int i = 0; i < 1000; ++i) {
    ASSERT_OK_AND_ASSIGN(PlacementResult r, policy.Choose(cluster, 3, gen));
    ASSERT_EQ(r.server_ids.size(), 3u);
    std::set<std::string> racks;
    for (const auto& id : r.server_ids) racks.insert(RackOf(cluster, id));
    EXPECT_EQ(racks.size(), 3u);
    EXPECT_TRUE(r.rack_safe);
  }
}

TEST(PlacementPolicyTest, FewerRacksSpreadsOverServersAndIsRackUnsafe) {
  PlacementPolicy policy;
  std::mt19937_64 gen(1);
  auto cluster = Cluster(2, 3);
  for (int i = 0; i < 200; ++i) {
    ASSERT_OK_AND_ASSIGN(PlacementResult r, policy.Choose(cluster, 3, gen));
    std::set<std::string> servers(r.server_ids.begin(), r.server_ids.end());
    std::set<std::string> racks;
    for (const auto& id : r.server_ids) racks.insert(RackOf(cluster, id));
    EXPECT_EQ(servers.size(), 3u);
    EXPECT_EQ(racks.size(), 2u);  // both racks used
    EXPECT_FALSE(r.rack_safe);
  }
}

TEST(PlacementPolicyTest, NotEnoughServersIsUnavailable) {
  PlacementPolicy policy;
  std::mt19937_64 gen(1);
  auto s = policy.Choose(Cluster(2, 1), 3, gen);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(policy.Choose({}, 3, gen).status().code(), absl::StatusCode::kUnavailable);
}

TEST(PlacementPolicyTest, NeverAboveHighWaterMark) {
  PlacementPolicy policy(0.9);
  std::mt19937_64 gen(7);
  auto cluster = Cluster(4, 1);
  cluster[0].used_bytes = 95 * kGiB;  // rack0's only server is over 90%
  for (int i = 0; i < 300; ++i) {
    ASSERT_OK_AND_ASSIGN(PlacementResult r, policy.Choose(cluster, 3, gen));
    for (const auto& id : r.server_ids) EXPECT_NE(id, cluster[0].server_id);
  }
}

TEST(PlacementPolicyTest, WeightedByFreeSpace) {
  // One rack-mate has 4x the free space of the other: it should get about 4x the replicas.
  PlacementPolicy policy;
  std::mt19937_64 gen(2026);
  std::vector<PlacementCandidate> cluster = {
      {"a", "r1", 100 * kGiB, 20 * kGiB},  // 80 GiB free
      {"b", "r1", 100 * kGiB, 80 * kGiB},  // 20 GiB free
      {"c", "r2", 100 * kGiB, 0},
      {"d", "r3", 100 * kGiB, 0},
  };
  std::map<std::string, int> count;
  const int kRuns = 20000;
  for (int i = 0; i < kRuns; ++i) {
    ASSERT_OK_AND_ASSIGN(PlacementResult r, policy.Choose(cluster, 3, gen));
    for (const auto& id : r.server_ids) ++count[id];
  }
  EXPECT_EQ(count["c"], kRuns);
  EXPECT_EQ(count["d"], kRuns);
  double ratio = static_cast<double>(count["a"]) / count["b"];
  EXPECT_GT(ratio, 3.5);
  EXPECT_LT(ratio, 4.5);
}

}  // namespace
}  // namespace ternion::master
