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
    for (auto& p : master_->ListProjects()) *resp->add_projects() = std::move(p);
    return absl::OkStatus();
  });
}

grpc::Status MasterService::CreateFile(grpc::ServerContext*, const CreateFileRequest* req,
                                       LeaseResponse* resp) {
  return Serve(master_, "CreateFile", [&] {
    return Store(
        master_->CreateFile(req->project(), req->path(), req->chunk_size(), req->client_id(),
                            req->request_id()),
        [&](LeaseResponse r) { *resp = std::move(r); });
  });
}

grpc::Status MasterService::OpenForAppend(grpc::ServerContext*, const OpenForAppendRequest* req,
                                          LeaseResponse* resp) {
  return Serve(master_, "OpenForAppend", [&] {
    return Store(master_->OpenForAppend(req->project(), req->path(), req->client_id()),
                 [&](LeaseResponse r) { *resp = std::move(r); });
  });
}

grpc::Status MasterService::RenewLease(grpc::ServerContext*, const LeaseRef* req,
                                       LeaseResponse* resp) {
  return Serve(master_, "RenewLease", [&] {
    return Store(master_->RenewLease(*req), [&](LeaseResponse r) { *resp = std::move(r); });
  });
}

grpc::Status MasterService::AllocateChunk(grpc::ServerContext*, const AllocateChunkRequest* req,
                                          AllocateChunkResponse* resp) {
  return Serve(master_, "AllocateChunk", [&] {
    return Store(master_->AllocateChunk(req->lease(), req->index()),
                 [&](ChunkInfo c) { *resp->mutable_chunk() = std::move(c); });
  });
}

grpc::Status MasterService::CommitLength(grpc::ServerContext*, const CommitLengthRequest* req,
                                         CommitLengthResponse* resp) {
  return Serve(master_, "CommitLength", [&] {
    return Store(master_->CommitLength(req->lease(), req->length()),
                 [&](uint64_t n) { resp->set_length(n); });
  });
}

grpc::Status MasterService::SealFile(grpc::ServerContext*, const SealFileRequest* req,
                                     SealFileResponse* resp) {
  return Serve(master_, "SealFile", [&] {
    return Store(master_->SealFile(req->lease(), req->seal()),
                 [&](FileInfo f) { *resp->mutable_file() = std::move(f); });
  });
}

grpc::Status MasterService::GetFileInfo(grpc::ServerContext*, const GetFileInfoRequest* req,
                                        FileInfo* resp) {
  return Serve(master_, "GetFileInfo", [&] {
    return Store(master_->GetFileInfo(req->project(), req->path(), req->with_chunks()),
                 [&](FileInfo f) { *resp = std::move(f); });
  });
}

grpc::Status MasterService::ListFiles(grpc::ServerContext*, const ListFilesRequest* req,
                                      ListFilesResponse* resp) {
  return Serve(master_, "ListFiles", [&] {
    return Store(master_->ListFiles(req->project(), req->prefix(), req->limit()),
                 [&](std::vector<FileInfo> files) {
                   for (auto& f : files) *resp->add_files() = std::move(f);
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
    return Store(master_->ReplaceReplicas(*req), [&](ChunkInfo c) { *resp = std::move(c); });
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
                 [&](FileInfo f) { *resp = std::move(f); });
  });
}

grpc::Status MasterService::SnapshotFile(grpc::ServerContext*, const SnapshotFileRequest* req,
                                         FileInfo* resp) {
  return Serve(master_, "SnapshotFile", [&] {
    return Store(master_->SnapshotFile(req->project(), req->path(), req->snapshot_path()),
                 [&](FileInfo f) { *resp = std::move(f); });
  });
}

}  // namespace ternion::master
