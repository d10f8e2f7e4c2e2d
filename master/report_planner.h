#pragma once

// The report planner: what the master decides about each replica of a chunkserver's full
// report (GFS's "the chunkserver has the final word on what it holds"), one pure function per
// kind of replica: reported as held, placed there by the chunk map but missing from the report,
// and held in quarantine. Master::Reconcile gathers the facts and applies the verdicts.
//
// Nothing is destroyed on a guess. Every verdict that wipes a replica rests on positive
// knowledge: the chunk was deleted, a newer version or a longer acknowledged length exists, the
// chunk is whole on live servers elsewhere, the operator said so, or an unknown chunk's
// quarantine delay is over. A replica of a chunk the master does not know is quarantined, never
// wiped at once (and the deletion valve may hold even that, see DeletionValveTrips).

#include <cstdint>

namespace ternion::master {

// What the master knows of one chunk when it judges one server's replica of it.
struct ChunkFacts {
  bool known = false;        // the chunk map has it
  bool deleted = false;      // deleted, not yet wiped everywhere
  bool placed_here = false;  // the map places a replica on the reporting server
  uint64_t version = 0;
  uint64_t length = 0;       // acknowledged bytes
  bool stable = false;       // its bytes can no longer change (full, sealed, or no writer)
  int live_replicas = 0;     // the map's replicas on live servers
  int wanted_replicas = 3;
};

// A replica the server reports holding.
enum class ReportedVerdict {
  kKeep,          // a good replica where the map expects it
  kQuarantine,    // of a chunk the master does not know
  kWipeDeleted,   // its chunk was deleted
  kWipeExtra,     // not placed here, and the chunk is whole on live servers elsewhere
  kAdopt,         // not placed here, the chunk is short of replicas, and this copy is good
  kKeepUnplaced,  // not placed here, the chunk is short, this copy is not good enough: kept
  kArriving,      // a move is copying it here; the move records it
  kReplace,       // placed here but stale or short: dropped from the map, then wiped
};
ReportedVerdict JudgeReported(const ChunkFacts& chunk, uint64_t version, uint64_t length,
                              bool arriving_by_move);

// A replica the map places on the server that its report does not list.
enum class MissingVerdict {
  kWiped,  // of a deleted chunk: its wipe is done
  kWait,   // may be on its way (a writer, a recent change) or is set aside intact in quarantine
  kDrop,   // the server no longer has it: dropped from the map, and so repaired
};
MissingVerdict JudgeMissing(const ChunkFacts& chunk, bool in_quarantine, bool quarantined_intact,
                            bool lost_for_certain, bool recently_changed);

// A replica the server holds in quarantine (set aside: unknown chunk, or bad blocks).
enum class QuarantineVerdict {
  kKeep,     // a damaged copy may hold the only intact bytes of some blocks
  kWipe,
  kRelease,  // its chunk is known and placed here again, intact and current: back in service
};
QuarantineVerdict JudgeQuarantined(const ChunkFacts& chunk, uint64_t version, bool corrupt,
                                   bool operator_said_wipe, bool orphan_delay_over);

}  // namespace ternion::master
