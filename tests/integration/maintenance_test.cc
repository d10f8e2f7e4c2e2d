// Operating a live 4-rack, 8-chunkserver cluster without needless re-replication: a server in
// maintenance (or a whole rack) and a server stopped gracefully keep their replicas counted
// until their time ends, unless a chunk is left with too few live replicas elsewhere; a
// cluster-wide pause holds every move and survives a master restart, as do the replication
// limits; `ternion health` says what is going on, with exit codes 0, 1 and 2; log levels change
// at run time.

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/testutil/cluster_fixture.h"

namespace ternion {
namespace {

using nlohmann::json;
using testing::RandomBytes;

class MaintenanceTest : public testing::FourRackFixture {
 protected:
  // Runs `ternion ARGS`; expects exit code `rc`; returns the output.
  std::string Run(const std::string& args, int rc = 0) {
    int got = -1;
    std::string out = RunCli(args, &got);
    EXPECT_EQ(got, rc) << args << ":\n" << out;
    return out;
  }

  // The health checks' codes now.
  std::set<std::string> HealthCodes() {
    std::set<std::string> codes;
    int rc = 0;
    const json h = json::parse(RunCli("--json health", &rc));
    for (const auto& c : h["checks"]) codes.insert(c["code"]);
    return codes;
  }

  // (A range over a member of CliJson's result would outlive it: each is kept first.)
  json ServerStatus(const std::string& server_id) {
    const json st = CliJson("cluster status");
    for (const auto& s : st["servers"]) {
      if (s["server_id"] == server_id) return s;
    }
    return json();
  }

  // Past --dead-after and many move scans: anything that would be repaired has begun.
  void LetTheMasterDecide() { absl::SleepFor(absl::Seconds(4)); }

  // Chunks of t/`path` with a replica on `server_id`.
  int ChunksOn(const std::string& path, const std::string& server_id) {
    int n = 0;
    const json file = CliJson("stat --chunks t/" + path);
    for (const auto& c : file["chunks"]) {
      for (const auto& r : c["replicas"]) n += r["server_id"] == server_id;
    }
    return n;
  }
};

TEST_F(MaintenanceTest, AServerInMaintenanceIsNotReReplicatedUntilItsMaintenanceEnds) {
  ASSERT_OK(client_->CreateProject("t"));
  const std::string data = RandomBytes(24 << 20, 21);
  WriteFile("t", "f", data, 1 << 20);
  EXPECT_EQ(Run("health"), "HEALTH_OK\n");
  const std::string id = ServerIdOf("cs-rack2-0");
  ASSERT_GT(ChunksOn("f", id), 0);
  Run("topology maintenance " + id + " --for 1h");
  EXPECT_EQ(HealthCodes(), std::set<std::string>{"MAINTENANCE"});
  Run("health", 1);

  ASSERT_OK(local::KillProcess(cluster_.dir, "cs-rack2-0"));  // a reboot
  LetTheMasterDecide();
  json st = CliJson("cluster status");
  EXPECT_EQ(st["replicas_repaired"], 0) << st.dump(2);
  EXPECT_EQ(st["moves_in_progress"], 0);
  const json server = ServerStatus(id);
  EXPECT_EQ(server["state"], "dead");
  EXPECT_GT(server["maintenance_ends_in_ms"], 3'500'000);
  EXPECT_TRUE(HealthCodes().contains("CHUNKS_UNDER_REPLICATED")) << "fewer live copies, known";
  EXPECT_FALSE(HealthCodes().contains("SERVER_DEAD")) << "a server in maintenance may be down";
  // New chunks go elsewhere meanwhile, and reads do not need it.
  WriteFile("t", "g", RandomBytes(4 << 20, 22), 1 << 20);
  EXPECT_EQ(ChunksOn("g", id), 0);
  ExpectContents("t", "f", data);

  // Back from the reboot, within its maintenance: nothing was copied, nothing is.
  ASSERT_OK(local::RestartProcess(cluster_.dir, "cs-rack2-0"));
  WaitForLive(8);
  LetTheMasterDecide();
  st = CliJson("cluster status");
  EXPECT_EQ(st["replicas_repaired"], 0);
  EXPECT_EQ(st["chunks_under_replicated"], 0);
  Run("topology maintenance " + id + " --end");
  Run("health");
}

TEST_F(MaintenanceTest, TheEndOfAMaintenanceOfADeadServerStartsItsRepair) {
  ASSERT_OK(client_->CreateProject("t"));
  const std::string data = RandomBytes(16 << 20, 23);
  WriteFile("t", "f", data, 1 << 20);
  const std::string id = ServerIdOf("cs-rack2-1");
  Run("topology maintenance " + id + " --for 2h");
  ASSERT_OK(local::KillProcess(cluster_.dir, "cs-rack2-1"));
  LetTheMasterDecide();
  EXPECT_EQ(CliJson("cluster status")["replicas_repaired"], 0);
  Run("topology maintenance " + id + " --end");
  ExpectRepaired("f", data);
  EXPECT_GT(CliJson("cluster status")["replicas_repaired"], 0);
  EXPECT_TRUE(HealthCodes().contains("SERVER_DEAD"));
}

TEST_F(MaintenanceTest, AChunkLeftWithOneLiveReplicaElsewhereIsRepairedAtOnce) {
  ASSERT_OK(client_->CreateProject("t"));
  const std::string data = RandomBytes(24 << 20, 24);
  WriteFile("t", "f", data, 1 << 20);
  // Two whole racks in maintenance and down. A chunk with replicas in both has one live replica
  // elsewhere: it is repaired at once, without waiting for either maintenance to end, back to
  // two live replicas outside them. A chunk with one replica in them waits.
  std::set<std::string> away;
  for (const std::string rack : {"rack3", "rack4"}) {
    Run("topology maintenance " + rack + " --rack --for 1h");
    for (const std::string& name : ProcessesInRack(rack)) {
      away.insert(ServerIdOf(name));
      ASSERT_OK(local::KillProcess(cluster_.dir, name));
    }
  }
  LetTheMasterDecide();
  bool settled = false;
  for (int i = 0; i < 150 && !settled; ++i) {  // bounded: 30 s
    const json st = CliJson("cluster status");
    settled = st["moves_queued"] == 0 && st["moves_in_progress"] == 0;
    if (!settled) absl::SleepFor(absl::Milliseconds(200));
  }
  ASSERT_TRUE(settled);
  int kept_away = 0;
  const json file = CliJson("stat --chunks t/f");
  for (const auto& c : file["chunks"]) {
    int elsewhere = 0;
    for (const auto& r : c["replicas"]) {
      const bool is_away = away.contains(r["server_id"]);
      kept_away += is_away;
      elsewhere += !is_away;
    }
    EXPECT_EQ(elsewhere, 2) << c.dump();  // (the servers outside the racks are all live)
  }
  EXPECT_GT(kept_away, 0) << "a replica in a rack under maintenance is kept while it may be";
  EXPECT_GT(CliJson("cluster status")["replicas_repaired"], 0);
  ExpectContents("t", "f", data);
}

TEST_F(MaintenanceTest, AGracefullyStoppedServerIsNotDeclaredDeadDuringItsGrace) {
  ASSERT_OK(client_->CreateProject("t"));
  const std::string data = RandomBytes(16 << 20, 25);
  WriteFile("t", "f", data, 1 << 20);
  const std::string id = ServerIdOf("cs-rack1-1");
  ASSERT_OK(local::StopProcess(cluster_.dir, "cs-rack1-1"));  // SIGTERM
  LetTheMasterDecide();
  EXPECT_EQ(ServerStatus(id)["state"], "stopping");
  EXPECT_EQ(CliJson("cluster status")["replicas_repaired"], 0);
  EXPECT_TRUE(HealthCodes().contains("SERVER_STOPPING"));
  ExpectContents("t", "f", data);
  ASSERT_OK(local::RestartProcess(cluster_.dir, "cs-rack1-1"));
  WaitForLive(8);
  EXPECT_EQ(ServerStatus(id)["state"], "live");
  LetTheMasterDecide();
  EXPECT_EQ(CliJson("cluster status")["replicas_repaired"], 0);
}

TEST_F(MaintenanceTest, APauseHoldsEveryRepairAndOutlivesAMasterRestartAsTheLimitsDo) {
  ASSERT_OK(client_->CreateProject("t"));
  const std::string data = RandomBytes(16 << 20, 26);
  WriteFile("t", "f", data, 1 << 20);
  EXPECT_EQ(CliJson("admin replication pause")["paused"], true);
  CliJson("admin replication --per-server 7 --bandwidth-mib 64");
  ASSERT_OK(local::KillProcess(cluster_.dir, "cs-rack3-0"));
  LetTheMasterDecide();
  EXPECT_EQ(CliJson("cluster status")["replicas_repaired"], 0);
  EXPECT_TRUE(HealthCodes().contains("REPLICATION_PAUSED"));
  EXPECT_TRUE(HealthCodes().contains("SERVER_DEAD"));

  ASSERT_OK(local::KillProcess(cluster_.dir, "master"));
  ASSERT_OK(local::RestartProcess(cluster_.dir, "master"));
  const json repl = CliJson("admin replication");
  EXPECT_EQ(repl["paused"], true);
  EXPECT_EQ(repl["copies_per_server"], 7);
  EXPECT_EQ(repl["bandwidth_bytes_per_s"], 64 << 20);
  LetTheMasterDecide();
  EXPECT_EQ(CliJson("cluster status")["replicas_repaired"], 0);

  EXPECT_EQ(CliJson("admin replication resume")["paused"], false);
  ExpectRepaired("f", data);
}

TEST_F(MaintenanceTest, BadMaintenanceRequestsChangeNothing) {
  const std::string id = ServerIdOf("cs-rack1-0");
  Run("topology maintenance " + id, 1);                      // neither --for nor --end
  Run("topology maintenance " + id + " --for 2h --end", 1);  // both
  Run("topology maintenance " + id + " --for soon", 1);
  Run("topology maintenance " + id + " --for 9d", 1);  // longer than a week
  Run("topology maintenance no-such-server --for 1h", 1);
  Run("topology maintenance no-such-rack --rack --for 1h", 1);
  EXPECT_EQ(ServerStatus(id)["maintenance_ends_in_ms"], 0);
  Run("health");
  // Lost data is an error: exit code 2 (every replica of a chunk gone).
  ASSERT_OK(client_->CreateProject("t"));
  WriteFile("t", "f", RandomBytes(1 << 20, 27), 1 << 20);
  const json file = CliJson("stat --chunks t/f");
  for (const auto& r : file["chunks"][0]["replicas"]) {
    ASSERT_OK(local::KillProcess(cluster_.dir, ProcessNameOf(r["server_id"])));
  }
  WaitForLive(5);
  bool lost = false;
  for (int i = 0; i < 50 && !lost; ++i) {  // the chunk counts are a walk: bounded, 10 s
    lost = HealthCodes().contains("CHUNKS_LOST");
    if (!lost) absl::SleepFor(absl::Milliseconds(200));
  }
  EXPECT_TRUE(lost);
  Run("health --detail", 2);
}

// Lines of a daemon's log at level `letter` (D, I, W, E).
int LogLines(const std::string& log, char letter) {
  std::ifstream in(log);
  std::string line;
  int n = 0;
  const std::string mark = std::string(" ") + letter + " ";
  while (std::getline(in, line)) n += line.find(mark) != std::string::npos;
  return n;
}

TEST_F(MaintenanceTest, LogLevelsChangeAtRunTimeForTheMasterOneChunkserverOrAll) {
  const std::string master_log = cluster_.dir + "/logs/master.log";
  const std::string cs_log = cluster_.dir + "/logs/cs-rack1-0.log";
  Run("cluster status");
  EXPECT_EQ(LogLines(master_log, 'D'), 0) << "info by default";
  Run("admin log-level debug");
  Run("cluster status");
  EXPECT_GT(LogLines(master_log, 'D'), 0) << "each call, at debug";
  EXPECT_EQ(LogLines(cs_log, 'D'), 0) << "the master's level only";

  Run("admin log-level debug --server " + ServerIdOf("cs-rack1-0"));
  bool debug = false;
  for (int i = 0; i < 50 && !debug; ++i) {  // its next heartbeat: bounded, 10 s
    debug = LogLines(cs_log, 'D') > 0;
    if (!debug) absl::SleepFor(absl::Milliseconds(200));
  }
  EXPECT_TRUE(debug);
  EXPECT_EQ(LogLines(cluster_.dir + "/logs/cs-rack2-0.log", 'D'), 0);

  Run("admin log-level warning --all");
  absl::SleepFor(absl::Seconds(2));  // past every server's next heartbeat
  const int master_debug = LogLines(master_log, 'D');
  const int cs_debug = LogLines(cs_log, 'D');
  Run("cluster status");
  absl::SleepFor(absl::Seconds(2));
  EXPECT_EQ(LogLines(master_log, 'D'), master_debug);
  EXPECT_EQ(LogLines(cs_log, 'D'), cs_debug);

  Run("admin log-level chatty", 1);
  Run("admin log-level info --server no-such-server", 1);
  Run("admin log-level info --all --server " + ServerIdOf("cs-rack1-0"), 1);
}

}  // namespace
}  // namespace ternion
