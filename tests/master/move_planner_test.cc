#include "master/move_planner.h"

#include <gtest/gtest.h>

#include <set>

#include "absl/random/random.h"

namespace ternion::master {
namespace {

// Servers 0..2*racks-1, two per rack (server s in rack s/2), 100 GiB each, all usable.
PlacementPolicy Cluster(int racks) {
  std::vector<PlacementServer> servers;
  for (int i = 0; i < 2 * racks; ++i) {
    PlacementServer s;
    s.rack = i / 2;
    s.power_domain = i / 2;
    s.capacity_bytes = 100ull << 30;
    s.usable = true;
    servers.push_back(s);
  }
  PlacementPolicy p;
  p.Reset(std::move(servers));
  return p;
}

ChunkMoveView Chunk(std::vector<HolderView> holders) {
  return ChunkMoveView{.holders = std::move(holders), .stable = true};
}
HolderView Live(uint32_t s) { return {.server = s, .live = true}; }
HolderView Dead(uint32_t s) { return {.server = s, .live = false}; }
HolderView Draining(uint32_t s) { return {.server = s, .live = true, .draining = true}; }
// On a server in maintenance or stopping gracefully, its heartbeats still coming or not.
HolderView AwayLive(uint32_t s) { return {.server = s, .live = true, .away = true}; }
HolderView AwayDead(uint32_t s) { return {.server = s, .live = false, .away = true}; }

class MovePlannerTest : public ::testing::Test {
 protected:
  std::optional<MoveDecision> Plan(const ChunkMoveView& chunk) {
    return PlanChunkMove(chunk, ctx_, gen_);
  }
  uint32_t RackOf(uint32_t s) { return placement_.server(s).rack; }

  PlacementPolicy placement_ = Cluster(5);
  MovePlanContext ctx_{.placement = &placement_};
  absl::BitGen gen_;
};

TEST_F(MovePlannerTest, AHealthyChunkStaysWhereItIs) {
  EXPECT_EQ(Plan(Chunk({Live(0), Live(2), Live(4)})), std::nullopt);
}

TEST_F(MovePlannerTest, ARepairReplacesADeadReplicaOnARackOfItsOwnMostEndangeredFirst) {
  for (int i = 0; i < 20; ++i) {
    auto d = Plan(Chunk({Live(0), Dead(2), Live(4)}));
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(d->reason, MoveReason::kRepair);
    EXPECT_EQ(d->victim, 2u);
    EXPECT_EQ(d->priority, 2);
    EXPECT_NE(RackOf(d->to), RackOf(0));
    EXPECT_NE(RackOf(d->to), RackOf(4));
  }
  auto one_left = Plan(Chunk({Dead(0), Dead(2), Live(4)}));
  ASSERT_TRUE(one_left.has_value());
  EXPECT_EQ(one_left->victim, 0u) << "the first dead replica";
  EXPECT_EQ(one_left->priority, 1) << "before chunks with two live replicas";
  auto missing = Plan(Chunk({Live(0), Live(2)}));  // a replica dropped by a report
  ASSERT_TRUE(missing.has_value());
  EXPECT_EQ(missing->reason, MoveReason::kRepair);
  EXPECT_EQ(missing->victim, std::nullopt) << "a replica is added";
}

TEST_F(MovePlannerTest, AReplicaAwayCountsWhileTwoLiveReplicasRemainElsewhere) {
  EXPECT_EQ(Plan(Chunk({AwayDead(0), Live(2), Live(4)})), std::nullopt) << "a reboot: no copy";
  EXPECT_EQ(Plan(Chunk({AwayLive(0), Live(2), Live(4)})), std::nullopt);
  // No other move takes it off its server either: a policy move takes the replica sharing its
  // rack, not it; a drain or the balancer leave it.
  auto policy = Plan(Chunk({Live(0), Live(2), AwayDead(3)}));
  ASSERT_TRUE(policy.has_value());
  EXPECT_EQ(policy->reason, MoveReason::kPolicy);
  EXPECT_EQ(policy->victim, 2u);
  EXPECT_EQ(
      Plan(Chunk({Live(0), HolderView{.server = 2, .live = true, .draining = true, .away = true},
                  Live(4)})),
      std::nullopt);
}

TEST_F(MovePlannerTest, WithFewerThanTwoLiveReplicasElsewhereAChunkWithOneAwayIsRepairedFirst) {
  // A dead replica besides the away one: it is replaced, before any ordinary repair.
  auto d = Plan(Chunk({AwayDead(0), Dead(2), Live(4)}));
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->reason, MoveReason::kRepair);
  EXPECT_EQ(d->victim, 2u);
  EXPECT_EQ(d->priority, 0);
  // Two away (two racks in maintenance), all still live: one of them is replaced now, before
  // its server goes, on a rack of its own.
  for (int i = 0; i < 20; ++i) {
    auto both = Plan(Chunk({AwayLive(0), AwayLive(2), Live(4)}));
    ASSERT_TRUE(both.has_value());
    EXPECT_EQ(both->victim, 0u);
    EXPECT_EQ(both->priority, 0);
    EXPECT_NE(RackOf(both->to), RackOf(2));
    EXPECT_NE(RackOf(both->to), RackOf(4));
  }
  // A dead one away goes before a live one away.
  auto dead_first = Plan(Chunk({AwayLive(0), AwayDead(2), Live(4)}));
  ASSERT_TRUE(dead_first.has_value());
  EXPECT_EQ(dead_first->victim, 2u);
  // A chunk that wants two keeps going on one live replica elsewhere.
  ctx_.wanted_replicas = 2;
  EXPECT_EQ(Plan(Chunk({AwayDead(0), Live(2)})), std::nullopt);
  ctx_.wanted_replicas = 3;
  ctx_.repairs_allowed = false;
  EXPECT_EQ(Plan(Chunk({AwayDead(0), Dead(2), Live(4)})), std::nullopt)
      << "the start-up grace period holds emergencies too: liveness is not known yet";
}

TEST_F(MovePlannerTest, NothingMovesThatCannotOrMustNot) {
  EXPECT_EQ(Plan(Chunk({Dead(0), Dead(2), Dead(4)})), std::nullopt) << "lost: no source";
  ChunkMoveView open = Chunk({Live(0), Dead(2), Live(4)});
  open.stable = false;
  EXPECT_EQ(Plan(open), std::nullopt) << "its writer may still change it";
  ctx_.repairs_allowed = false;
  EXPECT_EQ(Plan(Chunk({Live(0), Dead(2), Live(4)})), std::nullopt) << "start-up grace period";
  // During the grace period, a chunk that is short is not moved for any other reason either.
  EXPECT_EQ(Plan(Chunk({Draining(0), Dead(2), Live(4)})), std::nullopt);
}

TEST_F(MovePlannerTest, ADrainingReplicaMovesOffItsServer) {
  auto d = Plan(Chunk({Live(0), Draining(2), Live(4)}));
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->reason, MoveReason::kDrain);
  EXPECT_EQ(d->victim, 2u);
  EXPECT_EQ(d->priority, 11);
  EXPECT_FALSE(std::set<uint32_t>({0, 2, 4}).contains(d->to));
  EXPECT_NE(RackOf(d->to), RackOf(0));
  EXPECT_NE(RackOf(d->to), RackOf(4));
}

TEST_F(MovePlannerTest, ReplicasSharingARackAreSpreadOnlyWhenThatMakesThemRackSafe) {
  auto d = Plan(Chunk({Live(0), Live(1), Live(4)}));  // 0 and 1 share rack 0
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->reason, MoveReason::kPolicy);
  EXPECT_EQ(d->victim, 1u) << "the later of the two moves";
  EXPECT_NE(RackOf(d->to), RackOf(0));
  EXPECT_NE(RackOf(d->to), RackOf(4));
  // With only two racks usable, no placement is rack-safe: nothing moves.
  placement_ = Cluster(2);
  EXPECT_EQ(Plan(Chunk({Live(0), Live(1), Live(2)})), std::nullopt);
}

TEST_F(MovePlannerTest, TheBalancerMovesFromAboveTheMeanToBelowIt) {
  std::vector<int64_t> excess(10, 0);
  excess[2] = 1 << 30;
  std::vector<uint32_t> not_below_mean = {0, 1, 2, 3, 4, 5, 7, 9};  // 6 and 8 are below
  EXPECT_EQ(Plan(Chunk({Live(0), Live(2), Live(4)})), std::nullopt) << "balancer not active";
  ctx_.balance = {.active = true, .excess = excess, .not_below_mean = not_below_mean};
  for (int i = 0; i < 20; ++i) {
    auto d = Plan(Chunk({Live(0), Live(2), Live(4)}));
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(d->reason, MoveReason::kBalance);
    EXPECT_EQ(d->victim, 2u);
    EXPECT_TRUE(d->to == 6 || d->to == 8) << d->to;
  }
  // A repair comes before balance, and needs no balancer.
  auto d = Plan(Chunk({Live(0), Live(2), Dead(4)}));
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->reason, MoveReason::kRepair);
}

}  // namespace
}  // namespace ternion::master
