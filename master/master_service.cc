#include "master/master_service.h"

#include "common/rpc_metrics.h"
#include "common/rpc_status.h"

namespace ternion::master {
namespace {

// Runs `fn` (returning absl::Status) as one counted RPC.
// Runs one call. Its answer waits until every metadata change made so far is durable: those it
// made, and those it may have seen (see Master::WaitDurable).
template <typename Fn>
grpc::Status Serve(Master* master, const char* method, Fn fn) {
  RpcScope rpc("master", method);
  absl::Status s = fn();
  if (absl::Status durable = master->WaitDurable(); !durable.ok()) s = durable;
  return rpc.Done(ToGrpcStatus(s));
}

// Stores a StatusOr's value through `assign`, or returns its error.
template <typename T, typename Assign>
absl::Status Store(absl::StatusOr<T> result, Assign assign) {
  if (!result.ok()) return result.status();
  assign(*std::move(result));
  return absl::OkStatus();
}

// Conversions between the wire's messages and the master's own types (file_view.h).
master::LeaseRef FromWire(const ternion::v1::LeaseRef& w) {
  return {.project = w.project(), .path = w.path(), .lease_id = w.lease_id()};
}

void ToWire(const ReplicaLocation& r, ternion::v1::ReplicaLocation* w) {
  w->set_server_id(r.server_id);
  w->set_address(r.address);
  w->set_rack(r.rack);
}

void ToWire(const ChunkView& c, ternion::v1::ChunkInfo* w) {
  w->set_chunk_id(c.chunk_id);
  w->set_version(c.version);
  w->set_index(c.index);
  w->set_length(c.length);
  for (const ReplicaLocation& r : c.replicas) ToWire(r, w->add_replicas());
  for (const ReplicaLocation& r : c.corrupt_replicas) ToWire(r, w->add_corrupt_replicas());
}

void ToWire(const FileView& f, ternion::v1::FileInfo* w) {
  w->set_project(f.project);
  w->set_path(f.path);
  w->set_file_id(f.file_id);
  w->set_length(f.length);
  w->set_chunk_size(f.chunk_size);
  w->set_sealed(f.sealed);
  w->set_under_lease(f.under_lease);
  w->set_created_unix_ms(f.created_unix_ms);
  w->set_modified_unix_ms(f.modified_unix_ms);
  for (const ChunkView& c : f.chunks) ToWire(c, w->add_chunks());
}

void ToWire(const Lease& l, ternion::v1::LeaseResponse* w) {
  ToWire(l.file, w->mutable_file());
  w->set_lease_id(l.id);
  w->set_lease_expires_unix_ms(l.expires_unix_ms);
}

void ToWire(const ternion::v1::ProjectRecord& p, ternion::v1::ProjectEntry* w) {
  w->set_name(p.name());
  w->set_owner(p.owner());
  w->set_created_unix_ms(p.created_unix_ms());
}

}  // namespace

void ConfigureMasterServer(grpc::ServerBuilder& builder) {
  builder.SetMaxReceiveMessageSize(16 << 20);  // full chunk reports of large servers
  grpc::ResourceQuota quota("master");
  quota.SetMaxThreads(64);
  builder.SetResourceQuota(quota);
  // Keep polling threads rather than create and end one per burst of calls (thread creation
  // was a visible share of the master's CPU under many small calls).
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 4);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 16);
}

using namespace ternion::v1;  // NOLINT: the adapter names every message type
namespace v1 = ternion::v1;

grpc::Status MasterService::RegisterChunkServer(grpc::ServerContext*,
                                                const RegisterChunkServerRequest* req,
                                                RegisterChunkServerResponse* resp) {
  return Serve(master_, "RegisterChunkServer", [&] {
    return Store(master_->RegisterChunkServer(*req),
                 [&](RegisterChunkServerResponse r) { *resp = std::move(r); });
  });
}

grpc::Status MasterService::Heartbeat(grpc::ServerContext*, const HeartbeatRequest* req,
                                      HeartbeatResponse* resp) {
  return Serve(master_, "Heartbeat", [&] {
    *resp = master_->Heartbeat(*req);
    return absl::OkStatus();
  });
}

grpc::Status MasterService::ReportReplicas(grpc::ServerContext*, const ReportReplicasRequest* req,
                                           ReportReplicasResponse* resp) {
  return Serve(master_, "ReportReplicas", [&] {
    *resp = master_->ReportReplicas(*req);
    return absl::OkStatus();
  });
}

grpc::Status MasterService::CreateProject(grpc::ServerContext*, const CreateProjectRequest* req,
                                          CreateProjectResponse*) {
  return Serve(master_, "CreateProject", [&] { return master_->CreateProject(req->name(), req->owner()); });
}

grpc::Status MasterService::ListProjects(grpc::ServerContext*, const ListProjectsRequest*,
                                         ListProjectsResponse* resp) {
  return Serve(master_, "ListProjects", [&] {
    for (const auto& p : master_->ListProjects()) ToWire(p, resp->add_projects());
    return absl::OkStatus();
  });
}

grpc::Status MasterService::CreateFile(grpc::ServerContext*, const CreateFileRequest* req,
                                       LeaseResponse* resp) {
  return Serve(master_, "CreateFile", [&] {
    return Store(master_->CreateFile(req->project(), req->path(), req->chunk_size(),
                                     req->client_id(), req->request_id()),
                 [&](const Lease& l) { ToWire(l, resp); });
  });
}

grpc::Status MasterService::OpenForAppend(grpc::ServerContext*, const OpenForAppendRequest* req,
                                          LeaseResponse* resp) {
  return Serve(master_, "OpenForAppend", [&] {
    return Store(master_->OpenForAppend(req->project(), req->path(), req->client_id()),
                 [&](const Lease& l) { ToWire(l, resp); });
  });
}

grpc::Status MasterService::RenewLease(grpc::ServerContext*, const v1::LeaseRef* req,
                                       LeaseResponse* resp) {
  return Serve(master_, "RenewLease", [&] {
    return Store(master_->RenewLease(FromWire(*req)), [&](const Lease& l) { ToWire(l, resp); });
  });
}

grpc::Status MasterService::AllocateChunk(grpc::ServerContext*, const AllocateChunkRequest* req,
                                          AllocateChunkResponse* resp) {
  return Serve(master_, "AllocateChunk", [&] {
    return Store(master_->AllocateChunk(FromWire(req->lease()), req->index()),
                 [&](const ChunkView& c) { ToWire(c, resp->mutable_chunk()); });
  });
}

grpc::Status MasterService::CommitLength(grpc::ServerContext*, const CommitLengthRequest* req,
                                         CommitLengthResponse* resp) {
  return Serve(master_, "CommitLength", [&] {
    return Store(master_->CommitLength(FromWire(req->lease()), req->length()),
                 [&](uint64_t n) { resp->set_length(n); });
  });
}

grpc::Status MasterService::SealFile(grpc::ServerContext*, const SealFileRequest* req,
                                     SealFileResponse* resp) {
  return Serve(master_, "SealFile", [&] {
    return Store(master_->SealFile(FromWire(req->lease()), req->seal()),
                 [&](const FileView& f) { ToWire(f, resp->mutable_file()); });
  });
}

grpc::Status MasterService::GetFileInfo(grpc::ServerContext*, const GetFileInfoRequest* req,
                                        FileInfo* resp) {
  return Serve(master_, "GetFileInfo", [&] {
    return Store(master_->GetFileInfo(req->project(), req->path(), req->with_chunks()),
                 [&](const FileView& f) { ToWire(f, resp); });
  });
}

grpc::Status MasterService::ListFiles(grpc::ServerContext*, const ListFilesRequest* req,
                                      ListFilesResponse* resp) {
  return Serve(master_, "ListFiles", [&] {
    return Store(master_->ListFiles(req->project(), req->prefix(), req->limit()),
                 [&](const std::vector<FileView>& files) {
                   for (const FileView& f : files) ToWire(f, resp->add_files());
                 });
  });
}

grpc::Status MasterService::DeleteFile(grpc::ServerContext*, const DeleteFileRequest* req,
                                       DeleteFileResponse*) {
  return Serve(master_, "DeleteFile", [&] { return master_->DeleteFile(req->project(), req->path(), req->force()); });
}

grpc::Status MasterService::ClusterStatus(grpc::ServerContext*, const ClusterStatusRequest*,
                                          ClusterStatusResponse* resp) {
  return Serve(master_, "ClusterStatus", [&] {
    *resp = master_->ClusterStatus();
    return absl::OkStatus();
  });
}

grpc::Status MasterService::GetTopology(grpc::ServerContext*, const GetTopologyRequest*,
                                        GetTopologyResponse* resp) {
  return Serve(master_, "GetTopology", [&] {
    *resp = master_->GetTopology();
    return absl::OkStatus();
  });
}

namespace {
absl::Status Summary(absl::StatusOr<std::string> result, TopologyChangeResponse* resp) {
  return Store(std::move(result), [&](std::string s) { resp->set_summary(std::move(s)); });
}
}  // namespace

grpc::Status MasterService::AddRack(grpc::ServerContext*, const AddRackRequest* req,
                                    TopologyChangeResponse* resp) {
  return Serve(master_, "AddRack", [&] { return Summary(master_->AddRack(*req), resp); });
}

grpc::Status MasterService::RemoveRack(grpc::ServerContext*, const RemoveRackRequest* req,
                                       TopologyChangeResponse* resp) {
  return Serve(master_, "RemoveRack", [&] { return Summary(master_->RemoveRack(req->rack()), resp); });
}

grpc::Status MasterService::MoveServer(grpc::ServerContext*, const MoveServerRequest* req,
                                       TopologyChangeResponse* resp) {
  return Serve(master_, "MoveServer",
               [&] { return Summary(master_->MoveServer(req->server_id(), req->rack()), resp); });
}

grpc::Status MasterService::SetServerState(grpc::ServerContext*, const SetServerStateRequest* req,
                                           TopologyChangeResponse* resp) {
  return Serve(master_, "SetServerState", [&] { return Summary(master_->SetServerState(*req), resp); });
}

grpc::Status MasterService::ImportTopology(grpc::ServerContext*, const ImportTopologyRequest* req,
                                           TopologyChangeResponse* resp) {
  return Serve(master_, "ImportTopology", [&] { return Summary(master_->ImportTopology(*req), resp); });
}

grpc::Status MasterService::Balancer(grpc::ServerContext*, const BalancerRequest* req,
                                     BalancerResponse* resp) {
  return Serve(master_, "Balancer", [&] {
    *resp = master_->Balancer(*req);
    return absl::OkStatus();
  });
}

grpc::Status MasterService::SetReplicationLimits(grpc::ServerContext*,
                                                 const ReplicationLimits* req,
                                                 ReplicationLimits* resp) {
  return Serve(master_, "SetReplicationLimits", [&] {
    *resp = master_->SetReplicationLimits(*req);
    return absl::OkStatus();
  });
}

grpc::Status MasterService::Backup(grpc::ServerContext*, const BackupRequest* req,
                                   BackupResponse*) {
  return Serve(master_, "Backup", [&] { return master_->Backup(req->dir()); });
}

grpc::Status MasterService::Fsck(grpc::ServerContext*, const FsckRequest* req,
                                 FsckResponse* resp) {
  return Serve(master_, "Fsck", [&] {
    return Store(master_->Fsck(req->project()), [&](FsckResponse r) { *resp = std::move(r); });
  });
}

grpc::Status MasterService::ReplaceReplicas(grpc::ServerContext*,
                                            const ReplaceReplicasRequest* req, ChunkInfo* resp) {
  return Serve(master_, "ReplaceReplicas", [&] {
    WriteRecovery recovery{
        .lease = FromWire(req->lease()),
        .chunk_id = req->chunk_id(),
        .length = req->length(),
        .failed_server_ids = {req->failed_server_ids().begin(), req->failed_server_ids().end()}};
    return Store(master_->ReplaceReplicas(recovery), [&](const ChunkView& c) { ToWire(c, resp); });
  });
}

grpc::Status MasterService::GcStatus(grpc::ServerContext*, const GcStatusRequest*,
                                     GcStatusResponse* resp) {
  return Serve(master_, "GcStatus", [&] {
    *resp = master_->GcStatus();
    return absl::OkStatus();
  });
}

grpc::Status MasterService::Orphans(grpc::ServerContext*, const OrphansRequest* req,
                                    OrphansResponse* resp) {
  return Serve(master_, "Orphans", [&] {
    return Store(master_->Orphans(*req), [&](OrphansResponse r) { *resp = std::move(r); });
  });
}

grpc::Status MasterService::RenameFile(grpc::ServerContext*, const RenameFileRequest* req,
                                       FileInfo* resp) {
  return Serve(master_, "RenameFile", [&] {
    return Store(master_->RenameFile(req->project(), req->path(), req->new_path()),
                 [&](const FileView& f) { ToWire(f, resp); });
  });
}

grpc::Status MasterService::SnapshotFile(grpc::ServerContext*, const SnapshotFileRequest* req,
                                         FileInfo* resp) {
  return Serve(master_, "SnapshotFile", [&] {
    return Store(master_->SnapshotFile(req->project(), req->path(), req->snapshot_path()),
                 [&](const FileView& f) { ToWire(f, resp); });
  });
}

}  // namespace ternion::master
