#pragma once

// ChunkHealthReport is the cluster report's chunk counts (how many chunks are healthy, under-
// replicated, rack-unsafe, lost, corrupt), computed by walks of the chunk map and kept: status
// and fsck ask for a walk that starts after they ask (concurrent askers share one), /metrics
// reads the latest one (a background thread walks every --status-interval), so a scrape never
// walks. The walk itself is the caller's (the master walks its chunk map in slices, releasing
// its mutex between them); this class only schedules walks and keeps their result. Thread-safe;
// its lock is taken before the master's.

#include <atomic>
#include <cstdint>
#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "master/health.h"

namespace ternion::master {

struct ChunkHealth {
  uint64_t total = 0, replicas = 0, corrupt = 0, lost = 0, under_replicated = 0,
           rack_unsafe = 0;
  HealthExamples examples;  // the first few chunk ids of each problem
};

// What chunk `id` adds to the counts: its replicas, how many of them are live, whether they sit
// on distinct racks, and whether damaged copies of it are kept in quarantine.
void CountChunk(uint64_t id, int replicas, int live, int wanted, bool rack_safe,
                bool has_damaged_copies, ChunkHealth* h);

class ChunkHealthReport {
 public:
  explicit ChunkHealthReport(std::function<ChunkHealth()> walk) : walk_(std::move(walk)) {}

  // The counts of a walk that started after this call.
  ChunkHealth Fresh() ABSL_LOCKS_EXCLUDED(mu_);
  // The counts of the latest finished walk (all zero before the first); never walks.
  ChunkHealth Latest() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  const std::function<ChunkHealth()> walk_;
  std::atomic<uint64_t> walks_started_{0};
  absl::Mutex mu_;  // one walk at a time
  uint64_t latest_walk_ ABSL_GUARDED_BY(mu_) = 0;
  ChunkHealth latest_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ternion::master
