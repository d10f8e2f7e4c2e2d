#include "master/replication_scheduler.h"

#include <grpcpp/grpcpp.h>

#include "common/logging.h"
#include "common/rpc_status.h"

namespace ternion::master {

// One CopyChunk or DeleteReplica call under way; owned by its completion callback.
struct ReplicationScheduler::CopyCall {
  grpc::ClientContext ctx;
  ReplicaMove move;
  ternion::v1::CopyChunkRequest copy;
  ternion::v1::CopyChunkResponse copied;
  ternion::v1::DeleteReplicaRequest drop;
  ternion::v1::DeleteReplicaResponse dropped;
};

ReplicationScheduler::ReplicationScheduler(Master* master, ReplicationSchedulerOptions options)
    : master_(master), options_(std::move(options)), thread_([this] { Run(); }) {}

ReplicationScheduler::~ReplicationScheduler() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
  absl::MutexLock lock(&mu_);
  for (grpc::ClientContext* ctx : calls_) ctx->TryCancel();
  mu_.Await(absl::Condition(
      +[](absl::flat_hash_set<grpc::ClientContext*>* calls) { return calls->empty(); },
      &calls_));
}

void ReplicationScheduler::Run() {
  for (;;) {
    std::vector<std::pair<ReplicaMove, absl::Status>> finished;
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(
                               +[](ReplicationScheduler* s) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                                 return s->stop_ || !s->finished_.empty();
                               },
                               this),
                           options_.idle_poll);
      if (stop_) return;
      finished.swap(finished_);
    }
    if (!finished.empty()) {
      const std::vector<bool> recorded = master_->FinishMoves(finished);
      for (size_t i = 0; i < finished.size(); ++i) {
        const auto& [m, status] = finished[i];
        if (recorded[i]) {
          // A replica on a dead server cannot be dropped now; when the server returns, its
          // report shows the extra replica and reconciliation removes it.
          if (m.drop_from) DropReplica(m.from_address, m);
        } else if (status.ok()) {
          DropReplica(m.to_address, m);
        }
      }
    }
    const ternion::v1::ReplicationLimits limits = master_->ReplicationLimits();
    // The per-server slots bound what TakeMoves hands out; this only bounds one round.
    for (ReplicaMove& m : master_->TakeMoves(1 << 16)) StartCopy(std::move(m), limits);
    if (absl::Now() - last_lease_recovery_ >= options_.lease_recovery_interval) {
      last_lease_recovery_ = absl::Now();
      RecoverLeases();
    }
  }
}

void ReplicationScheduler::RecoverLeases() {
  constexpr size_t kLeasesPerRound = 16;  // bounds the round: each asks at most three servers
  auto deadline = [] { return std::chrono::system_clock::now() + std::chrono::seconds(5); };
  for (const LeaseRecovery& r : master_->LeaseRecoveriesDue(kLeasesPerRound, &lease_cursor_)) {
    std::vector<ReplicaLength> answers;
    std::vector<const std::string*> answered;  // the server of each answer
    size_t absent = 0;                         // servers that hold no replica of it
    for (const std::string& address : r.addresses) {
      if (r.chunk_id == 0) break;
      grpc::ClientContext ctx;
      ctx.set_deadline(deadline());
      ternion::v1::GetReplicaRequest req;
      req.set_chunk_id(r.chunk_id);
      req.set_token(r.token);
      ternion::v1::ReplicaReport replica;
      if (grpc::Status s = StubFor(address)->GetReplica(&ctx, req, &replica); s.ok()) {
        answers.push_back({.version = replica.version(), .length = replica.length()});
        answered.push_back(&address);
      } else if (s.error_code() == grpc::StatusCode::NOT_FOUND) {
        ++absent;
      }
    }
    // Not recovered now (a replica may be back later, or the file changed): tried again.
    absl::StatusOr<std::optional<RecoveryMove>> done = master_->RecoverLease(r, answers, absent);
    if (!done.ok()) {
      TLOG(WARNING) << "lease recovery of " << r.lease.project << "/" << r.lease.path << ": "
                    << done.status();
      continue;
    }
    if (!done->has_value()) continue;
    // The replicas are behind the chunk's version: moved to the new one, committed next round.
    const RecoveryMove& move = **done;
    ternion::v1::UpdateReplicaRequest req;
    req.set_chunk_id(move.chunk_id);
    req.set_version(move.version);
    req.set_new_version(move.new_version);
    req.set_length(move.length);
    req.set_token(move.token);
    for (size_t i = 0; i < answers.size(); ++i) {
      if (answers[i].version != move.version) continue;
      grpc::ClientContext ctx;
      ctx.set_deadline(deadline());
      ternion::v1::ReplicaReport moved;
      if (grpc::Status s = StubFor(*answered[i])->UpdateReplica(&ctx, req, &moved); !s.ok()) {
        TLOG(WARNING) << "lease recovery: moving chunk " << move.chunk_id << " on " << *answered[i]
                      << " to version " << move.new_version << ": " << s.error_message();
      }
    }
  }
}

void ReplicationScheduler::StartCopy(ReplicaMove move,
                                     const ternion::v1::ReplicationLimits& limits) {
  auto* call = new CopyCall;
  call->move = std::move(move);
  const ReplicaMove& m = call->move;
  call->copy.set_chunk_id(m.chunk_id);
  call->copy.set_version(m.version);
  call->copy.set_project(m.project);
  call->copy.set_chunk_size(m.chunk_size);
  call->copy.set_length(m.length);
  call->copy.set_source_address(m.source_address);
  // A replicate token lets the target create the replica and read exactly this source (any
  // client address: the source sees the target, not the master).
  call->copy.set_token(master_->SignChunkToken({.project = m.project,
                                                .chunk_id = m.chunk_id,
                                                .version = m.version,
                                                .mode = security::ChunkMode::kReplicate,
                                                .copy_sources = {m.source_address}}));
  call->copy.set_max_bytes_per_s(limits.bandwidth_bytes_per_s());
  // Generous: the chunk at its share of the target's bandwidth cap, or at 1 MiB/s, plus a
  // margin; a dead target fails much sooner.
  const double share = std::max<double>(
      1 << 20, static_cast<double>(limits.bandwidth_bytes_per_s()) /
                   std::max<uint32_t>(limits.copies_per_server(), 1));
  call->ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60) +
                         std::chrono::milliseconds(static_cast<int64_t>(m.length / share * 1000)));
  {
    absl::MutexLock lock(&mu_);
    calls_.insert(&call->ctx);
  }
  StubFor(m.to_address)
      ->async()
      ->CopyChunk(&call->ctx, &call->copy, &call->copied, [this, call](const grpc::Status& s) {
        const ReplicaMove& m = call->move;
        absl::Status status = FromGrpcStatus(s);
        if (status.ok() && (call->copied.replica().length() != m.length ||
                            call->copied.replica().version() != m.version)) {
          status = absl::DataLossError("copied replica has the wrong length or version");
        }
        if (status.ok()) {
          TLOG(INFO) << "chunk " << m.chunk_id << " (" << m.length << " bytes) copied from "
                     << m.source << " to " << m.to << " for a " << MoveReasonName(m.reason)
                     << " move from " << m.from;
        }
        absl::MutexLock lock(&mu_);
        finished_.emplace_back(std::move(call->move), std::move(status));
        calls_.erase(&call->ctx);
        delete call;
      });
}

void ReplicationScheduler::DropReplica(const std::string& address, const ReplicaMove& m) {
  auto* call = new CopyCall;
  call->drop.set_chunk_id(m.chunk_id);
  call->drop.set_version(m.version);
  call->drop.set_token(master_->SignChunkToken({.project = m.project,
                                                .chunk_id = m.chunk_id,
                                                .version = m.version,
                                                .mode = security::ChunkMode::kDelete}));
  call->ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  {
    absl::MutexLock lock(&mu_);
    calls_.insert(&call->ctx);
  }
  StubFor(address)->async()->DeleteReplica(
      &call->ctx, &call->drop, &call->dropped, [this, call, address](const grpc::Status& s) {
        // A replica that cannot be dropped now (its server is down) is an orphan the
        // chunkserver reports later; reconciliation removes it.
        if (!s.ok()) {
          TLOG(WARNING) << "cannot drop replica of chunk " << call->drop.chunk_id() << " on "
                        << address << ": " << s.error_message();
        }
        absl::MutexLock lock(&mu_);
        calls_.erase(&call->ctx);
        delete call;
      });
}

ternion::v1::ChunkServerService::Stub* ReplicationScheduler::StubFor(const std::string& address) {
  auto& stub = stubs_[address];
  if (stub == nullptr) {
    stub = ternion::v1::ChunkServerService::NewStub(
        options_.tls.NewChannel(address, security::kChunkserverTlsName));
  }
  return stub.get();
}

}  // namespace ternion::master
