#include "master/master_service.h"

#include <algorithm>
#include <string_view>
#include <type_traits>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/failpoint.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "common/names.h"
#include "common/rpc_metrics.h"
#include "common/rpc_status.h"
#include "common/status_macros.h"
#include "security/request_fields.h"
#include "security/tls.h"

namespace ternion::master {
namespace {

// Bounds on every request (security::CheckRequestBounds): no string or bytes field beyond 4 KiB
// anywhere; lists of at most 10,000 entries in a client's call, and of at most 4 M in a
// chunkserver's (a full replica report; the 16 MiB message limit binds first).
constexpr size_t kMaxFieldBytes = 4096;
constexpr size_t kMaxClientListItems = 10'000;
constexpr size_t kMaxDaemonListItems = 4'000'000;
// How long a client may keep and use column keys it was handed.
constexpr absl::Duration kColumnKeyCacheTime = absl::Minutes(5);

// The calls that only read (Serve: they do not wait for their own audit record to be durable).
constexpr std::string_view kLookups[] = {
    "GetFileInfo", "ListFiles",   "ListProjects",  "DescribeProject", "WhoAmI",
    "ListUsers",   "GetTopology", "ClusterStatus", "GcStatus",        "ListAccessKeys",
    "AuditQuery",  "AuditVerify", "ListDataKeys"};
bool IsLookup(std::string_view method) {
  return std::find(std::begin(kLookups), std::end(kLookups), method) != std::end(kLookups);
}

constexpr Requirement kAnyUser{.scope = Requirement::Scope::kAuthenticated};
constexpr Requirement kClusterAdmin{.scope = Requirement::Scope::kCluster};
constexpr Requirement InProject(Action a) {
  return {.scope = Requirement::Scope::kProject, .action = a};
}

// How a call ended, for its audit record: "ok", or the code and the message (which never holds
// a secret: refusals name causes and actions, not keys or signatures).
std::string AuditResult(const absl::Status& s) {
  if (s.ok()) return "ok";
  return absl::StrCat(absl::StatusCodeToString(s.code()), ": ", s.message());
}

prometheus::Counter* AuthFailures(const char* cause) {
  return GetCounter("ternion_master_auth_failures_total",
                    "Client calls refused by request authentication, by cause", {{"cause", cause}});
}

void CountAuthFailure(const char* cause) { AuthFailures(cause)->Increment(); }

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

// The signature headers of a call: nullopt when it has none; UNAUTHENTICATED when one is
// malformed (the verifier bounds-checks the rest).
absl::StatusOr<std::optional<security::RequestSignature>> RequestSignatureOf(
    const grpc::ServerContext& ctx) {
  const auto& md = ctx.client_metadata();
  auto get = [&md](const char* name) -> std::optional<absl::string_view> {
    auto it = md.find(name);
    if (it == md.end()) return std::nullopt;
    return absl::string_view(it->second.data(), it->second.size());
  };
  absl::StatusOr<std::optional<security::RequestSignature>> sig =
      security::ParseSignatureHeaders(get(security::kKeyIdHeader), get(security::kTimestampHeader),
                                      get(security::kNonceHeader), get(security::kSignatureHeader));
  if (!sig.ok()) CountAuthFailure(security::AuthFailureName(security::AuthFailure::kMalformed));
  return sig;
}

namespace {

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
  w->set_live(r.live);
  w->set_active_streams(r.active_streams);
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
  w->set_open(f.open);
  w->set_chunk_count(f.chunk_count);
  w->set_created_unix_ms(f.created_unix_ms);
  w->set_modified_unix_ms(f.modified_unix_ms);
  w->set_table_id(f.table_id);
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

using namespace ternion::v1;  // NOLINT: the adapter names every message type
namespace v1 = ternion::v1;

MasterService::MasterService(Master* master, bool tls, const Clock* clock)
    : master_(master),
      tls_(tls),
      clock_(clock),
      verifier_([master](const std::string& id) { return master->access().FindKey(id); }, clock) {
  // Every cause exported from the start, at 0: an alert on their rate needs the series.
  using security::AuthFailure;
  for (int f = 0; f <= static_cast<int>(AuthFailure::kBadSignature); ++f) {
    AuthFailures(security::AuthFailureName(static_cast<AuthFailure>(f)));
  }
  AuthFailures("not_chunkserver");
}

// A chunkserver's call (registration, heartbeats, reports). Chunkservers do not sign requests:
// their certificate admits them. The answer waits until every metadata change made so far is
// durable: those it made, and those it may have seen (see Master::WaitDurable).
template <typename Fn>
grpc::Status MasterService::ServeDaemon(const grpc::ServerContext& ctx, const char* method,
                                        const google::protobuf::Message& request,
                                        const std::string& server_id, Fn fn) {
  RpcScope rpc("master", method);
  if (tls_) {
    std::optional<security::PeerCertificate> peer = security::PeerCertificateOf(ctx);
    if (!peer.has_value() || !peer->Names(security::kChunkserverTlsName) ||
        peer->common_name != server_id) {
      CountAuthFailure("not_chunkserver");
      const absl::Status refused = absl::UnauthenticatedError(
          peer.has_value() && peer->Names(security::kChunkserverTlsName)
              ? absl::StrCat("the certificate is chunkserver ", peer->common_name, "'s, not ",
                             server_id, "'s")
              : "chunkserver calls need a chunkserver certificate of this cluster");
      master_->Audit({.action = method,
                      .object = server_id,
                      .result = AuditResult(refused),
                      .peer = ctx.peer()});
      (void)master_->WaitDurable();
      return rpc.Done(ToGrpcStatus(refused));
    }
  }
  if (absl::Status s = security::CheckRequestBounds(request, kMaxFieldBytes, kMaxDaemonListItems);
      !s.ok()) {
    return rpc.Done(ToGrpcStatus(s));
  }
  absl::Status s = fn();
  // Registrations are audited; heartbeats and reports (every second from every server) are not.
  if (std::string_view(method) == "RegisterChunkServer") {
    master_->Audit(
        {.action = method, .object = server_id, .result = AuditResult(s), .peer = ctx.peer()});
  }
  if (absl::Status durable = master_->WaitDurable(); !durable.ok()) s = durable;
  return rpc.Done(ToGrpcStatus(s));
}

absl::Status MasterService::Deny(const Decision& d, Action action) {
  GetCounter("ternion_master_authz_denials_total",
             "Client calls refused by the access policy, by the action they needed and "
             "the rule that refused",
             {{"action", ActionName(action)}, {"rule", d.rule}})
      ->Increment();
  return absl::PermissionDeniedError(absl::StrCat(d.reason, " (rule: ", d.rule, ")"));
}

absl::StatusOr<PrincipalView> MasterService::Admit(grpc::ServerContext* ctx, const char* method,
                                                   const google::protobuf::Message& request,
                                                   const Requirement& need,
                                                   const std::string& project,
                                                   const std::vector<std::string>& paths,
                                                   std::string* caller) {
  RETURN_IF_ERROR(security::CheckRequestBounds(request, kMaxFieldBytes, kMaxClientListItems));
  absl::StatusOr<std::optional<security::RequestSignature>> sig = RequestSignatureOf(*ctx);
  absl::StatusOr<std::string> user = absl::UnauthenticatedError("no signature");
  if (!sig.ok()) {
    user = sig.status();
  } else {
    if (sig->has_value()) *caller = absl::StrCat("key:", (*sig)->key_id);  // until verified
    security::AuthFailure cause = security::AuthFailure::kMalformed;
    user = verifier_.Verify(*sig, absl::StrCat("/ternion.v1.MasterService/", method), project,
                            security::RequestPayload(request), &cause);
    if (!user.ok()) CountAuthFailure(security::AuthFailureName(cause));
  }
  if (!user.ok()) {
    TLOG(WARNING) << "auth: " << method << " from " << ctx->peer()
                  << " refused: " << user.status().message();
    return user.status();
  }
  std::optional<PrincipalView> who = master_->Principal(*user);
  if (!who.has_value()) return absl::UnauthenticatedError("the key's user no longer exists");
  *caller = who->user;
  const security::DataContext context = security::RequestContext(request);
  AccessRequest access{.need = need,
                       .project = project,
                       .columns = context.columns,
                       .peer_ip = security::PeerIp(ctx->peer()),
                       .context_project = context.project,
                       .task_type = context.task_type};
  for (const std::string& path : paths) access.objects.push_back({.path = path});
  PolicySnapshot state;
  if (need.scope == Requirement::Scope::kProject) {
    state = master_->PolicyState({project, context.project}, project, &access.objects);
  }
  Decision d = Decide(*who, access, state);
  if (!d.allowed) return Deny(d, need.action);
  return *std::move(who);
}

void MasterService::GrantToken(const grpc::ServerContext& ctx, const std::string& project,
                               security::ChunkMode mode, ChunkInfo* chunk,
                               uint64_t read_end) const {
  security::ChunkToken t{.project = project,
                         .chunk_id = chunk->chunk_id(),
                         .version = chunk->version(),
                         .mode = mode,
                         .read_end = read_end};
  if (mode == security::ChunkMode::kReplicate) {
    // Write recovery: the new replicas copy from the chunk's replicas, which every server may
    // need to read, whoever asked.
    for (const auto& r : chunk->replicas()) t.copy_sources.push_back(r.address());
  } else {
    t.client_address = security::PeerIp(ctx.peer());
  }
  int64_t expires = 0;
  chunk->set_token(master_->SignChunkToken(std::move(t), &expires));
  chunk->set_token_expires_unix_ms(expires);
}

template <typename Fn>
grpc::Status MasterService::Serve(grpc::ServerContext* ctx, const char* method,
                                  const google::protobuf::Message& request,
                                  const Requirement& need, Fn fn) {
  RpcScope rpc("master", method);
  // Every client call leaves one audit record: who, what, on what, and how it ended.
  const std::vector<std::string> paths = security::RequestPaths(request);
  AuditEvent event{.project = security::RequestProject(request),
                   .action = method,
                   .object = absl::StrJoin(paths, " "),
                   .peer = ctx->peer()};
  if (const security::DataContext c = security::RequestContext(request); !c.project.empty()) {
    event.detail = absl::StrCat("for project ", c.project,
                                c.task_type.empty() ? "" : ", task type " + c.task_type);
  }
  absl::StatusOr<PrincipalView> who =
      Admit(ctx, method, request, need, event.project, paths, &event.user);
  absl::Status s = who.status();
  if (who.ok()) {
    if constexpr (std::is_invocable_v<Fn, const PrincipalView&>) {
      s = fn(*who);
    } else {
      s = fn();
    }
  }
  event.result = AuditResult(s);
  TLOG(DEBUG) << "call " << method << " by " << (event.user.empty() ? "(unknown)" : event.user)
              << " from " << event.peer << ": " << event.result;
  // Nothing is answered before every change the call made or may have seen is durable. A call
  // that changed nothing (a lookup, or any call refused at admission) does not wait for its own
  // audit record as well: the record follows in the next group commit, in chain order (HDFS
  // writes its audit log after answering too). A crash can lose the records of such calls
  // answered in its last few milliseconds, never the record of a change.
  const uint64_t seen = master_->LastChange();
  master_->Audit(event);
  const bool changed_nothing = !who.ok() || IsLookup(method);
  if (absl::Status durable = changed_nothing ? master_->WaitDurable(seen) : master_->WaitDurable();
      !durable.ok()) {
    s = durable;
  }
  return rpc.Done(ToGrpcStatus(s));
}

grpc::Status MasterService::RegisterChunkServer(grpc::ServerContext* ctx,
                                                const RegisterChunkServerRequest* req,
                                                RegisterChunkServerResponse* resp) {
  return ServeDaemon(*ctx, "RegisterChunkServer", *req, req->server_id(), [&] {
    return Store(master_->RegisterChunkServer(*req),
                 [&](RegisterChunkServerResponse r) { *resp = std::move(r); });
  });
}

grpc::Status MasterService::Heartbeat(grpc::ServerContext* ctx, const HeartbeatRequest* req,
                                      HeartbeatResponse* resp) {
  return ServeDaemon(*ctx, "Heartbeat", *req, req->server_id(), [&] {
    *resp = master_->Heartbeat(*req);
    return absl::OkStatus();
  });
}

grpc::Status MasterService::ReportReplicas(grpc::ServerContext* ctx,
                                           const ReportReplicasRequest* req,
                                           ReportReplicasResponse* resp) {
  return ServeDaemon(*ctx, "ReportReplicas", *req, req->server_id(), [&] {
    *resp = master_->ReportReplicas(*req);
    return absl::OkStatus();
  });
}

grpc::Status MasterService::CreateProject(grpc::ServerContext* ctx, const CreateProjectRequest* req,
                                          CreateProjectResponse*) {
  return Serve(ctx, "CreateProject", *req, kAnyUser, [&](const PrincipalView& who) {
    if (Decision d = DecideCreateProject(who, req->owner()); !d.allowed) {
      return Deny(d, Action::kAdmin);
    }
    if (!req->owner().empty()) RETURN_IF_ERROR(ValidateUserName(req->owner()));
    return master_->CreateProject(req->name(), req->owner().empty() ? who.user : req->owner());
  });
}

grpc::Status MasterService::ListProjects(grpc::ServerContext* ctx, const ListProjectsRequest* req,
                                         ListProjectsResponse* resp) {
  return Serve(ctx, "ListProjects", *req, kAnyUser, [&](const PrincipalView& who) {
    for (const auto& p : master_->ListProjects()) {  // those the caller may describe
      if (Decide(who, InProject(Action::kDescribe), p.name(), master_->Project(p.name()), {},
                 security::PeerIp(ctx->peer()))
              .allowed) {
        ToWire(p, resp->add_projects());
      }
    }
    return absl::OkStatus();
  });
}

grpc::Status MasterService::CreateFile(grpc::ServerContext* ctx, const CreateFileRequest* req,
                                       LeaseResponse* resp) {
  return Serve(ctx, "CreateFile", *req, InProject(Action::kWrite), [&] {
    return Store(master_->CreateFile(req->project(), req->path(), req->chunk_size(),
                                     req->client_id(), req->request_id(), req->table()),
                 [&](const Lease& l) { ToWire(l, resp); });
  });
}

grpc::Status MasterService::OpenForAppend(grpc::ServerContext* ctx, const OpenForAppendRequest* req,
                                          LeaseResponse* resp) {
  return Serve(ctx, "OpenForAppend", *req, InProject(Action::kWrite), [&] {
    return Store(master_->OpenForAppend(req->project(), req->path(), req->client_id()),
                 [&](const Lease& l) { ToWire(l, resp); });
  });
}

grpc::Status MasterService::RenewLease(grpc::ServerContext* ctx, const v1::LeaseRef* req,
                                       LeaseResponse* resp) {
  return Serve(ctx, "RenewLease", *req, InProject(Action::kWrite), [&] {
    return Store(master_->RenewLease(FromWire(*req)), [&](const Lease& l) { ToWire(l, resp); });
  });
}

grpc::Status MasterService::AllocateChunk(grpc::ServerContext* ctx, const AllocateChunkRequest* req,
                                          AllocateChunkResponse* resp) {
  return Serve(ctx, "AllocateChunk", *req, InProject(Action::kWrite), [&] {
    return Store(master_->AllocateChunk(FromWire(req->lease()), req->index()),
                 [&](const ChunkView& c) {
                   ToWire(c, resp->mutable_chunk());
                   GrantToken(*ctx, req->lease().project(), security::ChunkMode::kWrite,
                              resp->mutable_chunk());
                 });
  });
}

grpc::Status MasterService::CommitLength(grpc::ServerContext* ctx, const CommitLengthRequest* req,
                                         CommitLengthResponse* resp) {
  return Serve(ctx, "CommitLength", *req, InProject(Action::kWrite), [&] {
    std::vector<security::LengthReceipt> receipts;
    for (const auto& r : req->receipts()) {
      receipts.push_back({.server_id = r.server_id(),
                          .chunk_id = r.chunk_id(),
                          .length = r.length(),
                          .mac = r.mac()});
    }
    RETURN_IF_ERROR(Store(
        master_->CommitLength(FromWire(req->lease()), req->length(), receipts), [&](uint64_t n) {
          resp->set_length(n);
          resp->set_lease_ms(absl::ToInt64Milliseconds(master_->lease_duration()));
        }));
    // Tests: the master dying with the new length durable but not yet answered.
    RETURN_IF_ERROR(master_->WaitDurable());
    return Failpoint("master.commit_length.durable");
  });
}

grpc::Status MasterService::SealFile(grpc::ServerContext* ctx, const SealFileRequest* req,
                                     SealFileResponse* resp) {
  return Serve(ctx, "SealFile", *req, InProject(Action::kWrite), [&] {
    return Store(master_->SealFile(FromWire(req->lease()), req->seal()),
                 [&](const FileView& f) { ToWire(f, resp->mutable_file()); });
  });
}

grpc::Status MasterService::GetFileInfo(grpc::ServerContext* ctx, const GetFileInfoRequest* req,
                                        FileInfo* resp) {
  return Serve(ctx, "GetFileInfo", *req, InProject(req->with_chunks() ? Action::kRead : Action::kDescribe), [&] {
    return Store(master_->GetFileInfo(req->project(), req->path(), req->with_chunks()),
                 [&](const FileView& f) {
                   ToWire(f, resp);
                   for (ChunkInfo& c : *resp->mutable_chunks()) {
                     // A sealed file (a snapshot) may share its last chunk with a live file
                     // that appends to it: its length there, and its token, end where the
                     // sealed file ends.
                     uint64_t read_end = security::kNoReadEnd;
                     if (f.sealed) {
                       const uint64_t start = c.index() * f.chunk_size;
                       read_end = f.length > start ? std::min(c.length(), f.length - start) : 0;
                       c.set_length(read_end);
                     }
                     GrantToken(*ctx, req->project(), security::ChunkMode::kRead, &c, read_end);
                   }
                 });
  });
}

grpc::Status MasterService::ListFiles(grpc::ServerContext* ctx, const ListFilesRequest* req,
                                      ListFilesResponse* resp) {
  return Serve(ctx, "ListFiles", *req, InProject(Action::kList), [&] {
    return Store(master_->ListFiles(req->project(), req->prefix(), req->limit(),
                                    req->start_after()),
                 [&](const FileListing& page) {
                   for (const FileView& f : page.files) ToWire(f, resp->add_files());
                   resp->set_truncated(page.truncated);
                 });
  });
}

grpc::Status MasterService::DeleteFile(grpc::ServerContext* ctx, const DeleteFileRequest* req,
                                       DeleteFileResponse*) {
  return Serve(ctx, "DeleteFile", *req, InProject(Action::kDelete), [&] { return master_->DeleteFile(req->project(), req->path(), req->force()); });
}

grpc::Status MasterService::ClusterStatus(grpc::ServerContext* ctx, const ClusterStatusRequest* req,
                                          ClusterStatusResponse* resp) {
  return Serve(ctx, "ClusterStatus", *req, kClusterAdmin, [&] {
    *resp = master_->ClusterStatus();
    return absl::OkStatus();
  });
}

grpc::Status MasterService::GetTopology(grpc::ServerContext* ctx, const GetTopologyRequest* req,
                                        GetTopologyResponse* resp) {
  return Serve(ctx, "GetTopology", *req, kClusterAdmin, [&] {
    *resp = master_->GetTopology();
    return absl::OkStatus();
  });
}

namespace {
absl::Status Summary(absl::StatusOr<std::string> result, TopologyChangeResponse* resp) {
  return Store(std::move(result), [&](std::string s) { resp->set_summary(std::move(s)); });
}
}  // namespace

grpc::Status MasterService::AddRack(grpc::ServerContext* ctx, const AddRackRequest* req,
                                    TopologyChangeResponse* resp) {
  return Serve(ctx, "AddRack", *req, kClusterAdmin, [&] { return Summary(master_->AddRack(*req), resp); });
}

grpc::Status MasterService::RemoveRack(grpc::ServerContext* ctx, const RemoveRackRequest* req,
                                       TopologyChangeResponse* resp) {
  return Serve(ctx, "RemoveRack", *req, kClusterAdmin, [&] { return Summary(master_->RemoveRack(req->rack()), resp); });
}

grpc::Status MasterService::MoveServer(grpc::ServerContext* ctx, const MoveServerRequest* req,
                                       TopologyChangeResponse* resp) {
  return Serve(ctx, "MoveServer", *req, kClusterAdmin,
               [&] { return Summary(master_->MoveServer(req->server_id(), req->rack()), resp); });
}

grpc::Status MasterService::SetServerState(grpc::ServerContext* ctx, const SetServerStateRequest* req,
                                           TopologyChangeResponse* resp) {
  return Serve(ctx, "SetServerState", *req, kClusterAdmin, [&] { return Summary(master_->SetServerState(*req), resp); });
}

grpc::Status MasterService::ImportTopology(grpc::ServerContext* ctx, const ImportTopologyRequest* req,
                                           TopologyChangeResponse* resp) {
  return Serve(ctx, "ImportTopology", *req, kClusterAdmin, [&] { return Summary(master_->ImportTopology(*req), resp); });
}

grpc::Status MasterService::Balancer(grpc::ServerContext* ctx, const BalancerRequest* req,
                                     BalancerResponse* resp) {
  return Serve(ctx, "Balancer", *req, kClusterAdmin, [&] {
    *resp = master_->Balancer(*req);
    return absl::OkStatus();
  });
}

grpc::Status MasterService::SetReplicationLimits(grpc::ServerContext* ctx,
                                                 const ReplicationLimits* req,
                                                 ReplicationLimits* resp) {
  return Serve(ctx, "SetReplicationLimits", *req, kClusterAdmin, [&] {
    *resp = master_->SetReplicationLimits(*req);
    return absl::OkStatus();
  });
}

grpc::Status MasterService::SetMaintenance(grpc::ServerContext* ctx,
                                           const ternion::v1::SetMaintenanceRequest* req,
                                           TopologyChangeResponse* resp) {
  return Serve(ctx, "SetMaintenance", *req, kClusterAdmin,
               [&] { return Summary(master_->SetMaintenance(*req), resp); });
}

grpc::Status MasterService::ReplicationControl(grpc::ServerContext* ctx,
                                               const ternion::v1::ReplicationControlRequest* req,
                                               ternion::v1::ReplicationControlResponse* resp) {
  return Serve(ctx, "ReplicationControl", *req, kClusterAdmin, [&] {
    resp->set_paused(master_->ReplicationControl(req->action()));
    return absl::OkStatus();
  });
}

grpc::Status MasterService::SetLogLevel(grpc::ServerContext* ctx,
                                        const ternion::v1::SetLogLevelRequest* req,
                                        ternion::v1::SetLogLevelResponse* resp) {
  return Serve(ctx, "SetLogLevel", *req, kClusterAdmin, [&] {
    return Store(master_->SetLogLevel(*req),
                 [&](ternion::v1::SetLogLevelResponse r) { *resp = std::move(r); });
  });
}

grpc::Status MasterService::Backup(grpc::ServerContext* ctx, const BackupRequest* req,
                                   BackupResponse*) {
  return Serve(ctx, "Backup", *req, kClusterAdmin, [&] { return master_->Backup(req->dir()); });
}

grpc::Status MasterService::Fsck(grpc::ServerContext* ctx, const FsckRequest* req,
                                 FsckResponse* resp) {
  return Serve(ctx, "Fsck", *req, req->project().empty() ? kClusterAdmin : InProject(Action::kAdmin), [&] {
    return Store(master_->Fsck(req->project()), [&](FsckResponse r) { *resp = std::move(r); });
  });
}

grpc::Status MasterService::ReplaceReplicas(grpc::ServerContext* ctx,
                                            const ReplaceReplicasRequest* req, ChunkInfo* resp) {
  return Serve(ctx, "ReplaceReplicas", *req, InProject(Action::kWrite), [&] {
    WriteRecovery recovery{
        .lease = FromWire(req->lease()),
        .chunk_id = req->chunk_id(),
        .length = req->length(),
        .failed_server_ids = {req->failed_server_ids().begin(), req->failed_server_ids().end()}};
    // Recovery updates survivors, copies the prefix to new replicas and writes on: a replicate
    // token covers all three.
    return Store(master_->ReplaceReplicas(recovery), [&](const ChunkView& c) {
      ToWire(c, resp);
      GrantToken(*ctx, req->lease().project(), security::ChunkMode::kReplicate, resp);
    });
  });
}

grpc::Status MasterService::GcStatus(grpc::ServerContext* ctx, const GcStatusRequest* req,
                                     GcStatusResponse* resp) {
  return Serve(ctx, "GcStatus", *req, kClusterAdmin, [&] {
    *resp = master_->GcStatus();
    return absl::OkStatus();
  });
}

grpc::Status MasterService::Orphans(grpc::ServerContext* ctx, const OrphansRequest* req,
                                    OrphansResponse* resp) {
  return Serve(ctx, "Orphans", *req, kClusterAdmin, [&] {
    return Store(master_->Orphans(*req), [&](OrphansResponse r) { *resp = std::move(r); });
  });
}

grpc::Status MasterService::RenameFile(grpc::ServerContext* ctx, const RenameFileRequest* req,
                                       FileInfo* resp) {
  // Replacing deletes the file replaced: delete is needed as well as write.
  return Serve(
      ctx, "RenameFile", *req, InProject(req->replace() ? Action::kDelete : Action::kWrite),
      [&](const PrincipalView& who) -> absl::Status {
        std::optional<Master::Replace> replace;
        if (req->replace()) {
          const Decision d = Decide(who, InProject(Action::kWrite), req->project(),
                                    master_->Project(req->project()),
                                    {req->path(), req->new_path()}, security::PeerIp(ctx->peer()));
          if (!d.allowed) return Deny(d, Action::kWrite);
          replace =
              Master::Replace{.file_id = req->replace_file_id(), .length = req->replace_length()};
        }
        return Store(master_->RenameFile(req->project(), req->path(), req->new_path(), replace),
                     [&](const FileView& f) { ToWire(f, resp); });
      });
}

grpc::Status MasterService::SnapshotFile(grpc::ServerContext* ctx, const SnapshotFileRequest* req,
                                         FileInfo* resp) {
  return Serve(ctx, "SnapshotFile", *req, InProject(Action::kWrite), [&] {
    return Store(master_->SnapshotFile(req->project(), req->path(), req->snapshot_path()),
                 [&](const FileView& f) { ToWire(f, resp); });
  });
}

namespace {

void ToWire(const UserView& u, v1::UserInfo* w) {
  w->set_name(u.name);
  w->set_cluster_admin(u.cluster_admin);
  w->set_disabled(u.disabled);
  w->set_created_unix_ms(u.created_unix_ms);
}

void ToWire(const AccessKeyView& k, v1::AccessKeyInfo* w) {
  w->set_id(k.id);
  w->set_user(k.user);
  w->set_created_unix_ms(k.created_unix_ms);
  w->set_expires_unix_ms(k.expires_unix_ms);
  w->set_revoked(k.revoked);
}

void ToWire(const master::NewAccessKey& k, v1::NewAccessKey* w) {
  ToWire(k.key, w->mutable_key());
  w->set_secret(k.secret);
}

}  // namespace

grpc::Status MasterService::WhoAmI(grpc::ServerContext* ctx, const WhoAmIRequest* req,
                                   WhoAmIResponse* resp) {
  return Serve(ctx, "WhoAmI", *req, kAnyUser, [&](const PrincipalView& who) {
    resp->set_user(who.user);
    resp->set_cluster_admin(who.cluster_admin);
    auto it = ctx->client_metadata().find(security::kKeyIdHeader);
    if (it != ctx->client_metadata().end()) {
      resp->set_key_id(std::string(it->second.data(), it->second.size()));
    }
    return absl::OkStatus();
  });
}

grpc::Status MasterService::CreateUser(grpc::ServerContext* ctx, const CreateUserRequest* req,
                                       UserInfo* resp) {
  return Serve(ctx, "CreateUser", *req, kClusterAdmin, [&](const PrincipalView& who) {
    return Store(master_->CreateUser(req->name(), req->cluster_admin(), who.user),
                 [&](const UserView& u) { ToWire(u, resp); });
  });
}

grpc::Status MasterService::ListUsers(grpc::ServerContext* ctx, const ListUsersRequest* req,
                                      ListUsersResponse* resp) {
  return Serve(ctx, "ListUsers", *req, kClusterAdmin, [&] {
    for (const UserView& u : master_->ListUsers()) ToWire(u, resp->add_users());
    return absl::OkStatus();
  });
}

grpc::Status MasterService::SetUserDisabled(grpc::ServerContext* ctx,
                                            const SetUserDisabledRequest* req, UserInfo* resp) {
  return Serve(ctx, "SetUserDisabled", *req, kClusterAdmin, [&](const PrincipalView& who) {
    return Store(master_->SetUserDisabled(req->name(), req->disabled(), who.user),
                 [&](const UserView& u) { ToWire(u, resp); });
  });
}

grpc::Status MasterService::CreateAccessKey(grpc::ServerContext* ctx,
                                            const CreateAccessKeyRequest* req,
                                            v1::NewAccessKey* resp) {
  return Serve(ctx, "CreateAccessKey", *req, kAnyUser, [&](const PrincipalView& who) {
    const std::string user = req->user().empty() ? who.user : req->user();
    if (Decision d = DecideSelfOrAdmin(who, user); !d.allowed) return Deny(d, Action::kAdmin);
    return Store(master_->CreateAccessKey(user, who.user),
                 [&](const master::NewAccessKey& k) { ToWire(k, resp); });
  });
}

grpc::Status MasterService::RotateAccessKey(grpc::ServerContext* ctx,
                                            const RotateAccessKeyRequest* req,
                                            v1::NewAccessKey* resp) {
  return Serve(ctx, "RotateAccessKey", *req, kAnyUser, [&](const PrincipalView& who) {
    std::optional<AccessKeyView> key = master_->FindAccessKey(req->id());
    if (!key.has_value()) return absl::NotFoundError(absl::StrCat("no access key ", req->id()));
    if (Decision d = DecideSelfOrAdmin(who, key->user); !d.allowed) {
      return Deny(d, Action::kAdmin);
    }
    return Store(master_->RotateAccessKey(req->id(), absl::Seconds(req->grace_s()), who.user),
                 [&](const master::NewAccessKey& k) { ToWire(k, resp); });
  });
}

grpc::Status MasterService::RevokeAccessKey(grpc::ServerContext* ctx,
                                            const RevokeAccessKeyRequest* req,
                                            AccessKeyInfo* resp) {
  return Serve(ctx, "RevokeAccessKey", *req, kAnyUser, [&](const PrincipalView& who) {
    std::optional<AccessKeyView> key = master_->FindAccessKey(req->id());
    if (!key.has_value()) return absl::NotFoundError(absl::StrCat("no access key ", req->id()));
    if (Decision d = DecideSelfOrAdmin(who, key->user); !d.allowed) {
      return Deny(d, Action::kAdmin);
    }
    return Store(master_->RevokeAccessKey(req->id(), who.user),
                 [&](const AccessKeyView& k) { ToWire(k, resp); });
  });
}

grpc::Status MasterService::ListAccessKeys(grpc::ServerContext* ctx,
                                           const ListAccessKeysRequest* req,
                                           ListAccessKeysResponse* resp) {
  return Serve(ctx, "ListAccessKeys", *req, kAnyUser, [&](const PrincipalView& who) {
    const std::string user = req->user().empty() ? who.user : req->user();
    if (Decision d = DecideSelfOrAdmin(who, user); !d.allowed) return Deny(d, Action::kAdmin);
    for (const AccessKeyView& k : master_->ListAccessKeys(user)) ToWire(k, resp->add_keys());
    return absl::OkStatus();
  });
}

grpc::Status MasterService::AuditQuery(grpc::ServerContext* ctx, const AuditQueryRequest* req,
                                       AuditQueryResponse* resp) {
  return Serve(ctx, "AuditQuery", *req, kClusterAdmin, [&] {
    constexpr uint32_t kDefaultPage = 1000, kMaxPage = 10000;
    const uint32_t limit = req->limit() == 0 ? kDefaultPage : std::min(req->limit(), kMaxPage);
    return master_->ReadAudit(req->after_seq(), [&](const AuditRecord& r) {
      if (r.time_unix_ms() < req->since_unix_ms() ||
          (!req->project().empty() && r.project() != req->project()) ||
          (!req->user().empty() && r.user() != req->user()) ||
          (!req->action().empty() && r.action() != req->action())) {
        return true;
      }
      if (static_cast<uint32_t>(resp->records_size()) == limit) {
        resp->set_truncated(true);
        return false;
      }
      *resp->add_records() = r;
      return true;
    });
  });
}

grpc::Status MasterService::AuditVerify(grpc::ServerContext* ctx, const AuditVerifyRequest* req,
                                        AuditVerifyResponse* resp) {
  return Serve(ctx, "AuditVerify", *req, kClusterAdmin, [&] {
    uint64_t records = 0, legacy = 0;
    absl::Status chain = master_->VerifyAudit(&records, &legacy);
    if (!chain.ok() && !absl::IsDataLoss(chain)) return chain;  // could not read
    resp->set_records(records);
    resp->set_legacy(legacy);
    resp->set_intact(chain.ok());
    resp->set_problem(std::string(chain.message()));
    return absl::OkStatus();
  });
}

namespace {

std::string ObjectName(GrantView::Object object, const std::string& path) {
  switch (object) {
    case GrantView::Object::kProject:
      return "project";
    case GrantView::Object::kFile:
      return "file " + path;
    case GrantView::Object::kPrefix:
      return "prefix " + path;
    case GrantView::Object::kPackage:
      return "package " + path;
  }
  return "?";
}

void AddActionNames(uint32_t actions, google::protobuf::RepeatedPtrField<std::string>* out) {
  for (Action a : kAllActions) {
    if (actions & ActionBit(a)) out->Add(ActionName(a));
  }
}

void ToWire(const ProjectView& p, ProjectDescription* w) {
  w->set_name(p.name);
  w->set_owner(p.owner);
  w->set_ip_whitelist(p.ip_whitelist);
  w->set_protection(p.protection);
  w->set_exception_policy(p.exception_policy);
  for (const std::string& t : p.trusted) w->add_trusted(t);
  for (const std::string& m : p.members) w->add_members(m);
  for (const std::string& a : p.admins) w->add_admins(a);
  for (const GrantView& g : p.grants) {
    GrantInfo* gi = w->add_grants();
    gi->set_grantee(g.grantee);
    AddActionNames(g.actions, gi->mutable_actions());
    gi->set_object(ObjectName(g.object, g.path));
  }
  for (const PackageView& k : p.packages) {
    PackageInfo* out = w->add_packages();
    out->set_name(k.name);
    for (const PackageEntryView& e : k.entries) {
      PackageInfo::Entry* entry = out->add_entries();
      entry->set_object(ObjectName(e.object, e.path));
      AddActionNames(e.actions, entry->mutable_actions());
    }
    out->mutable_allowed()->insert(k.allowed.begin(), k.allowed.end());
  }
  for (const std::string& i : p.installed) w->add_installed(i);
  w->set_label_security(p.label_security);
  w->set_no_write_down(p.no_write_down);
  for (const LabelView& l : p.labels) {
    LabelInfo* out = w->add_labels();
    out->set_object(ObjectName(l.object, l.path));
    out->set_column(l.column);
    out->set_level(l.level);
  }
  w->mutable_clearances()->insert(p.clearances.begin(), p.clearances.end());
  for (const LabelExceptionView& e : p.label_exceptions) {
    LabelExceptionInfo* out = w->add_label_exceptions();
    out->set_user(e.user);
    out->set_object(ObjectName(e.object, e.path));
    out->set_column(e.column);
    out->set_level(e.level);
    out->set_expires_unix_ms(e.expires_unix_ms);
  }
}

// The object a request names: GRANT_FILE, GRANT_PREFIX, or (with `package`) GRANT_PACKAGE.
absl::StatusOr<GrantView::Object> ObjectOf(GrantObject object, bool package = false) {
  if (object == GRANT_FILE || object == GRANT_PREFIX || (package && object == GRANT_PACKAGE)) {
    return static_cast<GrantView::Object>(object);
  }
  return absl::InvalidArgumentError(package ? "unknown grant object"
                                            : "the object must be a file or a prefix");
}

// The action bits `names` name; INVALID_ARGUMENT for an unknown one.
absl::StatusOr<uint32_t> ActionBits(const google::protobuf::RepeatedPtrField<std::string>& names) {
  uint32_t bits = 0;
  for (const std::string& name : names) {
    std::optional<Action> a = ActionFromName(name);
    if (!a.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown action ", name, " (read, write, list, delete, describe, download, admin)"));
    }
    bits |= ActionBit(*a);
  }
  return bits;
}

}  // namespace

grpc::Status MasterService::SetProjectMember(grpc::ServerContext* ctx,
                                             const SetProjectMemberRequest* req,
                                             ProjectDescription* resp) {
  return Serve(ctx, "SetProjectMember", *req, InProject(Action::kAdmin),
               [&](const PrincipalView& who) {
                 RETURN_IF_ERROR(ValidateUserName(req->user()));
                 return Store(master_->SetProjectMember(req->project(), req->user(), req->admin(),
                                                        req->remove(), who.user),
                              [&](const ProjectView& p) { ToWire(p, resp); });
               });
}

grpc::Status MasterService::Grant(grpc::ServerContext* ctx, const GrantRequest* req,
                                  ProjectDescription* resp) {
  return Serve(ctx, "Grant", *req, InProject(Action::kAdmin), [&](const PrincipalView& who) {
    GrantView grant{.grantee = req->grantee(), .path = req->path()};
    if (req->object() == GRANT_PROJECT) {
      grant.object = GrantView::Object::kProject;
    } else {
      ASSIGN_OR_RETURN(grant.object, ObjectOf(req->object(), /*package=*/true));
    }
    if (grant.grantee != kMemberRole) RETURN_IF_ERROR(ValidateUserName(grant.grantee));
    ASSIGN_OR_RETURN(grant.actions, ActionBits(req->actions()));
    return Store(master_->ChangeGrant(req->project(), grant, req->revoke(), who.user),
                 [&](const ProjectView& p) { ToWire(p, resp); });
  });
}

grpc::Status MasterService::SetProjectWhitelist(grpc::ServerContext* ctx,
                                                const SetProjectWhitelistRequest* req,
                                                ProjectDescription* resp) {
  return Serve(ctx, "SetProjectWhitelist", *req, InProject(Action::kAdmin),
               [&](const PrincipalView& who) {
                 return Store(
                     master_->SetProjectWhitelist(req->project(), req->whitelist(), who.user),
                     [&](const ProjectView& p) { ToWire(p, resp); });
               });
}

grpc::Status MasterService::SetProjectProtection(grpc::ServerContext* ctx,
                                                 const SetProjectProtectionRequest* req,
                                                 ProjectDescription* resp) {
  return Serve(ctx, "SetProjectProtection", *req, InProject(Action::kAdmin),
               [&](const PrincipalView& who) {
                 return Store(master_->SetProjectProtection(req->project(), req->on(), who.user),
                              [&](const ProjectView& p) { ToWire(p, resp); });
               });
}

grpc::Status MasterService::SetTrusted(grpc::ServerContext* ctx, const SetTrustedRequest* req,
                                       ProjectDescription* resp) {
  return Serve(ctx, "SetTrusted", *req, InProject(Action::kAdmin), [&](const PrincipalView& who) {
    RETURN_IF_ERROR(ValidateProjectName(req->trusted_project()));
    return Store(
        master_->SetTrusted(req->project(), req->trusted_project(), req->remove(), who.user),
        [&](const ProjectView& p) { ToWire(p, resp); });
  });
}

grpc::Status MasterService::SetExceptionPolicy(grpc::ServerContext* ctx,
                                               const SetExceptionPolicyRequest* req,
                                               ProjectDescription* resp) {
  return Serve(ctx, "SetExceptionPolicy", *req, InProject(Action::kAdmin),
               [&](const PrincipalView& who) {
                 return Store(master_->SetExceptionPolicy(req->project(), req->policy(), who.user),
                              [&](const ProjectView& p) { ToWire(p, resp); });
               });
}

namespace {

// The project's data key versions, as the answer lists them.
absl::Status ListKeys(Master* master, const std::string& project, DataKeysResponse* resp) {
  ASSIGN_OR_RETURN(std::vector<Master::DataKeyInfo> versions, master->ListDataKeys(project));
  for (const Master::DataKeyInfo& v : versions) {
    DataKeyInfo* out = resp->add_versions();
    out->set_version(v.version);
    out->set_created_unix_ms(v.created_unix_ms);
    out->set_destroyed_unix_ms(v.destroyed_unix_ms);
  }
  return absl::OkStatus();
}

}  // namespace

grpc::Status MasterService::RotateDataKey(grpc::ServerContext* ctx, const DataKeysRequest* req,
                                          DataKeysResponse* resp) {
  return Serve(ctx, "RotateDataKey", *req, InProject(Action::kAdmin),
               [&](const PrincipalView& who) {
                 RETURN_IF_ERROR(master_->RotateDataKey(req->project(), who.user).status());
                 return ListKeys(master_, req->project(), resp);
               });
}

grpc::Status MasterService::ListDataKeys(grpc::ServerContext* ctx, const DataKeysRequest* req,
                                         DataKeysResponse* resp) {
  return Serve(ctx, "ListDataKeys", *req, InProject(Action::kAdmin),
               [&] { return ListKeys(master_, req->project(), resp); });
}

grpc::Status MasterService::DestroyDataKey(grpc::ServerContext* ctx,
                                           const DestroyDataKeyRequest* req,
                                           DataKeysResponse* resp) {
  return Serve(ctx, "DestroyDataKey", *req, InProject(Action::kAdmin),
               [&](const PrincipalView& who) {
                 if (req->confirm() != absl::StrCat(req->project(), "/", req->version())) {
                   return absl::InvalidArgumentError(absl::StrCat(
                       "destroying a data key makes its rows unreadable for good; confirm with ",
                       req->project(), "/", req->version()));
                 }
                 RETURN_IF_ERROR(master_->DestroyDataKey(req->project(), req->version(), who.user));
                 return ListKeys(master_, req->project(), resp);
               });
}

grpc::Status MasterService::GetTableKeys(grpc::ServerContext* ctx, const TableKeysRequest* req,
                                         TableKeysResponse* resp) {
  Requirement need = InProject(req->for_write() ? Action::kWrite : Action::kRead);
  need.column_keys = true;
  return Serve(ctx, "GetTableKeys", *req, need, [&](const PrincipalView& who) -> absl::Status {
    if (!tls_) {
      return absl::FailedPreconditionError(
          "row keys are served only over TLS, and this master runs --insecure");
    }
    ASSIGN_OR_RETURN(
        Master::ColumnKeys keys,
        master_->DeriveColumnKeys(req->project(), req->path(), req->key_version(), req->for_write(),
                                  {req->columns().begin(), req->columns().end()}, who.user));
    resp->set_table_id(keys.table_id);
    resp->set_key_version(keys.version);
    for (const security::SecretBytes& k : keys.keys) resp->add_keys(k.data(), k.size());
    // Revoking access ends a client's use of keys it holds within this time.
    resp->set_cache_until_unix_ms(absl::ToUnixMillis(clock_->Now() + kColumnKeyCacheTime));
    return absl::OkStatus();
  });
}

grpc::Status MasterService::ChangePackage(grpc::ServerContext* ctx, const ChangePackageRequest* req,
                                          ProjectDescription* resp) {
  return Serve(ctx, "ChangePackage", *req, InProject(Action::kAdmin),
               [&](const PrincipalView& who) {
                 using Op = Master::PackageChange::Op;
                 if (req->op() < ChangePackageRequest::CREATE ||
                     req->op() > ChangePackageRequest::DISALLOW) {
                   return absl::InvalidArgumentError("unknown package change");
                 }
                 Master::PackageChange change{.op = static_cast<Op>(req->op()),
                                              .package = req->package(),
                                              .target_project = req->target_project(),
                                              .label = req->label()};
                 if (change.op == Op::kAdd || change.op == Op::kRemove) {
                   ASSIGN_OR_RETURN(change.entry.object, ObjectOf(req->object()));
                   change.entry.path = req->path();
                   ASSIGN_OR_RETURN(const uint32_t actions, ActionBits(req->actions()));
                   if (actions != 0) change.entry.actions = actions;
                 }
                 return Store(master_->ChangePackage(req->project(), change, who.user),
                              [&](const ProjectView& p) { ToWire(p, resp); });
               });
}

grpc::Status MasterService::InstallPackage(grpc::ServerContext* ctx,
                                           const InstallPackageRequest* req,
                                           ProjectDescription* resp) {
  return Serve(
      ctx, "InstallPackage", *req, InProject(Action::kAdmin), [&](const PrincipalView& who) {
        return Store(
            master_->InstallPackage(req->project(), req->package(), req->uninstall(), who.user),
            [&](const ProjectView& p) { ToWire(p, resp); });
      });
}

grpc::Status MasterService::SetLabelPolicy(grpc::ServerContext* ctx,
                                           const SetLabelPolicyRequest* req,
                                           ProjectDescription* resp) {
  return Serve(
      ctx, "SetLabelPolicy", *req, InProject(Action::kAdmin), [&](const PrincipalView& who) {
        auto given = [](bool has, bool value) {
          return has ? std::optional<bool>(value) : std::nullopt;
        };
        return Store(master_->SetLabelPolicy(
                         req->project(), given(req->has_label_security(), req->label_security()),
                         given(req->has_no_write_down(), req->no_write_down()), who.user),
                     [&](const ProjectView& p) { ToWire(p, resp); });
      });
}

grpc::Status MasterService::SetLabel(grpc::ServerContext* ctx, const SetLabelRequest* req,
                                     ProjectDescription* resp) {
  return Serve(ctx, "SetLabel", *req, InProject(Action::kAdmin), [&](const PrincipalView& who) {
    LabelView label{.path = req->path(), .column = req->column(), .level = req->level()};
    ASSIGN_OR_RETURN(label.object, ObjectOf(req->object()));
    return Store(master_->SetLabel(req->project(), label, who.user),
                 [&](const ProjectView& p) { ToWire(p, resp); });
  });
}

grpc::Status MasterService::SetClearance(grpc::ServerContext* ctx, const SetClearanceRequest* req,
                                         ProjectDescription* resp) {
  return Serve(ctx, "SetClearance", *req, InProject(Action::kAdmin), [&](const PrincipalView& who) {
    return Store(master_->SetClearance(req->project(), req->user(), req->level(), who.user),
                 [&](const ProjectView& p) { ToWire(p, resp); });
  });
}

grpc::Status MasterService::SetLabelException(grpc::ServerContext* ctx,
                                              const SetLabelExceptionRequest* req,
                                              ProjectDescription* resp) {
  return Serve(
      ctx, "SetLabelException", *req, InProject(Action::kAdmin), [&](const PrincipalView& who) {
        LabelExceptionView e{.user = req->user(),
                             .path = req->path(),
                             .column = req->column(),
                             .level = req->level()};
        ASSIGN_OR_RETURN(e.object, ObjectOf(req->object()));
        return Store(
            master_->SetLabelException(req->project(), e, absl::Seconds(req->expires_in_s()),
                                       req->revoke(), who.user),
            [&](const ProjectView& p) { ToWire(p, resp); });
      });
}

grpc::Status MasterService::DescribeProject(grpc::ServerContext* ctx,
                                            const DescribeProjectRequest* req,
                                            ProjectDescription* resp) {
  return Serve(ctx, "DescribeProject", *req, InProject(Action::kDescribe), [&] {
    std::optional<ProjectView> p = master_->Project(req->project());
    if (!p.has_value()) return absl::NotFoundError(absl::StrCat("no project ", req->project()));
    ToWire(*p, resp);
    return absl::OkStatus();
  });
}

}  // namespace ternion::master
