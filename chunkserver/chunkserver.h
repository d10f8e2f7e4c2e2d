#pragma once

// ChunkServer wires a chunkserver process together: the ChunkStore, the gRPC ChunkService,
// the /metrics endpoint and the registration/heartbeat loop to the master.

#include <google/protobuf/repeated_field.h>

#include <atomic>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "chunkserver/scrubber.h"
#include "chunkserver/write_journal.h"
#include "security/tls.h"

namespace grpc {
class Server;
}

namespace ternion {
class MetricsHttpServer;
}
namespace ternion::v1 {
class ReplicaWipe;
}

namespace ternion::chunkserver {

class ChunkStore;
class ChunkService;

struct ChunkServerOptions {
  std::string master_address;            // host:port of the master
  std::string host = "127.0.0.1";        // address to listen on and advertise
  int port = 0;                          // 0 picks a free port
  int metrics_port = 0;                  // 0 picks a free port; -1 disables /metrics
  std::vector<std::string> data_dirs;    // one per disk
  std::string rack = "default-rack";
  absl::Duration heartbeat_interval = absl::Seconds(1);
  // Full replica reports: this often (the first after a random part of it), and at once when a
  // disk fails.
  absl::Duration report_interval = absl::Minutes(5);
  double wipe_bytes_per_second = 0;  // 0: wipe at disk speed
  // When set, each disk reports this capacity and only its replicas' bytes as used, instead of
  // its filesystem's figures: for test clusters whose servers share one filesystem.
  uint64_t disk_capacity_bytes = 0;
  ScrubberOptions scrub;  // bytes_per_second 0 turns the scrubber off
  uint64_t journal_bytes = kDefaultJournalBytes;  // each disk's write journal
  // Transport. Under TLS the certificate's common name is the server's id (security/tls.h).
  security::TlsConfig tls = security::TlsConfig::Insecure();
};

class ChunkServer {
 public:
  static absl::StatusOr<std::unique_ptr<ChunkServer>> Start(const ChunkServerOptions& options);
  ~ChunkServer();  // shuts down

  // Stops serving. `graceful`: the last heartbeat tells the master so, which then does not
  // declare this server dead for its --graceful-grace (a restart, a reboot).
  void Shutdown(bool graceful = false);
  const std::string& server_id() const { return server_id_; }
  std::string address() const;
  int port() const { return port_; }
  int metrics_port() const;

 private:
  ChunkServer() = default;
  void HeartbeatLoop();
  // Stamps the master's cluster into unstamped data directories; says whether this server
  // belongs to that cluster (logging both ids when it does not).
  bool JoinCluster(const std::string& master_cluster_id);
  // Queues the replicas the master no longer wants here for wiping; reads of them stop now.
  void DeleteReplicas(const google::protobuf::RepeatedPtrField<ternion::v1::ReplicaWipe>& wipes);
  // Quarantines and releases replicas as the master decided; says whether any was moved.
  bool ApplyOrphanDecisions(const google::protobuf::RepeatedField<uint64_t>& quarantine,
                            const google::protobuf::RepeatedField<uint64_t>& release);
  // Wipes queued replicas one at a time, off the heartbeat thread.
  void WipeLoop();

  ChunkServerOptions options_;
  std::string server_id_;
  std::string cluster_id_;  // stamped in the data directories; "" until the first registration
  int port_ = 0;
  std::unique_ptr<ChunkStore> store_;
  std::unique_ptr<ChunkService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<MetricsHttpServer> metrics_;
  absl::Notification stop_;
  std::atomic<bool> graceful_{false};  // set before stop_ is notified
  std::thread heartbeat_;
  std::unique_ptr<Scrubber> scrubber_;
  absl::Mutex wipe_mu_;
  absl::CondVar wipe_cv_;
  std::deque<uint64_t> wipe_queue_ ABSL_GUARDED_BY(wipe_mu_);
  // Queued chunk id -> the newest version its wipe orders cover.
  absl::flat_hash_map<uint64_t, uint64_t> wipe_pending_ ABSL_GUARDED_BY(wipe_mu_);
  std::vector<uint64_t> wiped_ ABSL_GUARDED_BY(wipe_mu_);  // for the next heartbeat
  uint64_t wiped_bytes_ ABSL_GUARDED_BY(wipe_mu_) = 0;
  bool wipe_stop_ ABSL_GUARDED_BY(wipe_mu_) = false;
  std::thread wiper_;
};

}  // namespace ternion::chunkserver
