#include "chunkserver/chunk_service.h"

#include <grpcpp/grpcpp.h>

#include <deque>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/crc32c.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "common/names.h"
#include "common/rpc_metrics.h"
#include "common/rpc_status.h"
#include "common/status_macros.h"

namespace ternion::chunkserver {
namespace {

using ternion::v1::WriteChunkRequest;

constexpr uint64_t kReadAheadBytes = 32 << 20;

struct RpcMetrics {
  prometheus::Counter* bytes_written;
  prometheus::Counter* bytes_read;
  prometheus::Counter* checksum_errors;
  prometheus::Gauge* active_streams;
};

RpcMetrics& Metrics() {
  static RpcMetrics m = [] {
    return RpcMetrics{
        GetCounter("ternion_chunkserver_written_bytes_total",
                   "Chunk bytes made durable on this chunkserver."),
        GetCounter("ternion_chunkserver_read_bytes_total", "Chunk bytes served to readers."),
        GetCounter("ternion_chunkserver_checksum_errors_total",
                   "Checksum mismatches found in received frames or stored blocks."),
        GetGauge("ternion_chunkserver_active_streams", "Chunk read and write streams open."),
    };
  }();
  return m;
}

class StreamCount {
 public:
  explicit StreamCount(std::atomic<uint32_t>* n) : n_(n) {
    n_->fetch_add(1);
    Metrics().active_streams->Increment();
  }
  ~StreamCount() {
    n_->fetch_sub(1);
    Metrics().active_streams->Decrement();
  }

 private:
  std::atomic<uint32_t>* n_;
};

// Admission of one write frame: size and checksum. Token checks join here.
// The chunk sizes the master allocates (64 KiB to 1 GiB).
constexpr uint64_t kMinChunkBytes = 64 * 1024;
constexpr uint64_t kMaxChunkBytes = uint64_t{1} << 30;

absl::Status AdmitFrame(const WriteChunkRequest& req) {
  if (req.data().size() > kMaxFrameBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("frame of ", req.data().size(), " bytes exceeds ", kMaxFrameBytes));
  }
  if (Crc32c(req.data()) != req.crc32c()) {
    Metrics().checksum_errors->Increment();
    return absl::DataLossError(
        absl::StrCat("frame at offset ", req.offset(), " failed its checksum"));
  }
  return absl::OkStatus();
}

}  // namespace

void ToReplicaReport(const ReplicaInfo& info, ternion::v1::ReplicaReport* out) {
  out->set_chunk_id(info.chunk_id);
  out->set_version(info.version);
  out->set_length(info.length);
  out->set_disk(info.disk);
  out->set_project(info.project);
}

ChunkService::ChunkService(ChunkStore* store, std::string server_id, security::TlsConfig tls)
    : store_(store), server_id_(std::move(server_id)), tls_(std::move(tls)) {}

bool ChunkService::SetMasterKeys(absl::string_view token_public_key,
                                 absl::string_view receipt_key) {
  security::TokenPublicKey key;
  security::ReceiptKey receipts;
  if (token_public_key.size() != key.size() || receipt_key.size() != receipts.size()) {
    return false;
  }
  std::copy(token_public_key.begin(), token_public_key.end(), key.begin());
  std::copy(receipt_key.begin(), receipt_key.end(), receipts.begin());
  absl::MutexLock lock(&key_mu_);
  token_key_ = key;
  receipt_key_ = receipts;
  return true;
}

absl::Status ChunkService::AdmitToken(const grpc::ServerContext& ctx, absl::string_view token,
                                      uint64_t chunk_id, std::optional<uint64_t> version,
                                      security::ChunkMode mode, absl::string_view copy_source,
                                      security::ChunkToken* admitted) const {
  std::optional<security::TokenPublicKey> key;
  {
    absl::MutexLock lock(&key_mu_);
    key = token_key_;
  }
  absl::Status s;
  if (!key.has_value()) {
    s = absl::UnavailableError("this chunkserver has not registered with the master yet");
  } else if (absl::StatusOr<security::ChunkToken> t =
                 security::VerifyToken(token, *key, absl::ToUnixMillis(absl::Now()));
             !t.ok()) {
    s = t.status();
  } else if (!version.has_value()) {
    if (t->chunk_id != chunk_id) {
      s = absl::PermissionDeniedError(absl::StrCat("the chunk token is for chunk ", t->chunk_id,
                                                   ", not chunk ", chunk_id));
    }
  } else {
    s = security::TokenAllows(*t, chunk_id, *version, mode, security::PeerIp(ctx.peer()));
    if (s.ok() && !copy_source.empty()) s = security::TokenAllowsCopyFrom(*t, copy_source);
    if (s.ok() && admitted != nullptr) *admitted = *std::move(t);
  }
  if (!s.ok()) {
    GetCounter("ternion_chunkserver_token_refusals_total",
               "Data calls refused for their chunk token, by status",
               {{"code", absl::StatusCodeToString(s.code())}})
        ->Increment();
  }
  return s;
}

// Frames handed from the thread receiving a write stream to the thread writing it to disk.
// The disk thread takes everything queued since its last sync, writes it, syncs once and
// acknowledges, so receiving overlaps syncing and a busy stream pays one sync per batch. A
// small frame arriving while the disk side is idle is written by the receiving thread itself
// (BeginInline), which spares a durable 4 KiB append a thread hand-off.
class WritePipe {
 public:
  // Queues a frame; blocks while kDepth frames wait. False once the disk side has failed.
  bool Push(WriteChunkRequest frame) {
    absl::MutexLock lock(&mu_);
    while (queue_.size() >= kDepth && error_.ok()) cv_.Wait(&mu_);
    if (!error_.ok()) return false;
    queue_.push_back(std::move(frame));
    cv_.SignalAll();
    return true;
  }
  // Takes every queued frame and marks the disk side busy until Done(); false when closed and
  // drained or failed.
  bool Take(std::vector<WriteChunkRequest>* batch) {
    absl::MutexLock lock(&mu_);
    while ((queue_.empty() || busy_) && !closed_ && error_.ok()) cv_.Wait(&mu_);
    if (!error_.ok() || queue_.empty()) return false;
    batch->clear();
    for (auto& f : queue_) batch->push_back(std::move(f));
    queue_.clear();
    busy_ = true;
    cv_.SignalAll();
    return true;
  }
  // True (and busy) when nothing is queued or being written: the caller may write inline.
  bool BeginInline() {
    absl::MutexLock lock(&mu_);
    if (!queue_.empty() || busy_ || !error_.ok()) return false;
    busy_ = true;
    return true;
  }
  void Done() {
    absl::MutexLock lock(&mu_);
    busy_ = false;
    cv_.SignalAll();
  }
  void Close() {
    absl::MutexLock lock(&mu_);
    closed_ = true;
    cv_.SignalAll();
  }
  void Fail(absl::Status s) {
    absl::MutexLock lock(&mu_);
    if (error_.ok()) error_ = std::move(s);
    cv_.SignalAll();
  }
  absl::Status error() {
    absl::MutexLock lock(&mu_);
    return error_;
  }

 private:
  static constexpr size_t kDepth = 4;
  absl::Mutex mu_;
  absl::CondVar cv_;
  std::deque<WriteChunkRequest> queue_ ABSL_GUARDED_BY(mu_);
  bool busy_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
};

grpc::Status ChunkService::WriteChunk(
    grpc::ServerContext* ctx,
    grpc::ServerReaderWriter<ternion::v1::WriteChunkAck, WriteChunkRequest>* stream) {
  RpcScope rpc("chunkserver", "WriteChunk");
  StreamCount count(&active_streams_);
  WriteChunkRequest req;
  if (!stream->Read(&req)) {
    return rpc.Done(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "empty write stream"));
  }
  if (!req.has_header()) {
    return rpc.Done(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                 "the first message of a write must carry the header"));
  }
  const ternion::v1::WriteChunkHeader header = req.header();
  if (absl::Status s = ValidateProjectName(header.project()); !s.ok()) {
    return rpc.Done(ToGrpcStatus(s));
  }
  if (header.chunk_size() < kMinChunkBytes || header.chunk_size() > kMaxChunkBytes) {
    return rpc.Done(grpc::Status(
        grpc::StatusCode::INVALID_ARGUMENT,
        absl::StrCat("chunk size ", header.chunk_size(), " is outside ", kMinChunkBytes, "-",
                     kMaxChunkBytes)));
  }
  // Only a write token for this chunk and version makes a replica, and the token comes first
  // (a caller without one never counts as a checksum error); then the first frame is checked
  // before anything is created on disk, so a bad frame leaves no replica.
  if (absl::Status s = AdmitToken(*ctx, header.token(), header.chunk_id(), header.version(),
                                  security::ChunkMode::kWrite);
      !s.ok()) {
    return rpc.Done(ToGrpcStatus(s));
  }
  if (absl::Status s = AdmitFrame(req); !s.ok()) return rpc.Done(ToGrpcStatus(s));
  absl::StatusOr<ReplicaInfo> existing = store_->GetReplica(header.chunk_id());
  const bool is_new = absl::IsNotFound(existing.status());
  const uint64_t held = existing.ok() ? existing->length : 0;
  if (req.offset() != held) {
    return rpc.Done(grpc::Status(
        grpc::StatusCode::OUT_OF_RANGE,
        absl::StrCat("the first frame is at offset ", req.offset(), " but this replica of chunk ",
                     header.chunk_id(), " holds ", held, " bytes")));
  }
  auto writer = store_->StartWrite(header.chunk_id(), header.version(), header.project(),
                                   header.chunk_size());
  if (!writer.ok()) return rpc.Done(ToGrpcStatus(writer.status()));

  WritePipe pipe;
  // Writes a batch, syncs, acknowledges. Runs on one thread at a time (the pipe is busy).
  auto write_batch = [&](const std::vector<WriteChunkRequest>& batch) -> bool {
    absl::Status s;
    uint64_t bytes = 0;
    for (const WriteChunkRequest& f : batch) {
      s = (*writer)->Write(f.offset(), f.data().data(), f.data().size());
      if (!s.ok()) break;
      bytes += f.data().size();
    }
    if (s.ok()) s = (*writer)->Sync();
    ternion::v1::WriteChunkAck ack;
    if (!s.ok()) {
      // Tell the client now: it may be waiting for an ack rather than sending.
      ack.set_error_code(static_cast<int>(s.code()));
      ack.set_error_message(std::string(s.message()));
      stream->Write(ack);
      pipe.Fail(s);
      return false;
    }
    bytes_written_.fetch_add(bytes);
    Metrics().bytes_written->Increment(bytes);
    ack.set_durable_length((*writer)->length());
    {
      absl::MutexLock lock(&key_mu_);  // set before any write was admitted
      ack.set_receipt(security::SignReceipt(receipt_key_, header.chunk_id(), header.version(),
                                            ack.durable_length()));
    }
    if (!stream->Write(ack)) {
      pipe.Fail(absl::CancelledError("writer went away"));
      return false;
    }
    pipe.Done();
    return true;
  };
  std::thread disk([&] {
    std::vector<WriteChunkRequest> batch;
    while (pipe.Take(&batch) && write_batch(batch)) {
    }
  });
  constexpr size_t kInlineBytes = 64 * 1024;
  bool admitted = true;  // the first frame was admitted above
  absl::Status status;
  std::vector<WriteChunkRequest> inline_batch(1);
  do {
    if (req.has_header() && req.header().chunk_id() != header.chunk_id()) {
      status = absl::InvalidArgumentError("a write stream carries one chunk");
    } else if (!admitted) {
      status = AdmitFrame(req);
    }
    admitted = false;
    if (!status.ok()) break;
    if (req.data().size() <= kInlineBytes && pipe.BeginInline()) {
      inline_batch[0] = std::move(req);
      if (!write_batch(inline_batch)) break;
    } else if (!pipe.Push(std::move(req))) {
      break;
    }
  } while (stream->Read(&req));
  if (!status.ok()) pipe.Fail(status);
  pipe.Close();
  disk.join();
  const bool empty = (*writer)->length() == 0;
  writer->reset();  // ends the write
  if (!pipe.error().ok() && is_new && empty) {
    // Created by this stream and nothing made durable: it never existed for anyone.
    if (absl::StatusOr<uint64_t> gone = store_->Delete(header.chunk_id(), header.version());
        !gone.ok()) {
      TLOG(WARNING) << "cannot remove the empty replica of failed write " << header.chunk_id()
                    << ": " << gone.status();
    }
  }
  return rpc.Done(ToGrpcStatus(pipe.error()));
}

// Reads a replica range on its own thread, up to kDepth frames ahead of the sender, so disk
// reads (O_DIRECT, so no kernel read-ahead) overlap sending.
class ReadAhead {
 public:
  ReadAhead(ReplicaReader* reader, uint64_t offset, uint64_t end)
      : reader_(reader), thread_([this, offset, end] { Loop(offset, end); }) {}
  ~ReadAhead() {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
      cv_.SignalAll();
    }
    thread_.join();
  }
  // The next frame at *offset; empty data at the end of the range or the replica.
  absl::Status Next(uint64_t* offset, std::string* data) {
    absl::MutexLock lock(&mu_);
    while (queue_.empty()) cv_.Wait(&mu_);
    Piece p = std::move(queue_.front());
    queue_.pop_front();
    cv_.SignalAll();
    *offset = p.offset;
    *data = std::move(p.data);
    return p.status;
  }

 private:
  struct Piece {
    absl::Status status;
    uint64_t offset = 0;
    std::string data;
  };
  void Loop(uint64_t offset, uint64_t end) {
    bool first = true;
    while (true) {
      Piece p;
      p.offset = offset;
      if (first || offset < end) {
        p.status = reader_->Read(offset, std::min<uint64_t>(kMaxFrameBytes, end - offset), &p.data);
      }
      const bool last = !p.status.ok() || p.data.empty();
      offset += p.data.size();
      first = false;
      absl::MutexLock lock(&mu_);
      while (queue_.size() >= kDepth && !stop_) cv_.Wait(&mu_);
      if (stop_) return;
      queue_.push_back(std::move(p));
      cv_.SignalAll();
      if (last) return;
    }
  }

  static constexpr size_t kDepth = 4;
  ReplicaReader* const reader_;  // outlives this object
  absl::Mutex mu_;
  absl::CondVar cv_;
  std::deque<Piece> queue_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // last member: started once the rest is constructed
};

grpc::Status ChunkService::ReadChunk(grpc::ServerContext* ctx,
                                     const ternion::v1::ReadChunkRequest* req,
                                     grpc::ServerWriter<ternion::v1::ReadChunkResponse>* writer) {
  RpcScope rpc("chunkserver", "ReadChunk");
  StreamCount count(&active_streams_);
  security::ChunkToken token;
  if (absl::Status s = AdmitToken(*ctx, req->token(), req->chunk_id(), req->version(),
                                  security::ChunkMode::kRead, {}, &token);
      !s.ok()) {
    return rpc.Done(ToGrpcStatus(s));
  }
  uint64_t end = req->offset() + req->length();
  if (end < req->offset()) end = UINT64_MAX;  // saturate: "to the end of the replica"
  // A snapshot's token serves the bytes the snapshot holds, not what the live file it shares
  // this chunk with appended since.
  end = std::max(req->offset(), std::min(end, token.read_end));
  auto reader = req->salvage() ? store_->OpenQuarantined(req->chunk_id())
                               : store_->OpenRead(req->chunk_id(), req->version());
  if (!reader.ok()) return rpc.Done(ToGrpcStatus(reader.status()));
  // Buffered reads: let the kernel prefetch the range and what a sequential reader asks next.
  (*reader)->WillNeed(req->offset(),
                      std::min<uint64_t>(end - req->offset(), UINT64_MAX - kReadAheadBytes) +
                          kReadAheadBytes);
  ReadAhead ahead(reader->get(), req->offset(), end);
  ternion::v1::ReadChunkResponse resp;
  uint64_t offset;
  while (true) {
    absl::Status s = ahead.Next(&offset, resp.mutable_data());
    if (!s.ok()) {
      if (s.code() == absl::StatusCode::kDataLoss && !req->salvage()) {
        Metrics().checksum_errors->Increment();
        store_->QuarantineCorrupt(req->chunk_id());  // the master replaces it from a good replica
      }
      return rpc.Done(ToGrpcStatus(s));
    }
    if (resp.data().empty()) break;  // the end of the range or of the replica
    resp.set_offset(offset);
    resp.set_crc32c(Crc32c(resp.data()));
    bytes_read_.fetch_add(resp.data().size());
    Metrics().bytes_read->Increment(resp.data().size());
    if (!writer->Write(resp)) {
      return rpc.Done(grpc::Status(grpc::StatusCode::CANCELLED, "reader went away"));
    }
    if (ctx->IsCancelled()) break;
  }
  return rpc.Done(grpc::Status::OK);
}

grpc::Status ChunkService::GetReplica(grpc::ServerContext* ctx,
                                      const ternion::v1::GetReplicaRequest* req,
                                      ternion::v1::ReplicaReport* resp) {
  RpcScope rpc("chunkserver", "GetReplica");
  if (absl::Status s = AdmitToken(*ctx, req->token(), req->chunk_id(), std::nullopt,
                                  security::ChunkMode::kRead);
      !s.ok()) {
    return rpc.Done(ToGrpcStatus(s));
  }
  auto info = store_->GetReplica(req->chunk_id());
  if (!info.ok()) return rpc.Done(ToGrpcStatus(info.status()));
  ToReplicaReport(*info, resp);
  return rpc.Done(grpc::Status::OK);
}

absl::Status ChunkService::CopyFromSource(const ternion::v1::CopyChunkRequest& req,
                                          grpc::ServerContext* ctx, ReplicaInfo* made) {
  if (req.chunk_size() == 0 || req.chunk_size() > (1ull << 30) || req.length() > req.chunk_size()) {
    return absl::InvalidArgumentError("copy length must be within a chunk size of at most 1 GiB");
  }
  RETURN_IF_ERROR(ValidateProjectName(req.project()));
  // A leftover replica of this chunk (an earlier copy that failed half-way) is replaced; a
  // newer one is not (ABORTED).
  if (store_->GetReplica(req.chunk_id()).ok()) {
    RETURN_IF_ERROR(store_->Delete(req.chunk_id(), req.version()).status());
  }
  // Nobody's replica until it is whole (ChunkStore::StartCopy).
  auto writer = store_->StartCopy(req.chunk_id(), req.version(), req.project(), req.chunk_size());
  if (!writer.ok()) return writer.status();
  copy_limiter_.SetRate(req.max_bytes_per_s());

  auto stub = ternion::v1::ChunkServerService::NewStub(
      tls_.NewChannel(req.source_address(), security::kChunkserverTlsName));
  grpc::ClientContext source_ctx;
  source_ctx.set_deadline(ctx->deadline());
  ternion::v1::ReadChunkRequest read;
  read.set_chunk_id(req.chunk_id());
  read.set_version(req.version());
  read.set_length(req.length());
  read.set_token(req.token());  // the replicate token this copy was admitted with
  auto stream = stub->ReadChunk(&source_ctx, read);
  ternion::v1::ReadChunkResponse frame;
  uint64_t offset = 0;
  absl::Status status;
  while (status.ok() && offset < req.length() && stream->Read(&frame)) {
    const std::string& data = frame.data();
    if (frame.offset() != offset || offset + data.size() > req.length()) {
      status = absl::DataLossError("source sent a frame out of order or past the length");
    } else if (Crc32c(data) != frame.crc32c()) {
      Metrics().checksum_errors->Increment();
      status = absl::DataLossError("frame from the source failed its checksum");
    } else {
      absl::SleepFor(copy_limiter_.Reserve(data.size()));  // the replication throttle
      status = (*writer)->Write(offset, data.data(), data.size());
      offset += data.size();
      // Sync every 8 MiB to bound what is pending.
      if (status.ok() && offset % (8 << 20) < data.size()) status = (*writer)->Sync();
    }
  }
  if (status.ok() && offset < req.length()) {
    grpc::Status s = stream->Finish();
    status = s.ok() ? absl::DataLossError(absl::StrCat("source replica ended at ", offset,
                                                       " of ", req.length(), " bytes"))
                    : absl::UnavailableError(absl::StrCat("reading from the source ",
                                                          req.source_address(), ": ",
                                                          s.error_message()));
  } else if (status.ok()) {
    source_ctx.TryCancel();  // the source may hold more than the acknowledged length
  }
  if (status.ok()) status = (*writer)->Sync();
  writer->reset();
  if (status.ok()) status = store_->FinishCopy(req.chunk_id());
  if (status.ok()) {
    bytes_written_.fetch_add(offset);
    Metrics().bytes_written->Increment(offset);
    auto info = store_->GetReplica(req.chunk_id());
    if (info.ok()) *made = *info;
    return info.status();
  }
  (void)store_->Delete(req.chunk_id(), req.version());
  return status;
}

grpc::Status ChunkService::CopyChunk(grpc::ServerContext* ctx,
                                     const ternion::v1::CopyChunkRequest* req,
                                     ternion::v1::CopyChunkResponse* resp) {
  RpcScope rpc("chunkserver", "CopyChunk");
  StreamCount count(&active_streams_);
  // The source too must be one the master named: else any holder of a replicate token could
  // make this server connect anywhere and take the bytes it finds there as the chunk.
  if (req->source_address().empty()) {
    return rpc.Done(ToGrpcStatus(absl::InvalidArgumentError("a copy needs a source")));
  }
  if (absl::Status s = AdmitToken(*ctx, req->token(), req->chunk_id(), req->version(),
                                  security::ChunkMode::kReplicate, req->source_address());
      !s.ok()) {
    return rpc.Done(ToGrpcStatus(s));
  }
  ReplicaInfo made;
  absl::Status s = CopyFromSource(*req, ctx, &made);
  if (s.ok()) ToReplicaReport(made, resp->mutable_replica());
  return rpc.Done(ToGrpcStatus(s));
}

grpc::Status ChunkService::DeleteReplica(grpc::ServerContext* ctx,
                                         const ternion::v1::DeleteReplicaRequest* req,
                                         ternion::v1::DeleteReplicaResponse* resp) {
  RpcScope rpc("chunkserver", "DeleteReplica");
  if (absl::Status s = AdmitToken(*ctx, req->token(), req->chunk_id(), req->version(),
                                  security::ChunkMode::kDelete);
      !s.ok()) {
    return rpc.Done(ToGrpcStatus(s));
  }
  // Only the version the master named: a newer one (write recovery moved on) is not its to drop.
  absl::StatusOr<ReplicaInfo> held = store_->GetReplica(req->chunk_id());
  if (held.ok() && held->version != req->version()) {
    return rpc.Done(ToGrpcStatus(absl::FailedPreconditionError(
        absl::StrCat("replica of chunk ", req->chunk_id(), " is at version ", held->version,
                     ", not ", req->version()))));
  }
  return rpc.Done(ToGrpcStatus(store_->Delete(req->chunk_id(), req->version()).status()));
}

grpc::Status ChunkService::UpdateReplica(grpc::ServerContext* ctx,
                                         const ternion::v1::UpdateReplicaRequest* req,
                                         ternion::v1::ReplicaReport* resp) {
  RpcScope rpc("chunkserver", "UpdateReplica");
  if (absl::Status s = AdmitToken(*ctx, req->token(), req->chunk_id(), req->new_version(),
                                  security::ChunkMode::kReplicate);
      !s.ok()) {
    return rpc.Done(ToGrpcStatus(s));
  }
  absl::Status s =
      store_->UpdateReplica(req->chunk_id(), req->version(), req->new_version(), req->length());
  if (s.ok()) {
    resp->set_chunk_id(req->chunk_id());
    resp->set_version(req->new_version());
    resp->set_length(req->length());
  }
  return rpc.Done(ToGrpcStatus(s));
}

}  // namespace ternion::chunkserver
