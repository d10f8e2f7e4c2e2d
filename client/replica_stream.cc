#include "client/replica_stream.h"

#include "absl/strings/str_cat.h"
#include "common/crc32c.h"
#include "common/rpc_status.h"

namespace ternion::client {

ReplicaStream::Frame ReplicaStream::Encode(const ternion::v1::WriteChunkHeader* header,
                                          uint64_t offset, absl::string_view a,
                                          absl::string_view b) {
  ternion::v1::WriteChunkRequest fields;  // everything but the data
  if (header != nullptr) *fields.mutable_header() = *header;
  fields.set_offset(offset);
  fields.set_crc32c(Crc32cExtend(Crc32c(a.data(), a.size()), b.data(), b.size()));
  auto* wire = new std::string;
  const size_t n = a.size() + b.size();
  wire->reserve(fields.ByteSizeLong() + 16 + n);
  fields.AppendToString(wire);
  // Field 3 (`data`, length-delimited): tag, varint length, bytes.
  wire->push_back(static_cast<char>((ternion::v1::WriteChunkRequest::kDataFieldNumber << 3) | 2));
  for (uint64_t v = n; ; v >>= 7) {
    if (v < 0x80) {
      wire->push_back(static_cast<char>(v));
      break;
    }
    wire->push_back(static_cast<char>((v & 0x7f) | 0x80));
  }
  wire->append(a.data(), a.size());
  wire->append(b.data(), b.size());
  grpc::Slice slice(wire->data(), wire->size(),
                    [](void* p) { delete static_cast<std::string*>(p); }, wire);
  auto frame = std::make_shared<EncodedFrame>();
  frame->bytes = grpc::ByteBuffer(&slice, 1);
  frame->offset = offset;
  frame->size = n;
  return frame;
}

ReplicaStream::ReplicaStream(const std::shared_ptr<grpc::Channel>& channel, std::string address,
                             uint64_t chunk_id, uint64_t start_length, size_t window_bytes,
                             absl::Duration timeout)
    : address_(std::move(address)),
      chunk_id_(chunk_id),
      window_bytes_(window_bytes),
      timeout_(timeout),
      queued_end_(start_length),
      durable_(start_length) {
  // The generated stub would serialize each replica's copy of a frame separately; a stream
  // of pre-serialized ByteBuffers sends one shared serialization to all three.
  static const char kMethod[] = "/ternion.v1.ChunkServerService/WriteChunk";
  grpc::internal::RpcMethod method(kMethod, grpc::internal::RpcMethod::BIDI_STREAMING, channel);
  stream_.reset(
      grpc::internal::ClientReaderWriterFactory<grpc::ByteBuffer, ternion::v1::WriteChunkAck>::
          Create(channel.get(), method, &ctx_));
  sender_ = std::thread([this] { SendLoop(); });
  ack_reader_ = std::thread([this] { AckLoop(); });
}

ReplicaStream::~ReplicaStream() {
  {
    absl::MutexLock lock(&mu_);
    if (!finished_) ctx_.TryCancel();
    closing_ = true;
    cv_.SignalAll();
  }
  if (sender_.joinable()) sender_.join();
  if (ack_reader_.joinable()) ack_reader_.join();
}

absl::Status ReplicaStream::Annotate(const grpc::Status& s) const {
  absl::Status st = FromGrpcStatus(s);
  return absl::Status(st.code(), absl::StrCat("replica ", address_, " of chunk ", chunk_id_,
                                              ": ", st.message()));
}

void ReplicaStream::SendLoop() {
  while (true) {
    Frame frame;
    {
      absl::MutexLock lock(&mu_);
      while (queue_.empty() && !closing_ && !reads_ended_ && error_.ok()) cv_.Wait(&mu_);
      if (reads_ended_ || !error_.ok()) break;
      if (queue_.empty()) {  // closing, everything sent
        mu_.Unlock();
        stream_->WritesDone();
        mu_.Lock();
        break;
      }
      frame = std::move(queue_.front());
      queue_.pop_front();
    }
    if (!stream_->Write(frame->bytes)) break;  // the stream ended; AckLoop learns why
  }
  absl::MutexLock lock(&mu_);
  sender_exited_ = true;
  cv_.SignalAll();
}

void ReplicaStream::AckLoop() {
  ternion::v1::WriteChunkAck ack;
  while (stream_->Read(&ack)) {
    absl::MutexLock lock(&mu_);
    if (ack.error_code() != 0) {  // the replica failed; the stream ends with this error
      if (error_.ok()) {
        error_ = Annotate(grpc::Status(static_cast<grpc::StatusCode>(ack.error_code()),
                                       ack.error_message()));
      }
      ctx_.TryCancel();
    }
    durable_ = std::max<uint64_t>(durable_, ack.durable_length());
    if (ack.error_code() == 0 &&
        (!receipt_.has_value() || ack.durable_length() >= receipt_->length)) {
      receipt_ = Receipt{.length = ack.durable_length(), .mac = ack.receipt()};
    }
    cv_.SignalAll();
  }
  {
    absl::MutexLock lock(&mu_);
    reads_ended_ = true;
    cv_.SignalAll();
    while (!sender_exited_) cv_.Wait(&mu_);
  }
  grpc::Status s = stream_->Finish();  // no Write can be running now
  absl::MutexLock lock(&mu_);
  finished_ = true;
  if (!s.ok() && error_.ok()) error_ = Annotate(s);
  if (error_.ok() && durable_ < queued_end_) {
    error_ = absl::UnavailableError(absl::StrCat("replica ", address_, " of chunk ", chunk_id_,
                                                 " ended the stream before acknowledging"));
  }
  cv_.SignalAll();
}

absl::Status ReplicaStream::Send(Frame frame) {
  absl::MutexLock lock(&mu_);
  const uint64_t size = frame->size;
  absl::Time deadline = absl::Now() + timeout_;
  while (error_.ok() && !reads_ended_ && queued_end_ - durable_ > 0 &&
         queued_end_ - durable_ + size > window_bytes_) {
    if (cv_.WaitWithDeadline(&mu_, deadline)) {
      ctx_.TryCancel();
      error_ = absl::DeadlineExceededError(absl::StrCat(
          "replica ", address_, " of chunk ", chunk_id_, " did not acknowledge in time"));
      return error_;
    }
  }
  if (!error_.ok()) return error_;
  if (reads_ended_) {
    error_ = absl::UnavailableError(
        absl::StrCat("replica ", address_, " of chunk ", chunk_id_, " closed the stream"));
    return error_;
  }
  queued_end_ = frame->offset + size;
  queue_.push_back(std::move(frame));
  cv_.SignalAll();
  return absl::OkStatus();
}

absl::Status ReplicaStream::WaitDurable(uint64_t length) {
  absl::MutexLock lock(&mu_);
  absl::Time deadline = absl::Now() + timeout_;
  // Until the replica itself vouched for `length` (a new stream starts at its start length
  // with no receipt; the first frame's acknowledgement brings one).
  auto vouched = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return receipt_.has_value() && receipt_->length >= length;
  };
  while (!vouched() && error_.ok() && !finished_) {
    if (cv_.WaitWithDeadline(&mu_, deadline)) {
      ctx_.TryCancel();
      error_ = absl::DeadlineExceededError(absl::StrCat(
          "replica ", address_, " of chunk ", chunk_id_, " did not acknowledge in time"));
      return error_;
    }
  }
  if (vouched()) return absl::OkStatus();
  if (error_.ok()) {
    error_ = absl::UnavailableError(
        absl::StrCat("replica ", address_, " of chunk ", chunk_id_, " closed the stream"));
  }
  return error_;
}

absl::Status ReplicaStream::Finish() {
  {
    absl::MutexLock lock(&mu_);
    closing_ = true;
    cv_.SignalAll();
  }
  sender_.join();
  ack_reader_.join();
  absl::MutexLock lock(&mu_);
  return error_;
}

}  // namespace ternion::client
