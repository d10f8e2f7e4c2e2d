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
  int live = 0, live_elsewhere = 0, away = 0;
  for (const HolderView& h : chunk.holders) {
    replicas.push_back(h.server);
    live += h.live;
    live_elsewhere += h.live && !h.away;
    away += h.away;
  }
  if (live == 0) return std::nullopt;  // lost: nothing to copy from

  MoveDecision d;
  std::vector<uint32_t> avoid = replicas;
  // Replicas on away servers count while enough live ones remain elsewhere; with fewer, one
  // of them is replaced now, even if it is still live (its server is about to go).
  const int enough_elsewhere = std::min(2, ctx.wanted_replicas - 1);
  const bool emergency = away > 0 && live_elsewhere < enough_elsewhere;
  const bool repair = emergency || live_elsewhere + away < ctx.wanted_replicas;
  if (repair && !ctx.repairs_allowed) return std::nullopt;  // wait for the grace period's end
  if (repair) {
    d.reason = MoveReason::kRepair;
    // The replica the new copy replaces: a dead one not away, else (an emergency) one away,
    // a dead one first.
    auto pick = [&](auto wanted) {
      for (const HolderView& h : chunk.holders) {
        if (!d.victim && wanted(h)) d.victim = h.server;
      }
    };
    pick([](const HolderView& h) { return !h.live && !h.away; });
    if (emergency) {
      pick([](const HolderView& h) { return h.away && !h.live; });
      pick([](const HolderView& h) { return h.away; });
    }
  }
  // No move but a repair takes a replica off an away server: that would re-replicate it.
  const auto& holders = chunk.holders;
  for (const HolderView& h : holders) {
    if (repair || d.victim) break;
    if (h.draining && !h.away) {
      d.victim = h.server;
      d.reason = MoveReason::kDrain;
    }
  }
  const bool rack_safe = placement.RackSafe(replicas);
  if (!repair && !d.victim && !rack_safe) {
    // A replica whose rack another replica shares; the later one moves (the earlier one when
    // the later one is away).
    for (size_t i = replicas.size() - 1; i > 0 && !d.victim; --i) {
      for (size_t j = 0; j < i && !d.victim; ++j) {
        if (placement.server(replicas[i]).rack != placement.server(replicas[j]).rack) continue;
        if (!holders[i].away) {
          d.victim = replicas[i];
        } else if (!holders[j].away) {
          d.victim = replicas[j];
        }
      }
    }
  }
  if (!repair && !d.victim && ctx.balance.active) {
    for (const HolderView& h : holders) {
      const uint32_t r = h.server;
      if (r < ctx.balance.excess.size() && ctx.balance.excess[r] > 0 && !h.away) {
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
    if (h.server != d.victim && (!repair || h.live || h.away)) {
      kept.push_back(h.server);
    }
  }
  absl::StatusOr<Placement> placed = placement.Choose(1, kept, avoid, gen);
  if (!placed.ok()) return std::nullopt;
  // A move must not make placement worse: a policy move must fix rack-safety, and any other
  // move must keep it. A repair takes what it can get: three copies beat two.
  if (!repair && (d.reason == MoveReason::kPolicy || rack_safe) && !placed->rack_safe) {
    return std::nullopt;
  }
  d.to = placed->servers[0];
  d.priority = emergency ? 0 : repair ? live : 10 + static_cast<int>(d.reason);
  return d;
}

}  // namespace ternion::master
