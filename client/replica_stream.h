#pragma once

// ReplicaStream writes one chunk to one chunkserver: a WriteChunk stream with a sender thread
// and an acknowledgement reader, so a FileWriter drives its three replicas in parallel and
// keeps up to a window of bytes in flight on each.
//
// Thread-safe.

#include <grpcpp/grpcpp.h>

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "ternion/v1/chunkserver.grpc.pb.h"

namespace ternion::client {

class ReplicaStream {
 public:
  // One WriteChunkRequest, serialized once and shared by the streams of all replicas.
  struct EncodedFrame {
    grpc::ByteBuffer bytes;
    uint64_t offset = 0;  // in the chunk
    uint64_t size = 0;    // data bytes
  };
  using Frame = std::shared_ptr<const EncodedFrame>;

  // Serializes a frame with `a` then `b` as its data (two pieces, so a writer's buffered bytes
  // and the caller's bytes are copied once, straight into the message). `header` may be null.
  static Frame Encode(const ternion::v1::WriteChunkHeader* header, uint64_t offset,
                      absl::string_view a, absl::string_view b);

  // Opens the stream. `start_length` is the replica's length before the first frame; the
  // first frame sent must carry the chunk header.
  ReplicaStream(const std::shared_ptr<grpc::Channel>& channel, std::string address,
                uint64_t chunk_id, uint64_t start_length, size_t window_bytes,
                absl::Duration timeout);
  ~ReplicaStream();  // cancels the stream if Finish() was not called

  // Queues a frame (its offset must continue the previous one). Blocks while more than the
  // window is unacknowledged. Returns the stream's error once it has failed.
  absl::Status Send(Frame frame);

  // Waits until the replica acknowledged `length` bytes as durable, with its receipt, or the
  // stream failed.
  absl::Status WaitDurable(uint64_t length);

  // Ends the stream cleanly (after all queued frames) and returns its final status.
  absl::Status Finish();

  const std::string& address() const { return address_; }
  // Bytes of the chunk the replica acknowledged as durable so far.
  uint64_t durable() {
    absl::MutexLock lock(&mu_);
    return durable_;
  }
  // The replica's latest durable-length receipt (security/length_receipt.h): what the master
  // needs to record a length. None before its first acknowledgement.
  struct Receipt {
    uint64_t length = 0;
    std::string mac;
  };
  std::optional<Receipt> receipt() {
    absl::MutexLock lock(&mu_);
    return receipt_;
  }
  // The stream's error, once it has failed (OK while it works).
  absl::Status status() {
    absl::MutexLock lock(&mu_);
    return error_;
  }

 private:
  void SendLoop();
  void AckLoop();
  absl::Status Annotate(const grpc::Status& s) const;

  const std::string address_;
  const uint64_t chunk_id_;
  const size_t window_bytes_;
  const absl::Duration timeout_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<grpc::ByteBuffer, ternion::v1::WriteChunkAck>> stream_;

  absl::Mutex mu_;
  absl::CondVar cv_;
  std::deque<Frame> queue_ ABSL_GUARDED_BY(mu_);
  uint64_t queued_end_ ABSL_GUARDED_BY(mu_);  // replica length once every queued frame lands
  uint64_t durable_ ABSL_GUARDED_BY(mu_);
  std::optional<Receipt> receipt_ ABSL_GUARDED_BY(mu_);
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  bool reads_ended_ ABSL_GUARDED_BY(mu_) = false;  // the server ended the stream
  bool sender_exited_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;      // Finish() ran; final status in error_
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  std::thread sender_;
  std::thread ack_reader_;
};

}  // namespace ternion::client
