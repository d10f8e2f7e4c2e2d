#include "master/replication_scheduler.h"

#include <grpcpp/grpcpp.h>

#include "absl/time/clock.h"
#include "common/logging.h"
#include "common/rpc_status.h"
#include "ternion/v1/chunkserver.grpc.pb.h"

namespace ternion::master {

namespace {

std::unique_ptr<ternion::v1::ChunkServerService::Stub> StubFor(const std::string& address) {
  return ternion::v1::ChunkServerService::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
}

}  // namespace

ReplicationScheduler::ReplicationScheduler(Master* master, ReplicationSchedulerOptions options)
    : master_(master), options_(options) {
  for (int i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { Work(); });
}

ReplicationScheduler::~ReplicationScheduler() {
  stop_.Notify();
  for (std::thread& t : workers_) t.join();
}

void ReplicationScheduler::Work() {
  while (!stop_.HasBeenNotified()) {
    std::vector<ReplicaMove> moves = master_->TakeMoves(1);
    if (moves.empty()) {
      stop_.WaitForNotificationWithTimeout(options_.idle_poll);
      continue;
    }
    const ReplicaMove& m = moves[0];
    const absl::Time start = absl::Now();
    absl::Status copied = Copy(m);
    if (master_->FinishMove(m, copied)) {
      // A replica on a dead server cannot be dropped now; when the server returns, its report
      // shows the extra replica and reconciliation removes it.
      if (m.drop_from) DropReplica(m.from_address, m.chunk_id);
    } else if (copied.ok()) {
      DropReplica(m.to_address, m.chunk_id);
    }
    // Each worker keeps to its share of the cluster-wide bandwidth cap.
    const double share = static_cast<double>(master_->MoveBandwidth()) / options_.workers;
    const absl::Duration budget = absl::Seconds(m.length / std::max(share, 1.0));
    const absl::Duration spent = absl::Now() - start;
    if (copied.ok() && spent < budget) stop_.WaitForNotificationWithTimeout(budget - spent);
  }
}

absl::Status ReplicationScheduler::Copy(const ReplicaMove& m) {
  ternion::v1::CopyChunkRequest req;
  req.set_chunk_id(m.chunk_id);
  req.set_version(m.version);
  req.set_project(m.project);
  req.set_chunk_size(m.chunk_size);
  req.set_length(m.length);
  req.set_source_address(m.source_address);
  ternion::v1::CopyChunkResponse resp;
  grpc::ClientContext ctx;
  // Generous: a chunk at 1 MiB/s plus a margin; a dead target fails much sooner.
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60) +
                   std::chrono::seconds(m.length >> 20));
  grpc::Status s = StubFor(m.to_address)->CopyChunk(&ctx, req, &resp);
  if (!s.ok()) return FromGrpcStatus(s);
  if (resp.replica().length() != m.length || resp.replica().version() != m.version) {
    return absl::DataLossError("copied replica has the wrong length or version");
  }
  TLOG(INFO) << "chunk " << m.chunk_id << " (" << m.length << " bytes) copied to " << m.to
             << " for a " << ReasonName(m.reason) << " move from " << m.from;
  return absl::OkStatus();
}

void ReplicationScheduler::DropReplica(const std::string& address, uint64_t chunk_id) {
  ternion::v1::DeleteReplicaRequest req;
  req.set_chunk_id(chunk_id);
  ternion::v1::DeleteReplicaResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Status s = StubFor(address)->DeleteReplica(&ctx, req, &resp);
  // A replica that cannot be dropped now (its server is down) is an orphan the chunkserver
  // reports later; garbage collection removes it.
  if (!s.ok()) TLOG(WARNING) << "cannot drop replica of chunk " << chunk_id << " on " << address
                             << ": " << s.error_message();
}

}  // namespace ternion::master
