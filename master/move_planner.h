#pragma once

// PlanChunkMove decides whether one chunk needs a replica moved, which one, where to, and why
// (SPEC section 4): the one place that decision is made. Pure: it reads a view of the chunk and
// of the cluster and returns a decision; the master applies it (queues the move, counts the
// bytes against the target and the balancer's figures). Unit-tested from hand-built views.
//
// In order of need:
//  - repair: fewer live replicas than wanted (after the start-up grace period); the new copy
//    replaces a dead replica, placed wherever the rules allow (three copies beat two). A replica
//    on a server that is away (in maintenance, or stopping gracefully) counts as present, live
//    or not, while the chunk has at least two live replicas elsewhere (one when it wants two);
//    with fewer, the chunk is repaired at once, before any other (an emergency), the new copy
//    replacing a dead replica or else one on an away server;
//  - drain: a replica on a draining or decommissioning server;
//  - policy: replicas sharing a rack while a rack-safe placement exists (the later one moves);
//  - balance: while the balancer runs, a replica on a server above the mean fill, to a server
//    below it.
// Only stable chunks move (full, sealed, or without a writer), a chunk with no live replica has
// nothing to copy from, and no move other than a repair may make rack-safety worse.

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/random/bit_gen_ref.h"
#include "absl/types/span.h"
#include "master/placement_policy.h"

namespace ternion::master {

enum class MoveReason { kRepair, kDrain, kPolicy, kBalance };
const char* MoveReasonName(MoveReason r);

// One replica of the chunk, as the master sees its server now.
struct HolderView {
  uint32_t server = 0;  // its number in the PlacementPolicy
  bool live = false;
  bool draining = false;  // draining or decommissioning
  bool away = false;      // in maintenance or stopping gracefully
};

struct ChunkMoveView {
  std::vector<HolderView> holders;  // in the chunk map's replica order
  bool stable = false;              // its bytes can no longer change
};

// The balancer's figures for the current pass (see Master::StartMovePass); inactive unless the
// balancer runs and its previous moves have settled.
struct BalanceView {
  bool active = false;
  absl::Span<const int64_t> excess;           // bytes each server is above the mean fill
  absl::Span<const uint32_t> not_below_mean;  // servers no balance move may go to
};

struct MovePlanContext {
  const PlacementPolicy* placement = nullptr;
  int wanted_replicas = 3;
  bool repairs_allowed = true;  // false during the master's start-up grace period
  BalanceView balance;
};

struct MoveDecision {
  MoveReason reason = MoveReason::kPolicy;
  std::optional<uint32_t> victim;  // the replica replaced (dead) or moved away; none: add one
  uint32_t to = 0;
  int priority = 0;  // lower first: a repair's is its number of live replicas, an emergency's 0
};

std::optional<MoveDecision> PlanChunkMove(const ChunkMoveView& chunk, const MovePlanContext& ctx,
                                          absl::BitGenRef gen);

}  // namespace ternion::master
