// The client library: ClientImpl talks to the master; FileWriterImpl streams each chunk to its
// three replicas in parallel; FileReaderImpl reads one replica per chunk with failover.

#include "ternion/client.h"

#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <future>
#include <map>
#include <optional>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "client/chunk_layout.h"
#include "client/master_channel.h"
#include "client/read_order.h"
#include "client/replica_stream.h"
#include "client/table_io.h"
#include "common/crc32c.h"
#include "common/failpoint.h"
#include "common/logging.h"
#include "common/rpc_status.h"
#include "common/status_macros.h"
#include "common/visible_length.h"
#include "ternion/v1/chunkserver.grpc.pb.h"
#include "ternion/v1/master.grpc.pb.h"

namespace ternion {
namespace {

using client::NextFrameLength;
using client::ReplicaStream;
namespace v1 = ::ternion::v1;

constexpr uint64_t kFrameBytes = 1 << 20;

FileStat ToStat(const v1::FileInfo& f) {
  FileStat st;
  st.project = f.project();
  st.path = f.path();
  st.length = f.length();
  st.chunk_size = f.chunk_size();
  st.sealed = f.sealed();
  st.under_lease = f.under_lease();
  st.open = f.open();
  st.created_unix_ms = f.created_unix_ms();
  st.modified_unix_ms = f.modified_unix_ms();
  for (const v1::ChunkInfo& c : f.chunks()) {
    ChunkStat cs{c.chunk_id(), c.version(), c.index(), c.length(), {}, c.token()};
    for (const auto& r : c.replicas()) cs.replicas.push_back({r.server_id(), r.address(), r.rack()});
    st.chunks.push_back(std::move(cs));
  }
  return st;
}

class ClientImpl;

class FileWriterImpl final : public FileWriter {
 public:
  FileWriterImpl(ClientImpl* client, const v1::LeaseResponse& lease);
  ~FileWriterImpl() override = default;

  absl::Status Append(absl::string_view data) override;
  absl::Status Flush() override;
  absl::Status Close() override { return End(false); }
  absl::Status Seal() override { return End(true); }
  uint64_t length() const override { return acked_; }

  // For a writer taking over a file of `chunk_count` chunks whose length ends inside the last
  // one, or at its start (an earlier writer allocated it, and bytes may be durable on its
  // replicas that no flush returned for): opens that chunk for appending at once, after the
  // bytes the earlier writer left (PrepareAppend), and commits them, so they are the file's
  // even if this writer appends nothing.
  absl::Status Resume(uint64_t chunk_count);

 private:
  // Sends a + b as one frame to every replica of the current chunk (opening it if needed).
  absl::Status SendFrame(absl::string_view a, absl::string_view b);
  absl::Status OpenChunk(uint64_t index);
  // Opens a write stream to every replica of chunk_, starting at `start` in the chunk.
  void OpenStreams(uint64_t start);
  absl::Status FinishChunk();
  // Write recovery after replica streams failed (`cause`): the master replaces the failed
  // replicas under a new chunk version, the survivors are moved to it and cut to what all of
  // them hold durably, the new replicas copy that prefix from a survivor, and every frame not
  // yet durable everywhere is sent again. Returns `cause` when recovery is not possible.
  absl::Status Recover(absl::Status cause);
  // Before appending into a chunk an earlier writer left partly filled: moves its replicas to
  // a new version cut at the acknowledged length, dropping whatever that writer sent beyond.
  absl::Status PrepareAppend();
  // Write recovery once the failed replicas are known: see Recover. `newly` failed servers join
  // every server that failed this chunk before, and the master is told them all, so it never
  // places a replacement on one again (a killed server still looks alive to it until its
  // heartbeats are overdue). `last` is what failed in the previous round, for the final error.
  absl::Status Rebuild(const absl::Status& cause, const std::vector<std::string>& newly,
                       const absl::Status& last = absl::OkStatus());
  // Moves each replica of chunk_ from `version` to `next`'s, cut to `length`; returns the
  // server ids of the replicas it could not move.
  std::vector<std::string> UpdateReplicas(const std::vector<const v1::ReplicaLocation*>& replicas,
                                          uint64_t version, const v1::ChunkInfo& next,
                                          uint64_t length);
  // Records sent_ at the master, with the replicas' receipts for the current chunk.
  absl::Status Commit(std::vector<v1::LengthReceipt> receipts);
  // The same commit in the background: Flush returns without waiting for the master. Its
  // outcome is taken by the writer's next master call (CallMaster) or flush (TakeCommit).
  void StartCommit();
  // The background commit's outcome, if any: waited for when `wait`, else taken only when done.
  // A failed commit fails the writer.
  absl::Status TakeCommit(bool wait);
  // Records a commit's answer, sent at `sent`.
  void Committed(const v1::CommitLengthResponse& resp, absl::Time sent);
  v1::CommitLengthRequest CommitRequest(std::vector<v1::LengthReceipt> receipts) const;
  // A master call of this writer's: after the background commit, whose outcome comes first
  // (the master refuses a commit that would shrink the file, so commits must not overtake
  // one another, and a chunk's version may move only after its last commit).
  template <typename Req, typename Resp>
  absl::Status CallMaster(grpc::Status (v1::MasterService::Stub::*method)(grpc::ClientContext*,
                                                                          const Req&, Resp*),
                          const Req& req, Resp* resp, bool idempotent = true);
  // Waits until every open stream holds sent_ durably (recovering failed replicas); then
  // everything sent is acknowledged.
  absl::Status WaitDurable();
  // The chunk header naming the current chunk, for a stream's first frame.
  v1::WriteChunkHeader Header() const;
  // Every open replica stream's latest receipt.
  std::vector<v1::LengthReceipt> Receipts();
  absl::Status End(bool seal);
  // Records the first failure; every later call returns it.
  absl::Status Fail(absl::Status s) {
    if (failed_.ok()) failed_ = std::move(s);
    streams_.clear();
    return failed_;
  }

  ClientImpl* const client_;  // not owned; outlives the writer
  v1::LeaseRef lease_;
  const uint64_t chunk_size_;
  uint64_t acked_;                        // durable on every replica (Flush returned)
  uint64_t committed_;                    // recorded at the master
  absl::Time last_commit_ = absl::Now();  // when the latest commit (or the lease) was asked for
  // The lease is this writer's at least until then (this client's clock): the sending of the
  // latest commit the master recorded, plus the lease's length it answered.
  absl::Time lease_held_until_ = absl::InfinitePast();
  absl::Duration lease_length_ = absl::ZeroDuration();
  struct BackgroundCommit {
    absl::Status status;
    v1::CommitLengthResponse resp;
    absl::Time sent;
  };
  std::optional<std::future<BackgroundCommit>> background_commit_;
  uint64_t sent_;                         // handed to the replica streams
  std::string buffer_;  // appended bytes after sent_
  v1::ChunkInfo chunk_;
  bool header_pending_ = false;
  bool resuming_ = false;  // Resume's OpenChunk: the chunk is an earlier writer's
  std::vector<std::unique_ptr<ReplicaStream>> streams_;
  // Frames of the current chunk not yet durable on every replica, kept for write recovery.
  std::deque<ReplicaStream::Frame> unacked_;
  int recoveries_ = 0;
  std::vector<std::string> chunk_failed_servers_;  // every server that failed the current chunk
  absl::Status failed_;
  bool ended_ = false;
};

// Reads a file chunk by chunk. A read keeps its ReadChunk stream open to the end of the chunk,
// so a sequential reader's next ReadAt continues the same stream, which gRPC has kept filling
// in the meantime: streaming read-ahead, as HDFS block readers do.
class FileReaderImpl final : public FileReader {
 public:
  FileReaderImpl(ClientImpl* client, v1::FileInfo info) : client_(client), info_(std::move(info)) {}
  absl::Status ReadAt(uint64_t offset, size_t n, std::string* out) override;
  uint64_t length() const override { return info_.length(); }

 private:
  // One ReadChunk stream; bytes before `next` were handed out, `unread` holds received bytes
  // from `next` on (the rest of the last frame, kept in `frame`: a reader taking small pieces
  // moves through it instead of shifting it after every piece).
  struct Stream {
    uint64_t chunk_id = 0;
    size_t replica = 0;  // index into the chunk's replica order
    uint64_t next = 0;   // offset in the chunk
    std::string frame;
    absl::string_view unread;  // a suffix of `frame`
    std::unique_ptr<v1::ChunkServerService::Stub> stub;
    grpc::ClientContext ctx;
    std::unique_ptr<grpc::ClientReader<v1::ReadChunkResponse>> reader;
    bool finished = false;
    ~Stream() {
      if (finished) return;
      ctx.TryCancel();
      v1::ReadChunkResponse drain;
      while (reader->Read(&drain)) {
      }
      (void)reader->Finish();
    }
  };

  absl::Status ReadChunkRange(const v1::ChunkInfo& chunk, uint64_t offset, uint64_t length,
                              std::string* out);
  // Looks the file up again when `chunk`'s token is about to expire (tokens live minutes; a
  // reader may hold a file for longer).
  absl::Status RefreshTokens(const v1::ChunkInfo& chunk);
  // Replicas in the order to try (client/read_order.h): nearest, then least loaded
  // (live first).
  std::vector<const v1::ReplicaLocation*> ReplicaOrder(const v1::ChunkInfo& chunk) const;
  std::unique_ptr<Stream> OpenStream(const v1::ChunkInfo& chunk, size_t replica,
                                     const v1::ReplicaLocation& location, uint64_t offset);

  ClientImpl* const client_;  // not owned; outlives the reader
  v1::FileInfo info_;
  std::unique_ptr<Stream> stream_;
};

class ClientImpl final : public Client, public client::TableFiles {
 public:
  ClientImpl(const ClientOptions& options, security::TlsConfig tls)
      : options_(options), tls_(std::move(tls)) {
    if (options_.client_id.empty()) {
      char host[256] = {0};
      gethostname(host, sizeof(host) - 1);
      options_.client_id = absl::StrCat(getpid(), "@", host);
    }
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(16 << 20);
    master_ = v1::MasterService::NewStub(NewMasterChannel(
        options_.master_address,
        {.key_id = options_.access_key_id, .secret = options_.access_key_secret}, tls_, args));
    place_.hosts = client::LocalHosts();
    place_.rack = options_.rack;
  }

  const ClientOptions& options() const { return options_; }
  // Where this client runs, for choosing the replica to read.
  const client::ReaderPlace& place() const { return place_; }
  v1::MasterService::Stub* master() { return master_.get(); }

  std::shared_ptr<grpc::Channel> Channel(const std::string& address) {
    absl::MutexLock lock(&mu_);
    auto& ch = channels_[address];
    if (!ch) {
      grpc::ChannelArguments args;
      args.SetMaxReceiveMessageSize(16 << 20);
      args.SetMaxSendMessageSize(16 << 20);
      ch = tls_.NewChannel(address, security::kChunkserverTlsName, args);
    }
    return ch;
  }

  // What the replica on `r` reports of `chunk` (GetReplica, under the chunk's token).
  grpc::Status GetReplica(const v1::ReplicaLocation& r, const v1::ChunkInfo& chunk,
                          v1::ReplicaReport* out) {
    auto stub = v1::ChunkServerService::NewStub(Channel(r.address()));
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + options_.rpc_timeout));
    v1::GetReplicaRequest req;
    req.set_chunk_id(chunk.chunk_id());
    req.set_token(chunk.token());
    return stub->GetReplica(&ctx, req, out);
  }

  // What each replica of `chunk` on a server the master hears from says of itself; `absent`
  // (if given) counts those that hold no replica of it.
  std::vector<ReplicaLength> AskReplicaLengths(const v1::ChunkInfo& chunk,
                                               size_t* absent = nullptr) {
    std::vector<ReplicaLength> answers;
    for (const auto& r : chunk.replicas()) {
      if (!r.live()) continue;
      v1::ReplicaReport rep;
      const grpc::Status s = GetReplica(r, chunk, &rep);
      if (s.ok()) answers.push_back({rep.version(), rep.length()});
      if (absent != nullptr && s.error_code() == grpc::StatusCode::NOT_FOUND) ++*absent;
    }
    return answers;
  }

  // The file as a reader sees it: with its chunks and, while a writer's lease is not released,
  // the visible length of the last chunk, so every flushed byte is read (writers commit lazily).
  absl::StatusOr<v1::FileInfo> ReadableInfo(v1::GetFileInfoRequest req) {
    req.set_with_chunks(true);
    v1::FileInfo info;
    RETURN_IF_ERROR(CallMaster(&v1::MasterService::Stub::GetFileInfo, req, &info));
    if (!info.open() || info.sealed() || info.chunks().empty()) return info;
    v1::ChunkInfo* last = info.mutable_chunks(info.chunks_size() - 1);
    const uint64_t start = last->index() * info.chunk_size();
    if (info.length() < start) return info;  // the last chunk holds nothing committed yet
    // (common/visible_length.h: any replica of the chunk's version holds every flushed byte)
    std::optional<uint64_t> visible = VisibleLength(last->version(), info.length() - start,
                                                    info.chunk_size(), AskReplicaLengths(*last));
    if (visible && start + *visible > info.length()) {
      last->set_length(*visible);
      info.set_length(start + *visible);
    }
    return info;
  }

  // One unary master RPC within the client's deadline. It waits while the master is down (a
  // restart), and an idempotent call (the default: lookups, AllocateChunk, CommitLength) is
  // retried when the connection broke mid-call.
  template <typename Req, typename Resp>
  absl::Status CallMaster(grpc::Status (v1::MasterService::Stub::*method)(grpc::ClientContext*,
                                                                          const Req&, Resp*),
                          const Req& req, Resp* resp, bool idempotent = true) {
    const absl::Time deadline = absl::Now() + options_.rpc_timeout;
    while (true) {
      grpc::ClientContext ctx;
      ctx.set_deadline(absl::ToChronoTime(deadline));
      ctx.set_wait_for_ready(true);
      grpc::Status s = (master_.get()->*method)(&ctx, req, resp);
      if (s.error_code() != grpc::StatusCode::UNAVAILABLE || !idempotent ||
          absl::Now() + absl::Milliseconds(100) >= deadline) {
        return FromGrpcStatus(s);
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
  }

  absl::Status CreateProject(const std::string& name, const std::string& owner) override {
    v1::CreateProjectRequest req;
    req.set_name(name);
    req.set_owner(owner);
    v1::CreateProjectResponse resp;
    return CallMaster(&v1::MasterService::Stub::CreateProject, req, &resp, /*idempotent=*/false);
  }

  absl::StatusOr<std::vector<ProjectStat>> ListProjects() override {
    v1::ListProjectsResponse resp;
    RETURN_IF_ERROR(
        CallMaster(&v1::MasterService::Stub::ListProjects, v1::ListProjectsRequest(), &resp));
    std::vector<ProjectStat> out;
    for (const auto& p : resp.projects()) out.push_back({p.name(), p.owner(), p.created_unix_ms()});
    return out;
  }

  absl::StatusOr<std::unique_ptr<FileWriter>> Create(const std::string& project,
                                                     const std::string& path,
                                                     const CreateOptions& options) override {
    ASSIGN_OR_RETURN(v1::LeaseResponse lease, CreateFile(project, path, options, false));
    return std::unique_ptr<FileWriter>(new FileWriterImpl(this, lease));
  }

  absl::StatusOr<std::unique_ptr<TableWriter>> CreateTable(const std::string& project,
                                                           const std::string& path,
                                                           const TableSchema& schema,
                                                           const CreateOptions& options) override {
    ASSIGN_OR_RETURN(v1::LeaseResponse lease, CreateFile(project, path, options, true));
    return client::NewTableWriter(this, project, path,
                                  std::unique_ptr<FileWriter>(new FileWriterImpl(this, lease)),
                                  lease.file().table_id(), &schema);
  }

  absl::StatusOr<std::unique_ptr<TableWriter>> OpenTableForAppend(
      const std::string& project, const std::string& path) override {
    uint64_t table_id = 0;
    ASSIGN_OR_RETURN(std::unique_ptr<FileWriter> writer, AppendWriter(project, path, &table_id));
    return client::NewTableWriter(this, project, path, std::move(writer), table_id, nullptr);
  }

  absl::StatusOr<std::unique_ptr<TableReader>> OpenTable(
      const std::string& project, const std::string& path,
      const std::vector<std::string>& columns) override {
    return client::NewTableReader(this, project, path, columns);
  }

  absl::StatusOr<TableFile> OpenTableFile(const std::string& project, const std::string& path,
                                          const std::vector<std::string>& columns) override {
    v1::GetFileInfoRequest req = ReadRequest(project, path);
    *req.mutable_columns() = {columns.begin(), columns.end()};
    ASSIGN_OR_RETURN(v1::FileInfo info, ReadableInfo(std::move(req)));
    TableFile out{
        .file_id = info.file_id(), .table_id = info.table_id(), .chunk_size = info.chunk_size()};
    out.reader.reset(new FileReaderImpl(this, std::move(info)));
    return out;
  }

  absl::Status ReplaceFile(const std::string& project, const std::string& from,
                           const std::string& to, uint64_t file_id, uint64_t length) override {
    v1::RenameFileRequest req;
    req.set_project(project);
    req.set_path(from);
    req.set_new_path(to);
    req.set_replace(true);
    req.set_replace_file_id(file_id);
    req.set_replace_length(length);
    v1::FileInfo resp;
    return CallMaster(&v1::MasterService::Stub::RenameFile, req, &resp, /*idempotent=*/false);
  }

  absl::StatusOr<uint64_t> ReencryptTable(const std::string& project,
                                          const std::string& path) override {
    return client::ReencryptTable(this, this, project, path);
  }

  absl::StatusOr<client::KeyGrant> TableKeys(const std::string& project, const std::string& path,
                                             uint32_t version, bool for_write,
                                             const std::vector<std::string>& columns) override {
    v1::TableKeysRequest req;
    req.set_project(project);
    req.set_path(path);
    req.set_key_version(version);
    req.set_for_write(for_write);
    *req.mutable_context() = ReadRequest(project, path).context();
    *req.mutable_columns() = {columns.begin(), columns.end()};
    v1::TableKeysResponse resp;
    absl::Status s = CallMaster(&v1::MasterService::Stub::GetTableKeys, req, &resp);
    client::KeyGrant grant{.table_id = resp.table_id(),
                           .version = resp.key_version(),
                           .use_until = absl::FromUnixMillis(resp.cache_until_unix_ms())};
    // The keys move to locked memory; the answer's copies are zeroed.
    for (std::string& k : *resp.mutable_keys()) {
      grant.keys.push_back(security::SecretBytes::Copy(k));
      security::Wipe(&k);
    }
    if (!s.ok()) return s;
    return grant;
  }

 private:
  absl::StatusOr<v1::LeaseResponse> CreateFile(const std::string& project, const std::string& path,
                                               const CreateOptions& options, bool table) {
    v1::CreateFileRequest req;
    req.set_table(table);
    req.set_project(project);
    req.set_path(path);
    req.set_chunk_size(options.chunk_size);
    req.set_client_id(options_.client_id);
    // The request id makes the create safe to retry: the master answers a retry of a create
    // that took effect with its lease.
    {
      absl::MutexLock lock(&gen_mu_);
      req.set_request_id(absl::StrCat(absl::Hex(absl::Uniform<uint64_t>(gen_)),
                                      absl::Hex(absl::Uniform<uint64_t>(gen_))));
    }
    v1::LeaseResponse resp;
    RETURN_IF_ERROR(CallMaster(&v1::MasterService::Stub::CreateFile, req, &resp));
    return resp;
  }

  // A writer appending to an existing file, resumed after the bytes an earlier writer flushed
  // (FileWriterImpl::Resume). `table_id`, when given, gets the file's.
  absl::StatusOr<std::unique_ptr<FileWriter>> AppendWriter(const std::string& project,
                                                           const std::string& path,
                                                           uint64_t* table_id = nullptr) {
    ASSIGN_OR_RETURN(v1::LeaseResponse lease, AppendLease(project, path));
    if (table_id != nullptr) *table_id = lease.file().table_id();
    auto writer = std::make_unique<FileWriterImpl>(this, lease);
    RETURN_IF_ERROR(writer->Resume(lease.file().chunk_count()));
    return std::unique_ptr<FileWriter>(std::move(writer));
  }

  absl::StatusOr<v1::LeaseResponse> AppendLease(const std::string& project,
                                                const std::string& path) {
    v1::OpenForAppendRequest req;
    req.set_project(project);
    req.set_path(path);
    req.set_client_id(options_.client_id);
    v1::LeaseResponse resp;
    RETURN_IF_ERROR(CallMaster(&v1::MasterService::Stub::OpenForAppend, req, &resp, /*idempotent=*/false));
    return resp;
  }

 public:
  absl::StatusOr<std::unique_ptr<FileWriter>> OpenForAppend(const std::string& project,
                                                            const std::string& path) override {
    return AppendWriter(project, path);
  }

  // A lookup of a file, made for the job's project when the options name one.
  v1::GetFileInfoRequest ReadRequest(const std::string& project, const std::string& path) const {
    v1::GetFileInfoRequest req;
    req.set_project(project);
    req.set_path(path);
    if (!options_.job_project.empty()) req.mutable_context()->set_project(options_.job_project);
    if (!options_.task_type.empty()) req.mutable_context()->set_task_type(options_.task_type);
    *req.mutable_columns() = {options_.read_columns.begin(), options_.read_columns.end()};
    return req;
  }

  absl::StatusOr<v1::FileInfo> FileInfo(const std::string& project, const std::string& path,
                                        bool with_chunks) {
    v1::GetFileInfoRequest req = ReadRequest(project, path);
    req.set_with_chunks(with_chunks);
    v1::FileInfo resp;
    RETURN_IF_ERROR(CallMaster(&v1::MasterService::Stub::GetFileInfo, req, &resp));
    return resp;
  }

  absl::StatusOr<std::unique_ptr<FileReader>> Open(const std::string& project,
                                                   const std::string& path) override {
    ASSIGN_OR_RETURN(v1::FileInfo info, ReadableInfo(ReadRequest(project, path)));
    return std::unique_ptr<FileReader>(new FileReaderImpl(this, std::move(info)));
  }

  absl::StatusOr<FileStat> Stat(const std::string& project, const std::string& path,
                                bool with_chunks) override {
    ASSIGN_OR_RETURN(v1::FileInfo info, FileInfo(project, path, with_chunks));
    return ToStat(info);
  }

  absl::StatusOr<std::vector<FileStat>> List(const std::string& project,
                                             const std::string& prefix) override {
    v1::ListFilesRequest req;
    req.set_project(project);
    req.set_prefix(prefix);
    std::vector<FileStat> out;
    while (true) {  // page by page
      v1::ListFilesResponse resp;
      RETURN_IF_ERROR(CallMaster(&v1::MasterService::Stub::ListFiles, req, &resp));
      for (const auto& f : resp.files()) out.push_back(ToStat(f));
      if (!resp.truncated() || resp.files().empty()) return out;
      req.set_start_after(resp.files(resp.files_size() - 1).path());
    }
  }

  absl::Status Snapshot(const std::string& project, const std::string& path,
                        const std::string& snapshot_path) override {
    v1::SnapshotFileRequest req;
    req.set_project(project);
    req.set_path(path);
    req.set_snapshot_path(snapshot_path);
    v1::FileInfo resp;
    return CallMaster(&v1::MasterService::Stub::SnapshotFile, req, &resp, /*idempotent=*/false);
  }

  absl::Status Rename(const std::string& project, const std::string& path,
                      const std::string& new_path) override {
    v1::RenameFileRequest req;
    req.set_project(project);
    req.set_path(path);
    req.set_new_path(new_path);
    v1::FileInfo resp;
    return CallMaster(&v1::MasterService::Stub::RenameFile, req, &resp, /*idempotent=*/false);
  }

  absl::Status Delete(const std::string& project, const std::string& path,
                      bool force) override {
    v1::DeleteFileRequest req;
    req.set_force(force);
    req.set_project(project);
    req.set_path(path);
    v1::DeleteFileResponse resp;
    return CallMaster(&v1::MasterService::Stub::DeleteFile, req, &resp, /*idempotent=*/false);
  }

 private:
  ClientOptions options_;
  client::ReaderPlace place_;
  const security::TlsConfig tls_;
  std::unique_ptr<v1::MasterService::Stub> master_;
  absl::Mutex gen_mu_;
  absl::BitGen gen_ ABSL_GUARDED_BY(gen_mu_);
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<grpc::Channel>> channels_ ABSL_GUARDED_BY(mu_);
};

// ---------------------------------------------------------------------------------------------
// FileWriterImpl

FileWriterImpl::FileWriterImpl(ClientImpl* client, const v1::LeaseResponse& lease)
    : client_(client),
      chunk_size_(lease.file().chunk_size()),
      acked_(lease.file().length()),
      committed_(lease.file().length()),
      sent_(lease.file().length()) {
  lease_.set_project(lease.file().project());
  lease_.set_path(lease.file().path());
  lease_.set_lease_id(lease.lease_id());
}

absl::Status FileWriterImpl::Append(absl::string_view data) {
  if (!failed_.ok()) return failed_;
  if (ended_) return absl::FailedPreconditionError("writer is closed");
  // Send every complete frame (1 MiB, or up to a chunk boundary); keep the remainder buffered.
  while (true) {
    uint64_t n = NextFrameLength(sent_, buffer_.size() + data.size(), chunk_size_, kFrameBytes);
    bool complete = n == kFrameBytes || (n > 0 && (sent_ + n) % chunk_size_ == 0);
    if (!complete) break;
    size_t from_buffer = std::min<size_t>(n, buffer_.size());
    RETURN_IF_ERROR(SendFrame(absl::string_view(buffer_).substr(0, from_buffer),
                              data.substr(0, n - from_buffer)));
    buffer_.erase(0, from_buffer);
    data.remove_prefix(n - from_buffer);
  }
  buffer_.append(data.data(), data.size());
  return absl::OkStatus();
}

absl::Status FileWriterImpl::OpenChunk(uint64_t index) {
  v1::AllocateChunkRequest req;
  *req.mutable_lease() = lease_;
  req.set_index(index);
  v1::AllocateChunkResponse resp;
  RETURN_IF_ERROR(CallMaster(&v1::MasterService::Stub::AllocateChunk, req, &resp));
  chunk_ = resp.chunk();
  if (chunk_.replicas_size() == 0) return absl::UnavailableError("chunk has no replicas");
  unacked_.clear();
  recoveries_ = 0;
  chunk_failed_servers_.clear();
  if (sent_ % chunk_size_ != 0 || std::exchange(resuming_, false)) {
    RETURN_IF_ERROR(PrepareAppend());
  }
  OpenStreams(sent_ - index * chunk_size_);  // the chunk's end, when PrepareAppend filled it
  header_pending_ = true;
  return absl::OkStatus();
}

absl::Status FileWriterImpl::PrepareAppend() {
  // The earlier writer's flushed bytes it had not committed yet are on every replica: the
  // appends go after them. Without a replica's answer nothing is known, and cutting at the
  // committed length could destroy acknowledged bytes (after a master restart no server is
  // live yet, for example): the caller tries again later.
  const uint64_t start = chunk_.index() * chunk_size_;
  size_t absent = 0;
  const std::optional<ResumePoint> point = FindResumePoint(
      chunk_.version(), sent_ - start, chunk_size_, client_->AskReplicaLengths(chunk_, &absent));
  if (!point && sent_ == start && absent == static_cast<size_t>(chunk_.replicas_size())) {
    return absl::OkStatus();  // allocated, and no replica holds a byte of it: a fresh start
  }
  if (!point) {
    return absl::UnavailableError(absl::StrCat(
        "no replica of chunk ", chunk_.chunk_id(),
        " told its length, so appending after it could lose flushed bytes; try again"));
  }
  sent_ = start + point->length;
  v1::ReplaceReplicasRequest req;
  *req.mutable_lease() = lease_;
  req.set_chunk_id(chunk_.chunk_id());
  req.set_length(sent_ - start);
  v1::ChunkInfo next;
  // Safe to retry (as below): a repeated ReplaceReplicas only moves the chunk one version on.
  RETURN_IF_ERROR(CallMaster(&v1::MasterService::Stub::ReplaceReplicas, req, &next));
  std::vector<const v1::ReplicaLocation*> replicas;
  for (const auto& r : chunk_.replicas()) replicas.push_back(&r);
  // A replica that cannot be moved (its server is down, or it is not of the version moved on)
  // keeps its version: its stream fails and write recovery replaces it.
  (void)UpdateReplicas(replicas, point->version, next, sent_ - start);
  chunk_ = next;
  return absl::OkStatus();
}

absl::Status FileWriterImpl::Resume(uint64_t chunk_count) {
  const uint64_t index = sent_ / chunk_size_;
  if (index >= chunk_count) return absl::OkStatus();  // the next append starts a new chunk
  resuming_ = sent_ % chunk_size_ == 0;               // PrepareAppend even at the chunk's start
  if (absl::Status s = OpenChunk(index); !s.ok()) return Fail(s);
  if (sent_ == committed_) return absl::OkStatus();  // the header goes with the first append
  // Bytes an earlier writer flushed and did not commit: the header alone makes every replica
  // acknowledge them with a receipt, and they are committed now, before any append (a chunk
  // they fill is finished and committed by SendFrame).
  RETURN_IF_ERROR(SendFrame({}, {}));
  if (streams_.empty()) return absl::OkStatus();
  RETURN_IF_ERROR(WaitDurable());
  return Commit(Receipts());
}

std::vector<std::string> FileWriterImpl::UpdateReplicas(
    const std::vector<const v1::ReplicaLocation*>& replicas, uint64_t version,
    const v1::ChunkInfo& next, uint64_t length) {
  std::vector<std::string> failed;
  for (const auto* r : replicas) {
    auto stub = v1::ChunkServerService::NewStub(client_->Channel(r->address()));
    v1::UpdateReplicaRequest up;
    up.set_chunk_id(chunk_.chunk_id());
    up.set_version(version);
    up.set_new_version(next.version());
    up.set_length(length);
    up.set_token(next.token());
    grpc::Status s;
    // A replica's old write stream may still be ending on its server (ABORTED): try again.
    for (int attempt = 0; attempt < 100; ++attempt) {
      grpc::ClientContext ctx;
      ctx.set_deadline(absl::ToChronoTime(absl::Now() + client_->options().rpc_timeout));
      v1::ReplicaReport rep;
      s = stub->UpdateReplica(&ctx, up, &rep);
      if (s.error_code() != grpc::StatusCode::ABORTED) break;
      absl::SleepFor(absl::Milliseconds(50));
    }
    if (!s.ok()) failed.push_back(r->server_id());
  }
  return failed;
}

void FileWriterImpl::OpenStreams(uint64_t start) {
  streams_.clear();
  for (const auto& r : chunk_.replicas()) {
    streams_.push_back(std::make_unique<ReplicaStream>(
        client_->Channel(r.address()), r.address(), chunk_.chunk_id(), start,
        client_->options().write_window_bytes, client_->options().rpc_timeout));
  }
}

absl::Status FileWriterImpl::Recover(absl::Status cause) {
  if (streams_.empty()) return cause;
  std::vector<std::string> failed;
  for (int i = 0; i < chunk_.replicas_size(); ++i) {
    if (!streams_[i]->status().ok()) failed.push_back(chunk_.replicas(i).server_id());
  }
  if (failed.empty()) return cause;
  streams_.clear();  // cancels the survivors' streams too
  return Rebuild(cause, failed);
}

absl::Status FileWriterImpl::Rebuild(const absl::Status& cause,
                                     const std::vector<std::string>& newly,
                                     const absl::Status& last) {
  auto annotate = [&](const absl::Status& s) {
    return absl::Status(s.code(), absl::StrCat(cause.message(), "; write recovery failed: ",
                                               s.message()));
  };
  for (const std::string& id : newly) {
    if (std::find(chunk_failed_servers_.begin(), chunk_failed_servers_.end(), id) ==
        chunk_failed_servers_.end()) {
      chunk_failed_servers_.push_back(id);
    }
  }
  const std::vector<std::string>& failed = chunk_failed_servers_;
  // Bounded: each round rules out at least one more server.
  if (++recoveries_ > 6) {
    return annotate(absl::AbortedError(
        absl::StrCat("too many failures (", failed.size(), " servers failed; the last: ",
                     last.ok() ? cause.message() : last.message(), ")")));
  }
  std::vector<const v1::ReplicaLocation*> survivors;
  for (const auto& r : chunk_.replicas()) {
    if (std::find(failed.begin(), failed.end(), r.server_id()) == failed.end()) {
      survivors.push_back(&r);
    }
  }
  if (survivors.empty()) return annotate(absl::UnavailableError("no replica survives"));
  const uint64_t chunk_start = chunk_.index() * chunk_size_;
  // What every survivor holding a replica holds durably. (One still syncing may hold more; the
  // cut below brings them to the same length.) A survivor without a replica (the first frame
  // never reached it) gets a copy like a new replica.
  uint64_t length = UINT64_MAX;
  std::vector<const v1::ReplicaLocation*> holders;
  for (const auto* r : survivors) {
    v1::ReplicaReport rep;
    grpc::Status s = client_->GetReplica(*r, chunk_, &rep);
    if (s.error_code() == grpc::StatusCode::NOT_FOUND) continue;
    if (!s.ok()) {  // this survivor is failing too
      return Rebuild(cause, {r->server_id()},
                     absl::UnavailableError(absl::StrCat(r->address(), ": ", s.error_message())));
    }
    length = std::min(length, rep.length());
    holders.push_back(r);
  }
  if (holders.empty()) length = 0;
  length = std::min(length, sent_ - chunk_start);  // never more than this writer sent
  if (chunk_start + length < acked_ || (!unacked_.empty() && unacked_.front()->offset > length)) {
    return annotate(absl::DataLossError("the survivors hold less than was acknowledged"));
  }
  v1::ReplaceReplicasRequest req;
  *req.mutable_lease() = lease_;
  req.set_chunk_id(chunk_.chunk_id());
  for (const std::string& id : failed) req.add_failed_server_ids(id);
  req.set_length(length);
  v1::ChunkInfo next;
  // Retried when the master restarts mid-call: if the first call took effect, the retry finds
  // its replacements among the survivors and only moves the chunk one more version on; every
  // replica that is not a holder gets the prefix copied below either way.
  if (absl::Status s = CallMaster(&v1::MasterService::Stub::ReplaceReplicas, req, &next); !s.ok()) {
    return annotate(s);
  }
  // A writer that dies here leaves the chunk at a version no replica has reached: the master's
  // lease recovery moves them (master/lease_recovery.h).
  RETURN_IF_ERROR(Failpoint("client.recovery.after_replace_replicas"));
  // Holders: to the new version, cut to `length`. One that fails now is replaced in another
  // round (the master already moved the chunk to the new version).
  std::vector<std::string> failed_now = UpdateReplicas(holders, chunk_.version(), next, length);
  if (!failed_now.empty()) {
    chunk_ = next;
    return Rebuild(cause, failed_now,
                   absl::UnavailableError("moving a survivor to the new version"));
  }
  // Every other replica copies the prefix from a holder (with nothing to copy this still
  // replaces a stale replica a new server may hold from an earlier failure).
  for (const auto& r : next.replicas()) {
    bool holder = false;
    for (const auto* h : holders) holder |= h->server_id() == r.server_id();
    if (holder) continue;
    auto stub = v1::ChunkServerService::NewStub(client_->Channel(r.address()));
    v1::CopyChunkRequest copy;
    copy.set_chunk_id(chunk_.chunk_id());
    copy.set_version(next.version());
    copy.set_project(lease_.project());
    copy.set_chunk_size(chunk_size_);
    copy.set_length(length);
    // Each round copies from another holder: a failed copy may be the source's fault (a
    // corrupt block), and the next round must not depend on that source again.
    const auto& sources = holders.empty() ? survivors : holders;
    copy.set_source_address(sources[recoveries_ % sources.size()]->address());
    copy.set_token(next.token());
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + client_->options().rpc_timeout));
    v1::CopyChunkResponse resp;
    if (grpc::Status s = stub->CopyChunk(&ctx, copy, &resp); !s.ok()) {
      chunk_ = next;
      return Rebuild(cause, {r.server_id()},
                     absl::UnavailableError(absl::StrCat("copy to ", r.address(), " from ",
                                                         copy.source_address(), ": ",
                                                         s.error_message())));
    }
  }
  // Write on: a header frame at `length`, then every frame from there on again.
  chunk_ = next;
  OpenStreams(length);
  const v1::WriteChunkHeader header = Header();
  header_pending_ = false;
  while (!unacked_.empty() && unacked_.front()->offset < length) unacked_.pop_front();
  std::vector<ReplicaStream::Frame> frames = {ReplicaStream::Encode(&header, length, {}, {})};
  frames.insert(frames.end(), unacked_.begin(), unacked_.end());
  for (const auto& frame : frames) {
    for (auto& s : streams_) {
      if (absl::Status st = s->Send(frame); !st.ok()) return Recover(st);
    }
  }
  TLOG(INFO) << "write recovery of chunk " << chunk_.chunk_id() << ": replaced "
             << failed.size() << " replica(s), version " << chunk_.version() << ", resent "
             << frames.size() - 1 << " frame(s) from offset " << length;
  return absl::OkStatus();
}

absl::Status FileWriterImpl::SendFrame(absl::string_view a, absl::string_view b) {
  if (streams_.empty()) {
    if (absl::Status s = OpenChunk(sent_ / chunk_size_); !s.ok()) return Fail(s);
  }
  v1::WriteChunkHeader header;
  if (header_pending_) header = Header();
  // (sent_ is at the chunk's end only for Resume's header frame on a chunk an earlier writer
  // filled.)
  ReplicaStream::Frame frame = ReplicaStream::Encode(header_pending_ ? &header : nullptr,
                                                     sent_ - chunk_.index() * chunk_size_, a, b);
  header_pending_ = false;
  // Frames every replica holds durably are no longer needed for recovery.
  uint64_t durable = UINT64_MAX;
  for (auto& s : streams_) durable = std::min(durable, s->durable());
  while (!unacked_.empty() && unacked_.front()->offset + unacked_.front()->size <= durable) {
    unacked_.pop_front();
  }
  unacked_.push_back(frame);
  sent_ += frame->size;
  for (size_t i = 0; i < streams_.size(); ++i) {
    if (absl::Status st = streams_[i]->Send(frame); !st.ok()) {
      // Recovery resends every unacknowledged frame, this one included, to new streams.
      if (absl::Status r = Recover(st); !r.ok()) return Fail(r);
      break;
    }
  }
  if (sent_ % chunk_size_ == 0) return FinishChunk();
  return absl::OkStatus();
}

v1::WriteChunkHeader FileWriterImpl::Header() const {
  v1::WriteChunkHeader header;
  header.set_chunk_id(chunk_.chunk_id());
  header.set_version(chunk_.version());
  header.set_project(lease_.project());
  header.set_chunk_size(chunk_size_);
  header.set_token(chunk_.token());
  return header;
}

absl::Status FileWriterImpl::FinishChunk() {
  for (size_t i = 0; i < streams_.size(); ++i) {
    if (absl::Status st = streams_[i]->Finish(); !st.ok()) {
      if (absl::Status r = Recover(st); !r.ok()) return Fail(r);
      i = static_cast<size_t>(-1);  // finish the new streams from the start
    }
  }
  std::vector<v1::LengthReceipt> receipts = Receipts();
  streams_.clear();
  unacked_.clear();
  acked_ = sent_;
  return Commit(std::move(receipts));
}

std::vector<v1::LengthReceipt> FileWriterImpl::Receipts() {
  std::vector<v1::LengthReceipt> out;
  for (size_t i = 0; i < streams_.size(); ++i) {
    std::optional<ReplicaStream::Receipt> r = streams_[i]->receipt();
    if (!r.has_value()) continue;
    v1::LengthReceipt& receipt = out.emplace_back();
    receipt.set_server_id(chunk_.replicas(static_cast<int>(i)).server_id());
    receipt.set_chunk_id(chunk_.chunk_id());
    receipt.set_length(r->length);
    receipt.set_mac(std::move(r->mac));
  }
  return out;
}

v1::CommitLengthRequest FileWriterImpl::CommitRequest(
    std::vector<v1::LengthReceipt> receipts) const {
  v1::CommitLengthRequest req;
  *req.mutable_lease() = lease_;
  req.set_length(sent_);
  for (v1::LengthReceipt& r : receipts) *req.add_receipts() = std::move(r);
  return req;
}

void FileWriterImpl::Committed(const v1::CommitLengthResponse& resp, absl::Time sent) {
  committed_ = resp.length();
  lease_length_ = absl::Milliseconds(resp.lease_ms());
  lease_held_until_ = sent + lease_length_;
}

absl::Status FileWriterImpl::Commit(std::vector<v1::LengthReceipt> receipts) {
  RETURN_IF_ERROR(TakeCommit(/*wait=*/true));
  if (sent_ == committed_) return absl::OkStatus();
  const absl::Time sent = absl::Now();
  last_commit_ = sent;
  v1::CommitLengthResponse resp;
  if (absl::Status s = client_->CallMaster(&v1::MasterService::Stub::CommitLength,
                                           CommitRequest(std::move(receipts)), &resp);
      !s.ok()) {
    return Fail(s);
  }
  Committed(resp, sent);
  return absl::OkStatus();
}

void FileWriterImpl::StartCommit() {
  last_commit_ = absl::Now();
  background_commit_ = std::async(
      std::launch::async, [client = client_, req = CommitRequest(Receipts()), sent = last_commit_] {
        BackgroundCommit c{.sent = sent};
        c.status = client->CallMaster(&v1::MasterService::Stub::CommitLength, req, &c.resp);
        return c;
      });
}

absl::Status FileWriterImpl::TakeCommit(bool wait) {
  if (!background_commit_.has_value()) return absl::OkStatus();
  if (!wait && background_commit_->wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
    return absl::OkStatus();
  }
  BackgroundCommit c = background_commit_->get();
  background_commit_.reset();
  if (!c.status.ok()) return Fail(c.status);
  Committed(c.resp, c.sent);
  return absl::OkStatus();
}

template <typename Req, typename Resp>
absl::Status FileWriterImpl::CallMaster(
    grpc::Status (v1::MasterService::Stub::*method)(grpc::ClientContext*, const Req&, Resp*),
    const Req& req, Resp* resp, bool idempotent) {
  RETURN_IF_ERROR(TakeCommit(/*wait=*/true));
  return client_->CallMaster(method, req, resp, idempotent);
}

absl::Status FileWriterImpl::WaitDurable() {
  for (size_t i = 0; i < streams_.size(); ++i) {
    if (absl::Status st = streams_[i]->WaitDurable(sent_ - chunk_.index() * chunk_size_);
        !st.ok()) {
      if (absl::Status r = Recover(st); !r.ok()) return Fail(r);
      i = static_cast<size_t>(-1);  // wait on the new streams from the start
    }
  }
  acked_ = sent_;
  return absl::OkStatus();
}

absl::Status FileWriterImpl::Flush() {
  if (!failed_.ok()) return failed_;
  if (ended_) return absl::FailedPreconditionError("writer is closed");
  while (!buffer_.empty()) {
    uint64_t n = NextFrameLength(sent_, buffer_.size(), chunk_size_, kFrameBytes);
    RETURN_IF_ERROR(SendFrame(absl::string_view(buffer_).substr(0, n), {}));
    buffer_.erase(0, n);
  }
  if (sent_ == acked_) return absl::OkStatus();
  RETURN_IF_ERROR(WaitDurable());
  RETURN_IF_ERROR(TakeCommit(/*wait=*/false));
  // The master is told lazily: at the first flush into a chunk, before the flush returns (so
  // the committed length always ends inside the chunk being written, where readers and lease
  // recovery look for flushed bytes), then at most a second apart while flushes acknowledge
  // bytes, in the background. A commit renews the lease (or finds it lost, and fails the
  // writer), and a flush returns without waiting for one only while the lease is known to stay
  // this writer's for half its length more (60 s leases: 30 s); otherwise it waits. So every
  // byte a flush acknowledges was durable everywhere while the lease was still this writer's:
  // a writer that takes the lease over later, or the master recovering it after the hard
  // limit, finds it on the replicas (PrepareAppend, master/lease_recovery.h).
  const bool chunk_committed = committed_ > chunk_.index() * chunk_size_;
  const absl::Time now = absl::Now();
  if (chunk_committed && now + lease_length_ / 2 < lease_held_until_) {
    if (now - last_commit_ >= client_->options().lazy_commit_interval &&
        !background_commit_.has_value()) {
      StartCommit();
    }
    return absl::OkStatus();
  }
  return Commit(Receipts());
}

absl::Status FileWriterImpl::End(bool seal) {
  RETURN_IF_ERROR(Flush());
  RETURN_IF_ERROR(Commit(Receipts()));  // what Flush left to commit lazily
  for (auto& s : streams_) {
    if (absl::Status st = s->Finish(); !st.ok()) return Fail(st);
  }
  streams_.clear();
  v1::SealFileRequest req;
  *req.mutable_lease() = lease_;
  req.set_seal(seal);
  v1::SealFileResponse resp;
  RETURN_IF_ERROR(CallMaster(&v1::MasterService::Stub::SealFile, req, &resp,
                             /*idempotent=*/false));
  ended_ = true;
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// FileReaderImpl

absl::Status FileReaderImpl::ReadAt(uint64_t offset, size_t n, std::string* out) {
  out->clear();
  if (offset > info_.length()) {
    return absl::OutOfRangeError(absl::StrCat("read at offset ", offset,
                                              " is past the end of the file (length ",
                                              info_.length(), ")"));
  }
  n = std::min<uint64_t>(n, info_.length() - offset);
  out->reserve(n);
  for (const client::ChunkSlice& s : client::SplitRange(offset, n, info_.chunk_size())) {
    if (s.index >= static_cast<uint64_t>(info_.chunks_size())) {
      return absl::InternalError("file length covers a chunk the master did not list");
    }
    RETURN_IF_ERROR(RefreshTokens(info_.chunks(s.index)));
    RETURN_IF_ERROR(ReadChunkRange(info_.chunks(s.index), s.offset_in_chunk, s.length, out));
  }
  return absl::OkStatus();
}

absl::Status FileReaderImpl::RefreshTokens(const v1::ChunkInfo& chunk) {
  // A minute of margin: a stream opened now must not meet an expired token.
  if (chunk.token_expires_unix_ms() == 0 ||
      absl::ToUnixMillis(absl::Now()) + 60'000 < chunk.token_expires_unix_ms()) {
    return absl::OkStatus();
  }
  v1::GetFileInfoRequest req = client_->ReadRequest(info_.project(), info_.path());
  req.set_with_chunks(true);
  v1::FileInfo fresh;
  RETURN_IF_ERROR(client_->CallMaster(&v1::MasterService::Stub::GetFileInfo, req, &fresh));
  // The reader keeps the length it opened with; only tokens and locations are renewed.
  for (int i = 0; i < info_.chunks_size() && i < fresh.chunks_size(); ++i) {
    if (fresh.chunks(i).chunk_id() == info_.chunks(i).chunk_id()) {
      v1::ChunkInfo* c = info_.mutable_chunks(i);
      c->set_token(fresh.chunks(i).token());
      c->set_token_expires_unix_ms(fresh.chunks(i).token_expires_unix_ms());
      c->set_version(fresh.chunks(i).version());
      *c->mutable_replicas() = fresh.chunks(i).replicas();
    }
  }
  stream_.reset();
  return absl::OkStatus();
}

std::vector<const v1::ReplicaLocation*> FileReaderImpl::ReplicaOrder(
    const v1::ChunkInfo& chunk) const {
  std::vector<client::ReadCandidate> candidates;
  for (const auto& r : chunk.replicas()) {
    candidates.push_back({client::HostOf(r.address()), r.rack(), r.live(), r.active_streams()});
  }
  std::vector<const v1::ReplicaLocation*> order;
  for (size_t i : client::ReadOrder(candidates, client_->place())) {
    order.push_back(&chunk.replicas(static_cast<int>(i)));
  }
  return order;
}

std::unique_ptr<FileReaderImpl::Stream> FileReaderImpl::OpenStream(
    const v1::ChunkInfo& chunk, size_t replica, const v1::ReplicaLocation& location,
    uint64_t offset) {
  auto st = std::make_unique<Stream>();
  st->chunk_id = chunk.chunk_id();
  st->replica = replica;
  st->next = offset;
  st->stub = v1::ChunkServerService::NewStub(client_->Channel(location.address()));
  const uint64_t rest = chunk.length() - offset;
  st->ctx.set_deadline(absl::ToChronoTime(absl::Now() + client_->options().rpc_timeout +
                                          absl::Seconds(rest >> 20)));
  v1::ReadChunkRequest req;
  req.set_chunk_id(chunk.chunk_id());
  req.set_version(chunk.version());
  req.set_offset(offset);
  req.set_length(rest);  // to the chunk's end: later sequential reads continue this stream
  req.set_token(chunk.token());
  st->reader = st->stub->ReadChunk(&st->ctx, req);
  return st;
}

absl::Status FileReaderImpl::ReadChunkRange(const v1::ChunkInfo& chunk, uint64_t offset,
                                            uint64_t length, std::string* out) {
  const auto order = ReplicaOrder(chunk);
  if (order.empty() && chunk.corrupt_replicas_size() > 0) {
    return absl::DataLossError(absl::StrCat(
        "chunk ", chunk.chunk_id(), " has no intact replica; ", chunk.corrupt_replicas_size(),
        " damaged copies are kept (ternion fsck shows the damage, ternion admin salvage saves "
        "the intact blocks)"));
  }
  if (order.empty()) return absl::UnavailableError("chunk has no replicas");
  size_t next_replica = 0;  // the replica to open next, cycling through `order`
  if (stream_ && stream_->chunk_id == chunk.chunk_id() && stream_->next == offset) {
    next_replica = stream_->replica + 1;  // continue it; if it fails, try the others
  } else {
    stream_.reset();
  }
  std::vector<std::string> errors;
  bool all_damaged = true;  // every replica tried failed a checksum: DATA_LOSS, not UNAVAILABLE
  uint64_t done = 0;
  size_t opened = 0;
  while (done < length) {
    if (!stream_) {
      if (opened == order.size()) {
        const std::string msg = absl::StrCat("cannot read chunk ", chunk.chunk_id(),
                                             " from any replica: ", absl::StrJoin(errors, "; "));
        return all_damaged ? absl::DataLossError(msg) : absl::UnavailableError(msg);
      }
      size_t r = next_replica++ % order.size();
      ++opened;
      stream_ = OpenStream(chunk, r, *order[r], offset + done);
    }
    if (!stream_->unread.empty()) {
      size_t take = std::min<uint64_t>(stream_->unread.size(), length - done);
      out->append(stream_->unread.data(), take);
      stream_->unread.remove_prefix(take);
      stream_->next += take;
      done += take;
      continue;
    }
    v1::ReadChunkResponse resp;
    std::string bad;
    if (!stream_->reader->Read(&resp)) {
      grpc::Status s = stream_->reader->Finish();
      stream_->finished = true;
      bad = s.ok() ? "ended the stream early" : s.error_message();
      if (s.error_code() != grpc::StatusCode::DATA_LOSS) all_damaged = false;
    } else if (resp.offset() != stream_->next || resp.data().empty()) {
      bad = "returned an unexpected range";
      all_damaged = false;
    } else if (Crc32c(resp.data()) != resp.crc32c()) {
      bad = "returned data failing its checksum";  // damaged on the wire: another try may do
      all_damaged = false;
    }
    if (!bad.empty()) {  // move to the next replica, continuing where this one stopped
      errors.push_back(absl::StrCat(order[stream_->replica]->address(), " ", bad));
      stream_.reset();
      continue;
    }
    stream_->frame = std::move(*resp.mutable_data());
    stream_->unread = stream_->frame;
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status LoadCredentials(const std::string& profile, ClientOptions* options) {
  absl::StatusOr<security::Credentials> c = security::FindCredentials(profile);
  if (!c.ok()) return c.status();
  options->access_key_id = c->key_id;
  options->access_key_secret = c->secret;
  if (options->master_address.empty()) options->master_address = c->master;
  options->ca_file = c->ca;
  options->insecure = c->insecure;
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Client>> Client::Connect(const ClientOptions& options) {
  if (options.master_address.empty()) {
    return absl::InvalidArgumentError("no master address (set --master or TERNION_MASTER)");
  }
  absl::StatusOr<security::TlsConfig> tls =
      security::ClientTlsConfig({.ca = options.ca_file, .insecure = options.insecure});
  if (!tls.ok()) return tls.status();
  return std::unique_ptr<Client>(new ClientImpl(options, *std::move(tls)));
}

}  // namespace ternion
