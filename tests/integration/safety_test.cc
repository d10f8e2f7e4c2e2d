// Data safety on a real cluster: nothing is destroyed on a guess. A master on the wrong metadata
// cannot make chunkservers wipe their replicas; replicas a master does not know are quarantined
// before any wipe; a report that would delete much of a server trips the deletion valve; the
// last copies of a chunk are kept even when damaged.

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/testutil/cluster_fixture.h"

namespace ternion {
namespace {

using nlohmann::json;
using testing::RandomBytes;

// Runs a shell command; returns its stdout+stderr and sets *exit_code.
std::string RunCommand(const std::string& cmd, int* exit_code) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  int rc = pclose(p);
  *exit_code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  return out;
}

class SafetyTest : public testing::ClusterFixture {
 protected:
  void Configure(local::LocalClusterOptions* options) override {
    options->racks = 3;
    options->per_rack = 1;
    options->heartbeat_s = 0.3;
    options->dead_after_s = 30;
  }

  // Path -> bytes of every replica file (data and meta) on every chunkserver disk.
  std::map<std::string, std::string> ReplicaFiles() {
    std::map<std::string, std::string> out;
    for (const auto& p : cluster_.processes) {
      for (const auto& d : p.data_dirs) {
        for (const auto& e : std::filesystem::recursive_directory_iterator(d)) {
          const std::string path = e.path();
          if (!e.is_regular_file() || (path.find(".data") == std::string::npos &&
                                       path.find(".meta") == std::string::npos)) {
            continue;
          }
          std::ifstream in(path, std::ios::binary);
          out[path] =
              std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        }
      }
    }
    return out;
  }

  std::string Log(const std::string& name) {
    return ReadFileToString(cluster_.dir + "/logs/" + name + ".log").value_or("");
  }
};

TEST_F(SafetyTest, AMasterOnTheWrongMetadataCannotDestroyTheCluster) {
  ASSERT_OK(client_->CreateProject("t"));
  const std::string data = RandomBytes(8 << 20, 1);
  WriteFile("t", "f", data, 1 << 20);
  const std::map<std::string, std::string> before = ReplicaFiles();
  ASSERT_EQ(before.size(), 2u * 8 * 3);  // data + meta of 8 chunks x 3 replicas

  // The master's directory is mistyped: an empty one. It refuses to start and creates nothing.
  ASSERT_OK(local::KillProcess(cluster_.dir, "master"));
  const std::string bin = TERNION_BIN_DIR;
  const std::string port = cluster_.master_address.substr(cluster_.master_address.rfind(':') + 1);
  const std::string empty_dir = tmp_.path() + "/typo";
  int rc = 0;
  std::string out = RunCommand(bin + "/ternion-master --metadata-dir " + empty_dir + " --port " + port +
                            " --metrics-port -1",
                        &rc);
  EXPECT_NE(rc, 0) << out;
  EXPECT_NE(out.find("--format"), std::string::npos) << out;
  EXPECT_FALSE(std::filesystem::exists(empty_dir + "/CURRENT"));

  // The operator formats it: a new, empty cluster, started on the old master's address.
  out = RunCommand(bin + "/ternion-master --format --metadata-dir " + empty_dir, &rc);
  ASSERT_EQ(rc, 0) << out;
  out = RunCommand(bin + "/ternion-master --format --metadata-dir " + empty_dir, &rc);
  EXPECT_NE(rc, 0) << "a second --format must refuse: " << out;
  EXPECT_NE(out.find("already holds"), std::string::npos) << out;
  ASSERT_OK(local::RestartProcess(cluster_.dir, "master", {"--metadata-dir", empty_dir}));
  const std::string old_id = ReadFileToString(cluster_.processes[1].data_dirs[0] + "/cluster")
                                 .value_or("");
  ASSERT_NE(old_id.find("cluster_id=tcl-"), std::string::npos) << old_id;
  // The old chunkservers refuse to join it, and it refuses them; nobody wipes anything.
  absl::SleepFor(absl::Seconds(4));  // a dozen heartbeat intervals
  const json st = CliJson("cluster status");
  EXPECT_EQ(st["live_servers"], 0) << st.dump(2);
  EXPECT_EQ(st["servers"].size(), 0u);
  const std::string cs_log = Log(cluster_.processes[1].name);
  EXPECT_NE(cs_log.find("belongs to cluster " + old_id.substr(old_id.find("tcl-"), 36)),
            std::string::npos)
      << cs_log;
  EXPECT_NE(cs_log.find("but this master serves cluster tcl-"), std::string::npos);
  EXPECT_EQ(ReplicaFiles(), before);

  // The right master comes back: every byte is there and readable.
  ASSERT_OK(local::KillProcess(cluster_.dir, "master"));
  ASSERT_OK(local::RestartProcess(cluster_.dir, "master"));
  ASSERT_OK(local::WaitForLiveServers(cluster_.master_address, 3, 30));
  ExpectContents("t", "f", data);
  EXPECT_EQ(ReplicaFiles(), before);
}

}  // namespace
}  // namespace ternion
