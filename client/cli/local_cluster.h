#pragma once

// A local cluster on this machine: one master and chunkservers spread over racks, on free
// loopback ports, as child processes that outlive the caller. Used by `ternion local up|down`,
// the demo, the integration tests and the benchmark.
//
// Layout of DIR: cluster.env (TERNION_MASTER=host:port, TERNION_PROFILE=DIR/admin.profile),
// cluster.json (every process with its pid, role, rack, address and argv), master.key (the
// master key, 0600), admin.profile (the cluster admin's AccessKey, 0600), tls/ (the cluster's
// CA and certificates, security/certificates.h; absent with `insecure`), master/ (metadata),
// cs-<rack>-<n>/disk<k>/ (data), logs/*.log. Under TLS a chunkserver's id is its name.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "security/credentials.h"
#include "security/tls.h"
#include "ternion/client.h"

namespace ternion::local {

struct LocalClusterOptions {
  std::string dir;
  int racks = 3;
  int per_rack = 2;
  int disks_per_server = 1;
  double dead_after_s = 30;
  double graceful_grace_s = 600;  // the master's --graceful-grace
  double heartbeat_s = 1;
  uint64_t default_chunk_size_mib = 64;
  double move_scan_s = 2;          // the master's --move-scan-interval
  double report_s = 300;           // chunkservers' --report-interval
  double lease_s = 60;             // the master's --lease
  double lease_hard_limit_s = 3600;  // the master's --lease-hard-limit
  double scrub_interval_s = 86400; // chunkservers' --scrub-interval
  uint64_t disk_capacity_mib = 0;  // chunkservers' --disk-capacity-mib (0: filesystem figures)
  // Chunkservers' --journal-mib: smaller than a production disk's, as a local cluster's servers
  // share one filesystem (and tests start many of them).
  uint64_t journal_mib = 16;
  double token_lifetime_s = 600;   // the master's --token-lifetime
  bool insecure = false;           // plaintext instead of TLS
  std::string bin_dir;  // where ternion-master and ternion-chunkserver are; default: beside us
};

struct LocalProcess {
  std::string name;  // "master", "cs-r1-0", ...
  std::string role;  // master | chunkserver
  std::string rack;
  std::string address;
  int metrics_port = -1;
  int pid = 0;
  std::vector<std::string> argv;
  std::vector<std::string> data_dirs;
};

struct LocalCluster {
  std::string dir;
  std::string master_address;
  std::string profile;                  // DIR/admin.profile
  security::Credentials admin;          // read from it
  security::TlsConfig tls;              // the admin's transport: TLS trusting DIR/tls/ca.crt
  std::vector<LocalProcess> processes;
};

// Starts the cluster and returns once every chunkserver has registered with the master. Rack
// rack<N> is added to the topology in power domain pd<N> before its chunkservers start.
absl::StatusOr<LocalCluster> StartLocalCluster(const LocalClusterOptions& options);

// Options for a client of cluster `c` acting as its cluster admin.
ClientOptions AdminClientOptions(const LocalCluster& c);
// A channel to the master of `c` signing as its cluster admin.
std::shared_ptr<grpc::Channel> AdminMasterChannel(const LocalCluster& c);
// A channel to the chunkserver at `address` of `c` (over its TLS, without a certificate).
std::shared_ptr<grpc::Channel> ChunkserverChannel(const LocalCluster& c,
                                                  const std::string& address);

// Reads DIR/cluster.json.
absl::StatusOr<LocalCluster> LoadLocalCluster(const std::string& dir);

// Stops exactly the processes recorded in DIR/cluster.json (SIGTERM, then SIGKILL after a
// grace period). Processes already gone are skipped.
absl::Status StopLocalCluster(const std::string& dir);

// Whether a recorded process is running (false once it has exited, even if not yet reaped).
bool ProcessAlive(const std::string& dir, const std::string& name);

// kill -9 of one recorded process.
absl::Status KillProcess(const std::string& dir, const std::string& name);

// SIGTERM to one recorded process (a chunkserver then tells the master it stops gracefully);
// waits up to 10 s for it to exit, then kills it.
absl::Status StopProcess(const std::string& dir, const std::string& name);

// Starts a recorded process again with its recorded argv (same ports and directories) plus
// `extra_args` (not recorded), and waits until it serves.
absl::Status RestartProcess(const std::string& dir, const std::string& name,
                            const std::vector<std::string>& extra_args = {});

// Waits until the master reports `live` live chunkservers.
absl::Status WaitForLiveServers(const LocalCluster& c, int live, double timeout_s);

}  // namespace ternion::local
