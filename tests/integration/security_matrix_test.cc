// The security matrix on a real cluster: every RPC of both services, enumerated from the
// services' descriptors (so a new RPC cannot escape it), sent as an attacker would send it —
// unsigned, badly signed, under an unknown key, with an expired timestamp, replayed, without the
// chunkserver certificate a daemon call needs; to chunkservers without a token, with a garbage or
// forged token, with the token of another chunk, version or project, or of the wrong mode. All
// refused, and afterwards nothing changed: files, chunks, versions, replicas, bytes, members,
// users and keys are exactly as before.

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/crc32c.h"
#include "security/chunk_token.h"
#include "tests/testutil/victim_cluster.h"

namespace ternion {
namespace {

namespace v1 = ::ternion::v1;
namespace pb = ::google::protobuf;

using SecurityMatrixTest = testing::VictimClusterFixture;

TEST_F(SecurityMatrixTest, EveryMasterCallIsRefusedWithoutAValidSignatureAndChangesNothing) {
  const std::string before = Snapshot();
  const security::Credentials& admin = cluster_.admin;
  // Calls an authenticated user may make about themselves or see the cluster through (what
  // they return is checked below or is the caller's own).
  const std::set<std::string> self_service = {"ListProjects", "WhoAmI",         "ClusterStatus",
                                              "GetTopology",  "ListAccessKeys", "CreateAccessKey"};
  const std::set<std::string> daemon_calls = {"RegisterChunkServer", "Heartbeat", "ReportReplicas"};
  const pb::ServiceDescriptor* service = MasterServiceDescriptor();
  ASSERT_GT(service->method_count(), 40);
  for (int i = 0; i < service->method_count(); ++i) {
    const pb::MethodDescriptor* m = service->method(i);
    SCOPED_TRACE(m->name());
    const std::string method = absl::StrCat("/", service->full_name(), "/", m->name());
    std::unique_ptr<pb::Message> request = AimedRequest(m);
    const std::string bytes = security::RequestPayload(*request);
    const int64_t now = absl::ToUnixMillis(absl::Now());

    auto refused = [&](const grpc::Status& s, const char* attack) {
      EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED)
          << attack << ": " << s.error_message();
      EXPECT_EQ(s.error_message().find(admin.secret), std::string::npos) << attack;
    };
    refused(RawMasterCall(method, bytes, nullptr), "unsigned");
    security::RequestSignature bad = Sign(method, *request, admin.key_id, "not-the-secret", now);
    refused(RawMasterCall(method, bytes, &bad), "bad signature");
    security::RequestSignature unknown =
        Sign(method, *request, "AK0000000000000000ff", admin.secret, now);
    refused(RawMasterCall(method, bytes, &unknown), "unknown key");
    security::RequestSignature expired =
        Sign(method, *request, admin.key_id, admin.secret, now - 16 * 60 * 1000);
    refused(RawMasterCall(method, bytes, &expired), "expired timestamp");
    // Mallory's own valid signature: the call is admitted (or refused as not a chunkserver) and
    // then decided; replayed, it is refused before anything else.
    security::RequestSignature own = Sign(method, *request, mallory_.key_id, mallory_.secret, now);
    grpc::Status first = RawMasterCall(method, bytes, &own);
    if (daemon_calls.contains(m->name())) {
      refused(first, "daemon call without the chunkserver's certificate");
    } else if (!self_service.contains(m->name())) {
      EXPECT_NE(first.error_code(), grpc::StatusCode::OK) << "mallory was allowed";
      EXPECT_NE(first.error_code(), grpc::StatusCode::UNAUTHENTICATED) << first.error_message();
    }
    refused(RawMasterCall(method, bytes, &own), "replayed");
  }
  // Mallory sees only her own project.
  auto listed = mallory_client_->ListProjects();
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].name, "mine");
  EXPECT_EQ(Snapshot(), before);
}

TEST_F(SecurityMatrixTest, EveryChunkserverCallNeedsTheMastersTokenForExactlyItsChunkAndMode) {
  const std::string before = Snapshot();
  ASSERT_OK_AND_ASSIGN(FileStat f, client_->Stat("victim", "f", true));
  ASSERT_OK_AND_ASSIGN(FileStat g, client_->Stat("victim", "g", true));
  ASSERT_OK_AND_ASSIGN(FileStat x, mallory_client_->Stat("mine", "x", true));
  ASSERT_GE(f.chunks.size(), 2u);
  const ChunkStat& c = f.chunks[0];
  const std::string target = c.replicas[0].address;
  const std::string source = c.replicas[1].address;

  // Tokens an attacker can hold or make for chunk c: the master's for other chunks, versions
  // and projects, the read token (the wrong mode for everything but reads), and tokens of
  // every mode signed by a key that is not the master's.
  security::TokenSigningKey not_the_master = security::TokenSigningKey::Generate();
  auto forge = [&](security::ChunkMode mode) {
    security::ChunkToken t{.project = "victim",
                           .chunk_id = c.chunk_id,
                           .version = c.version,
                           .mode = mode,
                           .expires_unix_ms = absl::ToUnixMillis(absl::Now() + absl::Hours(1)),
                           .copy_sources = {source}};
    auto wire = security::SignToken(t, not_the_master);
    EXPECT_TRUE(wire.ok());
    return wire.value_or("");
  };
  struct Attack {
    std::string name;
    std::string token;
    uint64_t version;  // the version the request names
  };
  std::vector<Attack> attacks = {
      {"no token", "", c.version},
      {"garbage", "TCT2 not a token at all", c.version},
      {"another chunk's token", f.chunks[1].token, c.version},
      {"another file's token", g.chunks[0].token, c.version},
      {"another project's token", x.chunks[0].token, c.version},
      {"its token for another version", c.token, c.version + 1},
  };
  for (security::ChunkMode mode : {security::ChunkMode::kRead, security::ChunkMode::kWrite,
                                   security::ChunkMode::kReplicate, security::ChunkMode::kDelete}) {
    attacks.push_back(
        {absl::StrCat("forged ", security::ChunkModeName(mode), " token"), forge(mode), c.version});
  }
  const std::vector<Attack> read_token = {{"its read token", c.token, c.version}};
  auto expect_refused = [](const grpc::Status& s, const std::string& what) {
    EXPECT_TRUE(s.error_code() == grpc::StatusCode::UNAUTHENTICATED ||
                s.error_code() == grpc::StatusCode::PERMISSION_DENIED)
        << what << ": " << s.error_code() << " " << s.error_message();
  };
  auto stub = ChunkStub(target);
  std::set<std::string> covered;
  const pb::ServiceDescriptor* service = ChunkServiceDescriptor();
  for (int i = 0; i < service->method_count(); ++i) {
    const std::string name = service->method(i)->name();
    SCOPED_TRACE(name);
    // Reads take a read token; every other call is refused even with it.
    std::vector<Attack> tried = attacks;
    if (name != "ReadChunk" && name != "GetReplica") {
      tried.insert(tried.end(), read_token.begin(), read_token.end());
    }
    if (name == "GetReplica") {
      // Any token of the chunk shows its replica; none of another chunk or a forged one does.
      std::erase_if(tried,
                    [](const Attack& a) { return a.name == "its token for another version"; });
    }
    for (const Attack& a : tried) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
      grpc::Status s;
      if (name == "WriteChunk") {
        // Both an append to the chunk and a replica of a chunk the master never allocated.
        for (uint64_t chunk_id : {c.chunk_id, uint64_t{999'999}}) {
          grpc::ClientContext wctx;
          auto stream = stub->WriteChunk(&wctx);
          v1::WriteChunkRequest frame;
          frame.mutable_header()->set_chunk_id(chunk_id);
          frame.mutable_header()->set_version(a.version);
          frame.mutable_header()->set_project("victim");
          frame.mutable_header()->set_chunk_size(128 << 10);
          frame.mutable_header()->set_token(a.token);
          frame.set_offset(chunk_id == c.chunk_id ? c.length : 0);
          frame.set_data("planted by mallory");
          frame.set_crc32c(Crc32c(frame.data()));
          stream->Write(frame);
          stream->WritesDone();
          v1::WriteChunkAck ack;
          while (stream->Read(&ack)) {
          }
          expect_refused(stream->Finish(), a.name);
        }
        continue;
      } else if (name == "ReadChunk") {
        v1::ReadChunkRequest req;
        req.set_chunk_id(c.chunk_id);
        req.set_version(a.version);
        req.set_length(1 << 20);
        req.set_token(a.token);
        auto reader = stub->ReadChunk(&ctx, req);
        v1::ReadChunkResponse resp;
        std::string got;
        while (reader->Read(&resp)) got += resp.data();
        s = reader->Finish();
        EXPECT_TRUE(got.empty()) << a.name;
      } else if (name == "GetReplica") {
        v1::GetReplicaRequest req;
        req.set_chunk_id(c.chunk_id);
        req.set_token(a.token);
        v1::ReplicaReport rep;
        s = stub->GetReplica(&ctx, req, &rep);
      } else if (name == "CopyChunk") {
        v1::CopyChunkRequest req;
        req.set_chunk_id(c.chunk_id);
        req.set_version(a.version);
        req.set_project("victim");
        req.set_chunk_size(128 << 10);
        req.set_length(c.length);
        req.set_source_address(source);
        req.set_token(a.token);
        v1::CopyChunkResponse resp;
        s = stub->CopyChunk(&ctx, req, &resp);
      } else if (name == "DeleteReplica") {
        v1::DeleteReplicaRequest req;
        req.set_chunk_id(c.chunk_id);
        req.set_version(a.version);
        req.set_token(a.token);
        v1::DeleteReplicaResponse resp;
        s = stub->DeleteReplica(&ctx, req, &resp);
      } else if (name == "UpdateReplica") {
        v1::UpdateReplicaRequest req;
        req.set_chunk_id(c.chunk_id);
        req.set_version(a.version);
        req.set_new_version(a.version + 5);
        req.set_length(1);
        req.set_token(a.token);
        v1::ReplicaReport rep;
        s = stub->UpdateReplica(&ctx, req, &rep);
      } else {
        ADD_FAILURE() << "a chunkserver RPC the matrix does not know: add it";
        break;
      }
      expect_refused(s, a.name);
    }
    covered.insert(name);
  }
  EXPECT_EQ(covered.size(), static_cast<size_t>(service->method_count()));
  EXPECT_TRUE(FilesContaining("planted by mallory").empty());
  EXPECT_EQ(Snapshot(), before);
}

}  // namespace
}  // namespace ternion
