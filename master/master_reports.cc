// Master: reconciling a chunkserver's full replica report with the chunk map (GFS's "the
// chunkserver has the final word on what it holds"): replicas the map expects but the server
// no longer has are dropped from the map (and re-replicated); a good copy the map lacks is
// adopted while its chunk is short of replicas. Nothing is destroyed on a guess: a replica is
// wiped only with positive knowledge (its chunk was deleted, a newer version exists, or the
// chunk is whole on live servers elsewhere). Replicas of chunks the master does not know are
// quarantined, wiped only after --orphan-wipe-delay, and a report that would set aside too
// much of a server at once is held for an operator (the deletion valve).

#include <limits>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "common/names.h"
#include "common/status_macros.h"
#include "master/master.h"
#include "master/metadata_keys.h"

namespace ternion::master {

namespace {
// A replica created or recorded this recently may be missing from a report built just before.
constexpr absl::Duration kReportGrace = absl::Seconds(5);  // > a report RPC's deadline
// Replicas reconciled between two releases of the master's mutex (~0.35 ms of work); between
// slices the reconciling thread sleeps briefly, so a woken waiter (a lookup) takes the mutex
// instead of this thread taking it straight back (absl::Mutex makes no hand-off).
constexpr size_t kReportSlice = 250;

ternion::v1::ReplicaWipe WipeOrder(uint64_t chunk_id, uint64_t max_version) {
  ternion::v1::ReplicaWipe w;
  w.set_chunk_id(chunk_id);
  w.set_max_version(max_version);
  return w;
}
}  // namespace

bool DeletionValveTrips(uint64_t would_remove, uint64_t reported, const MasterOptions& options) {
  return would_remove >= options.deletion_valve_min &&
         static_cast<double>(would_remove) >
             options.deletion_valve_fraction * static_cast<double>(reported);
}

int Master::LiveReplicas(const ChunkEntry& e, absl::Time now) {
  int live = 0;
  for (uint32_t r : e.replica_span()) live += registry_.IsLive(r, now) ? 1 : 0;
  return live;
}

ChunkFacts Master::FactsOf(const ChunkEntry* e, const ServerState& s, absl::Time now) {
  ChunkFacts f;
  f.wanted_replicas = options_.replicas;
  if (e == nullptr) return f;
  f.known = true;
  f.deleted = e->deleted();
  f.placed_here = e->HasReplica(s.ordinal);
  f.version = e->version;
  f.length = e->length;
  f.stable = ChunkStable(*e);
  f.live_replicas = LiveReplicas(*e, now);
  return f;
}

Master::ReportIndex::ReportIndex(const Reports& reports, const Reports& quarantined) {
  reported.reserve(reports.size());
  for (const auto& r : reports) reported[r.chunk_id()] = &r;
  for (const auto& q : quarantined) set_aside[q.chunk_id()] = &q;
}

Master::ReportActions Master::Reconcile(ServerState& s, const ReportIndex& report, absl::Time now,
                                        const absl::flat_hash_set<uint64_t>& lost) {
  ReportActions out;
  const auto& reported = report.reported;
  const auto& set_aside = report.set_aside;
  std::vector<std::pair<uint64_t, ChunkEntry>> changed;
  std::vector<uint64_t> unknown;

  auto recently_changed = [&](uint64_t id, const ChunkEntry& e)
                              ABSL_SHARED_LOCKS_REQUIRED(chunks_.mu) {
    if (chunks_.ReplicasChangedWithin(id, kReportGrace)) return true;
    const std::optional<FileFacts> f = ns_.facts().Get(e.file_id);
    return f && now - absl::FromUnixMillis(f->modified_unix_ms) < kReportGrace;
  };

  // A long report is reconciled in slices: every kReportSlice replicas the changes so far are
  // applied and the mutex is let go for a moment, so other calls do not wait behind the whole
  // report. Nothing read before a slice point (an iterator, an entry) is used after it.
  auto apply = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(chunks_.mu) {
    if (changed.empty()) return;
    MetadataBatch batch;
    for (const auto& [id, e] : changed) {
      chunks_.Put(id, e, &batch);
      urgent_chunks_.insert(id);  // repair soon
    }
    Commit(std::move(batch));
    changed.clear();
  };
  size_t done = 0;
  auto slice_point = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    if (++done % kReportSlice != 0) return;
    apply();
    registry_.mu.ReaderUnlock();
    chunks_.mu.Unlock();
    absl::SleepFor(absl::Microseconds(50));  // long enough for a woken waiter to take the mutex
    chunks_.mu.Lock();
    registry_.mu.ReaderLock();
  };

  for (const auto& [id, r] : reported) {
    slice_point();
    auto it = chunks_.table().find(id);
    const ChunkEntry* e = it == chunks_.table().end() ? nullptr : &it->second;
    auto move = moves_in_flight_.find(id);
    const bool arriving = move != moves_in_flight_.end() && move->second.to == s.id;
    switch (JudgeReported(FactsOf(e, s, now), r->version(), r->length(), arriving)) {
      case ReportedVerdict::kQuarantine:
        unknown.push_back(id);  // quarantined below, unless the valve holds the report
        break;
      case ReportedVerdict::kWipeDeleted:
      case ReportedVerdict::kWipeExtra:
        out.remove.push_back(WipeOrder(id, r->version()));
        break;
      case ReportedVerdict::kAdopt: {
        ChunkEntry updated = *e;
        if (!updated.AddReplica(s.ordinal)) {
          for (uint32_t holder : e->replica_span()) {
            if (!registry_.IsLive(holder, now)) {
              updated.ReplaceReplica(holder, s.ordinal);
              break;
            }
          }
        }
        TLOG(INFO) << "chunk " << id << " is short of replicas: adopting the copy on "
                   << s.id;
        changed.emplace_back(id, updated);
        break;
      }
      case ReportedVerdict::kReplace: {
        TLOG(WARNING) << "replica of chunk " << id << " on " << s.id
                      << " is stale or short (version " << r->version() << ", length "
                      << r->length() << "); replacing it";
        ChunkEntry updated = *e;
        updated.RemoveReplica(s.ordinal);
        changed.emplace_back(id, updated);
        out.remove.push_back(WipeOrder(id, r->version()));
        break;
      }
      case ReportedVerdict::kKeep:
      case ReportedVerdict::kKeepUnplaced:
      case ReportedVerdict::kArriving:
        break;
    }
  }
  // Replicas the map places here that the server no longer has (a failed disk, lost files; for
  // a deleted chunk: wiped, e.g. a wipe finished after a crash).
  std::vector<uint64_t> wiped;
  std::vector<uint64_t> missing;
  for (uint64_t id : chunks_.table().OnServer(s.ordinal)) {  // what the map places here, only
    if (!reported.contains(id)) missing.push_back(id);
  }
  for (uint64_t id : missing) {
    slice_point();
    auto it = chunks_.table().find(id);
    if (it == chunks_.table().end() || !it->second.HasReplica(s.ordinal)) {
      continue;  // changed meanwhile
    }
    const ChunkEntry& e = it->second;
    auto q = set_aside.find(id);
    const bool in_quarantine = q != set_aside.end();
    switch (JudgeMissing(FactsOf(&e, s, now), in_quarantine,
                         in_quarantine && q->second->bad_blocks().empty(), lost.contains(id),
                         recently_changed(id, e))) {
      case MissingVerdict::kWiped:
        wiped.push_back(id);
        break;
      case MissingVerdict::kDrop: {
        TLOG(WARNING) << "chunkserver " << s.id << " no longer has chunk " << id;
        ChunkEntry updated = e;
        updated.RemoveReplica(s.ordinal);
        changed.emplace_back(id, updated);
        break;
      }
      case MissingVerdict::kWait:
        break;
    }
  }
  RecordWiped(s, wiped);

  // The deletion valve: replicas of chunks this master does not know are its guess, not
  // knowledge. Setting aside more than a fraction of a server at once waits for an operator.
  const bool lifted = std::exchange(s.valve_lifted, false);
  if (!unknown.empty() && !lifted && DeletionValveTrips(unknown.size(), reported.size(), options_)) {
    if (!s.held) {
      ++valve_trips_;
      GetCounter("ternion_master_deletion_valve_trips_total",
                 "Replica reports held because they would set aside too much of a server.")
          ->Increment();
      TLOG(ERROR) << "deletion valve: chunkserver " << s.id << " reports "
                  << unknown.size() << " of " << reported.size()
                  << " replicas of chunks this master does not know; nothing is set aside "
                     "until an operator decides (ternion admin orphans ls|release|wipe)";
      s.held = HeldReport{};
      s.held->since = now;
    }
    s.held->reported = reported.size();
    s.held->unknown.clear();
    for (uint64_t id : unknown) s.held->unknown.push_back(*reported.at(id));
  } else {
    s.held.reset();
    for (uint64_t id : unknown) {
      if (s.wipe_now.contains(id)) {
        out.remove.push_back(WipeOrder(id, reported.at(id)->version()));  // the operator's word
      } else {
        out.quarantine.push_back(id);
      }
    }
  }

  // Quarantined replicas: released when their chunk is (again) known here, wiped with positive
  // knowledge (deleted chunk, whole elsewhere, the operator's word, or an orphan's delay over),
  // kept otherwise: a damaged copy may hold the only intact bytes of some blocks.
  absl::flat_hash_map<uint64_t, Orphan> now_quarantined;
  s.orphan_due = absl::InfiniteFuture();
  for (const auto& [id, q] : set_aside) {
    Orphan& o = now_quarantined[id];
    o.report = *q;
    auto before = s.quarantined.find(id);
    o.first_seen = before == s.quarantined.end() ? now : before->second.first_seen;
    const bool corrupt = q->bad_blocks_size() > 0;
    auto it = chunks_.table().find(id);
    const ChunkFacts facts = FactsOf(it == chunks_.table().end() ? nullptr : &it->second, s, now);
    switch (JudgeQuarantined(facts, q->version(), corrupt, s.wipe_now.contains(id),
                             now - o.first_seen >= options_.orphan_wipe_delay)) {
      case QuarantineVerdict::kWipe:
        out.remove.push_back(WipeOrder(id, q->version()));
        break;
      case QuarantineVerdict::kRelease:
        out.release.push_back(id);
        break;
      case QuarantineVerdict::kKeep:
        // An unknown chunk's intact copy is wiped when its delay ends (the next report after).
        if (!facts.known && !corrupt) {
          s.orphan_due = std::min(s.orphan_due, o.first_seen + options_.orphan_wipe_delay);
        }
        break;
    }
  }
  SetQuarantined(s, std::move(now_quarantined));
  absl::flat_hash_set<uint64_t> damaged;
  for (const auto& d : s.damaged) {
    damaged.insert(d.chunk_id());
    // Its meta file is unreadable, so its version is unknown: the operator's word covers any.
    if (s.wipe_now.contains(d.chunk_id())) {
      out.remove.push_back(WipeOrder(d.chunk_id(), std::numeric_limits<uint64_t>::max()));
    }
  }
  absl::erase_if(s.wipe_now, [&](uint64_t id) {
    return !set_aside.contains(id) && !reported.contains(id) && !damaged.contains(id);
  });

  apply();
  return out;
}

void Master::FillReportResponse(
    const ReportActions& actions,
    google::protobuf::RepeatedPtrField<ternion::v1::ReplicaWipe>* remove,
    google::protobuf::RepeatedField<uint64_t>* quarantine,
    google::protobuf::RepeatedField<uint64_t>* release) {
  remove->Assign(actions.remove.begin(), actions.remove.end());
  quarantine->Add(actions.quarantine.begin(), actions.quarantine.end());
  release->Add(actions.release.begin(), actions.release.end());
}

ternion::v1::ReportReplicasResponse Master::ReportReplicas(
    const ternion::v1::ReportReplicasRequest& req) {
  ternion::v1::ReportReplicasResponse resp;
  if (!CheckClusterId(req.server_id(), req.cluster_id()).ok()) {
    resp.set_reregister(true);  // and registration says why it is refused
    return resp;
  }
  const ReportIndex index(req.replicas(), req.quarantined());  // before the mutex
  absl::MutexLock lock(&chunks_.mu);
  absl::ReaderMutexLock servers(&registry_.mu);
  const ServerInfo* info = registry_.Find(req.server_id());
  if (info == nullptr || !info->registered) {
    resp.set_reregister(true);
    return resp;
  }
  ServerState& s = servers_.at(req.server_id());
  s.damaged.assign(req.damaged().begin(), req.damaged().end());
  // Replicas lost with a failed disk were never wiped: remembered until an operator says the
  // disk was destroyed.
  if (req.lost_chunk_ids_size() > 0) {
    MetadataBatch batch;
    for (uint64_t id : req.lost_chunk_ids()) batch.Put(UnwipedKey(s.id, id), "");
    Commit(std::move(batch));
    for (uint64_t id : req.lost_chunk_ids()) unwiped_.emplace(s.id, id);
  }
  absl::flat_hash_set<uint64_t> lost(req.lost_chunk_ids().begin(), req.lost_chunk_ids().end());
  lost.insert(req.corrupt_chunk_ids().begin(), req.corrupt_chunk_ids().end());
  if (req.corrupt_chunk_ids_size() > 0) {
    GetCounter("ternion_master_corrupt_replicas_total",
               "Replicas reported corrupt (scrubber or reader) and replaced.")
        ->Increment(req.corrupt_chunk_ids_size());
    corrupt_replicas_ += req.corrupt_chunk_ids_size();
  }
  FillReportResponse(Reconcile(s, index, Now(), lost), resp.mutable_wipes(),
                     resp.mutable_quarantine_chunk_ids(), resp.mutable_release_chunk_ids());
  return resp;
}

// ---------------------------------------------------------------------------------------------
// Orphans: the operator's view and decisions

ternion::v1::OrphansResponse Master::ListOrphans(const ternion::v1::OrphansRequest& req,
                                                 absl::Time now) {
  ternion::v1::OrphansResponse resp;
  const absl::flat_hash_set<uint64_t> only(req.chunk_ids().begin(), req.chunk_ids().end());
  auto wanted = [&](const ServerState& s, uint64_t id) {
    return (req.server_id().empty() || req.server_id() == s.id) &&
           (only.empty() || only.contains(id));
  };
  for (const auto& [server_id, s] : servers_) {
    for (const auto& [id, o] : s.quarantined) {
      if (!wanted(s, id)) continue;
      auto* r = resp.add_replicas();
      r->set_server_id(server_id);
      r->set_chunk_id(id);
      r->set_project(o.report.project());
      r->set_version(o.report.version());
      r->set_length(o.report.length());
      r->set_state("quarantined");
      const bool unknown = !chunks_.table().contains(id);
      const bool corrupt = o.report.bad_blocks_size() > 0;
      r->set_reason(corrupt ? "corrupt" : unknown ? "unknown" : "known");
      r->set_age_ms(absl::ToInt64Milliseconds(now - o.first_seen));
      r->set_wipe_in_ms(unknown && !corrupt ? std::max<int64_t>(0, absl::ToInt64Milliseconds(
                                                                       options_.orphan_wipe_delay -
                                                                       (now - o.first_seen)))
                                            : -1);
      *r->mutable_bad_blocks() = o.report.bad_blocks();
    }
    for (const auto& d : s.damaged) {
      if (!wanted(s, d.chunk_id())) continue;
      auto* r = resp.add_replicas();
      r->set_server_id(server_id);
      r->set_chunk_id(d.chunk_id());
      r->set_project(d.project());
      r->set_state("damaged");
      r->set_reason(chunks_.table().contains(d.chunk_id()) ? "known" : "unknown");
      r->set_wipe_in_ms(-1);
    }
    for (auto u = unwiped_.lower_bound({server_id, 0});
         u != unwiped_.end() && u->first == server_id; ++u) {
      if (!wanted(s, u->second)) continue;
      auto* r = resp.add_replicas();
      r->set_server_id(server_id);
      r->set_chunk_id(u->second);
      r->set_state("unwiped");
      r->set_reason("failed_disk");
      r->set_wipe_in_ms(-1);
    }
    if (!s.held) continue;
    if (req.server_id().empty() || req.server_id() == server_id) {
      auto* h = resp.add_held();
      h->set_server_id(server_id);
      h->set_replicas_reported(s.held->reported);
      h->set_would_remove(s.held->unknown.size());
      h->set_held_ms(absl::ToInt64Milliseconds(now - s.held->since));
    }
    for (const auto& report : s.held->unknown) {
      if (!wanted(s, report.chunk_id())) continue;
      auto* r = resp.add_replicas();
      r->set_server_id(server_id);
      r->set_chunk_id(report.chunk_id());
      r->set_project(report.project());
      r->set_version(report.version());
      r->set_length(report.length());
      r->set_state("held");
      r->set_reason("unknown");
      r->set_age_ms(absl::ToInt64Milliseconds(now - s.held->since));
      r->set_wipe_in_ms(-1);
    }
  }
  return resp;
}

absl::StatusOr<ternion::v1::OrphansResponse> Master::Orphans(
    const ternion::v1::OrphansRequest& req) {
  if (req.action() == ternion::v1::OrphansRequest::WIPE && req.chunk_ids().empty() &&
      !req.all()) {
    return absl::InvalidArgumentError(
        "orphans wipe destroys replicas: name the chunks, or say --all (with --server to limit "
        "it to one server)");
  }
  absl::MutexLock ns(&ns_.mu);  // a release adds files to the namespace
  absl::MutexLock lock(&chunks_.mu);
  if (!req.server_id().empty() && !servers_.contains(req.server_id())) {
    return absl::NotFoundError(absl::StrCat("no chunkserver ", req.server_id()));
  }
  const absl::Time now = Now();
  ternion::v1::OrphansResponse listed = ListOrphans(req, now);
  if (req.action() == ternion::v1::OrphansRequest::LIST) return listed;

  ternion::v1::OrphansResponse resp;
  if (req.action() == ternion::v1::OrphansRequest::ACK_DESTROYED) {
    if (req.server_id().empty()) {
      return absl::InvalidArgumentError("name the server whose failed disks were destroyed");
    }
    MetadataBatch batch;
    std::vector<std::pair<std::string, uint64_t>> acked;
    for (const auto& r : listed.replicas()) {
      if (r.state() != "unwiped") continue;
      batch.Delete(UnwipedKey(r.server_id(), r.chunk_id()));
      acked.emplace_back(r.server_id(), r.chunk_id());
    }
    CommitAudited(std::move(batch), {.action = "master",
                                     .detail = absl::StrCat("disks destroyed: ", acked.size(),
                                                            " unwiped replica(s) of ",
                                                            req.server_id(), " acknowledged")});
    for (const auto& a : acked) unwiped_.erase(a);
    resp.set_affected(acked.size());
    return resp;
  }
  if (req.action() == ternion::v1::OrphansRequest::WIPE) {
    for (const auto& r : listed.replicas()) {
      if (r.state() == "unwiped") continue;  // on a failed disk: nothing to wipe it with
      ServerState& s = servers_.at(r.server_id());
      s.wipe_now.insert(r.chunk_id());
      if (r.state() == "held") s.valve_lifted = true;
      s.report_wanted = true;
      resp.set_affected(resp.affected() + 1);
    }
    Audit({.action = "master",
           .detail = absl::StrCat("orphans wipe: ", resp.affected(), " replica(s)",
                                  req.server_id().empty() ? "" : " on " + req.server_id())});
    return resp;
  }

  // RELEASE: every copy of an unknown chunk, grouped by chunk, becomes a sealed one-chunk file.
  absl::flat_hash_map<uint64_t, std::vector<std::pair<ServerState*, ternion::v1::ReplicaReport>>>
      copies;
  for (const auto& r : listed.replicas()) {
    if (r.reason() != "unknown") continue;
    ServerState& s = servers_.at(r.server_id());
    ternion::v1::ReplicaReport report;
    report.set_chunk_id(r.chunk_id());
    report.set_version(r.version());
    report.set_length(r.length());
    report.set_project(r.project());
    copies[r.chunk_id()].emplace_back(&s, report);
  }
  for (const auto& [id, list] : copies) {
    absl::StatusOr<std::string> path = AdoptOrphan(id, list);
    if (!path.ok()) {
      TLOG(WARNING) << "cannot release chunk " << id << ": " << path.status();
      continue;
    }
    resp.add_released_files(*path);
    resp.set_affected(resp.affected() + list.size());
  }
  return resp;
}

absl::StatusOr<std::string> Master::AdoptOrphan(
    uint64_t id, const std::vector<std::pair<ServerState*, ternion::v1::ReplicaReport>>& copies) {
  // The newest version wins; of its copies, the shortest length is held by every one.
  uint64_t version = 0;
  for (const auto& [s, r] : copies) version = std::max(version, r.version());
  uint64_t length = UINT64_MAX;
  std::vector<ServerState*> holders;
  for (const auto& [s, r] : copies) {
    if (r.version() != version) continue;
    length = std::min(length, r.length());
    holders.push_back(s);
  }
  const std::string project = copies.front().second.project();
  RETURN_IF_ERROR(ValidateProjectName(project));
  const std::string path = absl::StrFormat("lost+found/chunk-%016x", id);
  RETURN_IF_ERROR(ValidatePath(path));
  if (ns_.Exists(project, path)) {
    return absl::AlreadyExistsError(absl::StrCat(project, "/", path, " exists"));
  }
  constexpr uint64_t kBlock = 64 * 1024;
  MetadataBatch batch;
  if (!ns_.CheckProject(project).ok()) {
    ternion::v1::ProjectRecord p;
    p.set_name(project);
    p.set_created_unix_ms(NowMs());
    RETURN_IF_ERROR(ns_.CreateProject(p, &batch));
  }
  ternion::v1::FileRecord f;
  f.set_file_id(ns_.next_file_id());
  f.set_project(project);
  f.set_path(path);
  f.set_length(length);
  f.set_chunk_size(std::clamp<uint64_t>((length + kBlock - 1) / kBlock * kBlock, kMinChunkSize,
                                        kMaxChunkSize));
  f.set_sealed(true);
  f.add_chunk_ids(id);
  f.set_created_unix_ms(NowMs());
  f.set_modified_unix_ms(f.created_unix_ms());
  ChunkEntry e;
  e.file_id = f.file_id();
  e.length = static_cast<uint32_t>(length);
  e.version = static_cast<uint32_t>(version);
  e.project = chunks_.ProjectOrdinal(project);
  for (ServerState* s : holders) {
    e.AddReplica(s->ordinal);
    s->report_wanted = true;  // its quarantined copy is released with its next report
  }
  ns_.Put(std::move(f), &batch);
  chunks_.Put(id, e, &batch);
  CommitAudited(std::move(batch),
                {.action = "master",
                 .detail = absl::StrCat("orphans release: chunk ", id, " (", holders.size(),
                                        " copies) as ", project, "/", path)});
  for (ServerState* s : holders) {
    if (s->held) {
      std::erase_if(s->held->unknown, [id](const auto& r) { return r.chunk_id() == id; });
    }
  }
  return absl::StrCat(project, "/", path);
}

}  // namespace ternion::master
