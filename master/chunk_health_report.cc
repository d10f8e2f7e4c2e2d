#include "master/chunk_health_report.h"

namespace ternion::master {

void CountChunk(uint64_t id, int replicas, int live, int wanted, bool rack_safe,
                bool has_damaged_copies, ChunkHealth* h) {
  constexpr size_t kExamples = 5;
  auto note = [id](uint64_t* count, std::vector<uint64_t>* examples) {
    if ((*count)++ < kExamples) examples->push_back(id);
  };
  ++h->total;
  h->replicas += replicas;
  if (live == 0 && has_damaged_copies) {
    // No intact copy, but damaged ones kept: an operator may salvage blocks.
    note(&h->corrupt, &h->examples.corrupt);
  } else if (live == 0) {
    note(&h->lost, &h->examples.lost);
  } else if (live < wanted) {
    note(&h->under_replicated, &h->examples.under_replicated);
  }
  if (!rack_safe) note(&h->rack_unsafe, &h->examples.rack_unsafe);
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
