#include "master/server_registry.h"

#include <gtest/gtest.h>

namespace ternion::master {
namespace {

class ServerRegistryTest : public ::testing::Test {
 protected:
  // Registers `id` in `rack`, heard from at `now`.
  ServerInfo& Register(const std::string& id, const std::string& rack, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(registry_.mu) {
    ServerInfo& s = registry_.Add(id);
    s.record.set_rack(rack);
    s.registered = true;
    s.last_heartbeat = now;
    registry_.RefreshPlacement(s, now);
    return s;
  }

  const absl::Time t0_ = absl::FromUnixSeconds(1'800'000'000);
  ServerRegistry registry_{PlacementOptions{},
                           {.dead_after = absl::Seconds(30), .suspect_after = absl::Seconds(10)}};
};

TEST_F(ServerRegistryTest, ServersAreNumberedOnceInTheOrderTheyAppear) {
  absl::MutexLock lock(&registry_.mu);
  EXPECT_EQ(registry_.Add("a").ordinal, 0u);
  EXPECT_EQ(registry_.Add("b").ordinal, 1u);
  EXPECT_EQ(registry_.Add("a").ordinal, 0u);
  EXPECT_EQ(registry_.size(), 2u);
  EXPECT_EQ(registry_.at(1).record.server_id(), "b");
  EXPECT_EQ(registry_.Find("c"), nullptr);
  // Known but not registered with this incarnation: neither live nor usable.
  EXPECT_FALSE(registry_.IsLive(0, t0_));
  EXPECT_FALSE(registry_.placement().server(0).usable);
}

TEST_F(ServerRegistryTest, CapacityCountsTheDisksThatHaveNotFailed) {
  absl::MutexLock lock(&registry_.mu);
  ServerInfo& s = registry_.Add("a");
  google::protobuf::RepeatedPtrField<ternion::v1::DiskUsage> disks;
  auto* good = disks.Add();
  good->set_capacity_bytes(100);
  good->set_used_bytes(10);
  auto* failed = disks.Add();
  failed->set_capacity_bytes(1000);
  failed->set_used_bytes(500);
  failed->set_failed(true);
  s.SetDisks(disks);
  EXPECT_EQ(s.capacity_bytes, 100u);
  EXPECT_EQ(s.used_bytes, 10u);
  EXPECT_EQ(s.disks.size(), 2u);  // both shown to operators
}

TEST_F(ServerRegistryTest, ASweepReportsEachDeathOnceAndMakesTheServerUnusable) {
  absl::MutexLock lock(&registry_.mu);
  Register("a", "r1", t0_);
  Register("b", "r2", t0_);
  EXPECT_TRUE(registry_.SweepLiveness(t0_).empty());
  EXPECT_TRUE(registry_.placement().server(0).usable);

  registry_.at(1).last_heartbeat = t0_ + absl::Seconds(40);  // b keeps beating, a falls silent
  const absl::Time later = t0_ + absl::Seconds(45);
  EXPECT_EQ(registry_.SweepLiveness(later), std::vector<uint32_t>{0});
  EXPECT_FALSE(registry_.placement().server(0).usable);
  EXPECT_TRUE(registry_.placement().server(1).usable);
  // Swept again within 100 ms: nothing; later, a is still dead but not reported again.
  EXPECT_TRUE(registry_.SweepLiveness(later + absl::Milliseconds(50)).empty());
  EXPECT_TRUE(registry_.SweepLiveness(later + absl::Seconds(1)).empty());

  // Back: usable again at the next sweep, and a later death is reported again.
  registry_.at(0).last_heartbeat = later + absl::Seconds(2);
  EXPECT_TRUE(registry_.SweepLiveness(later + absl::Seconds(3)).empty());
  EXPECT_TRUE(registry_.placement().server(0).usable);
  registry_.ForceSweep();
  EXPECT_EQ(registry_.SweepLiveness(later + absl::Seconds(60)).size(), 2u);
}

TEST_F(ServerRegistryTest, RacksComeFromTheAdministratorFirstAndPowerDomainsFromTheTopology) {
  absl::MutexLock lock(&registry_.mu);
  ternion::v1::RackRecord r1;
  r1.set_name("r1");
  r1.set_power_domain("pd-a");
  registry_.SetRacks({{"r1", r1}});
  ServerInfo& a = Register("a", "claimed", t0_);
  EXPECT_EQ(a.rack(), "claimed");
  EXPECT_EQ(registry_.PowerDomainOf(a.rack()), "");  // not in the topology
  a.record.set_admin_rack("r1");
  EXPECT_EQ(a.rack(), "r1");
  EXPECT_EQ(registry_.PowerDomainOf(a.rack()), "pd-a");

  // Two servers in one rack are not rack-safe; in two racks they are.
  Register("b", "r1", t0_);
  registry_.RefreshPlacement(a, t0_);
  EXPECT_FALSE(registry_.RackSafe(std::vector<uint32_t>{0, 1}));
  Register("c", "r2", t0_);
  EXPECT_TRUE(registry_.RackSafe(std::vector<uint32_t>{0, 2}));
}

TEST_F(ServerRegistryTest, ADrainingServerIsLiveButNotUsable) {
  absl::MutexLock lock(&registry_.mu);
  ServerInfo& a = Register("a", "r1", t0_);
  a.record.set_state(ternion::v1::SERVER_DRAINING);
  registry_.RefreshPlacement(a, t0_);
  EXPECT_TRUE(registry_.IsLive(a, t0_));
  EXPECT_FALSE(registry_.placement().server(0).usable);
}

TEST_F(ServerRegistryTest, ASilentServerIsSuspectBeforeItIsDeadAndTakesNoNewReplicas) {
  absl::MutexLock lock(&registry_.mu);
  ServerInfo& a = Register("a", "r1", t0_);
  EXPECT_STREQ(registry_.StateName(a, t0_ + absl::Seconds(10)), "live");
  const absl::Time silent = t0_ + absl::Seconds(11);
  EXPECT_TRUE(registry_.IsSuspect(a, silent));
  EXPECT_TRUE(registry_.IsLive(a, silent)) << "its replicas are not repaired yet";
  EXPECT_STREQ(registry_.StateName(a, silent), "suspect");
  EXPECT_TRUE(registry_.SweepLiveness(silent).empty());
  EXPECT_FALSE(registry_.placement().server(0).usable);
  EXPECT_STREQ(registry_.StateName(a, t0_ + absl::Seconds(31)), "dead");
  // Heard from again: live and usable at the next sweep.
  a.last_heartbeat = t0_ + absl::Seconds(12);
  registry_.ForceSweep();
  EXPECT_TRUE(registry_.SweepLiveness(t0_ + absl::Seconds(13)).empty());
  EXPECT_TRUE(registry_.placement().server(0).usable);
}

TEST_F(ServerRegistryTest, AServerAwayIsNotReportedDeadUntilItsMaintenanceOrGraceEnds) {
  absl::MutexLock lock(&registry_.mu);
  ServerInfo& a = Register("a", "r1", t0_);
  ServerInfo& b = Register("b", "r2", t0_);
  a.record.set_maintenance_until_unix_ms(absl::ToUnixMillis(t0_ + absl::Minutes(10)));
  b.graceful_until = t0_ + absl::Minutes(5);  // its last heartbeat said it was stopping
  EXPECT_TRUE(registry_.SweepLiveness(t0_).empty());
  for (uint32_t o : {0u, 1u}) {
    EXPECT_TRUE(registry_.IsAway(registry_.at(o), t0_));
    EXPECT_FALSE(registry_.placement().server(o).usable) << "no new replicas while away";
  }
  EXPECT_STREQ(registry_.StateName(b, t0_), "stopping");
  // Both silent past --dead-after: dead by their heartbeats, but away, so not reported.
  EXPECT_TRUE(registry_.SweepLiveness(t0_ + absl::Minutes(1)).empty());
  EXPECT_FALSE(registry_.IsLive(a, t0_ + absl::Minutes(1)));
  // The grace ends first, then the maintenance: each reported once, when it ends.
  EXPECT_EQ(registry_.SweepLiveness(t0_ + absl::Minutes(6)), std::vector<uint32_t>{1});
  EXPECT_STREQ(registry_.StateName(b, t0_ + absl::Minutes(6)), "dead");
  EXPECT_EQ(registry_.SweepLiveness(t0_ + absl::Minutes(11)), std::vector<uint32_t>{0});
  EXPECT_TRUE(registry_.SweepLiveness(t0_ + absl::Minutes(12)).empty());
}

}  // namespace
}  // namespace ternion::master
