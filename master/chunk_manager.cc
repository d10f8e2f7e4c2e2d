#include "master/chunk_manager.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "master/metadata_keys.h"

namespace ternion::master {
namespace {

// Whether two entries place replicas on the same servers (in any order).
bool SameReplicas(const ChunkEntry& a, const ChunkEntry& b) {
  if (a.num_replicas != b.num_replicas) return false;
  for (uint32_t r : a.replica_span()) {
    if (!b.HasReplica(r)) return false;
  }
  return true;
}

}  // namespace

void ChunkManager::NameServer(uint32_t ordinal, const std::string& id) {
  if (ordinal >= server_ids_.size()) server_ids_.resize(ordinal + 1);
  server_ids_[ordinal] = id;
}

uint32_t ChunkManager::ProjectOrdinal(const std::string& name) {
  auto [it, added] = project_ordinals_.try_emplace(name, project_names_.size());
  if (added) project_names_.push_back(name);
  return it->second;
}

void ChunkManager::Load(const ternion::v1::ChunkRecord& c,
                        const std::function<uint32_t(const std::string&)>& ordinal_of) {
  ChunkEntry e;
  e.file_id = c.file_id();
  e.length = static_cast<uint32_t>(c.length());
  e.version = static_cast<uint32_t>(c.version());
  e.index = static_cast<uint32_t>(c.index());
  e.project = ProjectOrdinal(c.project());
  e.extra_refs = static_cast<uint16_t>(c.extra_refs());
  if (c.deleted()) e.flags |= ChunkEntry::kDeleted;
  for (const std::string& id : c.replica_servers()) e.AddReplica(ordinal_of(id));
  table_.Put(c.chunk_id(), e);
}

void ChunkManager::SkipChunkIds(uint64_t gap, MetadataBatch* batch) {
  next_chunk_id_ += gap;
  batch->Put(kNextChunkIdKey, absl::StrCat(next_chunk_id_));
}

uint64_t ChunkManager::Allocate(ChunkEntry e, MetadataBatch* batch) {
  const uint64_t id = next_chunk_id_++;
  e.version = 1;
  batch->Put(kNextChunkIdKey, absl::StrCat(next_chunk_id_));
  Put(id, e, batch);
  return id;
}

void ChunkManager::Put(uint64_t id, const ChunkEntry& e, MetadataBatch* batch) {
  batch->Put(ChunkKey(id), RecordOf(id, e).SerializeAsString());
  auto old = table_.find(id);
  if (old == table_.end() || old->second.version != e.version || !SameReplicas(old->second, e)) {
    replicas_changed_at_[id] = clock_->Now();
  }
  table_.Put(id, e);
}

void ChunkManager::Erase(uint64_t id, MetadataBatch* batch) {
  batch->Delete(ChunkKey(id));
  table_.Erase(id);
  replicas_changed_at_.erase(id);
}

absl::Status ChunkManager::AddReferences(const std::vector<uint64_t>& ids, MetadataBatch* batch) {
  for (uint64_t id : ids) {
    if (table_.at(id).extra_refs == UINT16_MAX) {
      return absl::ResourceExhaustedError(absl::StrCat("chunk ", id, " has too many snapshots"));
    }
  }
  for (uint64_t id : ids) {
    ChunkEntry e = table_.at(id);
    ++e.extra_refs;
    Put(id, e, batch);
  }
  return absl::OkStatus();
}

void ChunkManager::DropReference(uint64_t id, MetadataBatch* batch) {
  ChunkEntry e = table_.at(id);
  if (e.extra_refs > 0) {
    --e.extra_refs;
  } else {
    e.flags |= ChunkEntry::kDeleted;
  }
  Put(id, e, batch);
}

bool ChunkManager::ReplicasChangedWithin(uint64_t id, absl::Duration window) const {
  auto it = replicas_changed_at_.find(id);
  return it != replicas_changed_at_.end() && clock_->Now() - it->second < window;
}

void ChunkManager::PruneReplicaChanges() {
  const absl::Time now = clock_->Now();
  absl::erase_if(replicas_changed_at_,
                 [now](const auto& kv) { return now - kv.second > absl::Minutes(1); });
}

ternion::v1::ChunkRecord ChunkManager::RecordOf(uint64_t id, const ChunkEntry& e) const {
  ternion::v1::ChunkRecord c;
  c.set_chunk_id(id);
  c.set_file_id(e.file_id);
  c.set_index(e.index);
  c.set_version(e.version);
  c.set_length(e.length);
  c.set_deleted(e.deleted());
  c.set_project(project_names_[e.project]);
  c.set_extra_refs(e.extra_refs);
  for (uint32_t r : e.replica_span()) c.add_replica_servers(server_ids_[r]);
  return c;
}

}  // namespace ternion::master
