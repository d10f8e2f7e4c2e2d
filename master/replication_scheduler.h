#pragma once

// ReplicationScheduler carries out the master's replica moves: a few worker threads each take
// a move from the Master, ask the target chunkserver to copy the chunk from a source
// chunkserver (CopyChunk: the target pulls and verifies the bytes; the master never carries
// data), report the result back, and then drop the replica that was moved away (or the new copy
// when the master refused it). Throttled: at most `workers` copies at once cluster-wide, two per
// server (Master::TakeMoves), and the cluster-wide bandwidth cap split over the workers.

#include <memory>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "master/master.h"

namespace ternion::master {

struct ReplicationSchedulerOptions {
  int workers = 4;
  absl::Duration idle_poll = absl::Milliseconds(250);  // how often an idle worker asks again
};

class ReplicationScheduler {
 public:
  ReplicationScheduler(Master* master, ReplicationSchedulerOptions options);
  ~ReplicationScheduler();  // stops and joins the workers

 private:
  void Work();
  // Copies the chunk and returns the result of the CopyChunk call.
  absl::Status Copy(const ReplicaMove& m);
  void DropReplica(const std::string& address, uint64_t chunk_id);

  Master* const master_;
  const ReplicationSchedulerOptions options_;
  absl::Notification stop_;
  std::vector<std::thread> workers_;
};

}  // namespace ternion::master
