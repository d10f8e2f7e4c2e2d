#include "master/report_planner.h"

namespace ternion::master {

ReportedVerdict JudgeReported(const ChunkFacts& chunk, uint64_t version, uint64_t length,
                              bool arriving_by_move) {
  if (!chunk.known) return ReportedVerdict::kQuarantine;
  if (chunk.deleted) return ReportedVerdict::kWipeDeleted;
  if (!chunk.placed_here) {
    if (arriving_by_move) return ReportedVerdict::kArriving;
    if (chunk.live_replicas >= chunk.wanted_replicas) return ReportedVerdict::kWipeExtra;
    // Short of replicas: a good copy is adopted (a server back after its chunk was re-placed, a
    // master restored from an older backup), anything else is kept.
    const bool good = version == chunk.version && length >= chunk.length && chunk.stable;
    return good ? ReportedVerdict::kAdopt : ReportedVerdict::kKeepUnplaced;
  }
  // A stale or short replica is replaced only when the chunk is stable and settled: while it is
  // being written, write recovery may be moving this very replica to the new version (a report
  // built just before would otherwise have it wiped, by chunk id, after the move).
  const bool stale = version < chunk.version;
  const bool short_replica = length < chunk.length;
  if (!chunk.stable) return ReportedVerdict::kKeep;
  return stale || short_replica ? ReportedVerdict::kReplace : ReportedVerdict::kKeep;
}

MissingVerdict JudgeMissing(const ChunkFacts& chunk, bool in_quarantine, bool quarantined_intact,
                            bool lost_for_certain, bool recently_changed) {
  if (chunk.deleted) return in_quarantine ? MissingVerdict::kWait : MissingVerdict::kWiped;
  // An adopted orphan still in quarantine is there: it is released.
  if (in_quarantine && quarantined_intact) return MissingVerdict::kWait;
  // The server's word that it lost a replica needs no grace period; otherwise a replica written
  // or recorded just before the report was built may be missing from it.
  if (!lost_for_certain && (!chunk.stable || recently_changed)) return MissingVerdict::kWait;
  return MissingVerdict::kDrop;
}

QuarantineVerdict JudgeQuarantined(const ChunkFacts& chunk, uint64_t version, bool corrupt,
                                   bool operator_said_wipe, bool orphan_delay_over) {
  if (operator_said_wipe) return QuarantineVerdict::kWipe;
  if (!chunk.known) {
    return !corrupt && orphan_delay_over ? QuarantineVerdict::kWipe : QuarantineVerdict::kKeep;
  }
  if (chunk.deleted) return QuarantineVerdict::kWipe;
  if (!corrupt && chunk.placed_here && version == chunk.version) return QuarantineVerdict::kRelease;
  if (!chunk.placed_here && chunk.live_replicas >= chunk.wanted_replicas) {
    return QuarantineVerdict::kWipe;  // whole on live servers elsewhere
  }
  return QuarantineVerdict::kKeep;
}

}  // namespace ternion::master
