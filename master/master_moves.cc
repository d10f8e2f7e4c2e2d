// Master: planning and bookkeeping of replica moves (copy to a new server, then drop the old
// replica) for policy violations after topology changes, draining servers and the balancer.
// The copying itself is the ReplicationScheduler's; the master never carries data.

#include <cmath>
#include <optional>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "master/master.h"
#include "master/metadata_keys.h"

namespace ternion::master {

namespace {

// Moves planned ahead of the copy slots: enough to fill every slot, at least this many.
constexpr size_t kMinQueuedMoves = 4096;
// Chunks examined per hold of the locks while planning moves (~0.3 ms at 1 M chunks).
constexpr size_t kScanStep = 2048;
// Repairs given another target per TakeMoves call, when theirs is busy (a placement each:
// bounds the call's time under the mutex to well under a millisecond).
constexpr int kRetargetsPerCall = 256;

bool Draining(const ternion::v1::ChunkServerRecord& r) {
  return r.state() == ternion::v1::SERVER_DRAINING ||
         r.state() == ternion::v1::SERVER_DECOMMISSIONING;
}

}  // namespace

ternion::v1::ReplicationLimits Master::ReplicationLimits() {
  absl::MutexLock lock(&chunks_.mu);
  ternion::v1::ReplicationLimits out;
  out.set_bandwidth_bytes_per_s(copy_bandwidth_);
  out.set_copies_per_server(copy_slots_.limit());
  return out;
}

ternion::v1::ReplicationLimits Master::SetReplicationLimits(
    const ternion::v1::ReplicationLimits& req) {
  {
    absl::MutexLock lock(&chunks_.mu);
    if (req.bandwidth_bytes_per_s() > 0) copy_bandwidth_ = req.bandwidth_bytes_per_s();
    if (req.copies_per_server() > 0) copy_slots_.set_limit(req.copies_per_server());
    if (req.bandwidth_bytes_per_s() > 0 || req.copies_per_server() > 0) {
      SaveReplicationSettings(absl::StrCat("replication limits ", copy_bandwidth_, " B/s and ",
                                           copy_slots_.limit(), " copies per server"));
    }
  }
  return ReplicationLimits();
}

bool Master::ReplicationControl(ternion::v1::ReplicationControlRequest::Action action) {
  absl::MutexLock lock(&chunks_.mu);
  const bool pause = action == ternion::v1::ReplicationControlRequest::PAUSE;
  if (action != ternion::v1::ReplicationControlRequest::STATUS && pause != replication_paused_) {
    replication_paused_ = pause;
    SaveReplicationSettings(pause ? "replication pause" : "replication resume");
  }
  return replication_paused_;
}

void Master::SaveReplicationSettings(const std::string& change) {
  ternion::v1::ReplicationSettings settings;
  settings.set_bandwidth_bytes_per_s(copy_bandwidth_);
  settings.set_copies_per_server(copy_slots_.limit());
  settings.set_paused(replication_paused_);
  MetadataBatch batch;
  batch.Put(kReplicationSettingsKey, settings.SerializeAsString());
  CommitAudited(std::move(batch), {.action = "master", .detail = change});
}

bool Master::ChunkStable(const ChunkEntry& e) {
  const std::optional<FileFacts> f = ns_.facts().Get(e.file_id);
  if (!f) return true;
  // A lease past its hard limit still makes the chunk unstable until it is recovered: the
  // replicas may hold flushed bytes the master's length lacks (master/lease_recovery.h).
  return e.length == f->chunk_size || f->sealed || !f->leased;
}

void Master::StartMovePass(absl::Time now) {
  last_move_scan_ = now;
  chunks_.PruneReplicaChanges();
  registry_.ForceSweep();
  RefreshLiveness(now);
  move_queue_.clear();
  queued_chunks_.clear();
  pass_ = MovePass();
  pass_.running = true;

  // The balancer (like HDFS's) runs while some server's fill is more than `band` away from the
  // mean. It works in iterations: it plans moves off servers above the mean (up to each one's
  // excess) onto servers below it (up to each one's deficit), then plans again only when those
  // moves are done and every server involved has reported its usage since.
  std::vector<int64_t>& excess = pass_.excess;
  std::vector<int64_t>& deficit = pass_.deficit;
  std::vector<uint32_t>& not_below_mean = pass_.not_below_mean;
  const size_t servers = registry_.size();
  excess.assign(servers, 0);
  deficit.assign(servers, 0);
  bool& settled = pass_.settled;
  for (const auto& [id, m] : moves_in_flight_) settled &= m.reason != MoveReason::kBalance;
  for (uint32_t o = 0; o < servers; ++o) {
    settled &= registry_.at(o).heartbeats >= registry_.at(o).usage_fresh_after;
  }
  if (balancer_running_ && settled) {
    const PlacementPolicy& placement = registry_.placement();
    double sum = 0;
    int n = 0;
    for (uint32_t o = 0; o < servers; ++o) {
      const ServerInfo& s = registry_.at(o);
      if (!placement.server(o).usable || s.capacity_bytes == 0) continue;
      sum += static_cast<double>(s.used_bytes) / s.capacity_bytes;
      ++n;
    }
    const double mean = n ? sum / n : 0;
    bool outside = false;
    for (uint32_t o = 0; o < servers; ++o) {
      const ServerInfo& s = registry_.at(o);
      const double cap = static_cast<double>(s.capacity_bytes);
      const bool usable = placement.server(o).usable && cap > 0;
      const double fill = usable ? s.used_bytes / cap : 0;
      const int64_t over = static_cast<int64_t>(s.used_bytes - mean * cap);
      if (usable && fill > mean) excess[o] = over;
      if (usable && fill < mean) {
        deficit[o] = -over;
      } else {
        not_below_mean.push_back(o);
      }
      outside |= usable && std::abs(fill - mean) > balancer_band_;
    }
    if (!outside) {
      balancer_running_ = false;
      std::fill(excess.begin(), excess.end(), 0);
      TLOG(INFO) << "balancer: every server is within " << balancer_band_
                 << " of the mean fill " << mean << "; stopping";
    }
  }
}

void Master::PlanMove(uint64_t id, const ChunkEntry& e, absl::Time now) {
  if (e.deleted() || moves_in_flight_.contains(id) || queued_chunks_.contains(id)) return;
  ChunkMoveView view;
  // Whether the chunk is stable takes a file lookup; it is asked below only of a chunk that
  // would move (few), not of every chunk a scan passes.
  view.stable = true;
  for (uint32_t r : e.replica_span()) {
    const ServerInfo& s = registry_.at(r);
    view.holders.push_back({.server = r,
                            .live = registry_.IsLive(s, now),
                            .draining = Draining(s.record),
                            .away = registry_.IsAway(s, now)});
  }
  MovePlanContext ctx;
  ctx.placement = &registry_.placement();
  ctx.wanted_replicas = options_.replicas;
  ctx.repairs_allowed = now - started_ >= options_.dead_after;
  ctx.balance.active = pass_.running && balancer_running_ && pass_.settled;
  ctx.balance.excess = pass_.excess;
  ctx.balance.not_below_mean = pass_.not_below_mean;
  const std::optional<MoveDecision> d = PlanChunkMove(view, ctx, gen_);
  if (!d || !ChunkStable(e)) return;

  ReplicaMove m;
  m.chunk_id = id;
  m.version = e.version;
  m.length = e.length;
  m.project = chunks_.ProjectName(e.project);
  if (d->victim) m.from = server_by_ordinal_[*d->victim]->id;
  m.to = server_by_ordinal_[d->to]->id;
  m.reason = d->reason;
  m.priority = d->priority;
  // The bound of the new replica: the file's chunk size, or (its first file deleted, a
  // snapshot keeping it) its own length, which can no longer grow.
  const std::optional<FileFacts> f = ns_.facts().Get(e.file_id);
  m.chunk_size = f ? f->chunk_size
                     : std::max<uint64_t>(64 << 10, (e.length + (64 << 10) - 1) / (64 << 10) * (64 << 10));
  registry_.placement().AddUsage(d->to, e.length);
  if (d->reason == MoveReason::kBalance) {
    pass_.excess[*d->victim] -= e.length;
    pass_.deficit[d->to] -= e.length;
    if (pass_.deficit[d->to] <= 0) pass_.not_below_mean.push_back(d->to);  // full: no more in
  }
  queued_chunks_.insert(id);
  move_queue_.push_back(std::move(m));
}

size_t Master::ScanMoveSlice(absl::Time now, size_t budget) {
  // Servers that registered since the pass began have no balancer figures: none, then.
  pass_.excess.resize(registry_.size(), 0);
  pass_.deficit.resize(registry_.size(), 0);
  const size_t given = budget;
  // A full queue ends the slice: what is not examined now waits its turn, never skipped. Chunks
  // events flagged (a server died, a report dropped replicas) come first, and may use twice the
  // room, so a queue full of balancer moves never holds up a repair.
  const size_t max_queued = std::max(
      kMinQueuedMoves, registry_.size() * static_cast<size_t>(copy_slots_.limit()));
  auto room = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(chunks_.mu) {
    return move_queue_.size() < max_queued;
  };
  while (!urgent_chunks_.empty() && budget > 0 && move_queue_.size() < 2 * max_queued) {
    const uint64_t id = *urgent_chunks_.begin();
    urgent_chunks_.erase(urgent_chunks_.begin());
    if (auto it = chunks_.table().find(id); it != chunks_.table().end()) {
      PlanMove(id, it->second, now);
    }
    --budget;
  }
  if (pass_.running && room()) {
    auto it = chunks_.table().lower_bound(pass_.cursor);
    for (; it != chunks_.table().end() && budget > 0 && room(); ++it, --budget) {
      PlanMove(it->first, it->second, now);
    }
    if (it == chunks_.table().end()) {
      FinishMovePass(now);
    } else {
      pass_.cursor = it->first;
    }
  }
  return given - budget;
}

void Master::FinishMovePass(absl::Time now) {
  pass_.running = false;
  // A draining server that holds nothing the master needs has finished draining.
  for (uint32_t o = 0; o < registry_.size(); ++o) {
    ServerInfo* s = &registry_.at(o);
    if (!Draining(s->record)) continue;
    const auto& held = chunks_.table().OnServer(o);
    auto needed = [&](uint64_t id) ABSL_SHARED_LOCKS_REQUIRED(chunks_.mu) {
      return !chunks_.table().at(id).deleted();
    };
    if (std::any_of(held.begin(), held.end(), needed)) continue;
    bool moving = false;
    for (const auto& [id, m] : moves_in_flight_) moving |= m.from == s->record.server_id();
    if (moving) continue;
    ternion::v1::ChunkServerRecord rec = s->record;
    rec.set_state(rec.state() == ternion::v1::SERVER_DRAINING
                      ? ternion::v1::SERVER_DRAINED
                      : ternion::v1::SERVER_DECOMMISSIONED);
    MetadataBatch batch;
    PutServer(&batch, rec);
    CommitAudited(
        std::move(batch),
        {.action = "master",
         .detail = absl::StrCat("server-state ", rec.server_id(), " ",
                                ternion::v1::ServerAdminState_Name(s->record.state()), " -> ",
                                ternion::v1::ServerAdminState_Name(rec.state()), " (drained)")});
    s->record = std::move(rec);
    registry_.RefreshPlacement(*s, now);
  }
}

std::vector<ReplicaMove> Master::TakeMoves(int max) {
  {
    absl::MutexLock lock(&chunks_.mu);
    if (replication_paused_) return {};  // what is planned waits; copies running finish
  }
  // Plan: examine up to move_scan_slice chunks, kScanStep at a time, letting both locks go
  // between steps (and sleeping briefly, so a waiting call takes them: absl::Mutex makes no
  // hand-off), so no call waits behind a whole slice.
  for (size_t budget = options_.move_scan_slice; budget > 0;) {
    {
      absl::MutexLock lock(&chunks_.mu);
      absl::MutexLock servers(&registry_.mu);
      const absl::Time now = Now();
      RefreshLiveness(now);
      if (!pass_.running && now - last_move_scan_ >= options_.move_scan_interval) {
        StartMovePass(now);
      }
      if (!pass_.running && urgent_chunks_.empty()) break;
      const size_t step = std::min(budget, kScanStep);
      const size_t examined = ScanMoveSlice(now, step);
      if (examined < step) break;  // the queue is full, or nothing is left to examine
      budget -= examined;
    }
    if (budget > 0) absl::SleepFor(absl::Microseconds(50));
  }
  absl::MutexLock lock(&chunks_.mu);
  absl::MutexLock servers(&registry_.mu);
  const absl::Time now = Now();
  // Most endangered first: chunks with one live replica, then two, then the other moves.
  std::stable_sort(move_queue_.begin(), move_queue_.end(),
                   [](const ReplicaMove& a, const ReplicaMove& b) { return a.priority < b.priority; });
  std::vector<ReplicaMove> out;
  int retargets = 0;
  for (auto it = move_queue_.begin(); it != move_queue_.end() && static_cast<int>(out.size()) < max;) {
    ReplicaMove& m = *it;
    const ServerInfo* to = registry_.Find(m.to);
    const ServerInfo* from = m.from.empty() ? nullptr : registry_.Find(m.from);
    auto e = chunks_.table().find(m.chunk_id);
    if (e == chunks_.table().end() || !registry_.IsLive(*to, now)) {
      queued_chunks_.erase(it->chunk_id);
      it = move_queue_.erase(it);
      continue;
    }
    // Copy from the replica being moved when it is live (it is usually the least needed one),
    // otherwise from the least busy live replica (CopySlots::PickSource).
    m.drop_from = from != nullptr && registry_.IsLive(*from, now);
    std::vector<uint32_t> holders;
    if (m.drop_from) {
      holders.push_back(from->ordinal);
    } else {
      for (uint32_t r : e->second.replica_span()) {
        if (registry_.IsLive(r, now)) holders.push_back(r);
      }
    }
    if (holders.empty()) {
      queued_chunks_.erase(it->chunk_id);
      it = move_queue_.erase(it);
      continue;
    }
    const std::optional<uint32_t> source_ordinal = copy_slots_.PickSource(holders);
    if (source_ordinal && !copy_slots_.CanReceive(to->ordinal) &&
        m.reason == MoveReason::kRepair && retargets++ < kRetargetsPerCall) {
      // The planned target is busy: a repair may go to another server that can take it now,
      // so a lost server's chunks do not queue behind the servers that are valid targets for
      // most of them (those of its own power domain).
      absl::StatusOr<Placement> placed =
          registry_.placement().Choose(1, holders, e->second.replica_span(), gen_);
      if (placed.ok() && placed->rack_safe && copy_slots_.CanReceive(placed->servers[0])) {
        registry_.placement().AddUsage(to->ordinal, -static_cast<int64_t>(m.length));
        registry_.placement().AddUsage(placed->servers[0], m.length);
        to = &registry_.at(placed->servers[0]);
        m.to = to->record.server_id();
      }
    }
    if (!source_ordinal || !copy_slots_.CanReceive(to->ordinal)) {
      ++it;
      continue;
    }
    const ServerInfo& source = registry_.at(*source_ordinal);
    m.to_address = to->record.address();
    if (from != nullptr) m.from_address = from->record.address();
    m.source = source.record.server_id();
    m.source_address = source.record.address();
    copy_slots_.Start(source.ordinal, to->ordinal);
    moves_in_flight_[m.chunk_id] = m;
    queued_chunks_.erase(m.chunk_id);
    out.push_back(std::move(m));
    it = move_queue_.erase(it);
  }
  return out;
}

std::vector<bool> Master::FinishMoves(
    absl::Span<const std::pair<ReplicaMove, absl::Status>> done) {
  std::vector<bool> recorded;
  {
    absl::MutexLock lock(&chunks_.mu);
    absl::MutexLock servers(&registry_.mu);
    for (const auto& [move, copied] : done) recorded.push_back(RecordMove(move, copied));
  }
  // An old replica may be dropped only once the new one is on record durably: one wait for all.
  if (!WaitDurable().ok()) recorded.assign(recorded.size(), false);
  return recorded;
}

bool Master::RecordMove(const ReplicaMove& move, const absl::Status& copied) {
  if (moves_in_flight_.erase(move.chunk_id) == 0) return false;  // not taken, or finished
  const ServerInfo* source = registry_.Find(move.source);
  const ServerInfo* target = registry_.Find(move.to);
  if (source != nullptr && target != nullptr) copy_slots_.End(source->ordinal, target->ordinal);
  if (!copied.ok()) {
    TLOG(WARNING) << "move of chunk " << move.chunk_id << " from " << move.from << " to "
                  << move.to << " failed: " << copied;
    return false;
  }
  auto it = chunks_.table().find(move.chunk_id);
  if (it == chunks_.table().end() || it->second.deleted() || it->second.version != move.version ||
      it->second.length != move.length || !ChunkStable(it->second)) {
    TLOG(INFO) << "chunk " << move.chunk_id << " changed during its move; the copy is dropped";
    return false;
  }
  ChunkEntry e = it->second;
  if (target == nullptr) return false;  // (servers are never forgotten)
  const uint32_t to = target->ordinal;
  const bool recorded = move.from.empty()
                            ? e.AddReplica(to)
                            : e.ReplaceReplica(registry_.Find(move.from)->ordinal, to);
  if (!recorded) return false;
  MetadataBatch batch;
  chunks_.Put(move.chunk_id, e, &batch);
  Commit(std::move(batch));
  // Both servers' usage must be reported afresh (after the old replica is dropped, which
  // follows at once) before the balancer plans again.
  for (const std::string* id : {&move.to, &move.from}) {
    if (ServerInfo* s = registry_.Find(*id); s != nullptr) s->usage_fresh_after = s->heartbeats + 2;
  }
  GetCounter("ternion_master_replica_moves_total", "Replica moves completed, by reason.",
             {{"reason", MoveReasonName(move.reason)}})
      ->Increment();
  GetCounter("ternion_master_replica_moved_bytes_total", "Bytes copied by replica moves.",
             {{"reason", MoveReasonName(move.reason)}})
      ->Increment(move.length);
  if (move.reason == MoveReason::kRepair) {
    ++replicas_repaired_;
    bytes_repaired_ += move.length;
  }
  if (move.reason == MoveReason::kBalance) {
    balancer_bytes_moved_ += move.length;
    ++balancer_moves_done_;
  }
  return true;
}

}  // namespace ternion::master
