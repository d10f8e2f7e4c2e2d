#pragma once

// A gtest fixture running a real local cluster (master + chunkservers as separate processes on
// loopback ports chosen at run time), stopped when the test ends.

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "client/cli/local_cluster.h"
#include "common/file_util.h"
#include "security/certificates.h"
#include "security/tls.h"
#include "ternion/client.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"

namespace ternion::testing {

inline std::string RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::string s(n, '\0');
  for (size_t i = 0; i + 8 <= n; i += 8) {
    uint64_t v = gen();
    std::memcpy(&s[i], &v, 8);
  }
  return s;
}

class ClusterFixture : public ::testing::Test {
 protected:
  // Override to shape the cluster before SetUp starts it.
  virtual void Configure(local::LocalClusterOptions* options) {}

  void SetUp() override {
    local::LocalClusterOptions options;
    options.dir = tmp_.path() + "/cluster";
    options.bin_dir = TERNION_BIN_DIR;
    options.racks = 3;
    options.per_rack = 2;
    options.heartbeat_s = 0.5;
    options.dead_after_s = 5;
    Configure(&options);
    auto cluster = local::StartLocalCluster(options);
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = *cluster;
    ClientOptions copts = local::AdminClientOptions(cluster_);
    copts.rpc_timeout = absl::Seconds(20);
    auto client = Client::Connect(copts);
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = std::move(*client);
  }

  void TearDown() override {
    client_.reset();
    if (!cluster_.dir.empty()) {
      EXPECT_OK(local::StopLocalCluster(cluster_.dir));
    }
  }

  // The transport of daemon `name` of this cluster ("master", "cs-rack1-0"): its certificate.
  security::TlsConfig DaemonTls(const std::string& name) {
    const security::CertificateDir certs{cluster_.dir + "/tls"};
    auto tls = security::TlsConfig::Load(
        {.ca = certs.ca_cert(), .cert = certs.cert(name), .key = certs.key(name)});
    EXPECT_TRUE(tls.ok()) << tls.status();
    return tls.ok() ? *tls : security::TlsConfig::Insecure();
  }

  // Runs `ternion --json ARGS` against this cluster and parses its output.
  nlohmann::json CliJson(const std::string& args) {
    int rc = 0;
    std::string out = RunCli("--json " + args, &rc);
    EXPECT_EQ(rc, 0) << out;
    nlohmann::json j = nlohmann::json::parse(out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << out;
    return j;
  }

  // Polls `done` (bounded: up to 60 s) and says whether it became true.
  template <typename Pred>
  bool WaitUntil(Pred done) {
    for (int i = 0; i < 300; ++i) {
      if (done()) return true;
      absl::SleepFor(absl::Milliseconds(200));
    }
    return done();
  }

  // Runs a shell command; returns its stdout and stderr and sets *exit_code.
  static std::string RunCommand(const std::string& cmd, int* exit_code) {
    FILE* p = popen((cmd + " 2>&1").c_str(), "r");
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
    int rc = pclose(p);
    *exit_code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    return out;
  }

  // The master's /metrics page.
  std::string MasterMetrics() {
    int rc = 0;
    return RunCommand("curl -sf http://127.0.0.1:" +
                          std::to_string(cluster_.processes[0].metrics_port) + "/metrics",
                      &rc);
  }

  // Waits until every running chunkserver has applied its write journal to its replica files
  // (ternion_chunkserver_journal_used_bytes is 0), so those files hold every acknowledged byte
  // and stay as they are while nothing is written.
  bool WaitForJournalsApplied() {
    return WaitUntil([&] {
      for (const auto& p : cluster_.processes) {
        if (p.role != "chunkserver") continue;
        int rc = 0;
        const std::string page = RunCommand(
            "curl -sf http://127.0.0.1:" + std::to_string(p.metrics_port) + "/metrics", &rc);
        if (rc != 0) continue;  // not running
        const std::string name = "\nternion_chunkserver_journal_used_bytes ";
        const size_t at = page.find(name);
        if (at == std::string::npos || page.compare(at + name.size(), 2, "0\n") != 0) {
          return false;
        }
      }
      return true;
    });
  }

  // Runs the CLI against this cluster; returns its output and sets *exit_code.
  std::string RunCli(const std::string& args, int* exit_code) {
    return RunAs(cluster_.profile, args, exit_code);
  }

  // Runs the CLI as the user of `profile`.
  std::string RunAs(const std::string& profile, const std::string& args, int* exit_code) {
    return RunCommand(std::string(TERNION_BIN_DIR) + "/ternion --master " +
                          cluster_.master_address + " --profile " + profile + " " + args,
                      exit_code);
  }

  // Creates user `name` and a key for it; returns the profile file holding the key.
  std::string NewUser(const std::string& name, bool cluster_admin = false) {
    CliJson("user create " + name + (cluster_admin ? " --cluster-admin" : ""));
    const std::string profile = tmp_.path() + "/" + name + ".profile";
    int rc = 0;
    std::string out = RunCli("key create --user " + name + " --out " + profile, &rc);
    EXPECT_EQ(rc, 0) << out;
    return profile;
  }

  // Files under every chunkserver data directory whose bytes contain `needle`.
  std::vector<std::string> FilesContaining(const std::string& needle) {
    std::vector<std::string> found;
    for (const auto& p : cluster_.processes) {
      for (const auto& d : p.data_dirs) {
        for (const auto& e : std::filesystem::recursive_directory_iterator(d)) {
          if (!e.is_regular_file()) continue;
          std::ifstream in(e.path(), std::ios::binary);
          std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
          if (bytes.find(needle) != std::string::npos) found.push_back(e.path());
        }
      }
    }
    return found;
  }

  void WriteFile(const std::string& project, const std::string& path, const std::string& data,
                 uint64_t chunk_size = 0) {
    ASSERT_OK_AND_ASSIGN(auto w, client_->Create(project, path, {.chunk_size = chunk_size}));
    for (size_t off = 0; off < data.size(); off += 4 << 20) {
      ASSERT_OK(w->Append(absl::string_view(data).substr(off, 4 << 20)));
    }
    ASSERT_OK(w->Close());
    EXPECT_EQ(w->length(), data.size());
  }

  void ExpectContents(const std::string& project, const std::string& path,
                      const std::string& expected) {
    ASSERT_OK_AND_ASSIGN(auto r, client_->Open(project, path));
    ASSERT_EQ(r->length(), expected.size());
    std::string got;
    for (uint64_t off = 0; off < expected.size(); off += 32 << 20) {
      ASSERT_OK(r->ReadAt(off, 32 << 20, &got));
      ASSERT_EQ(got.size(), std::min<uint64_t>(32 << 20, expected.size() - off));
      ASSERT_TRUE(got == absl::string_view(expected).substr(off, got.size()))
          << "mismatch in the 32 MiB piece at " << off;
    }
  }

  // server_id -> data directories, from the ids the chunkservers persisted in their disks.
  std::map<std::string, std::vector<std::string>> ServerDirs() {
    std::map<std::string, std::vector<std::string>> out;
    for (const auto& p : cluster_.processes) {
      if (p.role != "chunkserver") continue;
      auto id = ReadFileToString(p.data_dirs[0] + "/server_id");
      EXPECT_TRUE(id.ok());
      if (id.ok()) out[*id] = p.data_dirs;
    }
    return out;
  }

  std::string ProcessNameOf(const std::string& server_id) {
    for (const auto& p : cluster_.processes) {
      if (p.role == "chunkserver" && ReadFileToString(p.data_dirs[0] + "/server_id").value_or("") ==
                                         server_id) {
        return p.name;
      }
    }
    return "";
  }

  std::string ServerIdOf(const std::string& process_name) {
    for (const auto& p : cluster_.processes) {
      if (p.name == process_name) {
        return ReadFileToString(p.data_dirs[0] + "/server_id").value_or("");
      }
    }
    return "";
  }

  // Names of the chunkserver processes in a rack.
  std::vector<std::string> ProcessesInRack(const std::string& rack) {
    std::vector<std::string> out;
    for (const auto& p : cluster_.processes) {
      if (p.role == "chunkserver" && p.rack == rack) out.push_back(p.name);
    }
    return out;
  }

  // Waits (bounded: 30 s) until the master counts `live` live servers.
  void WaitForLive(int live) {
    for (int i = 0; i < 150 && CliJson("cluster status")["live_servers"] != live; ++i) {
      absl::SleepFor(absl::Milliseconds(200));
    }
    ASSERT_EQ(CliJson("cluster status")["live_servers"], live);
  }

  // Waits (bounded: 90 s) until every chunk of t/`path` has three replicas on live servers in
  // three racks and nothing is queued, then checks the contents.
  void ExpectRepaired(const std::string& path, const std::string& data) {
    bool healthy = false;
    for (int i = 0; i < 450 && !healthy; ++i) {
      const nlohmann::json st = CliJson("cluster status");
      healthy = st["chunks_under_replicated"] == 0 && st["chunks_lost"] == 0 &&
                st["chunks_rack_unsafe"] == 0 && st["moves_queued"] == 0 &&
                st["moves_in_progress"] == 0;
      if (!healthy) absl::SleepFor(absl::Milliseconds(200));
    }
    ASSERT_TRUE(healthy) << CliJson("cluster status").dump(2);
    const nlohmann::json st = CliJson("cluster status");
    std::set<std::string> live;
    for (const auto& s : st["servers"]) {
      if (s["state"] == "live") live.insert(s["server_id"]);
    }
    const nlohmann::json file = CliJson("stat --chunks t/" + path);
    for (const auto& c : file["chunks"]) {
      std::set<std::string> racks;
      for (const auto& r : c["replicas"]) {
        racks.insert(r["rack"]);
        EXPECT_TRUE(live.contains(r["server_id"])) << c.dump();
      }
      EXPECT_EQ(c["replicas"].size(), 3u) << c.dump();
      EXPECT_EQ(racks.size(), 3u) << c.dump();
    }
    ExpectContents("t", path, data);
  }

  TempDir tmp_;
  local::LocalCluster cluster_;
  std::unique_ptr<Client> client_;
};

// Four racks of two chunkservers with quick failure handling (dead after 2 s, moves planned
// every 0.3 s): the failure and maintenance tests' cluster.
class FourRackFixture : public ClusterFixture {
 protected:
  void Configure(local::LocalClusterOptions* options) override {
    options->racks = 4;
    options->per_rack = 2;
    options->dead_after_s = 2;
    options->move_scan_s = 0.3;
  }
};

}  // namespace ternion::testing
