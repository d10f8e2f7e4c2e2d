#include "master/health.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace ternion::master {
namespace {

using ternion::v1::ChunkServerStatus;
using ternion::v1::ClusterStatusResponse;
using ternion::v1::HealthReport;

ChunkServerStatus* AddServer(ClusterStatusResponse* st, const std::string& id,
                             const std::string& state) {
  ChunkServerStatus* s = st->add_servers();
  s->set_server_id(id);
  s->set_rack("r1");
  s->set_state(state);
  s->set_admin_state("active");
  s->set_last_heartbeat_ms_ago(state == "dead" ? 60'000 : 500);
  auto* d = s->add_disks();
  d->set_path("/d0");
  d->set_capacity_bytes(100);
  d->set_used_bytes(10);
  return s;
}

std::map<std::string, ternion::v1::HealthCheck> ByCode(const HealthReport& r) {
  std::map<std::string, ternion::v1::HealthCheck> out;
  for (const auto& c : r.checks()) out[c.code()] = c;
  return out;
}

TEST(HealthTest, AHealthyClusterIsOk) {
  ClusterStatusResponse st;
  AddServer(&st, "a", "live");
  AddServer(&st, "b", "live");
  const HealthReport r = AssessHealth(st, {});
  EXPECT_EQ(r.status(), "HEALTH_OK");
  EXPECT_EQ(r.level(), 0u);
  EXPECT_EQ(r.checks_size(), 0);
}

TEST(HealthTest, LostOrCorruptChunksAreErrorsNamedByExample) {
  ClusterStatusResponse st;
  AddServer(&st, "a", "live");
  st.set_chunks_lost(7);
  st.set_chunks_under_replicated(2);
  HealthExamples ex;
  ex.lost = {11, 12, 13, 14, 15, 16};
  const HealthReport r = AssessHealth(st, ex);
  EXPECT_EQ(r.status(), "HEALTH_ERR");
  EXPECT_EQ(r.level(), 2u);
  const auto checks = ByCode(r);
  ASSERT_TRUE(checks.contains("CHUNKS_LOST"));
  EXPECT_EQ(checks.at("CHUNKS_LOST").severity(), "ERR");
  EXPECT_EQ(checks.at("CHUNKS_LOST").summary(), "7 chunk(s) lost: no replica is live");
  ASSERT_EQ(checks.at("CHUNKS_LOST").detail_size(), 6);  // five examples and "and 1 more"
  EXPECT_EQ(checks.at("CHUNKS_LOST").detail(0), "chunk 11");
  EXPECT_EQ(checks.at("CHUNKS_LOST").detail(5), "... and 1 more");
  EXPECT_EQ(checks.at("CHUNKS_UNDER_REPLICATED").severity(), "WARN");
  EXPECT_EQ(r.checks(0).code(), "CHUNKS_LOST") << "errors first";
}

TEST(HealthTest, ServersDeadSuspectStoppingOrInMaintenanceAreWarnings) {
  ClusterStatusResponse st;
  AddServer(&st, "live", "live");
  AddServer(&st, "dead", "dead");
  AddServer(&st, "suspect", "suspect");
  AddServer(&st, "stopping", "stopping");
  AddServer(&st, "rebooting", "dead")->set_maintenance_ends_in_ms(3'600'000);
  AddServer(&st, "late", "dead")->set_maintenance_ends_in_ms(60'000);
  AddServer(&st, "retired", "dead")->set_admin_state("decommissioned");
  const HealthReport r = AssessHealth(st, {});
  EXPECT_EQ(r.status(), "HEALTH_WARN");
  EXPECT_EQ(r.level(), 1u);
  const auto checks = ByCode(r);
  ASSERT_TRUE(checks.contains("SERVER_DEAD"));
  EXPECT_EQ(checks.at("SERVER_DEAD").summary().substr(0, 2), "1 ")
      << "neither the servers in maintenance nor the decommissioned one";
  EXPECT_EQ(checks.at("SERVER_DEAD").detail(0), "dead (rack r1, silent 1m)");
  EXPECT_EQ(checks.at("SERVER_SUSPECT").detail(0), "suspect (silent 1s)");
  EXPECT_EQ(checks.at("SERVER_STOPPING").detail(0), "stopping");
  EXPECT_EQ(checks.at("MAINTENANCE").detail_size(), 2);
  ASSERT_TRUE(checks.contains("MAINTENANCE_ENDING"));
  EXPECT_EQ(checks.at("MAINTENANCE_ENDING").detail(0), "late in 1m")
      << "a silent server whose maintenance ends within 15 minutes";
}

TEST(HealthTest, DisksPausesOrphansAndClocksAreReported) {
  ClusterStatusResponse st;
  AddServer(&st, "a", "live")->mutable_disks(0)->set_used_bytes(90);
  AddServer(&st, "b", "live")->mutable_disks(0)->set_used_bytes(96);
  AddServer(&st, "c", "live")->mutable_disks(0)->set_failed(true);
  AddServer(&st, "d", "live")->set_clock_skew_ms(-4000);
  AddServer(&st, "e", "dead")->mutable_disks(0)->set_used_bytes(99);  // as last reported
  st.set_replication_paused(true);
  st.set_orphans_quarantined(3);
  st.set_deletion_valve_held_servers(1);
  const HealthReport r = AssessHealth(st, {});
  const auto checks = ByCode(r);
  EXPECT_EQ(r.status(), "HEALTH_ERR") << "a disk 96% full";
  EXPECT_EQ(checks.at("DISK_FULL").detail(0), "b:/d0 96% used");
  EXPECT_EQ(checks.at("DISK_NEAR_FULL").detail(0), "a:/d0 90% used");
  EXPECT_EQ(checks.at("DISK_FAILED").detail(0), "c:/d0");
  EXPECT_EQ(checks.at("CLOCK_SKEW").detail(0), "d -4000 ms");
  for (const char* code : {"REPLICATION_PAUSED", "ORPHANS_QUARANTINED", "DELETION_VALVE"}) {
    EXPECT_TRUE(checks.contains(code)) << code;
  }
  EXPECT_EQ(checks.at("DISK_FULL").detail_size(), 1) << "a dead server's disks are not judged";
}

}  // namespace
}  // namespace ternion::master
