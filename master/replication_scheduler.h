#pragma once

// ReplicationScheduler carries out the master's replica moves (repairs, drains, the balancer).
// One thread takes the moves that fit the per-server copy slots (Master::TakeMoves) and starts
// each as an asynchronous CopyChunk call to its target, which pulls the bytes from the source
// chunkserver, verifies them and paces itself to the per-server bandwidth cap; the master never
// carries data. As copies finish, the thread reports them back in batches (one durable metadata
// wait per batch) and then drops the replica that was moved away, or the new copy when the
// master refused it. So the copies under way are bounded per server, not cluster-wide, and
// recovery grows with the number of servers, with one thread in the master. The same thread
// recovers abandoned leases (master/lease_recovery.h), which also needs the chunkservers.

#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "master/master.h"
#include "security/tls.h"
#include "ternion/v1/chunkserver.grpc.pb.h"

namespace ternion::master {

struct ReplicationSchedulerOptions {
  // How often the thread asks for moves when no copy has finished (each ask also plans a slice).
  absl::Duration idle_poll = absl::Milliseconds(250);
  // How often it looks for leases past the hard limit to recover (master/lease_recovery.h).
  absl::Duration lease_recovery_interval = absl::Seconds(5);
  // How the master reaches chunkservers (its own certificate, under TLS).
  security::TlsConfig tls = security::TlsConfig::Insecure();
};

class ReplicationScheduler {
 public:
  ReplicationScheduler(Master* master, ReplicationSchedulerOptions options);
  // Stops taking moves, cancels the calls under way and waits for them to end.
  ~ReplicationScheduler();

 private:
  struct CopyCall;
  void Run();
  void StartCopy(ReplicaMove move, const ternion::v1::ReplicationLimits& limits);
  void DropReplica(const std::string& address, const ReplicaMove& m);
  // Recovers the leases past the hard limit: asks each one's last chunk's replicas for their
  // length (a short call each, to live servers only) and has the master commit it.
  void RecoverLeases();
  ternion::v1::ChunkServerService::Stub* StubFor(const std::string& address);

  Master* const master_;
  const ReplicationSchedulerOptions options_;
  absl::flat_hash_map<std::string, std::unique_ptr<ternion::v1::ChunkServerService::Stub>>
      stubs_;  // by address; used by the scheduler thread only

  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::pair<ReplicaMove, absl::Status>> finished_ ABSL_GUARDED_BY(mu_);
  // Calls under way (copies and drops), to cancel and wait for at shutdown.
  absl::flat_hash_set<grpc::ClientContext*> calls_ ABSL_GUARDED_BY(mu_);
  absl::Time last_lease_recovery_ = absl::InfinitePast();  // scheduler thread only
  std::string lease_cursor_;                               // scheduler thread only
  std::thread thread_;
};

}  // namespace ternion::master
