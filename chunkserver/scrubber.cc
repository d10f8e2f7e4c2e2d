#include "chunkserver/scrubber.h"

#include "absl/time/clock.h"
#include "common/logging.h"
#include "common/metrics.h"

namespace ternion::chunkserver {

namespace {

constexpr uint64_t kPiece = 1 << 20;

prometheus::Counter* ScrubbedBytes() {
  static prometheus::Counter* c = GetCounter("ternion_chunkserver_scrubbed_bytes_total",
                                             "Replica bytes re-verified by the scrubber.");
  return c;
}

}  // namespace

Scrubber::Scrubber(ChunkStore* store, ScrubberOptions options)
    : store_(store), options_(options), thread_([this] { Run(); }) {}

Scrubber::~Scrubber() {
  stop_.Notify();
  thread_.join();
}

void Scrubber::Run() {
  ScrubbedBytes();
  while (!stop_.HasBeenNotified()) {
    const absl::Time start = absl::Now();
    for (const ReplicaInfo& r : store_->ListReplicas()) {
      if (!r.writing && !Verify(r)) return;
    }
    stop_.WaitForNotificationWithTimeout(options_.pass_interval - (absl::Now() - start));
  }
}

bool Scrubber::Verify(const ReplicaInfo& r) {
  auto reader = store_->OpenRead(r.chunk_id, r.version);
  if (!reader.ok()) return true;  // deleted or replaced meanwhile
  std::string buf;
  for (uint64_t offset = 0; offset < r.length; offset += kPiece) {
    const absl::Time start = absl::Now();
    absl::Status s = (*reader)->Read(offset, std::min(kPiece, r.length - offset), &buf);
    if (absl::IsDataLoss(s)) {
      GetCounter("ternion_chunkserver_checksum_errors_total",
                 "Checksum mismatches found in received frames or stored blocks.")
          ->Increment();
      reader->reset();
      store_->QuarantineCorrupt(r.chunk_id);
      return true;
    }
    if (!s.ok()) return true;  // gone or changed: the next pass sees it again
    ScrubbedBytes()->Increment(buf.size());
    // Keep to the rate: a piece of n bytes takes at least n / rate seconds.
    const absl::Duration budget = absl::Seconds(buf.size() / options_.bytes_per_second);
    const absl::Duration spent = absl::Now() - start;
    if (spent < budget && stop_.WaitForNotificationWithTimeout(budget - spent)) return false;
    if (stop_.HasBeenNotified()) return false;
  }
  return true;
}

}  // namespace ternion::chunkserver
