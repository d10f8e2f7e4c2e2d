#include "master/chunk_health_report.h"

namespace ternion::master {

void CountChunk(int replicas, int live, int wanted, bool rack_safe, bool has_damaged_copies,
                ChunkHealth* h) {
  ++h->total;
  h->replicas += replicas;
  if (live == 0 && has_damaged_copies) {
    ++h->corrupt;  // no intact copy, but damaged ones kept: an operator may salvage blocks
  } else if (live == 0) {
    ++h->lost;
  } else if (live < wanted) {
    ++h->under_replicated;
  }
  h->rack_unsafe += !rack_safe;
}

ChunkHealth ChunkHealthReport::Fresh() {
  const uint64_t asked = walks_started_.load();
  absl::MutexLock walking(&mu_);
  if (latest_walk_ > asked) return latest_;  // a walk that started after the ask just finished
  const uint64_t walk = ++walks_started_;
  latest_ = walk_();
  latest_walk_ = walk;
  return latest_;
}

ChunkHealth ChunkHealthReport::Latest() {
  absl::MutexLock lock(&mu_);
  return latest_;
}

}  // namespace ternion::master
