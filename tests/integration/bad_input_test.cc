// Bad input against real daemons: each request gets a clear error, nothing is stored, and the
// daemons keep serving.

#include <grpcpp/grpcpp.h>

#include <filesystem>

#include "common/crc32c.h"
#include "absl/strings/str_format.h"
#include "client/master_channel.h"
#include "tests/testutil/cluster_fixture.h"
#include "ternion/v1/master.grpc.pb.h"
#include "ternion/v1/chunkserver.grpc.pb.h"

namespace ternion {
namespace {

namespace v1 = ::ternion::v1;

class BadInputTest : public testing::ClusterFixture {
 protected:
  void Configure(local::LocalClusterOptions* o) override {
    o->racks = 3;
    o->per_rack = 1;
  }
  std::unique_ptr<v1::ChunkServerService::Stub> ChunkServerStub() {
    for (const auto& p : cluster_.processes) {
      if (p.role == "chunkserver") {
        return v1::ChunkServerService::NewStub(local::ChunkserverChannel(cluster_, p.address));
      }
    }
    return nullptr;
  }
  // Sends one WriteChunk stream of `frames` and returns its final status.
  grpc::Status RawWrite(v1::ChunkServerService::Stub* stub,
                        const std::vector<v1::WriteChunkRequest>& frames) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    auto stream = stub->WriteChunk(&ctx);
    for (const auto& f : frames) {
      if (!stream->Write(f)) break;
    }
    stream->WritesDone();
    v1::WriteChunkAck ack;
    while (stream->Read(&ack)) {
    }
    return stream->Finish();
  }
  grpc::StatusCode ReplicaLookup(v1::ChunkServerService::Stub* stub, const v1::ChunkInfo& chunk) {
    grpc::ClientContext ctx;
    v1::GetReplicaRequest req;
    req.set_chunk_id(chunk.chunk_id());
    req.set_token(chunk.token());
    v1::ReplicaReport rep;
    return stub->GetReplica(&ctx, req, &rep).error_code();
  }
  // A chunk of a new file p/PATH, allocated by the master with a write token, not yet written.
  v1::ChunkInfo AllocatedChunk(const std::string& path) {
    auto master = v1::MasterService::NewStub(local::AdminMasterChannel(cluster_));
    grpc::ClientContext c1, c2;
    v1::CreateFileRequest create;
    create.set_project("p");
    create.set_path(path);
    v1::LeaseResponse lease;
    EXPECT_TRUE(master->CreateFile(&c1, create, &lease).ok());
    v1::AllocateChunkRequest alloc;
    alloc.mutable_lease()->set_project("p");
    alloc.mutable_lease()->set_path(path);
    alloc.mutable_lease()->set_lease_id(lease.lease_id());
    v1::AllocateChunkResponse chunk;
    EXPECT_TRUE(master->AllocateChunk(&c2, alloc, &chunk).ok());
    EXPECT_FALSE(chunk.chunk().token().empty());
    return chunk.chunk();
  }
  static v1::WriteChunkRequest WithToken(v1::WriteChunkRequest f, const v1::ChunkInfo& chunk) {
    f.mutable_header()->set_version(chunk.version());
    f.mutable_header()->set_token(chunk.token());
    return f;
  }
  static v1::WriteChunkRequest Frame(uint64_t chunk_id, uint64_t offset, std::string data,
                                     bool header = true) {
    v1::WriteChunkRequest f;
    if (header) {
      f.mutable_header()->set_chunk_id(chunk_id);
      f.mutable_header()->set_version(1);
      f.mutable_header()->set_project("p");
      f.mutable_header()->set_chunk_size(64 << 20);
    }
    f.set_offset(offset);
    f.set_crc32c(Crc32c(data));
    f.set_data(std::move(data));
    return f;
  }
};

TEST_F(BadInputTest, NamesAndProjects) {
  for (std::string bad : {std::string(""), std::string("UP"), std::string(".."),
                          std::string(100, 'a'), std::string("a\0b", 3)}) {
    absl::Status s = client_->CreateProject(bad);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_FALSE(s.message().empty());
  }
  ASSERT_OK(client_->CreateProject("p"));
  for (std::string bad : {std::string(""), std::string(".."), std::string("a/../b"),
                          std::string("x\0y", 3), std::string(5000, 'n'), std::string("/abs")}) {
    EXPECT_EQ(client_->Create("p", bad).status().code(), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(client_->Create("unknown", "f").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(client_->Stat("unknown", "f").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(client_->Open("p", "missing").status().code(), absl::StatusCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(auto projects, client_->ListProjects());
  EXPECT_EQ(projects.size(), 1u);  // nothing but "p" was stored
  ASSERT_OK_AND_ASSIGN(auto files, client_->List("p"));
  EXPECT_TRUE(files.empty());

  int rc;
  std::string out = RunCli("stat p", &rc);
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("expected PROJECT/PATH"), std::string::npos) << out;
}

TEST_F(BadInputTest, ReadsPastTheEnd) {
  ASSERT_OK(client_->CreateProject("p"));
  ASSERT_OK_AND_ASSIGN(auto w, client_->Create("p", "f"));
  ASSERT_OK(w->Append("0123456789"));
  ASSERT_OK(w->Close());
  ASSERT_OK_AND_ASSIGN(auto r, client_->Open("p", "f"));
  std::string out;
  ASSERT_OK(r->ReadAt(10, 5, &out));
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(r->ReadAt(11, 5, &out).code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(r->ReadAt(UINT64_MAX, 5, &out).code(), absl::StatusCode::kOutOfRange);
  ASSERT_OK(r->ReadAt(5, SIZE_MAX, &out));  // huge length: clipped to the end
  EXPECT_EQ(out, "56789");

  // At the wire level: an offset of 2^64-1 ("-1") and one past the replica's end.
  ASSERT_OK_AND_ASSIGN(FileStat st, client_->Stat("p", "f", true));
  auto stub = v1::ChunkServerService::NewStub(
      local::ChunkserverChannel(cluster_, st.chunks[0].replicas[0].address));
  for (uint64_t offset : {UINT64_MAX, uint64_t{11}}) {
    grpc::ClientContext ctx;
    v1::ReadChunkRequest req;
    req.set_chunk_id(st.chunks[0].chunk_id);
    req.set_version(st.chunks[0].version);
    req.set_offset(offset);
    req.set_length(UINT64_MAX);
    req.set_token(st.chunks[0].token);
    auto reader = stub->ReadChunk(&ctx, req);
    v1::ReadChunkResponse resp;
    EXPECT_FALSE(reader->Read(&resp));
    grpc::Status s = reader->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::OUT_OF_RANGE) << s.error_message();
  }
}

TEST_F(BadInputTest, BadFramesStoreNothing) {
  auto stub = ChunkServerStub();
  ASSERT_NE(stub, nullptr);
  ASSERT_OK(client_->CreateProject("p"));

  // A frame whose checksum does not match its data, even with the chunk's write token.
  v1::ChunkInfo corrupted = AllocatedChunk("corrupt");
  v1::WriteChunkRequest corrupt =
      WithToken(Frame(corrupted.chunk_id(), 0, std::string(4096, 'a')), corrupted);
  corrupt.set_crc32c(corrupt.crc32c() ^ 1);
  grpc::Status s = RawWrite(stub.get(), {corrupt});
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DATA_LOSS) << s.error_message();
  EXPECT_NE(s.error_message().find("checksum"), std::string::npos);
  EXPECT_EQ(ReplicaLookup(stub.get(), corrupted), grpc::StatusCode::NOT_FOUND);

  // Malformed frames are refused before the token is even looked at.
  // An oversized frame (2 MiB of data; frames are at most 1 MiB).
  s = RawWrite(stub.get(), {Frame(1002, 0, std::string(2 << 20, 'b'))});
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();

  // No header, a bad project name.
  s = RawWrite(stub.get(), {Frame(1003, 0, "x", /*header=*/false)});
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  v1::WriteChunkRequest bad_project = Frame(1004, 0, "x");
  bad_project.mutable_header()->set_project("../etc");
  s = RawWrite(stub.get(), {bad_project});
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // Chunk sizes the master never allocates (below 64 KiB, above 1 GiB).
  for (uint64_t size : {uint64_t{4096}, uint64_t{2} << 30}) {
    v1::WriteChunkRequest odd = Frame(1007, 0, "x");
    odd.mutable_header()->set_chunk_size(size);
    s = RawWrite(stub.get(), {odd});
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << size;
  }

  // Well-formed frames with a write token for a chunk the master allocated (none written yet).
  // A gap in the offsets.
  v1::ChunkInfo gap = AllocatedChunk("gap");
  s = RawWrite(stub.get(), {WithToken(Frame(gap.chunk_id(), 0, "abc"), gap),
                            Frame(gap.chunk_id(), 10, "def", false)});
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  // A gap already in the first frame of a new chunk: refused before anything exists.
  v1::ChunkInfo late = AllocatedChunk("late");
  s = RawWrite(stub.get(), {WithToken(Frame(late.chunk_id(), 4096, "late"), late)});
  EXPECT_EQ(s.error_code(), grpc::StatusCode::OUT_OF_RANGE) << s.error_message();
  EXPECT_EQ(ReplicaLookup(stub.get(), late), grpc::StatusCode::NOT_FOUND);
  // A new chunk whose first frame passes admission but cannot be stored (past the chunk's
  // size): the empty replica the stream created is gone again.
  v1::ChunkInfo big = AllocatedChunk("big");
  v1::WriteChunkRequest too_big = WithToken(Frame(big.chunk_id(), 0, std::string(1 << 20, 'z')), big);
  too_big.mutable_header()->set_chunk_size(64 << 10);
  s = RawWrite(stub.get(), {too_big});
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(ReplicaLookup(stub.get(), big), grpc::StatusCode::NOT_FOUND) << s.error_message();
  // Nothing of these chunks is on disk either.
  for (const auto& p : cluster_.processes) {
    for (const auto& d : p.data_dirs) {
      for (const auto& e : std::filesystem::recursive_directory_iterator(d)) {
        for (uint64_t id : {corrupted.chunk_id(), uint64_t{1002}, uint64_t{1003}, uint64_t{1004},
                            uint64_t{1007}, late.chunk_id(), big.chunk_id()}) {
          EXPECT_EQ(e.path().string().find(absl::StrFormat("%016x", id)), std::string::npos)
              << e.path();
        }
      }
    }
  }

  // The daemons keep serving: a normal write and read still work.
  ASSERT_OK_AND_ASSIGN(auto w, client_->Create("p", "after"));
  ASSERT_OK(w->Append("still serving"));
  ASSERT_OK(w->Close());
  ASSERT_OK_AND_ASSIGN(auto r, client_->Open("p", "after"));
  std::string out;
  ASSERT_OK(r->ReadAt(0, 100, &out));
  EXPECT_EQ(out, "still serving");
  ASSERT_OK(local::WaitForLiveServers(cluster_, 3, 10));
}

}  // namespace
}  // namespace ternion
