#include "master/master.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "common/names.h"
#include "common/status_macros.h"

namespace ternion::master {

using ternion::v1::ChunkInfo;
using ternion::v1::ChunkRecord;
using ternion::v1::FileInfo;
using ternion::v1::FileRecord;
using ternion::v1::LeaseRef;
using ternion::v1::LeaseResponse;

namespace {

constexpr char kProjectPrefix[] = "p/";
constexpr char kFilePrefix[] = "f/";
constexpr char kChunkPrefix[] = "c/";
constexpr char kServerPrefix[] = "s/";
constexpr char kNextFileIdKey[] = "n/file";
constexpr char kNextChunkIdKey[] = "n/chunk";
constexpr uint64_t kMinChunkSize = 64 * 1024;
constexpr uint64_t kMaxChunkSize = 1ull << 30;

std::string FileKey(const std::string& project, const std::string& path) {
  return absl::StrCat(project, std::string(1, '\0'), path);
}
std::string ChunkKey(uint64_t id) { return absl::StrFormat("%s%016x", kChunkPrefix, id); }
int64_t NowMs() { return absl::ToUnixMillis(absl::Now()); }

}  // namespace

absl::StatusOr<std::unique_ptr<Master>> Master::Open(const std::string& metadata_dir,
                                                     const MasterOptions& options) {
  ASSIGN_OR_RETURN(auto store, MetadataStore::Open(metadata_dir));
  std::unique_ptr<Master> m(new Master(std::move(store), options));
  RETURN_IF_ERROR(m->Load());
  return m;
}

absl::Status Master::Load() {
  absl::MutexLock lock(&mu_);
  absl::Status bad;
  auto parse = [&bad](auto* msg, absl::string_view key, absl::string_view value) {
    if (!msg->ParseFromArray(value.data(), value.size()) && bad.ok()) {
      bad = absl::DataLossError(absl::StrCat("corrupt metadata record ", key));
    }
  };
  RETURN_IF_ERROR(store_->Scan(kProjectPrefix, [&](absl::string_view k, absl::string_view v) {
    ternion::v1::ProjectRecord p;
    parse(&p, k, v);
    projects_[p.name()] = p;
  }));
  RETURN_IF_ERROR(store_->Scan(kFilePrefix, [&](absl::string_view k, absl::string_view v) {
    FileRecord f;
    parse(&f, k, v);
    files_[FileKey(f.project(), f.path())] = f;
  }));
  RETURN_IF_ERROR(store_->Scan(kChunkPrefix, [&](absl::string_view k, absl::string_view v) {
    ChunkRecord c;
    parse(&c, k, v);
    chunks_[c.chunk_id()] = c;
  }));
  RETURN_IF_ERROR(store_->Scan(kServerPrefix, [&](absl::string_view k, absl::string_view v) {
    ServerState s;
    parse(&s.record, k, v);
    servers_[s.record.server_id()] = s;
  }));
  RETURN_IF_ERROR(store_->Scan("n/", [&](absl::string_view k, absl::string_view v) {
    uint64_t n = 0;
    if (!absl::SimpleAtoi(v, &n) && bad.ok()) bad = absl::DataLossError("corrupt id counter");
    if (k == kNextFileIdKey) next_file_id_ = n;
    if (k == kNextChunkIdKey) next_chunk_id_ = n;
  }));
  RETURN_IF_ERROR(bad);
  TLOG(INFO) << "loaded " << projects_.size() << " projects, " << files_.size() << " files, "
             << chunks_.size() << " chunks, " << servers_.size() << " chunkservers";
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// Membership

absl::Status Master::RegisterChunkServer(const ternion::v1::RegisterChunkServerRequest& req) {
  if (req.server_id().empty() || req.address().empty()) {
    return absl::InvalidArgumentError("registration needs a server id and an address");
  }
  absl::MutexLock lock(&mu_);
  ServerState& s = servers_[req.server_id()];
  ternion::v1::ChunkServerRecord rec;
  rec.set_server_id(req.server_id());
  rec.set_address(req.address());
  rec.set_rack(req.rack().empty() ? "default-rack" : req.rack());
  if (rec.SerializeAsString() != s.record.SerializeAsString()) {
    MetadataBatch batch;
    batch.Put(kServerPrefix + rec.server_id(), rec.SerializeAsString());
    absl::Status st = store_->Write(batch);
    if (!st.ok()) {
      if (s.record.server_id().empty()) servers_.erase(req.server_id());
      return st;
    }
    s.record = rec;
  }
  s.registered = true;
  s.last_heartbeat = absl::Now();
  s.capacity_bytes = s.used_bytes = 0;
  for (const auto& d : req.disks()) {
    if (d.failed()) continue;
    s.capacity_bytes += d.capacity_bytes();
    s.used_bytes += d.used_bytes();
  }
  s.reported_replicas = req.replicas_size();
  TLOG(INFO) << "chunkserver " << rec.server_id() << " at " << rec.address() << " rack "
             << rec.rack() << " registered with " << req.replicas_size() << " replicas";
  return absl::OkStatus();
}

bool Master::Heartbeat(const ternion::v1::HeartbeatRequest& req) {
  absl::MutexLock lock(&mu_);
  auto it = servers_.find(req.server_id());
  if (it == servers_.end() || !it->second.registered) return false;
  ServerState& s = it->second;
  s.last_heartbeat = absl::Now();
  s.capacity_bytes = s.used_bytes = 0;
  for (const auto& d : req.disks()) {
    if (d.failed()) continue;
    s.capacity_bytes += d.capacity_bytes();
    s.used_bytes += d.used_bytes();
  }
  s.active_streams = req.active_streams();
  return true;
}

// ---------------------------------------------------------------------------------------------
// Projects

absl::Status Master::CreateProject(const std::string& name, const std::string& owner) {
  RETURN_IF_ERROR(ValidateProjectName(name));
  absl::MutexLock lock(&mu_);
  if (projects_.contains(name)) {
    return absl::AlreadyExistsError(absl::StrCat("project ", name, " already exists"));
  }
  ternion::v1::ProjectRecord p;
  p.set_name(name);
  p.set_owner(owner);
  p.set_created_unix_ms(NowMs());
  MetadataBatch batch;
  batch.Put(kProjectPrefix + name, p.SerializeAsString());
  RETURN_IF_ERROR(store_->Write(batch));
  projects_[name] = p;
  return absl::OkStatus();
}

std::vector<ternion::v1::ProjectEntry> Master::ListProjects() {
  absl::MutexLock lock(&mu_);
  std::vector<ternion::v1::ProjectEntry> out;
  for (const auto& [name, p] : projects_) {
    ternion::v1::ProjectEntry e;
    e.set_name(p.name());
    e.set_owner(p.owner());
    e.set_created_unix_ms(p.created_unix_ms());
    out.push_back(e);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Namespace

absl::StatusOr<FileRecord*> Master::FindFile(const std::string& project, const std::string& path) {
  RETURN_IF_ERROR(ValidateProjectName(project));
  RETURN_IF_ERROR(ValidatePath(path));
  if (!projects_.contains(project)) {
    return absl::NotFoundError(absl::StrCat("project ", project, " does not exist"));
  }
  auto it = files_.find(FileKey(project, path));
  if (it == files_.end()) {
    return absl::NotFoundError(absl::StrCat("file ", project, "/", path, " does not exist"));
  }
  return &it->second;
}

absl::StatusOr<FileRecord*> Master::CheckLease(const LeaseRef& lease) {
  ASSIGN_OR_RETURN(FileRecord * f, FindFile(lease.project(), lease.path()));
  if (f->sealed()) return absl::FailedPreconditionError("file is sealed");
  if (lease.lease_id().empty() || f->lease_id() != lease.lease_id()) {
    return absl::FailedPreconditionError(
        absl::StrCat("no valid lease on ", lease.project(), "/", lease.path(),
                     " (expired and taken by another writer, or released)"));
  }
  return f;
}

absl::StatusOr<LeaseResponse> Master::GrantLease(FileRecord record, const std::string& client_id) {
  record.set_lease_id(absl::StrFormat("%016x", absl::Uniform<uint64_t>(gen_)));
  record.set_lease_holder(client_id);
  record.set_lease_expires_unix_ms(NowMs() + absl::ToInt64Milliseconds(options_.lease_duration));
  record.set_modified_unix_ms(NowMs());
  MetadataBatch batch;
  batch.Put(kFilePrefix + FileKey(record.project(), record.path()), record.SerializeAsString());
  if (record.file_id() >= next_file_id_) {
    batch.Put(kNextFileIdKey, absl::StrCat(record.file_id() + 1));
  }
  RETURN_IF_ERROR(store_->Write(batch));
  next_file_id_ = std::max(next_file_id_, record.file_id() + 1);
  FileRecord& stored = files_[FileKey(record.project(), record.path())];
  stored = std::move(record);
  LeaseResponse resp;
  *resp.mutable_file() = ToFileInfo(stored, false);
  resp.set_lease_id(stored.lease_id());
  resp.set_lease_expires_unix_ms(stored.lease_expires_unix_ms());
  return resp;
}

absl::StatusOr<LeaseResponse> Master::CreateFile(const std::string& project,
                                                 const std::string& path, uint64_t chunk_size,
                                                 const std::string& client_id) {
  RETURN_IF_ERROR(ValidateProjectName(project));
  RETURN_IF_ERROR(ValidatePath(path));
  if (chunk_size == 0) chunk_size = options_.default_chunk_size;
  if (chunk_size < kMinChunkSize || chunk_size > kMaxChunkSize || chunk_size % kMinChunkSize) {
    return absl::InvalidArgumentError(
        "chunk size must be a multiple of 64 KiB between 64 KiB and 1 GiB");
  }
  absl::MutexLock lock(&mu_);
  if (!projects_.contains(project)) {
    return absl::NotFoundError(absl::StrCat("project ", project, " does not exist"));
  }
  if (files_.contains(FileKey(project, path))) {
    return absl::AlreadyExistsError(absl::StrCat("file ", project, "/", path, " already exists"));
  }
  FileRecord f;
  f.set_file_id(next_file_id_);
  f.set_project(project);
  f.set_path(path);
  f.set_chunk_size(chunk_size);
  f.set_created_unix_ms(NowMs());
  return GrantLease(std::move(f), client_id);
}

absl::StatusOr<LeaseResponse> Master::OpenForAppend(const std::string& project,
                                                    const std::string& path,
                                                    const std::string& client_id) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(FileRecord * f, FindFile(project, path));
  if (f->sealed()) return absl::FailedPreconditionError("file is sealed");
  if (!f->lease_id().empty() && f->lease_expires_unix_ms() > NowMs()) {
    return absl::FailedPreconditionError(
        absl::StrCat("file is being written by ", f->lease_holder(), " (lease held)"));
  }
  return GrantLease(*f, client_id);
}

absl::StatusOr<LeaseResponse> Master::RenewLease(const LeaseRef& lease) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(FileRecord * f, CheckLease(lease));
  FileRecord updated = *f;
  updated.set_lease_expires_unix_ms(NowMs() + absl::ToInt64Milliseconds(options_.lease_duration));
  MetadataBatch batch;
  batch.Put(kFilePrefix + FileKey(updated.project(), updated.path()), updated.SerializeAsString());
  RETURN_IF_ERROR(store_->Write(batch));
  *f = std::move(updated);
  LeaseResponse resp;
  *resp.mutable_file() = ToFileInfo(*f, false);
  resp.set_lease_id(f->lease_id());
  resp.set_lease_expires_unix_ms(f->lease_expires_unix_ms());
  return resp;
}

absl::StatusOr<ChunkInfo> Master::AllocateChunk(const LeaseRef& lease, uint64_t index) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(FileRecord * f, CheckLease(lease));
  if (index < static_cast<uint64_t>(f->chunk_ids_size())) {
    return ToChunkInfo(chunks_.at(f->chunk_ids(index)));  // a retry: same chunk
  }
  if (index != static_cast<uint64_t>(f->chunk_ids_size())) {
    return absl::InvalidArgumentError(absl::StrCat("chunk ", index, " is not the file's next (",
                                                   f->chunk_ids_size(), ")"));
  }
  if (f->length() != index * f->chunk_size()) {
    return absl::FailedPreconditionError(
        "the previous chunk must be full and committed before the next is allocated");
  }
  const absl::Time now = absl::Now();
  std::vector<PlacementCandidate> candidates;
  for (const auto& [id, s] : servers_) {
    if (!IsLive(s, now)) continue;
    candidates.push_back({id, s.record.rack(), s.capacity_bytes, s.used_bytes});
  }
  ASSIGN_OR_RETURN(PlacementResult placed, placement_.Choose(candidates, options_.replicas, gen_));

  ChunkRecord c;
  c.set_chunk_id(next_chunk_id_);
  c.set_file_id(f->file_id());
  c.set_project(f->project());
  c.set_index(index);
  c.set_version(1);
  for (const std::string& id : placed.server_ids) c.add_replica_servers(id);
  FileRecord updated = *f;
  updated.add_chunk_ids(c.chunk_id());
  updated.set_lease_expires_unix_ms(NowMs() + absl::ToInt64Milliseconds(options_.lease_duration));
  updated.set_modified_unix_ms(NowMs());
  MetadataBatch batch;
  batch.Put(ChunkKey(c.chunk_id()), c.SerializeAsString());
  batch.Put(kFilePrefix + FileKey(updated.project(), updated.path()), updated.SerializeAsString());
  batch.Put(kNextChunkIdKey, absl::StrCat(c.chunk_id() + 1));
  RETURN_IF_ERROR(store_->Write(batch));
  ++next_chunk_id_;
  *f = std::move(updated);
  chunks_[c.chunk_id()] = c;
  return ToChunkInfo(c);
}

absl::StatusOr<uint64_t> Master::CommitLength(const LeaseRef& lease, uint64_t length) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(FileRecord * f, CheckLease(lease));
  if (length < f->length()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "commit of length ", length, " would shrink the file from ", f->length()));
  }
  if (length > static_cast<uint64_t>(f->chunk_ids_size()) * f->chunk_size()) {
    return absl::OutOfRangeError(
        absl::StrCat("commit of length ", length, " is beyond the allocated chunks"));
  }
  if (length == f->length()) return length;
  FileRecord updated = *f;
  updated.set_length(length);
  updated.set_modified_unix_ms(NowMs());
  updated.set_lease_expires_unix_ms(NowMs() + absl::ToInt64Milliseconds(options_.lease_duration));
  MetadataBatch batch;
  batch.Put(kFilePrefix + FileKey(updated.project(), updated.path()), updated.SerializeAsString());
  std::vector<ChunkRecord> changed;
  for (uint64_t i = f->length() / f->chunk_size();
       i < static_cast<uint64_t>(f->chunk_ids_size()) && i * f->chunk_size() < length; ++i) {
    ChunkRecord c = chunks_.at(f->chunk_ids(i));
    c.set_length(std::min(f->chunk_size(), length - i * f->chunk_size()));
    batch.Put(ChunkKey(c.chunk_id()), c.SerializeAsString());
    changed.push_back(std::move(c));
  }
  RETURN_IF_ERROR(store_->Write(batch));
  *f = std::move(updated);
  for (ChunkRecord& c : changed) chunks_[c.chunk_id()] = std::move(c);
  return length;
}

absl::StatusOr<FileInfo> Master::SealFile(const LeaseRef& lease, bool seal) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(FileRecord * f, CheckLease(lease));
  FileRecord updated = *f;
  updated.set_sealed(seal);
  updated.clear_lease_id();
  updated.clear_lease_holder();
  updated.set_lease_expires_unix_ms(0);
  updated.set_modified_unix_ms(NowMs());
  MetadataBatch batch;
  batch.Put(kFilePrefix + FileKey(updated.project(), updated.path()), updated.SerializeAsString());
  RETURN_IF_ERROR(store_->Write(batch));
  *f = std::move(updated);
  return ToFileInfo(*f, false);
}

absl::StatusOr<FileInfo> Master::GetFileInfo(const std::string& project, const std::string& path,
                                             bool with_chunks) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(FileRecord * f, FindFile(project, path));
  return ToFileInfo(*f, with_chunks);
}

absl::StatusOr<std::vector<FileInfo>> Master::ListFiles(const std::string& project,
                                                        const std::string& prefix,
                                                        uint32_t limit) {
  RETURN_IF_ERROR(ValidateProjectName(project));
  if (prefix.size() > kMaxPathBytes || prefix.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError("bad prefix");
  }
  absl::MutexLock lock(&mu_);
  if (!projects_.contains(project)) {
    return absl::NotFoundError(absl::StrCat("project ", project, " does not exist"));
  }
  std::vector<FileInfo> out;
  std::string start = FileKey(project, prefix);
  for (auto it = files_.lower_bound(start); it != files_.end(); ++it) {
    if (it->first.compare(0, start.size(), start) != 0) break;
    if (limit != 0 && out.size() >= limit) break;
    out.push_back(ToFileInfo(it->second, false));
  }
  return out;
}

absl::Status Master::DeleteFile(const std::string& project, const std::string& path) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(FileRecord * f, FindFile(project, path));
  // The name goes at once; the chunks stay recorded as deleted until garbage collection wipes
  // their replicas.
  MetadataBatch batch;
  batch.Delete(kFilePrefix + FileKey(project, path));
  std::vector<ChunkRecord> changed;
  for (uint64_t id : f->chunk_ids()) {
    ChunkRecord c = chunks_.at(id);
    c.set_deleted(true);
    batch.Put(ChunkKey(id), c.SerializeAsString());
    changed.push_back(std::move(c));
  }
  RETURN_IF_ERROR(store_->Write(batch));
  files_.erase(FileKey(project, path));
  for (ChunkRecord& c : changed) chunks_[c.chunk_id()] = std::move(c);
  return absl::OkStatus();
}

FileInfo Master::ToFileInfo(const FileRecord& f, bool with_chunks) {
  FileInfo info;
  info.set_project(f.project());
  info.set_path(f.path());
  info.set_file_id(f.file_id());
  info.set_length(f.length());
  info.set_chunk_size(f.chunk_size());
  info.set_sealed(f.sealed());
  info.set_under_lease(!f.lease_id().empty() && f.lease_expires_unix_ms() > NowMs());
  info.set_created_unix_ms(f.created_unix_ms());
  info.set_modified_unix_ms(f.modified_unix_ms());
  if (with_chunks) {
    for (uint64_t id : f.chunk_ids()) *info.add_chunks() = ToChunkInfo(chunks_.at(id));
  }
  return info;
}

ChunkInfo Master::ToChunkInfo(const ChunkRecord& c) {
  ChunkInfo info;
  info.set_chunk_id(c.chunk_id());
  info.set_version(c.version());
  info.set_index(c.index());
  info.set_length(c.length());
  // Live replicas first, so readers try them before servers the master has not heard from.
  const absl::Time now = absl::Now();
  for (bool live_pass : {true, false}) {
    for (const std::string& id : c.replica_servers()) {
      auto it = servers_.find(id);
      bool live = it != servers_.end() && IsLive(it->second, now);
      if (live != live_pass) continue;
      auto* r = info.add_replicas();
      r->set_server_id(id);
      if (it != servers_.end()) {
        r->set_address(it->second.record.address());
        r->set_rack(it->second.record.rack());
      }
    }
  }
  return info;
}

// ---------------------------------------------------------------------------------------------
// Cluster status and metrics

void Master::ReplicaHealth(const ChunkRecord& c, absl::Time now, int* live, bool* rack_safe) {
  *live = 0;
  absl::flat_hash_map<std::string, int> racks;
  for (const std::string& id : c.replica_servers()) {
    auto it = servers_.find(id);
    if (it == servers_.end()) continue;
    ++racks[it->second.record.rack()];
    if (IsLive(it->second, now)) ++*live;
  }
  *rack_safe = racks.size() >= static_cast<size_t>(options_.replicas);
}

ternion::v1::ClusterStatusResponse Master::ClusterStatus() {
  absl::MutexLock lock(&mu_);
  const absl::Time now = absl::Now();
  ternion::v1::ClusterStatusResponse resp;
  absl::flat_hash_map<std::string, uint64_t> replicas_per_server;
  for (const auto& [id, c] : chunks_) {
    if (c.deleted()) continue;
    resp.set_chunks_total(resp.chunks_total() + 1);
    resp.set_replicas_total(resp.replicas_total() + c.replica_servers_size());
    for (const std::string& s : c.replica_servers()) ++replicas_per_server[s];
    int live;
    bool rack_safe;
    ReplicaHealth(c, now, &live, &rack_safe);
    if (live == 0) {
      resp.set_chunks_lost(resp.chunks_lost() + 1);
    } else if (live < options_.replicas) {
      resp.set_chunks_under_replicated(resp.chunks_under_replicated() + 1);
    }
    if (!rack_safe) resp.set_chunks_rack_unsafe(resp.chunks_rack_unsafe() + 1);
  }
  for (const auto& [id, s] : servers_) {
    auto* out = resp.add_servers();
    out->set_server_id(id);
    out->set_address(s.record.address());
    out->set_rack(s.record.rack());
    bool live = IsLive(s, now);
    out->set_state(live ? "live" : "dead");
    if (live) resp.set_live_servers(resp.live_servers() + 1);
    out->set_last_heartbeat_ms_ago(s.last_heartbeat == absl::InfinitePast()
                                       ? -1
                                       : absl::ToInt64Milliseconds(now - s.last_heartbeat));
    out->set_capacity_bytes(s.capacity_bytes);
    out->set_used_bytes(s.used_bytes);
    out->set_replicas(replicas_per_server[id]);
    out->set_active_streams(s.active_streams);
  }
  resp.set_projects(projects_.size());
  resp.set_files(files_.size());
  return resp;
}

void Master::UpdateMetrics() {
  ternion::v1::ClusterStatusResponse st = ClusterStatus();
  auto& r = MetricsRegistry::Default();
  r.GetGauge("ternion_master_live_chunkservers", "Chunkservers heard from within --dead-after.")
      ->Set(st.live_servers());
  r.GetGauge("ternion_master_chunkservers", "Chunkservers known to the master.")
      ->Set(st.servers_size());
  r.GetGauge("ternion_master_files", "Files in all namespaces.")->Set(st.files());
  r.GetGauge("ternion_master_projects", "Projects.")->Set(st.projects());
  r.GetGauge("ternion_master_replicas", "Chunk replicas recorded in the chunk map.")
      ->Set(st.replicas_total());
  const char* help = "Chunks by replication state.";
  uint64_t healthy = st.chunks_total() - st.chunks_under_replicated() - st.chunks_lost();
  r.GetGauge("ternion_master_chunks", help, {{"state", "healthy"}})->Set(healthy);
  r.GetGauge("ternion_master_chunks", help, {{"state", "under_replicated"}})
      ->Set(st.chunks_under_replicated());
  r.GetGauge("ternion_master_chunks", help, {{"state", "lost"}})->Set(st.chunks_lost());
  r.GetGauge("ternion_master_chunks_rack_unsafe", "Chunks whose replicas share a rack.")
      ->Set(st.chunks_rack_unsafe());
}

}  // namespace ternion::master
