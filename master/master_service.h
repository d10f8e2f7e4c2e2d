#pragma once

// The gRPC adapter of the master: proto in, Master call, status out. No logic of its own.
// It converts between the wire's messages and the master's own types (file_view.h).
// It is the one place master RPCs enter: every client call is admitted by one function (Admit)
// before its handler runs: the request signature is verified (security/request_signing.h), then
// the access policy decides (access_policy.h) what the call's requirement says.

#include <grpcpp/grpcpp.h>

#include "master/access_policy.h"
#include "master/master.h"
#include "security/chunk_token.h"
#include "security/request_signing.h"
#include "ternion/v1/master.grpc.pb.h"

namespace ternion::master {

// The master's gRPC server settings (largest message, threads, pollers): for ternion-master,
// and for the lookup ceiling ternion-master-bench measures against it.
void ConfigureMasterServer(grpc::ServerBuilder& builder);

// The signature headers of a call: nullopt when it has none; UNAUTHENTICATED when one is
// malformed (the verifier bounds-checks the rest).
absl::StatusOr<std::optional<security::RequestSignature>> RequestSignatureOf(
    const grpc::ServerContext& ctx);

class MasterService final : public ternion::v1::MasterService::Service {
 public:
  // `master` outlives the service; `clock` (default: the real one) judges signature timestamps.
  // With `tls` (a TLS server) registration, heartbeats and replica reports are accepted only
  // from a peer whose verified certificate is a chunkserver's naming the server id of the
  // request (security/tls.h), and row keys are served; without it (--insecure) daemons are
  // accepted from anyone and no key is served.
  MasterService(Master* master, bool tls, const Clock* clock = Clock::Real());

  grpc::Status RegisterChunkServer(grpc::ServerContext*,
                                   const ternion::v1::RegisterChunkServerRequest*,
                                   ternion::v1::RegisterChunkServerResponse*) override;
  grpc::Status Heartbeat(grpc::ServerContext*, const ternion::v1::HeartbeatRequest*,
                         ternion::v1::HeartbeatResponse*) override;
  grpc::Status ReportReplicas(grpc::ServerContext*, const ternion::v1::ReportReplicasRequest*,
                              ternion::v1::ReportReplicasResponse*) override;
  grpc::Status CreateProject(grpc::ServerContext*, const ternion::v1::CreateProjectRequest*,
                             ternion::v1::CreateProjectResponse*) override;
  grpc::Status ListProjects(grpc::ServerContext*, const ternion::v1::ListProjectsRequest*,
                            ternion::v1::ListProjectsResponse*) override;
  grpc::Status CreateFile(grpc::ServerContext*, const ternion::v1::CreateFileRequest*,
                          ternion::v1::LeaseResponse*) override;
  grpc::Status OpenForAppend(grpc::ServerContext*, const ternion::v1::OpenForAppendRequest*,
                             ternion::v1::LeaseResponse*) override;
  grpc::Status RenewLease(grpc::ServerContext*, const ternion::v1::LeaseRef*,
                          ternion::v1::LeaseResponse*) override;
  grpc::Status AllocateChunk(grpc::ServerContext*, const ternion::v1::AllocateChunkRequest*,
                             ternion::v1::AllocateChunkResponse*) override;
  grpc::Status CommitLength(grpc::ServerContext*, const ternion::v1::CommitLengthRequest*,
                            ternion::v1::CommitLengthResponse*) override;
  grpc::Status ReplaceReplicas(grpc::ServerContext*, const ternion::v1::ReplaceReplicasRequest*,
                               ternion::v1::ChunkInfo*) override;
  grpc::Status SealFile(grpc::ServerContext*, const ternion::v1::SealFileRequest*,
                        ternion::v1::SealFileResponse*) override;
  grpc::Status GetFileInfo(grpc::ServerContext*, const ternion::v1::GetFileInfoRequest*,
                           ternion::v1::FileInfo*) override;
  grpc::Status ListFiles(grpc::ServerContext*, const ternion::v1::ListFilesRequest*,
                         ternion::v1::ListFilesResponse*) override;
  grpc::Status DeleteFile(grpc::ServerContext*, const ternion::v1::DeleteFileRequest*,
                          ternion::v1::DeleteFileResponse*) override;
  grpc::Status ClusterStatus(grpc::ServerContext*, const ternion::v1::ClusterStatusRequest*,
                             ternion::v1::ClusterStatusResponse*) override;
  grpc::Status GetTopology(grpc::ServerContext*, const ternion::v1::GetTopologyRequest*,
                           ternion::v1::GetTopologyResponse*) override;
  grpc::Status AddRack(grpc::ServerContext*, const ternion::v1::AddRackRequest*,
                       ternion::v1::TopologyChangeResponse*) override;
  grpc::Status RemoveRack(grpc::ServerContext*, const ternion::v1::RemoveRackRequest*,
                          ternion::v1::TopologyChangeResponse*) override;
  grpc::Status MoveServer(grpc::ServerContext*, const ternion::v1::MoveServerRequest*,
                          ternion::v1::TopologyChangeResponse*) override;
  grpc::Status SetServerState(grpc::ServerContext*, const ternion::v1::SetServerStateRequest*,
                              ternion::v1::TopologyChangeResponse*) override;
  grpc::Status ImportTopology(grpc::ServerContext*, const ternion::v1::ImportTopologyRequest*,
                              ternion::v1::TopologyChangeResponse*) override;
  grpc::Status Balancer(grpc::ServerContext*, const ternion::v1::BalancerRequest*,
                        ternion::v1::BalancerResponse*) override;
  grpc::Status SetReplicationLimits(grpc::ServerContext*, const ternion::v1::ReplicationLimits*,
                                    ternion::v1::ReplicationLimits*) override;
  grpc::Status SetMaintenance(grpc::ServerContext*, const ternion::v1::SetMaintenanceRequest*,
                              ternion::v1::TopologyChangeResponse*) override;
  grpc::Status SetLogLevel(grpc::ServerContext*, const ternion::v1::SetLogLevelRequest*,
                           ternion::v1::SetLogLevelResponse*) override;
  grpc::Status ReplicationControl(grpc::ServerContext*,
                                  const ternion::v1::ReplicationControlRequest*,
                                  ternion::v1::ReplicationControlResponse*) override;
  grpc::Status Backup(grpc::ServerContext*, const ternion::v1::BackupRequest*,
                      ternion::v1::BackupResponse*) override;
  grpc::Status Fsck(grpc::ServerContext*, const ternion::v1::FsckRequest*,
                    ternion::v1::FsckResponse*) override;
  grpc::Status GcStatus(grpc::ServerContext*, const ternion::v1::GcStatusRequest*,
                        ternion::v1::GcStatusResponse*) override;
  grpc::Status Orphans(grpc::ServerContext*, const ternion::v1::OrphansRequest*,
                       ternion::v1::OrphansResponse*) override;
  grpc::Status RenameFile(grpc::ServerContext*, const ternion::v1::RenameFileRequest*,
                          ternion::v1::FileInfo*) override;
  grpc::Status SnapshotFile(grpc::ServerContext*, const ternion::v1::SnapshotFileRequest*,
                            ternion::v1::FileInfo*) override;

  grpc::Status WhoAmI(grpc::ServerContext*, const ternion::v1::WhoAmIRequest*,
                      ternion::v1::WhoAmIResponse*) override;
  grpc::Status SetProjectMember(grpc::ServerContext*, const ternion::v1::SetProjectMemberRequest*,
                                ternion::v1::ProjectDescription*) override;
  grpc::Status Grant(grpc::ServerContext*, const ternion::v1::GrantRequest*,
                     ternion::v1::ProjectDescription*) override;
  grpc::Status DescribeProject(grpc::ServerContext*, const ternion::v1::DescribeProjectRequest*,
                               ternion::v1::ProjectDescription*) override;
  grpc::Status SetProjectProtection(grpc::ServerContext*,
                                    const ternion::v1::SetProjectProtectionRequest*,
                                    ternion::v1::ProjectDescription*) override;
  grpc::Status SetTrusted(grpc::ServerContext*, const ternion::v1::SetTrustedRequest*,
                          ternion::v1::ProjectDescription*) override;
  grpc::Status SetExceptionPolicy(grpc::ServerContext*,
                                  const ternion::v1::SetExceptionPolicyRequest*,
                                  ternion::v1::ProjectDescription*) override;
  grpc::Status RotateDataKey(grpc::ServerContext*, const ternion::v1::DataKeysRequest*,
                             ternion::v1::DataKeysResponse*) override;
  grpc::Status ListDataKeys(grpc::ServerContext*, const ternion::v1::DataKeysRequest*,
                            ternion::v1::DataKeysResponse*) override;
  grpc::Status GetTableKeys(grpc::ServerContext*, const ternion::v1::TableKeysRequest*,
                            ternion::v1::TableKeysResponse*) override;
  grpc::Status DestroyDataKey(grpc::ServerContext*, const ternion::v1::DestroyDataKeyRequest*,
                              ternion::v1::DataKeysResponse*) override;
  grpc::Status ChangePackage(grpc::ServerContext*, const ternion::v1::ChangePackageRequest*,
                             ternion::v1::ProjectDescription*) override;
  grpc::Status InstallPackage(grpc::ServerContext*, const ternion::v1::InstallPackageRequest*,
                              ternion::v1::ProjectDescription*) override;
  grpc::Status SetLabelPolicy(grpc::ServerContext*, const ternion::v1::SetLabelPolicyRequest*,
                              ternion::v1::ProjectDescription*) override;
  grpc::Status SetLabel(grpc::ServerContext*, const ternion::v1::SetLabelRequest*,
                        ternion::v1::ProjectDescription*) override;
  grpc::Status SetClearance(grpc::ServerContext*, const ternion::v1::SetClearanceRequest*,
                            ternion::v1::ProjectDescription*) override;
  grpc::Status SetLabelException(grpc::ServerContext*, const ternion::v1::SetLabelExceptionRequest*,
                                 ternion::v1::ProjectDescription*) override;
  grpc::Status SetProjectWhitelist(grpc::ServerContext*,
                                   const ternion::v1::SetProjectWhitelistRequest*,
                                   ternion::v1::ProjectDescription*) override;
  grpc::Status CreateUser(grpc::ServerContext*, const ternion::v1::CreateUserRequest*,
                          ternion::v1::UserInfo*) override;
  grpc::Status ListUsers(grpc::ServerContext*, const ternion::v1::ListUsersRequest*,
                         ternion::v1::ListUsersResponse*) override;
  grpc::Status SetUserDisabled(grpc::ServerContext*, const ternion::v1::SetUserDisabledRequest*,
                               ternion::v1::UserInfo*) override;
  grpc::Status CreateAccessKey(grpc::ServerContext*, const ternion::v1::CreateAccessKeyRequest*,
                               ternion::v1::NewAccessKey*) override;
  grpc::Status RotateAccessKey(grpc::ServerContext*, const ternion::v1::RotateAccessKeyRequest*,
                               ternion::v1::NewAccessKey*) override;
  grpc::Status RevokeAccessKey(grpc::ServerContext*, const ternion::v1::RevokeAccessKeyRequest*,
                               ternion::v1::AccessKeyInfo*) override;
  grpc::Status ListAccessKeys(grpc::ServerContext*, const ternion::v1::ListAccessKeysRequest*,
                              ternion::v1::ListAccessKeysResponse*) override;
  grpc::Status AuditQuery(grpc::ServerContext*, const ternion::v1::AuditQueryRequest*,
                          ternion::v1::AuditQueryResponse*) override;
  grpc::Status AuditVerify(grpc::ServerContext*, const ternion::v1::AuditVerifyRequest*,
                           ternion::v1::AuditVerifyResponse*) override;

 private:
  // The caller of a client call, once its signature verifies and the access policy allows
  // `need` on the request's `project` and `paths` (security/request_fields.h);
  // UNAUTHENTICATED or PERMISSION_DENIED naming the cause otherwise (counted, logged without
  // any secret). *caller is who the call is from as far as known, for the audit: the user, or
  // "key:ID" for a key that did not verify.
  absl::StatusOr<PrincipalView> Admit(grpc::ServerContext* ctx, const char* method,
                                      const google::protobuf::Message& request,
                                      const Requirement& need, const std::string& project,
                                      const std::vector<std::string>& paths, std::string* caller);
  // Puts a chunk token for `mode` into `chunk`, bound to the caller's address (a replicate
  // token, which chunkservers pass on to each other, to none); a read token serves no byte at
  // or past `read_end`.
  void GrantToken(const grpc::ServerContext& ctx, const std::string& project,
                  security::ChunkMode mode, ternion::v1::ChunkInfo* chunk,
                  uint64_t read_end = security::kNoReadEnd) const;
  // A refusal by the access policy, counted by action.
  static absl::Status Deny(const Decision& d, Action action);
  // Runs one client call: admission, then `fn` (given the caller, when it takes one), then the
  // wait for durability.
  template <typename Fn>
  grpc::Status Serve(grpc::ServerContext* ctx, const char* method,
                     const google::protobuf::Message& request, const Requirement& need, Fn fn);

  // Runs one chunkserver call: its peer's certificate, bounds, then `fn`, then the wait for
  // durability.
  template <typename Fn>
  grpc::Status ServeDaemon(const grpc::ServerContext& ctx, const char* method,
                           const google::protobuf::Message& request, const std::string& server_id,
                           Fn fn);

  Master* const master_;
  const bool tls_;
  const Clock* const clock_;
  security::RequestVerifier verifier_;
};

}  // namespace ternion::master
