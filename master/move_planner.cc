#include "master/move_planner.h"

#include <algorithm>

namespace ternion::master {

const char* MoveReasonName(MoveReason r) {
  switch (r) {
    case MoveReason::kRepair:
      return "repair";
    case MoveReason::kPolicy:
      return "policy";
    case MoveReason::kDrain:
      return "drain";
    case MoveReason::kBalance:
      return "balance";
  }
  return "unknown";
}

std::optional<MoveDecision> PlanChunkMove(const ChunkMoveView& chunk, const MovePlanContext& ctx,
                                          absl::BitGenRef gen) {
  const PlacementPolicy& placement = *ctx.placement;
  if (!chunk.stable) return std::nullopt;
  std::vector<uint32_t> replicas;
  int live = 0;
  for (const HolderView& h : chunk.holders) {
    replicas.push_back(h.server);
    live += h.live;
  }
  if (live == 0) return std::nullopt;  // lost: nothing to copy from

  MoveDecision d;
  std::vector<uint32_t> avoid = replicas;
  const bool repair = live < ctx.wanted_replicas;
  if (repair && !ctx.repairs_allowed) return std::nullopt;  // wait for the grace period's end
  if (repair) {
    d.reason = MoveReason::kRepair;
    for (const HolderView& h : chunk.holders) {
      if (!h.live) {
        d.victim = h.server;  // replaced by the new copy
        break;
      }
    }
  }
  for (const HolderView& h : chunk.holders) {
    if (repair || d.victim) break;
    if (h.draining) {
      d.victim = h.server;
      d.reason = MoveReason::kDrain;
    }
  }
  const bool rack_safe = placement.RackSafe(replicas);
  if (!repair && !d.victim && !rack_safe) {
    // A replica whose rack another replica shares; the later one moves.
    for (size_t i = replicas.size() - 1; i > 0 && !d.victim; --i) {
      for (size_t j = 0; j < i; ++j) {
        if (placement.server(replicas[i]).rack == placement.server(replicas[j]).rack) {
          d.victim = replicas[i];
          break;
        }
      }
    }
  }
  if (!repair && !d.victim && ctx.balance.active) {
    for (uint32_t r : replicas) {
      if (r < ctx.balance.excess.size() && ctx.balance.excess[r] > 0) {
        d.victim = r;
        d.reason = MoveReason::kBalance;
        avoid.insert(avoid.end(), ctx.balance.not_below_mean.begin(),
                     ctx.balance.not_below_mean.end());
        break;
      }
    }
  }
  if (!repair && !d.victim) return std::nullopt;

  std::vector<uint32_t> kept;
  for (const HolderView& h : chunk.holders) {
    if (h.server != d.victim && (!repair || h.live)) kept.push_back(h.server);
  }
  absl::StatusOr<Placement> placed = placement.Choose(1, kept, avoid, gen);
  if (!placed.ok()) return std::nullopt;
  // A move must not make placement worse: a policy move must fix rack-safety, and any other
  // move must keep it. A repair takes what it can get: three copies beat two.
  if (!repair && (d.reason == MoveReason::kPolicy || rack_safe) && !placed->rack_safe) {
    return std::nullopt;
  }
  d.to = placed->servers[0];
  d.priority = repair ? live : 10 + static_cast<int>(d.reason);
  return d;
}

}  // namespace ternion::master
