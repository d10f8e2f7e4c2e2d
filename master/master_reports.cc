// Master: reconciling a chunkserver's full replica report with the chunk map (GFS's "the
// chunkserver has the final word on what it holds"): replicas the map expects but the server
// no longer has are dropped from the map (and re-replicated); stale, short, extra, unknown and
// deleted replicas on the server are deleted there.

#include "absl/container/flat_hash_map.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "common/status_macros.h"
#include "master/master.h"

namespace ternion::master {

namespace {
// A replica created or recorded this recently may be missing from a report built just before.
constexpr absl::Duration kReportGrace = absl::Seconds(5);  // > a report RPC's deadline
}  // namespace

std::vector<uint64_t> Master::Reconcile(ServerState& s,
                                        const google::protobuf::RepeatedPtrField<
                                            ternion::v1::ReplicaReport>& reports,
                                        absl::Time now,
                                        const absl::flat_hash_set<uint64_t>& lost) {
  std::vector<uint64_t> to_delete;
  absl::flat_hash_map<uint64_t, const ternion::v1::ReplicaReport*> reported;
  for (const auto& r : reports) reported[r.chunk_id()] = &r;
  std::vector<std::pair<uint64_t, ChunkEntry>> changed;

  auto recently_changed = [&](uint64_t id, const ChunkEntry& e) {
    if (auto it = replicas_changed_at_.find(id); it != replicas_changed_at_.end() &&
                                                  now - it->second < kReportGrace) {
      return true;
    }
    auto f = files_by_id_.find(e.file_id);
    return f != files_by_id_.end() &&
           now - absl::FromUnixMillis(f->second->modified_unix_ms()) < kReportGrace;
  };

  for (const auto& [id, r] : reported) {
    auto it = chunks_.find(id);
    if (it == chunks_.end() || it->second.deleted()) {
      to_delete.push_back(id);  // unknown or deleted: garbage
      continue;
    }
    const ChunkEntry& e = it->second;
    if (!e.HasReplica(s.ordinal)) {
      auto move = moves_in_flight_.find(id);
      if (move == moves_in_flight_.end() || move->second.to != s.record.server_id()) {
        to_delete.push_back(id);  // extra: replaced while this server was away
      }
      continue;
    }
    const bool stale = r->version() < e.version;
    const bool short_replica = ChunkStable(e) && r->length() < e.length;
    if (stale || short_replica) {
      TLOG(WARNING) << "replica of chunk " << id << " on " << s.record.server_id() << " is "
                    << (stale ? "stale (version " : "short (length ")
                    << (stale ? r->version() : r->length()) << "); replacing it";
      ChunkEntry updated = e;
      updated.RemoveReplica(s.ordinal);
      changed.emplace_back(id, updated);
      to_delete.push_back(id);
    }
  }
  // Replicas the map places here that the server no longer has (a failed disk, lost files; for
  // a deleted chunk: wiped, e.g. a wipe finished after a crash).
  std::vector<uint64_t> wiped;
  for (const auto& [id, e] : chunks_) {
    if (!e.HasReplica(s.ordinal) || reported.contains(id)) continue;
    if (e.deleted()) {
      wiped.push_back(id);
      continue;
    }
    // The server's word that it lost a replica needs no grace period.
    if (!lost.contains(id) && (!ChunkStable(e) || recently_changed(id, e))) continue;
    TLOG(WARNING) << "chunkserver " << s.record.server_id() << " no longer has chunk " << id;
    ChunkEntry updated = e;
    updated.RemoveReplica(s.ordinal);
    changed.emplace_back(id, updated);
  }
  RecordWiped(s, wiped);
  if (!changed.empty()) {
    MetadataBatch batch;
    for (const auto& [id, e] : changed) PutChunk(&batch, id, e);
    if (absl::Status st = store_->Write(batch); !st.ok()) {
      TLOG(WARNING) << "cannot record reconciliation of " << s.record.server_id() << ": " << st;
      return {};  // nothing deleted either: the next report tries again
    }
    for (auto& [id, e] : changed) {
      chunks_[id] = e;
      replicas_changed_at_[id] = now;
    }
    last_move_scan_ = absl::InfinitePast();  // repair soon
  }
  return to_delete;
}

ternion::v1::ReportReplicasResponse Master::ReportReplicas(
    const ternion::v1::ReportReplicasRequest& req) {
  ternion::v1::ReportReplicasResponse resp;
  if (!CheckClusterId(req.server_id(), req.cluster_id()).ok()) {
    resp.set_reregister(true);  // and registration says why it is refused
    return resp;
  }
  absl::MutexLock lock(&mu_);
  auto it = servers_.find(req.server_id());
  if (it == servers_.end() || !it->second.registered) {
    resp.set_reregister(true);
    return resp;
  }
  it->second.reported_replicas = req.replicas_size();
  absl::flat_hash_set<uint64_t> lost(req.lost_chunk_ids().begin(), req.lost_chunk_ids().end());
  lost.insert(req.corrupt_chunk_ids().begin(), req.corrupt_chunk_ids().end());
  if (req.corrupt_chunk_ids_size() > 0) {
    MetricsRegistry::Default()
        .GetCounter("ternion_master_corrupt_replicas_total",
                    "Replicas reported corrupt (scrubber or reader) and replaced.")
        ->Increment(req.corrupt_chunk_ids_size());
    corrupt_replicas_ += req.corrupt_chunk_ids_size();
  }
  for (uint64_t id : Reconcile(it->second, req.replicas(), absl::Now(), lost)) {
    resp.add_delete_chunk_ids(id);
  }
  return resp;
}

}  // namespace ternion::master
