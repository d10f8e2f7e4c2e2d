#pragma once

// The gRPC adapter of a chunkserver: converts between protos and ChunkStore calls, and is the
// one place a chunkserver admits a request: frame limits and checksums (AdmitFrame), and the
// master's chunk token for exactly the chunk, version and mode of every data call
// (AdmitToken). No storage logic lives here.

#include <atomic>
#include <optional>

#include "absl/synchronization/mutex.h"
#include "chunkserver/chunk_store.h"
#include "common/rate_limiter.h"
#include "security/chunk_token.h"
#include "security/length_receipt.h"
#include "security/tls.h"
#include "ternion/v1/chunkserver.grpc.pb.h"

namespace ternion::chunkserver {

inline constexpr size_t kMaxFrameBytes = 1 << 20;  // data bytes per streamed frame

// A replica as the chunkserver reports it to clients and the master.
void ToReplicaReport(const ReplicaInfo& info, ternion::v1::ReplicaReport* out);

class ChunkService final : public ternion::v1::ChunkServerService::Service {
 public:
  // `store` must outlive the service.
  // `tls` is how this server reaches the sources of copies.
  ChunkService(ChunkStore* store, std::string server_id, security::TlsConfig tls);

  grpc::Status WriteChunk(
      grpc::ServerContext* ctx,
      grpc::ServerReaderWriter<ternion::v1::WriteChunkAck, ternion::v1::WriteChunkRequest>* stream)
      override;
  grpc::Status ReadChunk(grpc::ServerContext* ctx, const ternion::v1::ReadChunkRequest* req,
                         grpc::ServerWriter<ternion::v1::ReadChunkResponse>* writer) override;
  grpc::Status GetReplica(grpc::ServerContext* ctx, const ternion::v1::GetReplicaRequest* req,
                          ternion::v1::ReplicaReport* resp) override;
  // Master commands for replica moves.
  grpc::Status CopyChunk(grpc::ServerContext* ctx, const ternion::v1::CopyChunkRequest* req,
                         ternion::v1::CopyChunkResponse* resp) override;
  grpc::Status DeleteReplica(grpc::ServerContext* ctx,
                             const ternion::v1::DeleteReplicaRequest* req,
                             ternion::v1::DeleteReplicaResponse* resp) override;
  grpc::Status UpdateReplica(grpc::ServerContext* ctx,
                             const ternion::v1::UpdateReplicaRequest* req,
                             ternion::v1::ReplicaReport* resp) override;

  // The master's keys, from its registration answer: the token verification key and this
  // server's durable-length receipt key. False (nothing set) when either is not a key. Until
  // they are set every data call is refused (UNAVAILABLE).
  bool SetMasterKeys(absl::string_view token_public_key, absl::string_view receipt_key);

  uint32_t active_streams() const { return active_streams_.load(); }
  uint64_t bytes_written() const { return bytes_written_.load(); }
  uint64_t bytes_read() const { return bytes_read_.load(); }

 private:
  // The call may do `mode` on chunk `chunk_id` at `version` (nullopt: any version, any mode)
  // when `token` is the master's, unexpired, for exactly that, names the caller's address, and
  // (for a copy) names `copy_source`. UNAUTHENTICATED (no or bad token), PERMISSION_DENIED
  // (another chunk, version, mode, address or source) or UNAVAILABLE (no token key yet), counted
  // by cause.
  // `admitted`, when given, receives the verified token.
  absl::Status AdmitToken(const grpc::ServerContext& ctx, absl::string_view token,
                          uint64_t chunk_id, std::optional<uint64_t> version,
                          security::ChunkMode mode, absl::string_view copy_source = {},
                          security::ChunkToken* admitted = nullptr) const;

  // Copies [0, req.length) of a chunk from the source chunkserver into a new local replica.
  absl::Status CopyFromSource(const ternion::v1::CopyChunkRequest& req, grpc::ServerContext* ctx,
                              ReplicaInfo* made);

  ChunkStore* const store_;
  const std::string server_id_;
  const security::TlsConfig tls_;
  std::atomic<uint32_t> active_streams_{0};
  std::atomic<uint64_t> bytes_written_{0};
  std::atomic<uint64_t> bytes_read_{0};
  RateLimiter copy_limiter_{Clock::Real()};  // paces every copy into this server together
  mutable absl::Mutex key_mu_;
  std::optional<security::TokenPublicKey> token_key_ ABSL_GUARDED_BY(key_mu_);
  security::ReceiptKey receipt_key_ ABSL_GUARDED_BY(key_mu_){};
};

}  // namespace ternion::chunkserver
