#include "master/master.h"

#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "common/names.h"
#include "common/status_macros.h"
#include "master/metadata_keys.h"

namespace ternion::master {

namespace {

prometheus::Counter* WipedBytesCounter() {
  static prometheus::Counter* const counter =
      GetCounter("ternion_master_gc_wiped_bytes_total",
                 "Replica bytes chunkservers reported wiped (deleted data overwritten).");
  return counter;
}

}  // namespace

using ternion::v1::ChunkRecord;
using ternion::v1::FileRecord;

// ---------------------------------------------------------------------------------------------
// Numbering and record conversion

Master::ServerState& Master::ServerByName(const std::string& id) {
  auto [it, added] = servers_.try_emplace(id);
  ServerState& s = it->second;
  if (added) {
    s.id = id;
    s.ordinal = registry_.Add(id).ordinal;  // the next ordinal: all number servers as they come
    server_by_ordinal_.push_back(&s);
    chunks_.NameServer(s.ordinal, id);
  }
  return s;
}

void Master::PutServer(MetadataBatch* batch, const ternion::v1::ChunkServerRecord& r) {
  batch->Put(kServerPrefix + r.server_id(), r.SerializeAsString());
}

void Master::CommitAudited(MetadataBatch batch, const AuditEvent& event) {
  const bool changes = !batch.puts.empty() || !batch.deletes.empty();
  absl::MutexLock lock(&audit_.mu);
  audit_.Append(event, NowMs(), &batch);
  // Under audit_.mu: the log receives records in chain order.
  const uint64_t seq = log_->Append(std::move(batch));
  if (changes) NoteChange(seq);
  // The master's own changes are logged too; the record of every call is only in the audit log.
  if (!event.detail.empty()) TLOG(INFO) << "audit: " << event.action << ": " << event.detail;
}

absl::Status Master::WriteAudited(MetadataBatch batch, const AuditEvent& event) {
  absl::MutexLock lock(&audit_.mu);
  audit_.Append(event, NowMs(), &batch);
  return store_->Write(batch);
}

void Master::Audit(const AuditEvent& event) { CommitAudited(MetadataBatch(), event); }

absl::Status Master::ReadAudit(uint64_t after_seq,
                               const std::function<bool(const ternion::v1::AuditRecord&)>& fn) {
  RETURN_IF_ERROR(WaitDurable());  // every record appended so far is in the store
  bool more = true;
  absl::Status bad;
  RETURN_IF_ERROR(store_->Scan(
      kAuditPrefix,
      [&](absl::string_view, absl::string_view v) {
        if (!more || !bad.ok()) return;
        absl::StatusOr<std::optional<ternion::v1::AuditRecord>> r = DecodeAuditRecord(v);
        if (!r.ok()) {
          bad = r.status();
        } else if (r->has_value()) {
          more = fn(**r);
        }
      },
      AuditKey(after_seq + 1)));
  return bad;
}

absl::Status Master::VerifyAudit(uint64_t* records, uint64_t* legacy) {
  RETURN_IF_ERROR(WaitDurable());  // every record appended so far is in the store
  AuditChainVerifier verifier;
  RETURN_IF_ERROR(store_->Scan(kAuditPrefix, [&](absl::string_view k, absl::string_view v) {
    uint64_t seq = 0;
    (void)absl::SimpleHexAtoi(k.substr(std::strlen(kAuditPrefix)), &seq);
    verifier.Add(seq, v);
  }));
  *records = verifier.records();
  *legacy = verifier.legacy();
  return verifier.Finish();
}

void Master::RefreshLiveness(absl::Time now) {
  for (uint32_t dead : registry_.SweepLiveness(now)) {
    const auto& held = chunks_.table().OnServer(dead);
    urgent_chunks_.insert(held.begin(), held.end());
  }
}

absl::StatusOr<std::string> Master::Format(const std::string& metadata_dir) {
  ASSIGN_OR_RETURN(auto store, MetadataStore::Open(metadata_dir, /*create=*/true));
  ASSIGN_OR_RETURN(bool empty, store->Empty());
  if (!empty) {
    return absl::AlreadyExistsError(absl::StrCat(
        metadata_dir, " already holds the metadata of a cluster; --format creates a new cluster "
                      "only in an empty directory"));
  }
  absl::BitGen gen;
  const std::string id = absl::StrFormat("tcl-%016x%016x", absl::Uniform<uint64_t>(gen),
                                         absl::Uniform<uint64_t>(gen));
  MetadataBatch batch;
  batch.Put(kClusterIdKey, id);
  AuditLog audit;
  {
    absl::MutexLock lock(&audit.mu);
    audit.Append({.action = "format", .detail = absl::StrCat("new cluster ", id)},
                 absl::ToUnixMillis(absl::Now()), &batch);
  }
  RETURN_IF_ERROR(store->Write(batch));
  TLOG(INFO) << "audit: format: new cluster " << id << " in " << metadata_dir;
  return id;
}

absl::StatusOr<std::unique_ptr<Master>> Master::Open(const std::string& metadata_dir,
                                                     const MasterOptions& options) {
  if (options.replicas < 1 || options.replicas > kMaxReplicas) {
    return absl::InvalidArgumentError(absl::StrCat("replicas must be 1-", kMaxReplicas));
  }
  absl::StatusOr<std::unique_ptr<MetadataStore>> opened = MetadataStore::Open(metadata_dir);
  if (absl::IsNotFound(opened.status())) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no cluster metadata in ", metadata_dir,
        ". To create a new cluster run ternion-master --format --metadata-dir ", metadata_dir,
        " once; to restore one, start with --restore-from BACKUP. (A master started on an empty "
        "directory would disown every replica its chunkservers hold, so it does not start.)"));
  }
  ASSIGN_OR_RETURN(auto store, std::move(opened));
  std::unique_ptr<Master> m(new Master(std::move(store), options));
  // Counters that exist from the start, so dashboards see zeros rather than gaps.
  for (auto reason : {MoveReason::kRepair, MoveReason::kDrain, MoveReason::kPolicy,
                      MoveReason::kBalance}) {
    GetCounter("ternion_master_replica_moves_total", "Replica moves completed, by reason.",
               {{"reason", MoveReasonName(reason)}});
    GetCounter("ternion_master_replica_moved_bytes_total", "Bytes copied by replica moves.",
               {{"reason", MoveReasonName(reason)}});
  }
  RETURN_IF_ERROR(m->Load());
  m->log_ = NewGroupCommitLog(m->store_.get(), options.on_log_failure);
  return m;
}

absl::Status Master::Load() {
  absl::MutexLock ns(&ns_.mu);
  absl::MutexLock access(&access_.mu);
  absl::MutexLock lock(&chunks_.mu);
  absl::MutexLock servers(&registry_.mu);
  absl::Status bad;
  auto parse = [&bad](auto* msg, absl::string_view key, absl::string_view value) {
    if (!msg->ParseFromArray(value.data(), value.size()) && bad.ok()) {
      bad = absl::DataLossError(absl::StrCat("corrupt metadata record ", key));
    }
  };
  RETURN_IF_ERROR(store_->Scan(kProjectPrefix, [&](absl::string_view k, absl::string_view v)
                                   ABSL_EXCLUSIVE_LOCKS_REQUIRED(ns_.mu, chunks_.mu, registry_.mu) {
    ternion::v1::ProjectRecord p;
    parse(&p, k, v);
    ns_.LoadProject(std::move(p));
  }));
  std::map<std::string, ternion::v1::RackRecord> racks;
  RETURN_IF_ERROR(store_->Scan(kRackPrefix, [&](absl::string_view k, absl::string_view v)
                                   ABSL_EXCLUSIVE_LOCKS_REQUIRED(ns_.mu, chunks_.mu, registry_.mu) {
    ternion::v1::RackRecord r;
    parse(&r, k, v);
    racks[r.name()] = r;
  }));
  registry_.SetRacks(std::move(racks));
  RETURN_IF_ERROR(store_->Scan(kServerPrefix, [&](absl::string_view k, absl::string_view v)
                                   ABSL_EXCLUSIVE_LOCKS_REQUIRED(ns_.mu, chunks_.mu, registry_.mu) {
    ternion::v1::ChunkServerRecord r;
    parse(&r, k, v);
    registry_.at(ServerByName(r.server_id()).ordinal).record = r;
  }));
  RETURN_IF_ERROR(store_->Scan(kFilePrefix, [&](absl::string_view k, absl::string_view v)
                                   ABSL_EXCLUSIVE_LOCKS_REQUIRED(ns_.mu, chunks_.mu, registry_.mu) {
    FileRecord f;
    parse(&f, k, v);
    ns_.LoadFile(std::move(f));
  }));
  RETURN_IF_ERROR(store_->Scan(kChunkPrefix, [&](absl::string_view k, absl::string_view v)
                                   ABSL_EXCLUSIVE_LOCKS_REQUIRED(ns_.mu, chunks_.mu, registry_.mu) {
    ChunkRecord c;
    parse(&c, k, v);
    chunks_.Load(c, [&](const std::string& server) ABSL_NO_THREAD_SAFETY_ANALYSIS {
      return ServerByName(server).ordinal;  // (under the locks Load holds)
    });
  }));
  RETURN_IF_ERROR(store_->Scan(kUnwipedPrefix, [&](absl::string_view k, absl::string_view)
                                   ABSL_EXCLUSIVE_LOCKS_REQUIRED(ns_.mu, chunks_.mu, registry_.mu) {
    const size_t nul = k.find('\0');
    uint64_t id = 0;
    if (nul != absl::string_view::npos && absl::SimpleHexAtoi(k.substr(nul + 1), &id)) {
      unwiped_.emplace(std::string(k.substr(2, nul - 2)), id);
    }
  }));
  {
    ASSIGN_OR_RETURN(auto newest, store_->Last(kAuditPrefix));
    std::optional<std::pair<uint64_t, std::string>> head;
    if (newest.has_value()) {
      uint64_t seq = 0;
      if (!absl::SimpleHexAtoi(absl::string_view(newest->first).substr(std::strlen(kAuditPrefix)),
                               &seq)) {
        return absl::DataLossError("a corrupt audit record key");
      }
      head.emplace(seq, std::move(newest->second));
    }
    RETURN_IF_ERROR(audit_.Load(std::move(head)));
  }
  RETURN_IF_ERROR(store_->Scan("n/", [&](absl::string_view k, absl::string_view v)
                                   ABSL_EXCLUSIVE_LOCKS_REQUIRED(ns_.mu, chunks_.mu, registry_.mu) {
    uint64_t n = 0;
    if (!absl::SimpleAtoi(v, &n) && bad.ok()) bad = absl::DataLossError("corrupt id counter");
    if (k == kNextFileIdKey) ns_.LoadNextFileId(n);
    if (k == kNextChunkIdKey) chunks_.LoadNextChunkId(n);
  }));
  RETURN_IF_ERROR(store_->Scan(kUserPrefix, [&](absl::string_view k, absl::string_view v)
                                   ABSL_EXCLUSIVE_LOCKS_REQUIRED(access_.mu) {
    ternion::v1::UserRecord u;
    parse(&u, k, v);
    access_.LoadUser(u);
  }));
  RETURN_IF_ERROR(store_->Scan(kAccessKeyPrefix, [&](absl::string_view k, absl::string_view v)
                                   ABSL_EXCLUSIVE_LOCKS_REQUIRED(access_.mu) {
    ternion::v1::AccessKeyRecord r;
    parse(&r, k, v);
    if (absl::Status s = access_.LoadKey(r); !s.ok() && bad.ok()) bad = s;
  }));
  {
    absl::MutexLock keys(&keys_mu_);
    RETURN_IF_ERROR(store_->Scan(kDataKeyPrefix, [&](absl::string_view k, absl::string_view v)
                                                     ABSL_EXCLUSIVE_LOCKS_REQUIRED(keys_mu_) {
                                                       ternion::v1::DataKeyRecord r;
                                                       parse(&r, k, v);
                                                       data_keys_[{r.project(), r.version()}] = r;
                                                     }));
  }
  RETURN_IF_ERROR(bad);
  if (options_.restored_from_backup) {
    constexpr uint64_t kRestoreGap = 1ull << 32;  // far more chunks than a backup can miss
    MetadataBatch batch;
    chunks_.SkipChunkIds(kRestoreGap, &batch);
    RETURN_IF_ERROR(WriteAudited(
        std::move(batch), {.action = "restore",
                           .detail = absl::StrCat("restored from a backup: chunk ids continue at ",
                                                  chunks_.next_chunk_id())}));
  }
  if (absl::StatusOr<std::string> saved = store_->Get(kReplicationSettingsKey); saved.ok()) {
    ternion::v1::ReplicationSettings settings;
    parse(&settings, kReplicationSettingsKey, *saved);
    RETURN_IF_ERROR(bad);
    if (settings.bandwidth_bytes_per_s() > 0) copy_bandwidth_ = settings.bandwidth_bytes_per_s();
    if (settings.copies_per_server() > 0) copy_slots_.set_limit(settings.copies_per_server());
    replication_paused_ = settings.paused();
  } else if (!absl::IsNotFound(saved.status())) {
    return saved.status();
  }
  absl::StatusOr<std::string> cluster_id = store_->Get(kClusterIdKey);
  if (cluster_id.ok()) {
    cluster_id_ = *cluster_id;
  } else if (absl::IsNotFound(cluster_id.status())) {
    // Metadata from before cluster identities: it is this cluster's, so it gets an id now.
    absl::BitGen gen;
    cluster_id_ = absl::StrFormat("tcl-%016x%016x", absl::Uniform<uint64_t>(gen),
                                  absl::Uniform<uint64_t>(gen));
    MetadataBatch batch;
    batch.Put(kClusterIdKey, cluster_id_);
    RETURN_IF_ERROR(WriteAudited(
        std::move(batch),
        {.action = "cluster-id",
         .detail = absl::StrCat("cluster id ", cluster_id_, " given to existing metadata")}));
  } else {
    return cluster_id.status();
  }
  RETURN_IF_ERROR(LoadTokenKey());
  TLOG(INFO) << "cluster " << cluster_id_ << ": loaded " << ns_.projects().size() << " projects, "
             << ns_.files().size() << " files, " << chunks_.table().size() << " chunks, "
             << registry_.size() << " chunkservers, " << access_.Users().size() << " users";
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// Membership

absl::StatusOr<ternion::v1::RegisterChunkServerResponse> Master::RegisterChunkServer(
    const ternion::v1::RegisterChunkServerRequest& req) {
  if (req.server_id().empty() || req.address().empty()) {
    return absl::InvalidArgumentError("registration needs a server id and an address");
  }
  RETURN_IF_ERROR(CheckClusterId(req.server_id(), req.cluster_id()));
  const ReportIndex index(req.replicas(), req.quarantined());  // before the mutex
  absl::MutexLock lock(&chunks_.mu);
  ServerState* s;
  absl::Time now;
  std::string rack;
  {
    absl::MutexLock servers(&registry_.mu);
    s = &ServerByName(req.server_id());
    ServerInfo& info = registry_.at(s->ordinal);
    if (info.record.state() == ternion::v1::SERVER_DECOMMISSIONED) {
      return absl::FailedPreconditionError(
          absl::StrCat("chunkserver ", req.server_id(), " is decommissioned"));
    }
    ternion::v1::ChunkServerRecord rec = info.record;
    rec.set_address(req.address());
    rec.set_rack(req.rack().empty() ? "default-rack" : req.rack());
    if (rec.SerializeAsString() != info.record.SerializeAsString()) {
      MetadataBatch batch;
      PutServer(&batch, rec);
      Commit(std::move(batch));
      info.record = rec;
    }
    info.registered = true;
    info.last_heartbeat = now = Now();
    info.graceful_until = absl::InfinitePast();  // back from a graceful stop
    info.SetDisks(req.disks());
    registry_.RefreshPlacement(info, now);
    rack = info.rack();
  }
  s->damaged.assign(req.damaged().begin(), req.damaged().end());
  ternion::v1::RegisterChunkServerResponse resp;
  resp.set_cluster_id(cluster_id_);
  resp.set_token_public_key(token_key_.public_key.data(), token_key_.public_key.size());
  const security::ReceiptKey receipts = ReceiptKeyOf(req.server_id());
  resp.set_receipt_key(receipts.data(), receipts.size());
  {
    absl::ReaderMutexLock servers(&registry_.mu);
    FillReportResponse(Reconcile(*s, index, now), resp.mutable_wipes(),
                       resp.mutable_quarantine_chunk_ids(), resp.mutable_release_chunk_ids());
  }
  TLOG(INFO) << "chunkserver " << req.server_id() << " at " << req.address() << " rack " << rack
             << " registered with " << req.replicas_size() << " replicas and "
             << req.quarantined_size() << " quarantined (" << resp.wipes_size() << " to wipe, "
             << resp.quarantine_chunk_ids_size() << " to quarantine, "
             << resp.release_chunk_ids_size() << " to release)";
  return resp;
}

absl::Status Master::CheckClusterId(const std::string& server_id,
                                    const std::string& their_id) const {
  if (their_id.empty() || their_id == cluster_id_) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "chunkserver ", server_id, " belongs to cluster ", their_id, ", but this master serves cluster ",
      cluster_id_, "; it may not join (its data directories are left untouched)"));
}

ternion::v1::HeartbeatResponse Master::Heartbeat(const ternion::v1::HeartbeatRequest& req) {
  ternion::v1::HeartbeatResponse resp;
  if (!CheckClusterId(req.server_id(), req.cluster_id()).ok()) {
    resp.set_reregister(true);  // and registration says why it is refused
    return resp;
  }
  const absl::Time now = Now();
  {  // Liveness and load: the registry's lock alone.
    absl::MutexLock servers(&registry_.mu);
    ServerInfo* s = registry_.Find(req.server_id());
    if (s != nullptr && s->record.state() == ternion::v1::SERVER_DECOMMISSIONED) {
      resp.set_refused(true);
      return resp;
    }
    if (s == nullptr || !s->registered) {
      resp.set_reregister(true);
      return resp;
    }
    const double seconds = absl::ToDoubleSeconds(now - s->last_heartbeat);
    if (seconds > 0 && req.bytes_written() >= s->bytes_written && s->bytes_written != 0) {
      s->recent_write_mib_s = (req.bytes_written() - s->bytes_written) / seconds / (1 << 20);
    }
    s->bytes_written = req.bytes_written();
    s->last_heartbeat = now;
    // (The one-way delay is a few milliseconds: far below the skew health warns about.)
    s->clock_skew_ms = req.clock_unix_ms() > 0 ? req.clock_unix_ms() - absl::ToUnixMillis(now) : 0;
    // A graceful stop keeps its replicas counted for --graceful-grace (server_registry.h).
    if (req.stopping() && !ServerRegistry::IsStopping(*s, now)) {
      TLOG(INFO) << "chunkserver " << req.server_id() << " is stopping gracefully; not dead for "
                 << options_.graceful_grace;
    }
    s->graceful_until = req.stopping() ? now + options_.graceful_grace : absl::InfinitePast();
    ++s->heartbeats;
    s->SetDisks(req.disks());
    s->active_streams = req.active_streams();
    registry_.RefreshPlacement(*s, now);
    resp.set_log_level(s->log_level);
  }
  // Wipes and orphan decisions: the chunk side (a server the registry knows is known here).
  absl::MutexLock lock(&chunks_.mu);
  ServerState& s = servers_.at(req.server_id());
  CollectGarbage(s, req, &resp);
  // Orphan decisions are made on full reports: ask for one when a decision is due.
  if (std::exchange(s.report_wanted, false) || now >= s.orphan_due) {
    s.orphan_due = absl::InfiniteFuture();
    resp.set_send_report(true);
  }
  return resp;
}

void Master::CollectGarbage(ServerState& s, const ternion::v1::HeartbeatRequest& req,
                            ternion::v1::HeartbeatResponse* resp) {
  const absl::Time now = Now();
  bytes_wiped_ += req.wiped_bytes();
  WipedBytesCounter()->Increment(req.wiped_bytes());
  RecordWiped(s, {req.wiped_chunk_ids().begin(), req.wiped_chunk_ids().end()});
  if (req.wiped_chunk_ids_size() > 0 && !s.quarantined.empty()) {  // a wiped orphan is gone
    absl::flat_hash_map<uint64_t, Orphan> left = s.quarantined;
    for (uint64_t id : req.wiped_chunk_ids()) left.erase(id);
    SetQuarantined(s, std::move(left));
  }
  const auto& deleted_here = chunks_.table().DeletedOnServer(s.ordinal);
  for (uint64_t id : wipe_handout_.Next(s.ordinal, deleted_here, now)) {
    ternion::v1::ReplicaWipe* wipe = resp->add_wipes();
    wipe->set_chunk_id(id);
    wipe->set_max_version(chunks_.table().at(id).version);  // a deleted chunk moves no more
  }
}

void Master::RecordWiped(ServerState& s, const std::vector<uint64_t>& ids) {
  MetadataBatch batch;
  for (uint64_t id : ids) {
    auto it = chunks_.table().find(id);
    if (it == chunks_.table().end() || !it->second.deleted() ||
        !it->second.HasReplica(s.ordinal)) {
      continue;
    }
    ++replicas_wiped_;
    wipe_handout_.Confirmed(s.ordinal, id);
    ChunkEntry e = it->second;
    e.RemoveReplica(s.ordinal);
    if (e.num_replicas == 0) {
      chunks_.Erase(id, &batch);  // wiped everywhere: the chunk is gone
    } else {
      chunks_.Put(id, e, &batch);
    }
  }
  if (!batch.puts.empty() || !batch.deletes.empty()) Commit(std::move(batch));
}

// ---------------------------------------------------------------------------------------------
// Projects

absl::Status Master::CreateProject(const std::string& name, const std::string& owner) {
  RETURN_IF_ERROR(ValidateProjectName(name));
  absl::MutexLock ns(&ns_.mu);
  ternion::v1::ProjectRecord p;
  p.set_name(name);
  p.set_owner(owner);
  p.set_created_unix_ms(NowMs());
  MetadataBatch batch;
  RETURN_IF_ERROR(ns_.CreateProject(p, &batch));
  Commit(std::move(batch));
  return absl::OkStatus();
}

std::vector<ternion::v1::ProjectRecord> Master::ListProjects() {
  absl::ReaderMutexLock ns(&ns_.mu);
  std::vector<ternion::v1::ProjectRecord> out;
  for (const auto& [name, p] : ns_.projects()) out.push_back(p);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Namespace. Calls on files alone take ns_.mu only; those that change chunks too take
// chunks_.mu after.

Lease Master::LeaseOf(const FileRecord& f) {
  return {.file = ViewOf(f), .id = f.lease_id(), .expires_unix_ms = f.lease_expires_unix_ms()};
}

absl::StatusOr<Lease> Master::CreateFile(const std::string& project, const std::string& path,
                                         uint64_t chunk_size, const std::string& client_id,
                                         const std::string& request_id, bool table) {
  RETURN_IF_ERROR(ValidateProjectName(project));
  RETURN_IF_ERROR(ValidatePath(path));
  if (chunk_size == 0) chunk_size = options_.default_chunk_size;
  if (chunk_size < kMinChunkSize || chunk_size > kMaxChunkSize || chunk_size % kMinChunkSize) {
    return absl::InvalidArgumentError(
        "chunk size must be a multiple of 64 KiB between 64 KiB and 1 GiB");
  }
  absl::MutexLock ns(&ns_.mu);
  RETURN_IF_ERROR(ns_.CheckProject(project));
  FileRecord f;
  if (absl::StatusOr<const FileRecord*> existing = ns_.Find(project, path); existing.ok()) {
    const FileRecord& e = **existing;
    // A retry of the create that made this file, nothing written yet: its answer was lost.
    if (request_id.empty() || e.create_request_id() != request_id ||
        e.lease_holder() != client_id || e.length() != 0 || e.chunk_ids_size() != 0 || e.sealed() ||
        (e.table_id() != 0) != table) {
      return absl::AlreadyExistsError(absl::StrCat("file ", project, "/", path, " already exists"));
    }
    f = e;
  } else {
    f.set_file_id(ns_.next_file_id());
    f.set_project(project);
    f.set_path(path);
    f.set_chunk_size(chunk_size);
    f.set_created_unix_ms(NowMs());
    f.set_create_request_id(request_id);
    if (table) f.set_table_id(f.file_id());
  }
  MetadataBatch batch;
  const FileRecord& stored = ns_.Put(ns_.WithNewLease(std::move(f), client_id), &batch);
  Commit(std::move(batch));
  return LeaseOf(stored);
}

absl::StatusOr<Lease> Master::OpenForAppend(const std::string& project, const std::string& path,
                                            const std::string& client_id) {
  absl::MutexLock ns(&ns_.mu);
  ASSIGN_OR_RETURN(const FileRecord* f, ns_.Find(project, path));
  if (f->sealed()) return absl::FailedPreconditionError("file is sealed");
  if (ns_.UnderLease(*f)) {
    return absl::FailedPreconditionError(
        absl::StrCat("file is being written by ", f->lease_holder(), " (lease held)"));
  }
  MetadataBatch batch;
  const FileRecord& stored = ns_.Put(ns_.WithNewLease(*f, client_id), &batch);
  Commit(std::move(batch));
  return LeaseOf(stored);
}

absl::StatusOr<Lease> Master::RenewLease(const LeaseRef& lease) {
  absl::MutexLock ns(&ns_.mu);
  ASSIGN_OR_RETURN(const FileRecord* f, ns_.CheckLease(lease));
  MetadataBatch batch;
  const FileRecord& stored = ns_.Put(ns_.WithLeaseRenewed(*f), &batch);
  Commit(std::move(batch));
  return LeaseOf(stored);
}

absl::StatusOr<ChunkView> Master::AllocateChunk(const LeaseRef& lease, uint64_t index) {
  absl::MutexLock ns(&ns_.mu);
  ASSIGN_OR_RETURN(const FileRecord* f, ns_.CheckLease(lease));
  absl::MutexLock lock(&chunks_.mu);
  absl::MutexLock servers(&registry_.mu);
  if (index < static_cast<uint64_t>(f->chunk_ids_size())) {
    const uint64_t id = f->chunk_ids(index);
    return ViewOf(id, chunks_.table().at(id));  // a retry: same chunk
  }
  if (index != static_cast<uint64_t>(f->chunk_ids_size())) {
    return absl::InvalidArgumentError(absl::StrCat("chunk ", index, " is not the file's next (",
                                                   f->chunk_ids_size(), ")"));
  }
  if (f->length() != index * f->chunk_size()) {
    return absl::FailedPreconditionError(
        "the previous chunk must be full and committed before the next is allocated");
  }
  RefreshLiveness(Now());
  ASSIGN_OR_RETURN(Placement placed, registry_.placement().Choose(options_.replicas, {}, {}, gen_));

  ChunkEntry c;
  c.file_id = f->file_id();
  c.project = chunks_.ProjectOrdinal(f->project());
  c.index = static_cast<uint32_t>(index);
  for (uint32_t s : placed.servers) c.AddReplica(s);
  MetadataBatch batch;
  const uint64_t id = chunks_.Allocate(c, &batch);
  FileRecord updated = ns_.WithLeaseRenewed(*f);
  updated.add_chunk_ids(id);
  updated.set_modified_unix_ms(NowMs());
  f = &ns_.Put(std::move(updated), &batch);
  Commit(std::move(batch));
  // Count the chunk's space at once, so a burst of allocations spreads before heartbeats catch up.
  for (uint32_t s : placed.servers) registry_.placement().AddUsage(s, f->chunk_size());
  return ViewOf(id, chunks_.table().at(id));
}

absl::StatusOr<ChunkView> Master::ReplaceReplicas(const WriteRecovery& req) {
  absl::ReaderMutexLock ns(&ns_.mu);  // the file does not change; its chunk does
  ASSIGN_OR_RETURN(const FileRecord* f, ns_.CheckLease(req.lease));
  absl::MutexLock lock(&chunks_.mu);
  absl::MutexLock servers(&registry_.mu);
  if (f->chunk_ids_size() == 0 || f->chunk_ids(f->chunk_ids_size() - 1) != req.chunk_id) {
    return absl::FailedPreconditionError("only the chunk being written can be recovered");
  }
  const uint64_t index = f->chunk_ids_size() - 1;
  if (index * f->chunk_size() + req.length < f->length() || req.length > f->chunk_size()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "recovery length ", req.length, " is below the acknowledged length of the chunk"));
  }
  // Survivors: the chunk's replicas the writer does not report failed. (A failed one the map no
  // longer lists, e.g. reported lost meanwhile, is simply gone already.)
  ChunkEntry e = chunks_.table().at(req.chunk_id);
  std::vector<uint32_t> failed, survivors;
  for (const std::string& id : req.failed_server_ids) {
    if (auto s = servers_.find(id); s != servers_.end()) failed.push_back(s->second.ordinal);
  }
  for (uint32_t r : e.replica_span()) {
    if (std::find(failed.begin(), failed.end(), r) == failed.end()) survivors.push_back(r);
  }
  if (survivors.empty()) {
    return absl::FailedPreconditionError("recovery needs at least one surviving replica");
  }
  RefreshLiveness(Now());
  Placement placed;  // none when only the version moves (a reopened file)
  const int needed = options_.replicas - static_cast<int>(survivors.size());
  if (needed > 0) {
    std::vector<uint32_t> avoid(e.replica_span().begin(), e.replica_span().end());
    avoid.insert(avoid.end(), failed.begin(), failed.end());
    ASSIGN_OR_RETURN(placed, registry_.placement().Choose(needed, survivors, avoid, gen_));
  }
  e.num_replicas = 0;
  for (uint32_t r : survivors) e.AddReplica(r);
  for (uint32_t r : placed.servers) e.AddReplica(r);
  ++e.version;
  MetadataBatch batch;
  chunks_.Put(req.chunk_id, e, &batch);
  Commit(std::move(batch));
  for (uint32_t s : placed.servers) registry_.placement().AddUsage(s, f->chunk_size());
  TLOG(INFO) << "write recovery of chunk " << req.chunk_id << ": version " << e.version << ", "
             << placed.servers.size() << " replica(s) placed";
  return ViewOf(req.chunk_id, e);
}

absl::StatusOr<uint64_t> Master::CommitLength(
    const LeaseRef& lease, uint64_t length, const std::vector<security::LengthReceipt>& receipts) {
  absl::MutexLock ns(&ns_.mu);
  ASSIGN_OR_RETURN(const FileRecord* f, ns_.CheckLease(lease));
  if (length < f->length()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "commit of length ", length, " would shrink the file from ", f->length()));
  }
  if (length > static_cast<uint64_t>(f->chunk_ids_size()) * f->chunk_size()) {
    return absl::OutOfRangeError(
        absl::StrCat("commit of length ", length, " is beyond the allocated chunks"));
  }
  if (length == f->length()) return length;
  absl::MutexLock lock(&chunks_.mu);
  FileRecord updated = ns_.WithLeaseRenewed(*f);
  updated.set_length(length);
  updated.set_modified_unix_ms(NowMs());
  MetadataBatch batch;
  {
    absl::ReaderMutexLock servers(&registry_.mu);
    for (uint64_t i = f->length() / f->chunk_size();
         i < static_cast<uint64_t>(f->chunk_ids_size()) && i * f->chunk_size() < length; ++i) {
      const uint64_t id = f->chunk_ids(i);
      ChunkEntry c = chunks_.table().at(id);
      c.length = static_cast<uint32_t>(std::min(f->chunk_size(), length - i * f->chunk_size()));
      std::vector<std::string> replicas;
      for (uint32_t r : c.replica_span()) replicas.push_back(registry_.at(r).record.server_id());
      RETURN_IF_ERROR(security::CheckLengthReceipts(
          id, c.version, c.length, replicas, receipts,
          [this](const std::string& server) { return ReceiptKeyOf(server); }));
      chunks_.Put(id, c, &batch);
    }
  }
  ns_.Put(std::move(updated), &batch);
  Commit(std::move(batch));
  return length;
}

absl::StatusOr<FileView> Master::SealFile(const LeaseRef& lease, bool seal) {
  absl::MutexLock ns(&ns_.mu);
  ASSIGN_OR_RETURN(const FileRecord* f, ns_.CheckLease(lease));
  FileRecord updated = *f;
  updated.set_sealed(seal);
  updated.clear_lease_id();
  updated.clear_lease_holder();
  updated.set_lease_expires_unix_ms(0);
  updated.set_modified_unix_ms(NowMs());
  MetadataBatch batch;
  const FileRecord& stored = ns_.Put(std::move(updated), &batch);
  Commit(std::move(batch));
  return ViewOf(stored);
}

std::vector<LeaseRecovery> Master::LeaseRecoveriesDue(size_t max, std::string* cursor) {
  std::vector<LeaseRecovery> out;
  absl::ReaderMutexLock ns(&ns_.mu);
  absl::ReaderMutexLock lock(&chunks_.mu);
  absl::ReaderMutexLock servers(&registry_.mu);
  const absl::Time now = Now();
  for (const FileRecord* f : ns_.LeasesPastHardLimit(max, cursor)) {
    LeaseRecovery& r = out.emplace_back();
    r.lease = {f->project(), f->path(), f->lease_id()};
    // Writers commit each chunk when it is full, before the next one, so only a last chunk the
    // committed length ends inside can hold flushed bytes the master has not recorded.
    const uint64_t chunks = f->chunk_ids_size();
    if (chunks == 0 || f->length() < (chunks - 1) * f->chunk_size() ||
        f->length() == chunks * f->chunk_size()) {
      continue;
    }
    r.chunk_id = f->chunk_ids(static_cast<int>(chunks - 1));
    const ChunkEntry& e = chunks_.table().at(r.chunk_id);
    r.version = e.version;
    r.committed = e.length;
    for (uint32_t s : e.replica_span()) {
      const ServerInfo& server = registry_.at(s);
      if (registry_.IsLive(server, now)) r.addresses.push_back(server.record.address());
    }
    r.token = SignChunkToken({.project = f->project(),
                              .chunk_id = r.chunk_id,
                              .version = e.version,
                              .mode = security::ChunkMode::kRead});
  }
  return out;
}

absl::StatusOr<std::optional<RecoveryMove>> Master::RecoverLease(
    const LeaseRecovery& r, const std::vector<ReplicaLength>& answers, size_t absent) {
  absl::MutexLock ns(&ns_.mu);
  ASSIGN_OR_RETURN(const FileRecord* f, ns_.Find(r.lease.project, r.lease.path));
  if (f->lease_id() != r.lease.lease_id || !ns_.LeasePastHardLimit(*f)) {
    return absl::FailedPreconditionError("the lease changed since its recovery began");
  }
  absl::MutexLock lock(&chunks_.mu);
  FileRecord updated = *f;
  MetadataBatch batch;
  if (r.chunk_id != 0) {
    const int chunks = f->chunk_ids_size();
    auto it = chunks_.table().find(r.chunk_id);
    if (chunks == 0 || f->chunk_ids(chunks - 1) != r.chunk_id || it == chunks_.table().end() ||
        it->second.version != r.version || it->second.length != r.committed) {
      return absl::FailedPreconditionError("the file's last chunk changed since it was asked");
    }
    const std::optional<ResumePoint> point =
        FindResumePoint(r.version, r.committed, f->chunk_size(), answers);
    ChunkEntry c = it->second;
    if (!point && r.committed == 0 && absent > 0 && absent == c.num_replicas) {
      // No acknowledged byte is in it (a writer commits at its first flush into a chunk), and
      // no replica holds any byte of it: nothing to recover, and nothing to repair.
      updated.mutable_chunk_ids()->RemoveLast();
      chunks_.DropReference(r.chunk_id, &batch);
      TLOG(INFO) << "lease recovery of " << f->project() << "/" << f->path() << ": chunk "
                 << r.chunk_id << " was never written on any replica; dropped from the file";
    } else if (!point) {
      return absl::UnavailableError(absl::StrCat("no replica of chunk ", r.chunk_id, " answered"));
    } else if (point->version < r.version) {  // its writer died in write recovery
      ++c.version;
      chunks_.Put(r.chunk_id, c, &batch);
      Commit(std::move(batch));
      TLOG(WARNING) << "lease recovery of " << f->project() << "/" << f->path()
                    << ": no replica of chunk " << r.chunk_id << " reached version " << r.version
                    << "; moving those of version " << point->version << " to " << c.version
                    << " at " << point->length << " bytes";
      return RecoveryMove{.chunk_id = r.chunk_id,
                          .version = point->version,
                          .new_version = c.version,
                          .length = point->length,
                          .token = SignChunkToken({.project = f->project(),
                                                   .chunk_id = r.chunk_id,
                                                   .version = c.version,
                                                   .mode = security::ChunkMode::kReplicate})};
    } else {
      c.length = static_cast<uint32_t>(point->length);
      chunks_.Put(r.chunk_id, c, &batch);
      updated.set_length(static_cast<uint64_t>(chunks - 1) * f->chunk_size() + point->length);
      if (updated.length() != f->length()) updated.set_modified_unix_ms(NowMs());
    }
  }
  updated.clear_lease_id();
  updated.clear_lease_holder();
  updated.set_lease_expires_unix_ms(0);
  TLOG(INFO) << "audit: the lease of " << f->lease_holder() << " on " << f->project() << "/"
             << f->path() << " recovered past the hard limit; length " << f->length() << " -> "
             << updated.length();
  ns_.Put(std::move(updated), &batch);
  Commit(std::move(batch));
  return std::nullopt;
}

absl::StatusOr<FileView> Master::GetFileInfo(const std::string& project, const std::string& path,
                                             bool with_chunks) {
  absl::ReaderMutexLock ns(&ns_.mu);
  ASSIGN_OR_RETURN(const FileRecord* f, ns_.Find(project, path));
  if (!with_chunks) return ViewOf(*f);
  absl::ReaderMutexLock lock(&chunks_.mu);
  absl::ReaderMutexLock servers(&registry_.mu);
  return ViewWithChunks(*f);
}

absl::StatusOr<FileListing> Master::ListFiles(const std::string& project,
                                              const std::string& prefix, uint32_t limit,
                                              const std::string& start_after) {
  RETURN_IF_ERROR(ValidateProjectName(project));
  for (const std::string* p : {&prefix, &start_after}) {
    if (p->size() > kMaxPathBytes || p->find('\0') != std::string::npos) {
      return absl::InvalidArgumentError("bad prefix or start");
    }
  }
  constexpr uint32_t kDefaultPage = 1000, kMaxPage = 10000;
  limit = limit == 0 ? kDefaultPage : std::min(limit, kMaxPage);
  absl::ReaderMutexLock ns(&ns_.mu);
  RETURN_IF_ERROR(ns_.CheckProject(project));
  FileListing out;
  const std::string start = FileKey(project, prefix);
  auto it = ns_.files().lower_bound(start);
  if (!start_after.empty()) {  // the later of the two starts
    auto after = ns_.files().upper_bound(FileKey(project, start_after));
    if (after == ns_.files().end() || (it != ns_.files().end() && it->first < after->first)) {
      it = after;
    }
  }
  for (; it != ns_.files().end(); ++it) {
    if (it->first.compare(0, start.size(), start) != 0) break;
    if (out.files.size() >= limit) {
      out.truncated = true;
      break;
    }
    out.files.push_back(ViewOf(it->second));
  }
  return out;
}

absl::Status Master::DeleteFile(const std::string& project, const std::string& path, bool force) {
  absl::MutexLock ns(&ns_.mu);
  ASSIGN_OR_RETURN(const FileRecord* f, ns_.Find(project, path));
  if (!force && ns_.UnderLease(*f)) {
    return absl::FailedPreconditionError(absl::StrCat(
        project, "/", path, " is being written by ", f->lease_holder(),
        "; wait for it to close, or delete with --force (which revokes the lease)"));
  }
  absl::MutexLock lock(&chunks_.mu);
  // The name goes at once; the chunks stay recorded as deleted until garbage collection wipes
  // their replicas. A chunk another file (a snapshot) still references only loses a reference.
  MetadataBatch batch;
  for (uint64_t id : f->chunk_ids()) chunks_.DropReference(id, &batch);
  ns_.Erase(project, path, &batch);
  ns_.DropFilePolicies(project, path, &batch);  // ACL entries and labels die with their object
  Commit(std::move(batch));
  return absl::OkStatus();
}

FileView Master::ViewOf(const FileRecord& f) {
  FileView view;
  view.project = f.project();
  view.path = f.path();
  view.file_id = f.file_id();
  view.length = f.length();
  view.chunk_size = f.chunk_size();
  view.sealed = f.sealed();
  view.under_lease = ns_.UnderLease(f);
  view.open = !f.lease_id().empty();
  view.chunk_count = f.chunk_ids_size();
  view.created_unix_ms = f.created_unix_ms();
  view.modified_unix_ms = f.modified_unix_ms();
  view.table_id = f.table_id();
  return view;
}

FileView Master::ViewWithChunks(const FileRecord& f) {
  FileView view = ViewOf(f);
  view.chunks.reserve(f.chunk_ids_size());
  for (uint64_t id : f.chunk_ids()) view.chunks.push_back(ViewOf(id, chunks_.table().at(id)));
  return view;
}

ChunkView Master::ViewOf(uint64_t id, const ChunkEntry& c) {
  ChunkView view;
  view.chunk_id = id;
  view.version = c.version;
  view.index = c.index;
  view.length = c.length;
  auto location = [&](const ServerInfo& s, bool live) ABSL_SHARED_LOCKS_REQUIRED(registry_.mu) {
    return ReplicaLocation{s.record.server_id(), s.record.address(), s.rack(), live,
                           s.active_streams};
  };
  // Live replicas first, so readers try them before servers the master has not heard from.
  const absl::Time now = Now();
  for (bool live_pass : {true, false}) {
    for (uint32_t r : c.replica_span()) {
      const ServerInfo& s = registry_.at(r);
      if (registry_.IsLive(s, now) == live_pass) view.replicas.push_back(location(s, live_pass));
    }
  }
  if (LiveReplicas(c, now) == 0) {  // the damaged copies kept for salvage
    for (const auto& [copy, o] : CorruptCopies(id)) {
      const ServerInfo& s = registry_.at(copy->ordinal);
      view.corrupt_replicas.push_back(location(s, registry_.IsLive(s, now)));
    }
  }
  return view;
}

std::vector<std::pair<const Master::ServerState*, const Master::Orphan*>> Master::CorruptCopies(
    uint64_t id) {
  std::vector<std::pair<const ServerState*, const Orphan*>> out;
  auto it = corrupt_copies_.find(id);
  if (it == corrupt_copies_.end()) return out;
  for (uint32_t ordinal : it->second) {
    const ServerState* s = server_by_ordinal_[ordinal];
    out.emplace_back(s, &s->quarantined.at(id));
  }
  return out;
}

void Master::SetQuarantined(ServerState& s, absl::flat_hash_map<uint64_t, Orphan> quarantined) {
  for (const auto& [id, o] : s.quarantined) {
    if (o.report.bad_blocks_size() == 0) continue;
    auto it = corrupt_copies_.find(id);
    if (it == corrupt_copies_.end()) continue;
    std::erase(it->second, s.ordinal);
    if (it->second.empty()) corrupt_copies_.erase(it);
  }
  s.quarantined = std::move(quarantined);
  for (const auto& [id, o] : s.quarantined) {
    if (o.report.bad_blocks_size() > 0) corrupt_copies_[id].push_back(s.ordinal);
  }
}

// ---------------------------------------------------------------------------------------------
// Cluster status and metrics

void Master::ReplicaHealth(const ChunkEntry& c, absl::Time now, int* live, bool* rack_safe) {
  *live = LiveReplicas(c, now);
  *rack_safe = c.num_replicas >= options_.replicas && registry_.RackSafe(c.replica_span());
}

void Master::FillServerStatus(const ServerInfo& s, absl::Time now,
                              ternion::v1::ChunkServerStatus* out) {
  const uint64_t replicas = chunks_.table().OnServer(s.ordinal).size();
  out->set_server_id(s.record.server_id());
  out->set_address(s.record.address());
  out->set_rack(s.rack());
  out->set_power_domain(registry_.PowerDomainOf(s.rack()));
  out->set_state(registry_.StateName(s, now));
  const absl::Time maintenance_end = registry_.MaintenanceEnd(s);
  out->set_maintenance_ends_in_ms(
      maintenance_end > now ? absl::ToInt64Milliseconds(maintenance_end - now) : 0);
  std::string admin = ternion::v1::ServerAdminState_Name(s.record.state()).substr(7);
  out->set_admin_state(absl::AsciiStrToLower(admin));
  out->set_last_heartbeat_ms_ago(s.last_heartbeat == absl::InfinitePast()
                                     ? -1
                                     : absl::ToInt64Milliseconds(now - s.last_heartbeat));
  out->set_capacity_bytes(s.capacity_bytes);
  out->set_used_bytes(s.used_bytes);
  out->set_clock_skew_ms(s.clock_skew_ms);
  out->set_replicas(replicas);
  out->set_active_streams(s.active_streams);
  for (const auto& d : s.disks) *out->add_disks() = d;
}

ChunkHealth Master::CountChunkHealth() {
  ChunkHealth h;
  // A slice at a time (~0.5 ms), the locks let go between slices for a moment, so a waiting
  // change takes them (absl::Mutex makes no hand-off).
  const size_t slice = std::min<size_t>(4096, options_.move_scan_slice);
  for (uint64_t cursor = 0;;) {
    {
      absl::ReaderMutexLock lock(&chunks_.mu);
      absl::ReaderMutexLock servers(&registry_.mu);
      const absl::Time now = Now();
      auto it = chunks_.table().lower_bound(cursor);
      for (size_t n = 0; it != chunks_.table().end() && n < slice; ++it, ++n) {
        const auto& [id, c] = *it;
        if (c.deleted()) continue;
        int live;
        bool rack_safe;
        ReplicaHealth(c, now, &live, &rack_safe);
        CountChunk(id, c.num_replicas, live, options_.replicas, rack_safe,
                   live == 0 && !CorruptCopies(id).empty(), &h);
      }
      if (it == chunks_.table().end()) return h;
      cursor = it->first;
    }
    absl::SleepFor(absl::Microseconds(50));
  }
}

ternion::v1::ClusterStatusResponse Master::ClusterStatus() {
  return StatusWith(health_report_.Fresh());
}

ternion::v1::ClusterStatusResponse Master::StatusWith(const ChunkHealth& h) {
  ternion::v1::ClusterStatusResponse resp;
  resp.set_chunks_total(h.total);
  resp.set_replicas_total(h.replicas);
  resp.set_chunks_corrupt(h.corrupt);
  resp.set_chunks_lost(h.lost);
  resp.set_chunks_under_replicated(h.under_replicated);
  resp.set_chunks_rack_unsafe(h.rack_unsafe);
  {
    absl::ReaderMutexLock ns(&ns_.mu);
    resp.set_projects(ns_.projects().size());
    resp.set_files(ns_.files().size());
  }
  absl::ReaderMutexLock lock(&chunks_.mu);
  absl::ReaderMutexLock servers(&registry_.mu);
  const absl::Time now = Now();
  for (const auto& [id, s] : registry_.servers()) {
    FillServerStatus(s, now, resp.add_servers());
    if (registry_.IsLive(s, now)) resp.set_live_servers(resp.live_servers() + 1);
  }
  const SetAsideCounts set_aside = CountSetAside();
  resp.set_orphans_quarantined(set_aside.orphans);
  resp.set_deletion_valve_held_servers(set_aside.held_servers);
  resp.set_moves_queued(move_queue_.size());
  resp.set_moves_in_progress(moves_in_flight_.size());
  resp.set_replicas_repaired(replicas_repaired_);
  resp.set_bytes_repaired(bytes_repaired_);
  resp.set_replicas_corrupt(corrupt_replicas_);
  resp.set_replication_paused(replication_paused_);
  *resp.mutable_health() = AssessHealth(resp, h.examples);
  return resp;
}

absl::StatusOr<FileView> Master::RenameFile(const std::string& project, const std::string& path,
                                            const std::string& new_path,
                                            std::optional<Replace> replace) {
  RETURN_IF_ERROR(ValidatePath(new_path));
  absl::MutexLock ns(&ns_.mu);
  ASSIGN_OR_RETURN(const FileRecord* f, ns_.Find(project, path));
  if (ns_.UnderLease(*f)) {
    return absl::FailedPreconditionError(
        absl::StrCat(project, "/", path, " is being written by ", f->lease_holder(),
                     "; rename it once it is closed"));
  }
  absl::StatusOr<const FileRecord*> target = ns_.Find(project, new_path);
  if (target.ok() && !replace.has_value()) {
    return absl::AlreadyExistsError(absl::StrCat("file ", project, "/", new_path, " already exists"));
  }
  if (replace.has_value() &&
      (!target.ok() || (*target)->file_id() != replace->file_id ||
       (*target)->length() != replace->length || ns_.UnderLease(**target) || path == new_path)) {
    return absl::AbortedError(
        absl::StrCat(project, "/", new_path, " changed (or is open for writing): not replaced"));
  }
  FileRecord renamed = *f;
  renamed.set_path(new_path);
  renamed.set_modified_unix_ms(NowMs());
  absl::MutexLock lock(&chunks_.mu);
  MetadataBatch batch;
  if (replace.has_value()) {
    // As DeleteFile, but the policies on the path stay: they are the replacement's.
    for (uint64_t id : (*target)->chunk_ids()) chunks_.DropReference(id, &batch);
    ns_.Erase(project, new_path, &batch);
  }
  ns_.Erase(project, path, &batch);
  // Labels follow the file (a rename never lowers a level); grants name the old file and die.
  ns_.CarryLabels(project, path, new_path, &batch);
  ns_.DropFilePolicies(project, path, &batch);
  const FileRecord& stored = ns_.Put(std::move(renamed), &batch);
  Commit(std::move(batch));
  return ViewOf(stored);
}

absl::StatusOr<FileView> Master::SnapshotFile(const std::string& project, const std::string& path,
                                              const std::string& snapshot_path) {
  RETURN_IF_ERROR(ValidatePath(snapshot_path));
  absl::MutexLock ns(&ns_.mu);
  ASSIGN_OR_RETURN(const FileRecord* f, ns_.Find(project, path));
  if (!f->lease_id().empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        project, "/", path, " is open for writing; close or seal it before a snapshot"));
  }
  if (ns_.Exists(project, snapshot_path)) {
    return absl::AlreadyExistsError(
        absl::StrCat("file ", project, "/", snapshot_path, " already exists"));
  }
  FileRecord snap;
  snap.set_file_id(ns_.next_file_id());
  snap.set_project(project);
  snap.set_path(snapshot_path);
  snap.set_length(f->length());
  snap.set_chunk_size(f->chunk_size());
  snap.set_sealed(true);
  snap.set_table_id(f->table_id());  // the rows stay bound to the table they were written in
  *snap.mutable_chunk_ids() = f->chunk_ids();
  snap.set_created_unix_ms(NowMs());
  snap.set_modified_unix_ms(NowMs());
  absl::MutexLock lock(&chunks_.mu);
  MetadataBatch batch;
  RETURN_IF_ERROR(chunks_.AddReferences({f->chunk_ids().begin(), f->chunk_ids().end()}, &batch));
  const FileRecord& stored = ns_.Put(std::move(snap), &batch);
  ns_.CarryLabels(project, path, snapshot_path, &batch);  // a snapshot keeps its source's levels
  Commit(std::move(batch));
  return ViewOf(stored);
}

ternion::v1::GcStatusResponse Master::GcStatus() {
  absl::ReaderMutexLock lock(&chunks_.mu);
  ternion::v1::GcStatusResponse resp;
  resp.set_chunks_pending(chunks_.table().DeletedChunks());
  resp.set_bytes_pending_wipe(chunks_.table().DeletedReplicaBytes());
  resp.set_bytes_wiped_total(bytes_wiped_);
  resp.set_replicas_wiped_total(replicas_wiped_);
  const SetAsideCounts set_aside = CountSetAside();
  resp.set_orphans_quarantined(set_aside.orphans);
  resp.set_corrupt_quarantined(set_aside.corrupt);
  resp.set_deletion_valve_held_servers(set_aside.held_servers);
  resp.set_replicas_unwiped(set_aside.unwiped);
  return resp;
}

Master::SetAsideCounts Master::CountSetAside() {
  SetAsideCounts counts;
  for (const auto& [id, s] : servers_) {
    for (const auto& [chunk, o] : s.quarantined) {
      if (o.report.bad_blocks_size() > 0) {
        ++counts.corrupt;
      } else if (!chunks_.table().contains(chunk)) {
        ++counts.orphans;
      }
    }
    if (s.held) ++counts.held_servers;
    counts.unwiped += s.damaged.size();
  }
  counts.unwiped += unwiped_.size();
  return counts;
}

absl::StatusOr<ternion::v1::FsckResponse> Master::Fsck(const std::string& project) {
  if (!project.empty()) RETURN_IF_ERROR(ValidateProjectName(project));
  absl::ReaderMutexLock ns(&ns_.mu);
  if (!project.empty()) RETURN_IF_ERROR(ns_.CheckProject(project));
  absl::ReaderMutexLock lock(&chunks_.mu);
  absl::ReaderMutexLock servers(&registry_.mu);
  const absl::Time now = Now();
  ternion::v1::FsckResponse resp;
  for (const auto& [key, f] : ns_.files()) {
    if (!project.empty() && f.project() != project) continue;
    resp.set_files(resp.files() + 1);
    for (int i = 0; i < f.chunk_ids_size(); ++i) {
      resp.set_chunks(resp.chunks() + 1);
      const ChunkEntry& c = chunks_.table().at(f.chunk_ids(i));
      int live;
      bool rack_safe;
      ReplicaHealth(c, now, &live, &rack_safe);
      const auto corrupt = live == 0 ? CorruptCopies(f.chunk_ids(i))
                                     : std::vector<std::pair<const ServerState*, const Orphan*>>();
      const char* state = live == 0 && !corrupt.empty() ? "corrupt"
                          : live == 0                   ? "lost"
                          : live < options_.replicas    ? "under_replicated"
                          : !rack_safe                  ? "rack_unsafe"
                                                        : nullptr;
      if (state == nullptr) continue;
      auto* p = resp.add_problems();
      p->set_project(f.project());
      p->set_path(f.path());
      p->set_index(i);
      p->set_chunk_id(f.chunk_ids(i));
      p->set_live_replicas(live);
      p->set_state(state);
      p->set_corrupt_copies(corrupt.size());
      if (corrupt.empty()) continue;
      // The blocks no kept copy holds intact: what salvage cannot save.
      absl::flat_hash_map<uint32_t, size_t> bad_in;
      for (const auto& [server, o] : corrupt) {
        for (uint32_t b : o->report.bad_blocks()) ++bad_in[b];
      }
      std::vector<uint32_t> lost_blocks;
      for (const auto& [b, n] : bad_in) {
        if (n == corrupt.size()) lost_blocks.push_back(b);
      }
      std::sort(lost_blocks.begin(), lost_blocks.end());
      constexpr uint64_t kBlock = 64 * 1024;
      for (uint32_t b : lost_blocks) {
        const uint64_t offset = b * kBlock;
        const uint64_t length = std::min<uint64_t>(kBlock, c.length - std::min<uint64_t>(offset, c.length));
        auto* d = p->mutable_damaged();
        if (!d->empty() && d->rbegin()->offset() + d->rbegin()->length() == offset) {
          d->rbegin()->set_length(d->rbegin()->length() + length);
        } else {
          auto* range = p->add_damaged();
          range->set_offset(offset);
          range->set_length(length);
        }
      }
    }
  }
  return resp;
}

absl::Status Master::CheckInvariants() {
  absl::ReaderMutexLock ns(&ns_.mu);
  absl::ReaderMutexLock lock(&chunks_.mu);
  absl::ReaderMutexLock servers(&registry_.mu);
  if (!chunks_.table().Consistent()) {
    return absl::InternalError("chunk map, lists and counts disagree");
  }
  if (servers_.size() != registry_.size() || server_by_ordinal_.size() != registry_.size()) {
    return absl::InternalError("the chunk side and the registry know different servers");
  }
  for (const auto& [id, s] : servers_) {
    if (registry_.at(s.ordinal).record.server_id() != id) {
      return absl::InternalError(absl::StrCat("server ", id, " has another's ordinal"));
    }
  }
  RETURN_IF_ERROR(ns_.CheckFacts());
  absl::flat_hash_map<uint64_t, uint32_t> refs;
  for (const auto& [key, f] : ns_.files()) {
    if (f.length() > static_cast<uint64_t>(f.chunk_ids_size()) * f.chunk_size()) {
      return absl::InternalError(absl::StrCat("file ", f.path(), " is longer than its chunks"));
    }
    for (uint64_t id : f.chunk_ids()) {
      auto c = chunks_.table().find(id);
      if (c == chunks_.table().end() || c->second.deleted()) {
        return absl::InternalError(absl::StrCat("file ", f.path(), " has no live chunk ", id));
      }
      ++refs[id];
    }
  }
  for (const auto& [id, e] : chunks_.table()) {
    if (!e.deleted() && refs[id] != 1u + e.extra_refs) {
      return absl::InternalError(absl::StrCat("chunk ", id, " is referenced by ", refs[id],
                                              " files, not 1 + ", e.extra_refs));
    }
  }
  return absl::OkStatus();
}

void Master::UpdateMetrics() {
  WipedBytesCounter();  // exported from the start, at 0
  ternion::v1::ClusterStatusResponse st = LatestStatus();
  GetGauge("ternion_master_live_chunkservers", "Chunkservers heard from within --dead-after.")
      ->Set(st.live_servers());
  GetGauge("ternion_master_chunkservers", "Chunkservers known to the master.")
      ->Set(st.servers_size());
  GetGauge("ternion_master_files", "Files in all namespaces.")->Set(st.files());
  GetGauge("ternion_master_projects", "Projects.")->Set(st.projects());
  GetGauge("ternion_master_replicas", "Chunk replicas recorded in the chunk map.")
      ->Set(st.replicas_total());
  const char* help = "Chunks by replication state.";
  uint64_t healthy = st.chunks_total() - st.chunks_under_replicated() - st.chunks_lost() -
                     st.chunks_corrupt();
  GetGauge("ternion_master_chunks", help, {{"state", "healthy"}})->Set(healthy);
  GetGauge("ternion_master_chunks", help, {{"state", "under_replicated"}})
      ->Set(st.chunks_under_replicated());
  GetGauge("ternion_master_chunks", help, {{"state", "lost"}})->Set(st.chunks_lost());
  GetGauge("ternion_master_chunks", help, {{"state", "corrupt"}})->Set(st.chunks_corrupt());
  GetGauge("ternion_master_orphan_replicas",
           "Replicas of chunks this master does not know, quarantined on their servers.")
      ->Set(st.orphans_quarantined());
  GetGauge("ternion_master_deletion_valve_held_servers",
           "Chunkservers whose replica reports the deletion valve holds for an operator.")
      ->Set(st.deletion_valve_held_servers());
  const char* placement_help = "Chunks by placement state: rack_unsafe when replicas share a rack.";
  GetGauge("ternion_master_chunks_placement", placement_help, {{"state", "healthy"}})
      ->Set(st.chunks_total() - st.chunks_rack_unsafe());
  GetGauge("ternion_master_chunks_placement", placement_help, {{"state", "rack_unsafe"}})
      ->Set(st.chunks_rack_unsafe());
  ternion::v1::GcStatusResponse gc = GcStatus();
  GetGauge("ternion_master_gc_chunks_pending", "Deleted chunks with replicas not yet wiped.")
      ->Set(gc.chunks_pending());
  GetGauge("ternion_master_gc_pending_wipe_bytes", "Replica bytes of deleted chunks awaiting wipe.")
      ->Set(gc.bytes_pending_wipe());
  GetGauge("ternion_master_replica_moves_queued", "Replica moves waiting to start.")
      ->Set(st.moves_queued());
  GetGauge("ternion_master_replica_moves_in_progress", "Replica moves being copied.")
      ->Set(st.moves_in_progress());
  GetGauge("ternion_master_replication_paused",
           "1 while every replica move is paused (ternion admin replication pause).")
      ->Set(st.replication_paused());
  const char* states_help = "Chunkservers by state: live, suspect, stopping (gracefully), dead.";
  std::map<std::string, int> states = {{"live", 0}, {"suspect", 0}, {"stopping", 0}, {"dead", 0}};
  int in_maintenance = 0;
  for (const auto& s : st.servers()) {
    ++states[s.state()];
    in_maintenance += s.maintenance_ends_in_ms() > 0;
  }
  for (const auto& [state, n] : states) {
    GetGauge("ternion_master_chunkserver_states", states_help, {{"state", state}})->Set(n);
  }
  GetGauge("ternion_master_chunkservers_in_maintenance", "Chunkservers in maintenance.")
      ->Set(in_maintenance);
  // The health verdict (ternion health): 0 OK, 1 WARN, 2 ERR, and each check's count (0 when it
  // does not apply), so alerts follow the same rules as the CLI.
  GetGauge("ternion_master_health_status",
           "Cluster health: 0 HEALTH_OK, 1 HEALTH_WARN, 2 HEALTH_ERR.")
      ->Set(st.health().level());
  std::map<std::string, uint64_t> counts;
  for (const auto& c : st.health().checks()) counts[c.code()] = c.count();
  for (const char* code : kHealthCodes) {
    GetGauge("ternion_master_health_checks",
             "Servers, disks or chunks each health check finds (ternion health --detail).",
             {{"code", code}})
        ->Set(counts[code]);
  }
}

}  // namespace ternion::master
