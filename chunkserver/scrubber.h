#pragma once

// Scrubber re-reads every replica of a chunkserver in the background at a bounded rate and
// verifies its block checksums (ReplicaReader does). A replica that fails is dropped from the
// store and queued as corrupt, so the next report makes the master replace it from a good copy.
// Replicas being written are skipped until their writer is done.

#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "chunkserver/chunk_store.h"

namespace ternion::chunkserver {

struct ScrubberOptions {
  double bytes_per_second = 16 << 20;               // read rate ceiling
  absl::Duration pass_interval = absl::Hours(24);  // from the start of one pass to the next
};

class Scrubber {
 public:
  Scrubber(ChunkStore* store, ScrubberOptions options);  // starts the thread
  ~Scrubber();                                          // stops and joins it

 private:
  void Run();
  // Verifies one replica; false when the scrubber is stopping.
  bool Verify(const ReplicaInfo& r);

  ChunkStore* const store_;
  const ScrubberOptions options_;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace ternion::chunkserver
