#pragma once

// A gtest fixture running a real local cluster (master + chunkservers as separate processes on
// loopback ports chosen at run time), stopped when the test ends.

#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <string>

#include "client/cli/local_cluster.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"
#include "ternion/client.h"

namespace ternion::testing {

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
    ClientOptions copts;
    copts.master_address = cluster_.master_address;
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

  // Runs the CLI against this cluster; returns its stdout and sets *exit_code.
  std::string RunCli(const std::string& args, int* exit_code) {
    std::string cmd = std::string(TERNION_BIN_DIR) + "/ternion --master " +
                      cluster_.master_address + " " + args + " 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
    int rc = pclose(p);
    *exit_code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    return out;
  }

  TempDir tmp_;
  local::LocalCluster cluster_;
  std::unique_ptr<Client> client_;
};

}  // namespace ternion::testing
