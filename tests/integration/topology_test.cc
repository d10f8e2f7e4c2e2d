// Topology administration on a real 4-rack, 8-chunkserver cluster: moving a server makes the
// master move replicas until every chunk is again in three racks; draining empties a server
// with no data loss; YAML import/export round-trips and bad YAML changes nothing.

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "tests/testutil/cluster_fixture.h"

namespace ternion {
namespace {

using nlohmann::json;
using testing::RandomBytes;

class TopologyTest : public testing::ClusterFixture {
 protected:
  void Configure(local::LocalClusterOptions* options) override {
    options->racks = 4;
    options->per_rack = 2;
    options->move_scan_s = 0.3;
  }

  json ServerStatus(const std::string& id) {
    const json st = CliJson("cluster status");
    for (const auto& s : st["servers"]) {
      if (s["server_id"] == id) return s;
    }
    return json();
  }

  size_t DataFilesUnder(const std::vector<std::string>& dirs) {
    size_t n = 0;
    for (const auto& d : dirs) {
      for (const auto& e : std::filesystem::recursive_directory_iterator(d)) {
        n += e.path().extension() == ".data";
      }
    }
    return n;
  }
};

TEST_F(TopologyTest, MovingAServerMakesTheMasterRestoreRackSafety) {
  ASSERT_OK(client_->CreateProject("t"));
  const std::string data = RandomBytes(40 << 20, 1);
  WriteFile("t", "f", data, 1 << 20);  // 40 chunks

  // Choose a server and a rack such that moving the server there puts two replicas of some
  // chunks in one rack.
  json chunks = CliJson("stat --chunks t/f")["chunks"];
  std::map<std::pair<std::string, std::string>, int> clashes;  // (server, rack) -> chunks
  for (const auto& c : chunks) {
    ASSERT_EQ(c["replicas"].size(), 3u);
    for (const auto& a : c["replicas"]) {
      for (const auto& b : c["replicas"]) {
        if (a["server_id"] != b["server_id"]) ++clashes[{a["server_id"], b["rack"]}];
      }
    }
  }
  auto best = std::max_element(clashes.begin(), clashes.end(),
                               [](const auto& x, const auto& y) { return x.second < y.second; });
  ASSERT_GT(best->second, 0);
  const auto [server, rack] = best->first;
  int rc = 0;
  std::string out = RunCli(absl::StrCat("topology move ", server, " ", rack), &rc);
  ASSERT_EQ(rc, 0) << out;

  // The master moves replicas until every chunk has three replicas in three racks.
  EXPECT_TRUE(WaitUntil([&] {
    json st = CliJson("cluster status");
    return st["chunks_rack_unsafe"] == 0 && st["moves_queued"] == 0 &&
           st["moves_in_progress"] == 0;
  }));
  const json moved = CliJson("stat --chunks t/f");
  for (const auto& c : moved["chunks"]) {
    std::set<std::string> racks;
    for (const auto& r : c["replicas"]) racks.insert(r["rack"]);
    EXPECT_EQ(c["replicas"].size(), 3u);
    EXPECT_EQ(racks.size(), 3u) << c.dump();
  }
  // The moved server's rack is what the administrator said.
  EXPECT_EQ(ServerStatus(server)["rack"], rack);
  // Replica files follow the chunk map: every replica the master lists exists on its server.
  auto dirs = ServerDirs();
  for (const auto& c : moved["chunks"]) {
    for (const auto& r : c["replicas"]) {
      bool found = false;
      for (const auto& d : dirs[r["server_id"]]) {
        struct stat st;
        found |= ::stat(absl::StrFormat("%s/chunks/t/%016x.data", d,
                                        c["chunk_id"].get<uint64_t>())
                            .c_str(),
                        &st) == 0;
      }
      EXPECT_TRUE(found) << "chunk " << c["chunk_id"] << " missing on " << r["server_id"];
    }
  }
  ExpectContents("t", "f", data);
}

TEST_F(TopologyTest, DrainEmptiesAServerWithNoDataLoss) {
  ASSERT_OK(client_->CreateProject("t"));
  const std::string data = RandomBytes(30 << 20, 2);
  WriteFile("t", "f", data, 1 << 20);
  // Drain the server holding the most replicas.
  json st = CliJson("cluster status");
  std::string server;
  int most = -1;
  for (const auto& s : st["servers"]) {
    if (s["replicas"].get<int>() > most) {
      most = s["replicas"];
      server = s["server_id"];
    }
  }
  ASSERT_GT(most, 0);
  int rc = 0;
  std::string out = RunCli("topology drain " + server, &rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_TRUE(WaitUntil([&] { return ServerStatus(server)["admin_state"] == "drained"; }));
  EXPECT_EQ(ServerStatus(server)["replicas"], 0);
  json after = CliJson("cluster status");
  EXPECT_EQ(after["chunks_rack_unsafe"], 0);
  EXPECT_EQ(after["replicas_total"], 90);  // 30 chunks x 3, none lost or doubled
  EXPECT_EQ(DataFilesUnder(ServerDirs()[server]), 0u);  // old replicas dropped on the server
  ExpectContents("t", "f", data);
  // New writes avoid it.
  WriteFile("t", "g", RandomBytes(8 << 20, 3), 1 << 20);
  EXPECT_EQ(ServerStatus(server)["replicas"], 0);
}

TEST_F(TopologyTest, YamlImportRoundTripsAndBadYamlChangesNothing) {
  int rc = 0;
  const std::string exported = RunCli("topology export", &rc);
  ASSERT_EQ(rc, 0) << exported;
  const std::string file = tmp_.path() + "/topology.yaml";
  std::ofstream(file) << exported;
  std::string out = RunCli("topology import " + file, &rc);
  ASSERT_EQ(rc, 0) << out;
  out = RunCli("topology import " + file, &rc);  // idempotent
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("0 rack(s) and 0 server placement(s) changed"), std::string::npos) << out;
  EXPECT_EQ(RunCli("topology export", &rc), exported);

  // A new rack that is fine, and a server that does not exist: nothing is applied.
  const std::string bad = tmp_.path() + "/bad.yaml";
  std::ofstream(bad) << "datacenters:\n  - name: dc1\n    power_domains:\n      - name: pd9\n"
                        "        racks:\n          - name: rack9\n            servers: [ghost]\n";
  out = RunCli("topology import " + bad, &rc);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("unknown chunkserver ghost"), std::string::npos) << out;
  std::ofstream(bad) << "datacenters: [\n";
  out = RunCli("topology import " + bad, &rc);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("bad topology YAML"), std::string::npos) << out;
  EXPECT_EQ(RunCli("topology export", &rc), exported);
  json topo = CliJson("topology show");
  EXPECT_EQ(topo["racks"].size(), 4u);
}

class BalancerTest : public TopologyTest {
 protected:
  void Configure(local::LocalClusterOptions* options) override {
    TopologyTest::Configure(options);
    options->disk_capacity_mib = 256;  // usage = replica bytes, so the servers differ
  }
};

TEST_F(BalancerTest, FillsAnEmptyServerUntilEveryServerIsWithinTheBand) {
  ASSERT_OK(client_->CreateProject("t"));
  const std::string data = RandomBytes(48 << 20, 4);
  WriteFile("t", "f", data, 1 << 20);  // 144 replicas of 1 MiB, ~7% of each server
  // Empty one server: drain it, then return it to service.
  json st = CliJson("cluster status");
  const std::string server = st["servers"][0]["server_id"];
  int rc = 0;
  ASSERT_EQ((RunCli("topology drain " + server, &rc), rc), 0);
  ASSERT_TRUE(WaitUntil([&] { return ServerStatus(server)["admin_state"] == "drained"; }));
  ASSERT_EQ((RunCli("topology activate " + server, &rc), rc), 0);
  ASSERT_TRUE(WaitUntil([&] { return ServerStatus(server)["used_bytes"] == 0; }));

  std::string out = RunCli("balancer start --band 0.01", &rc);
  ASSERT_EQ(rc, 0) << out;
  ASSERT_TRUE(WaitUntil([&] { return CliJson("balancer status")["running"] == false; }));
  // Usage is reported by heartbeats: wait for a fresh one, then check the band.
  absl::SleepFor(absl::Seconds(1.5));
  json bal = CliJson("balancer status");
  EXPECT_GT(bal["moves_done"].get<int>(), 0);
  EXPECT_EQ(bal["bytes_moved"].get<uint64_t>(), bal["moves_done"].get<uint64_t>() << 20);
  const double mean = bal["fill_mean"];
  // Within the band, plus one chunk of rounding (1 MiB of 256 MiB).
  EXPECT_LE(bal["fill_max"].get<double>(), mean + 0.01 + 1.0 / 256) << bal.dump();
  EXPECT_GE(bal["fill_min"].get<double>(), mean - 0.01 - 1.0 / 256) << bal.dump();
  EXPECT_GT(ServerStatus(server)["replicas"].get<int>(), 0);
  EXPECT_EQ(CliJson("cluster status")["chunks_rack_unsafe"], 0);
  ExpectContents("t", "f", data);
}

}  // namespace
}  // namespace ternion
