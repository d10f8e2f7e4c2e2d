// Request authentication and the access policy on a real cluster: every client call to the
// master is signed, verified in one place and decided by the access policy; users see only
// their own projects; cluster administration needs the role.

#include <grpcpp/grpcpp.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/master_channel.h"
#include "common/crc32c.h"
#include "security/credentials.h"
#include "security/master_key.h"
#include "security/request_fields.h"
#include "security/request_signing.h"
#include "tests/testutil/cluster_fixture.h"
#include "ternion/v1/chunkserver.grpc.pb.h"
#include "ternion/v1/master.grpc.pb.h"

namespace ternion {
namespace {

namespace v1 = ::ternion::v1;

class AuthTest : public testing::ClusterFixture {
 protected:
  void Configure(local::LocalClusterOptions* o) override {
    o->racks = 3;
    o->per_rack = 1;
  }

  // A GetFileInfo of p/f sent with exactly these signature headers (none when `sig` is null).
  grpc::Status RawLookup(const security::RequestSignature* sig, const std::string& path = "f",
                         std::string timestamp = "") {
    auto stub = v1::MasterService::NewStub(
        cluster_.tls.NewChannel(cluster_.master_address, security::kMasterTlsName));
    grpc::ClientContext ctx;
    if (sig != nullptr) {
      ctx.AddMetadata(security::kKeyIdHeader, sig->key_id);
      ctx.AddMetadata(security::kTimestampHeader,
                      timestamp.empty() ? absl::StrCat(sig->timestamp_ms) : timestamp);
      ctx.AddMetadata(security::kNonceHeader, sig->nonce);
      ctx.AddMetadata(security::kSignatureHeader, sig->signature);
    }
    v1::GetFileInfoRequest req;
    req.set_project("p");
    req.set_path(path);
    v1::FileInfo info;
    return stub->GetFileInfo(&ctx, req, &info);
  }

  // The signature of a GetFileInfo of p/f by `key`/`secret` at `ts_ms`.
  static security::RequestSignature Sign(const std::string& key, const std::string& secret,
                                         int64_t ts_ms) {
    v1::GetFileInfoRequest req;
    req.set_project("p");
    req.set_path("f");
    return security::SignRequest(secret, "/ternion.v1.MasterService/GetFileInfo", "p",
                                 security::RequestPayload(req), key, ts_ms,
                                 absl::BytesToHexString(security::SecureRandomBytes(16)));
  }
};

TEST_F(AuthTest, EveryCallWithoutAValidSignatureIsRefusedNamingTheCause) {
  ASSERT_OK(client_->CreateProject("p"));
  WriteFile("p", "f", "hello");
  const security::Credentials& admin = cluster_.admin;
  const int64_t now = absl::ToUnixMillis(absl::Now());

  security::RequestSignature good = Sign(admin.key_id, admin.secret, now);
  EXPECT_TRUE(RawLookup(&good).ok());  // the baseline: the raw call itself works when signed
  auto refused = [&](const grpc::Status& s, const std::string& says) {
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
    EXPECT_NE(s.error_message().find(says), std::string::npos) << s.error_message();
    EXPECT_EQ(s.error_message().find(admin.secret), std::string::npos);
  };
  refused(RawLookup(nullptr), "not signed");
  refused(RawLookup(&good), "replayed");
  security::RequestSignature wrong_secret = Sign(admin.key_id, "not-the-secret", now);
  refused(RawLookup(&wrong_secret), "does not match");
  security::RequestSignature unknown = Sign("TK00000000000000000000", admin.secret, now);
  refused(RawLookup(&unknown), "unknown AccessKey");
  security::RequestSignature old = Sign(admin.key_id, admin.secret, now - 16 * 60 * 1000);
  refused(RawLookup(&old), "from the server's clock");
  security::RequestSignature future = Sign(admin.key_id, admin.secret, now + 16 * 60 * 1000);
  refused(RawLookup(&future), "from the server's clock");
  security::RequestSignature altered = Sign(admin.key_id, admin.secret, now);
  refused(RawLookup(&altered, "g"), "does not match");  // signed for p/f, sent for p/g
  security::RequestSignature bad_ts = Sign(admin.key_id, admin.secret, now);
  refused(RawLookup(&bad_ts, "f", "soon"), "malformed");
  security::RequestSignature garbage = good;
  garbage.signature = "zz";
  refused(RawLookup(&garbage), "malformed");

  const std::string metrics = MasterMetrics();
  for (const char* cause : {"missing", "replay", "bad_signature", "unknown_key", "clock_skew",
                            "malformed"}) {
    EXPECT_NE(metrics.find(absl::StrCat("ternion_master_auth_failures_total{cause=\"", cause)),
              std::string::npos)
        << cause;
  }
  EXPECT_EQ(metrics.find(admin.secret), std::string::npos);
}

TEST_F(AuthTest, UsersReachOnlyTheirOwnProjectsThroughTheCli) {
  const std::string ann = NewUser("ann");
  const std::string bob = NewUser("bob");
  int rc = 0;
  std::string out = RunAs(ann, "project create pa", &rc);
  ASSERT_EQ(rc, 0) << out;
  out = RunAs(bob, "project create pb", &rc);
  ASSERT_EQ(rc, 0) << out;
  const std::string local = tmp_.path() + "/data";
  { std::ofstream(local) << "ann's data"; }
  out = RunAs(ann, "put " + local + " pa/f", &rc);
  ASSERT_EQ(rc, 0) << out;
  out = RunAs(ann, "cat pa/f", &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(out, "ann's data");

  // Every cross-project call is refused, naming the action, and changes nothing.
  const std::vector<std::pair<std::string, std::string>> attempts = {
      {"cat pa/f", "read"},         {"get pa/f " + local + ".out", "read"},
      {"stat pa/f", "describe"},    {"ls pa", "list"},
      {"rm pa/f", "delete"},        {"put " + local + " pa/g", "write"},
      {"mv pa/f pa/h", "write"},    {"snapshot pa/f s", "write"},
      {"fsck pa", "admin"}};
  for (const auto& [args, action] : attempts) {
    out = RunAs(bob, args, &rc);
    EXPECT_NE(rc, 0) << args << ": " << out;
    EXPECT_NE(out.find("PERMISSION_DENIED"), std::string::npos) << args << ": " << out;
    EXPECT_NE(out.find(absl::StrCat("lacks ", action, " on project pa")), std::string::npos)
        << args << ": " << out;
  }
  out = RunAs(bob, "--json project ls", &rc);
  EXPECT_EQ(out.find("\"pa\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"pb\""), std::string::npos) << out;
  out = RunAs(bob, "project create pc --owner ann", &rc);
  EXPECT_NE(rc, 0) << out;

  ExpectContents("pa", "f", "ann's data");  // the admin sees everything, unchanged
  ASSERT_OK_AND_ASSIGN(auto files, client_->List("pa", ""));
  EXPECT_EQ(files.size(), 1u);
  const std::string metrics = MasterMetrics();
  EXPECT_NE(metrics.find("ternion_master_authz_denials_total{action=\"read\",rule=\"acl\"}"),
            std::string::npos);
}

TEST_F(AuthTest, MembersAndGrantsTakeEffectAtOnceAndDieWithTheirObject) {
  const std::string ann = NewUser("ann");
  const std::string bob = NewUser("bob");
  const std::string dee = NewUser("dee");
  int rc = 0;
  auto as = [&](const std::string& who, const std::string& args) {
    std::string out = RunAs(who, args, &rc);
    return rc == 0 ? std::string("OK") : out;
  };
  const std::string local = tmp_.path() + "/data";
  { std::ofstream(local) << "shared"; }
  ASSERT_EQ(as(ann, "project create pa"), "OK");
  ASSERT_EQ(as(ann, "put " + local + " pa/f"), "OK");
  ASSERT_EQ(as(ann, "put " + local + " pa/logs/x"), "OK");

  EXPECT_NE(as(bob, "cat pa/f").find("lacks read on project pa"), std::string::npos);
  EXPECT_NE(as(ann, "grant read on pa to bob").find("not a member"), std::string::npos);
  ASSERT_EQ(as(ann, "project add-member pa bob"), "OK");
  EXPECT_NE(as(bob, "cat pa/f").find("lacks read"), std::string::npos);  // members start bare
  ASSERT_EQ(as(ann, "grant read on pa to bob"), "OK");
  EXPECT_EQ(as(bob, "cat pa/f"), "OK");
  EXPECT_NE(as(bob, "ls pa").find("lacks list"), std::string::npos);
  ASSERT_EQ(as(ann, "grant list,describe on pa to bob"), "OK");
  EXPECT_EQ(as(bob, "ls pa"), "OK");
  ASSERT_EQ(as(ann, "revoke read on pa from bob"), "OK");
  EXPECT_NE(as(bob, "cat pa/f").find("lacks read"), std::string::npos);  // at once

  // A prefix grant covers the files under it only.
  ASSERT_EQ(as(ann, "grant write on pa/logs/ to bob"), "OK");
  EXPECT_EQ(as(bob, "put " + local + " pa/logs/y"), "OK");
  EXPECT_NE(as(bob, "put " + local + " pa/z").find("lacks write"), std::string::npos);
  EXPECT_NE(as(bob, "mv pa/logs/y pa/out").find("lacks write"), std::string::npos);

  // A file's grants die with it: a new file under the old name is not covered.
  ASSERT_EQ(as(ann, "grant read on pa/f to bob"), "OK");
  EXPECT_EQ(as(bob, "cat pa/f"), "OK");
  ASSERT_EQ(as(ann, "rm pa/f"), "OK");
  ASSERT_EQ(as(ann, "put " + local + " pa/f"), "OK");
  EXPECT_NE(as(bob, "cat pa/f").find("lacks read"), std::string::npos);
  std::string described = RunAs(ann, "--json project describe pa", &rc);
  ASSERT_EQ(rc, 0) << described;
  EXPECT_EQ(described.find("file f"), std::string::npos) << described;

  // Only the owner, project admins and cluster admins manage the project.
  EXPECT_NE(as(bob, "grant read on pa to bob").find("lacks admin"), std::string::npos);
  EXPECT_NE(as(bob, "project add-member pa dee").find("lacks admin"), std::string::npos);
  ASSERT_EQ(as(ann, "project add-member pa dee --admin"), "OK");
  EXPECT_EQ(as(dee, "rm pa/logs/x"), "OK");
  EXPECT_EQ(as(dee, "grant read on pa to bob"), "OK");
  EXPECT_EQ(as(bob, "cat pa/f"), "OK");
  // Removing a member removes every grant to them.
  ASSERT_EQ(as(ann, "project remove-member pa bob"), "OK");
  EXPECT_NE(as(bob, "cat pa/f").find("lacks read"), std::string::npos);
  ASSERT_EQ(as(ann, "project add-member pa bob"), "OK");
  EXPECT_NE(as(bob, "cat pa/f").find("lacks read"), std::string::npos);
}

TEST_F(AuthTest, AProjectsIpWhitelistAdmitsOnlyItsAddresses) {
  // Every call here comes from 127.0.0.1; the whitelist decides whether that is enough.
  const std::string ann = NewUser("ann");
  int rc = 0;
  auto as = [&](const std::string& args) {
    std::string out = RunAs(ann, args, &rc);
    return rc == 0 ? std::string("OK") : out;
  };
  const std::string local = tmp_.path() + "/data";
  { std::ofstream(local) << "listed"; }
  ASSERT_EQ(as("project create pw"), "OK");
  ASSERT_EQ(as("put " + local + " pw/f"), "OK");

  EXPECT_NE(as("project whitelist set pw 10.0.0.1,10.0.0.5-10.0.0.9/8").find("not an address"),
            std::string::npos);
  ASSERT_EQ(as("project whitelist set pw 127.0.0.2,10.0.0.0/8"), "OK");
  for (const char* args : {"cat pw/f", "ls pw", "stat pw/f"}) {
    std::string out = as(args);
    EXPECT_NE(out.find("address 127.0.0.1 is not on project pw's IP whitelist"),
              std::string::npos)
        << args << ": " << out;
  }
  // Not even the owner can change it from outside; a cluster admin can.
  EXPECT_NE(as("project whitelist set pw ''").find("whitelist"), std::string::npos);
  std::string listed = RunAs(ann, "project ls", &rc);  // nor see the project
  EXPECT_EQ(listed.find("pw"), std::string::npos) << listed;
  CliJson("project whitelist set pw 127.0.0.0-127.0.0.1");
  EXPECT_EQ(as("cat pw/f"), "OK");
  CliJson("project whitelist set pw 127.0.0.0/8");
  EXPECT_EQ(as("cat pw/f"), "OK");
  ASSERT_EQ(as("project whitelist set pw ''"), "OK");  // off
  EXPECT_EQ(as("cat pw/f"), "OK");
  ExpectContents("pw", "f", "listed");  // nothing changed while it was closed
}

TEST_F(AuthTest, DisabledUsersRotatedAndRevokedKeysAreRefusedAtOnce) {
  const std::string ann = NewUser("ann");
  int rc = 0;
  std::string out = RunAs(ann, "--json whoami", &rc);
  ASSERT_EQ(rc, 0) << out;
  const std::string old_key = nlohmann::json::parse(out)["key_id"];

  CliJson("user disable ann");
  out = RunAs(ann, "whoami", &rc);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("disabled"), std::string::npos) << out;
  CliJson("user enable ann");
  out = RunAs(ann, "whoami", &rc);
  EXPECT_EQ(rc, 0) << out;

  // A user rotates their own key: the old one stops at once (no grace), the new one works.
  const std::string fresh = tmp_.path() + "/ann2.profile";
  out = RunAs(ann, absl::StrCat("key rotate ", old_key, " --out ", fresh), &rc);
  ASSERT_EQ(rc, 0) << out;
  out = RunAs(ann, "whoami", &rc);
  EXPECT_NE(rc, 0) << out;
  out = RunAs(fresh, "--json key ls", &rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(out.find("secret"), std::string::npos) << out;  // listings never show secrets
  const nlohmann::json keys = nlohmann::json::parse(out);
  ASSERT_EQ(keys.size(), 2u);
  std::string new_key;
  for (const auto& k : keys) {
    if (!k["revoked"].get<bool>()) new_key = k["id"];
  }
  ASSERT_FALSE(new_key.empty());
  // A user may not manage another's keys or users; the admin revokes.
  const std::string bob = NewUser("bob");
  out = RunAs(bob, "key revoke " + new_key, &rc);
  EXPECT_NE(out.find("PERMISSION_DENIED"), std::string::npos) << out;
  CliJson("key revoke " + new_key);
  out = RunAs(fresh, "whoami", &rc);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("UNAUTHENTICATED"), std::string::npos) << out;
}

TEST_F(AuthTest, OversizedFieldsAndListsAreRefusedAtAdmission) {
  ASSERT_OK(client_->CreateProject("p"));
  auto master = v1::MasterService::NewStub(local::AdminMasterChannel(cluster_));
  auto refused = [](const grpc::Status& s, const std::string& field) {
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
    EXPECT_NE(s.error_message().find("field " + field), std::string::npos) << s.error_message();
  };
  {
    grpc::ClientContext ctx;
    v1::CreateFileRequest req;
    req.set_project("p");
    req.set_path("f");
    req.set_client_id(std::string(5000, 'c'));
    v1::LeaseResponse resp;
    refused(master->CreateFile(&ctx, req, &resp), "client_id");
  }
  {
    grpc::ClientContext ctx;
    v1::ReplaceReplicasRequest req;
    req.mutable_lease()->set_project("p");
    for (int i = 0; i < 10'001; ++i) req.add_failed_server_ids("s");
    v1::ChunkInfo resp;
    refused(master->ReplaceReplicas(&ctx, req, &resp), "failed_server_ids");
  }
  {
    grpc::ClientContext ctx;
    v1::CreateProjectRequest req;
    req.set_name("q");
    req.set_owner("Not A User Name");
    v1::CreateProjectResponse resp;
    EXPECT_EQ(master->CreateProject(&ctx, req, &resp).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  {  // a chunkserver's call too, admitted by its certificate
    auto daemon = v1::MasterService::NewStub(
        DaemonTls("cs-rack1-0").NewChannel(cluster_.master_address, security::kMasterTlsName));
    grpc::ClientContext ctx;
    v1::RegisterChunkServerRequest req;
    req.set_server_id("cs-rack1-0");
    req.set_address(std::string(5000, 'a'));
    v1::RegisterChunkServerResponse resp;
    refused(daemon->RegisterChunkServer(&ctx, req, &resp), "address");
  }
  EXPECT_EQ(client_->Stat("p", "f").status().code(), absl::StatusCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(auto projects, client_->ListProjects());
  EXPECT_EQ(projects.size(), 1u);
  EXPECT_EQ(CliJson("cluster status")["servers"].size(), 3u);
}

TEST_F(AuthTest, ClusterAdministrationNeedsTheClusterAdminRole) {
  const std::string ann = NewUser("ann");
  auto racks = [&] {
    std::vector<std::string> out;
    const nlohmann::json topology = CliJson("topology show");  // outlives the loop
    for (const auto& r : topology["racks"]) {
      out.push_back(r["name"].get<std::string>() + "/" + r["power_domain"].get<std::string>());
    }
    return out;
  };
  const std::vector<std::string> before = racks();
  for (const char* args :
       {"cluster status", "topology show", "topology add-rack r9 --power-domain pd9",
        "admin backup /tmp/x-never", "user create eve", "user ls", "gc status",
        "balancer start", "fsck"}) {
    int rc = 0;
    std::string out = RunAs(ann, args, &rc);
    EXPECT_NE(rc, 0) << args;
    EXPECT_NE(out.find("lacks the cluster admin role"), std::string::npos) << args << ": " << out;
  }
  EXPECT_EQ(racks(), before);
  EXPECT_EQ(CliJson("user ls").size(), 2u);  // admin and ann
  // Backups go only under the master's --backup-root (the local cluster's DIR/backups).
  for (const std::string& outside :
       {std::string("/tmp/ternion-backup-escape"), cluster_.dir + "/backups/../escape",
        cluster_.dir + "/master/x"}) {
    int rc = 0;
    std::string out = RunCli("admin backup " + outside, &rc);
    EXPECT_NE(rc, 0) << outside;
    EXPECT_NE(out.find("outside the backup root"), std::string::npos) << out;
    EXPECT_FALSE(std::filesystem::exists(outside)) << outside;
  }
  int backup_rc = 0;
  std::string backup_out = RunCli("admin backup " + cluster_.dir + "/backups/b1", &backup_rc);
  EXPECT_EQ(backup_rc, 0) << backup_out;
  EXPECT_TRUE(std::filesystem::exists(cluster_.dir + "/backups/b1/CURRENT"));
  // A second cluster admin can administer.
  const std::string root = NewUser("root", /*cluster_admin=*/true);
  int rc = 0;
  std::string out = RunAs(root, "user create eve", &rc);
  EXPECT_EQ(rc, 0) << out;
}

}  // namespace
}  // namespace ternion

namespace ternion {
namespace {

// Chunkservers refuse every data call without the master's token for exactly that chunk,
// version and mode; tokens expire, and readers renew theirs.
class ChunkserverTokenTest : public testing::ClusterFixture {
 protected:
  void Configure(local::LocalClusterOptions* o) override {
    o->racks = 3;
    o->per_rack = 1;
  }
  std::unique_ptr<v1::ChunkServerService::Stub> Stub(const std::string& address) {
    return v1::ChunkServerService::NewStub(local::ChunkserverChannel(cluster_, address));
  }
  // Creates p/f and allocates its first chunk with raw master calls, as a writer does.
  void CreateAndAllocate(v1::MasterService::Stub* master, v1::LeaseRef* ref,
                         v1::AllocateChunkResponse* allocated) {
    v1::LeaseResponse lease;
    grpc::ClientContext c1, c2;
    v1::CreateFileRequest create;
    create.set_project("p");
    create.set_path("f");
    ASSERT_TRUE(master->CreateFile(&c1, create, &lease).ok());
    ref->set_project("p");
    ref->set_path("f");
    ref->set_lease_id(lease.lease_id());
    v1::AllocateChunkRequest alloc;
    *alloc.mutable_lease() = *ref;
    ASSERT_TRUE(master->AllocateChunk(&c2, alloc, allocated).ok());
  }
  grpc::Status Read(const ChunkStat& c, uint64_t chunk_id, uint64_t version,
                    const std::string& token, std::string* got = nullptr) {
    auto stub = Stub(c.replicas[0].address);
    grpc::ClientContext ctx;
    v1::ReadChunkRequest req;
    req.set_chunk_id(chunk_id);
    req.set_version(version);
    req.set_length(1 << 20);
    req.set_token(token);
    auto reader = stub->ReadChunk(&ctx, req);
    v1::ReadChunkResponse resp;
    while (reader->Read(&resp)) {
      if (got != nullptr) got->append(resp.data());
    }
    return reader->Finish();
  }
};

// A snapshot shares its last, partial chunk with the live file, which keeps appending to it
// under the same chunk id: the snapshot's token serves only the snapshot's bytes (so an
// exception policy pinned to a snapshot covers exactly them, docs/security.md).
TEST_F(ChunkserverTokenTest, ASnapshotsTokenServesOnlyTheSnapshotsBytes) {
  ASSERT_OK(client_->CreateProject("p"));
  WriteFile("p", "live", "snapshot bytes");
  ASSERT_OK(client_->Snapshot("p", "live", "snap"));
  {
    ASSERT_OK_AND_ASSIGN(auto w, client_->OpenForAppend("p", "live"));
    ASSERT_OK(w->Append(" and later bytes"));
    ASSERT_OK(w->Close());
  }
  ASSERT_OK_AND_ASSIGN(FileStat snap, client_->Stat("p", "snap", true));
  ASSERT_OK_AND_ASSIGN(FileStat live, client_->Stat("p", "live", true));
  ASSERT_EQ(snap.chunks.size(), 1u);
  ASSERT_EQ(snap.chunks[0].chunk_id, live.chunks[0].chunk_id);  // shared
  EXPECT_EQ(snap.chunks[0].length, 14u);
  const ChunkStat& s = snap.chunks[0];
  std::string got;
  ASSERT_TRUE(Read(s, s.chunk_id, s.version, s.token, &got).ok());  // asks for 1 MiB
  EXPECT_EQ(got, "snapshot bytes");
  const ChunkStat& l = live.chunks[0];
  got.clear();
  ASSERT_TRUE(Read(l, l.chunk_id, l.version, l.token, &got).ok());
  EXPECT_EQ(got, "snapshot bytes and later bytes");
  ASSERT_OK_AND_ASSIGN(auto reader, client_->Open("p", "snap"));
  ASSERT_OK(reader->ReadAt(0, 1 << 20, &got));
  EXPECT_EQ(got, "snapshot bytes");
}

TEST_F(ChunkserverTokenTest, EveryDataCallNeedsTheTokenForExactlyThatChunkVersionAndMode) {
  ASSERT_OK(client_->CreateProject("p"));
  WriteFile("p", "f", "the bytes of f");
  WriteFile("p", "g", "the bytes of g");
  ASSERT_OK_AND_ASSIGN(FileStat f, client_->Stat("p", "f", true));
  ASSERT_OK_AND_ASSIGN(FileStat g, client_->Stat("p", "g", true));
  const ChunkStat& c = f.chunks[0];
  std::string got;
  ASSERT_TRUE(Read(c, c.chunk_id, c.version, c.token, &got).ok());  // the baseline
  EXPECT_EQ(got, "the bytes of f");

  auto code = [](const grpc::Status& s) { return s.error_code(); };
  EXPECT_EQ(code(Read(c, c.chunk_id, c.version, "")), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(code(Read(c, c.chunk_id, c.version, "garbage")), grpc::StatusCode::UNAUTHENTICATED);
  std::string forged = c.token;
  forged[10] ^= 1;  // e.g. another chunk id, without a new signature
  EXPECT_EQ(code(Read(c, c.chunk_id, c.version, forged)), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(code(Read(c, c.chunk_id, c.version, g.chunks[0].token)),
            grpc::StatusCode::PERMISSION_DENIED);  // another chunk's token
  EXPECT_EQ(code(Read(c, c.chunk_id, c.version + 1, c.token)),
            grpc::StatusCode::PERMISSION_DENIED);  // another version

  // A read token neither writes, nor moves a replica's version, nor makes a copy.
  auto stub = Stub(c.replicas[0].address);
  {
    grpc::ClientContext ctx;
    auto stream = stub->WriteChunk(&ctx);
    v1::WriteChunkRequest frame;
    frame.mutable_header()->set_chunk_id(c.chunk_id);
    frame.mutable_header()->set_version(c.version);
    frame.mutable_header()->set_project("p");
    frame.mutable_header()->set_chunk_size(64 << 20);
    frame.mutable_header()->set_token(c.token);
    frame.set_offset(c.length);
    frame.set_data("appended by an attacker");
    frame.set_crc32c(Crc32c(frame.data()));
    stream->Write(frame);
    stream->WritesDone();
    v1::WriteChunkAck ack;
    while (stream->Read(&ack)) {
    }
    EXPECT_EQ(code(stream->Finish()), grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    grpc::ClientContext ctx;
    v1::UpdateReplicaRequest up;
    up.set_chunk_id(c.chunk_id);
    up.set_version(c.version);
    up.set_new_version(c.version + 1);
    up.set_length(0);
    up.set_token(c.token);
    v1::ReplicaReport rep;
    EXPECT_EQ(code(stub->UpdateReplica(&ctx, up, &rep)), grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    grpc::ClientContext ctx;
    v1::CopyChunkRequest copy;
    copy.set_chunk_id(c.chunk_id);
    copy.set_version(c.version);
    copy.set_project("p");
    copy.set_chunk_size(64 << 20);
    copy.set_length(c.length);
    copy.set_source_address(f.chunks[0].replicas[1].address);
    copy.set_token(c.token);
    v1::CopyChunkResponse resp;
    EXPECT_EQ(code(stub->CopyChunk(&ctx, copy, &resp)), grpc::StatusCode::PERMISSION_DENIED);
  }
  // Dropping a replica takes the master's delete token: none, a read token, a forged one fail.
  for (const std::string& token : {std::string(), c.token, forged}) {
    grpc::ClientContext ctx;
    v1::DeleteReplicaRequest drop;
    drop.set_chunk_id(c.chunk_id);
    drop.set_version(c.version);
    drop.set_token(token);
    v1::DeleteReplicaResponse resp;
    grpc::Status s = stub->DeleteReplica(&ctx, drop, &resp);
    EXPECT_TRUE(s.error_code() == grpc::StatusCode::UNAUTHENTICATED ||
                s.error_code() == grpc::StatusCode::PERMISSION_DENIED)
        << s.error_message();
  }
  // A write for a chunk the master never allocated, with no token or another chunk's: nothing
  // comes into existence.
  for (const std::string& token : {std::string(), g.chunks[0].token}) {
    grpc::ClientContext ctx;
    auto stream = stub->WriteChunk(&ctx);
    v1::WriteChunkRequest frame;
    frame.mutable_header()->set_chunk_id(999'999);
    frame.mutable_header()->set_version(1);
    frame.mutable_header()->set_project("p");
    frame.mutable_header()->set_chunk_size(64 << 20);
    frame.mutable_header()->set_token(token);
    frame.set_data("planted");
    frame.set_crc32c(Crc32c(frame.data()));
    stream->Write(frame);
    stream->WritesDone();
    v1::WriteChunkAck ack;
    while (stream->Read(&ack)) {
    }
    EXPECT_FALSE(stream->Finish().ok());
  }
  EXPECT_TRUE(FilesContaining("planted").empty());

  // Nothing changed: every replica still holds exactly f's bytes at its version.
  for (const auto& r : c.replicas) {
    grpc::ClientContext ctx;
    v1::GetReplicaRequest req;
    req.set_chunk_id(c.chunk_id);
    req.set_token(c.token);
    v1::ReplicaReport rep;
    ASSERT_TRUE(Stub(r.address)->GetReplica(&ctx, req, &rep).ok());
    EXPECT_EQ(rep.version(), c.version);
    EXPECT_EQ(rep.length(), c.length);
  }
  ExpectContents("p", "f", "the bytes of f");
  // The refusals are counted by the chunkserver that made them.
  int metrics_port = -1;
  for (const auto& p : cluster_.processes) {
    if (p.address == c.replicas[0].address) metrics_port = p.metrics_port;
  }
  ASSERT_GT(metrics_port, 0);
  int rc = 0;
  const std::string metrics = RunCommand(
      absl::StrCat("curl -sf http://127.0.0.1:", metrics_port, "/metrics"), &rc);
  EXPECT_NE(metrics.find("ternion_chunkserver_token_refusals_total{code=\"UNAUTHENTICATED\"}"),
            std::string::npos)
      << metrics;
  EXPECT_NE(
      metrics.find("ternion_chunkserver_token_refusals_total{code=\"PERMISSION_DENIED\"}"),
      std::string::npos);
}

// The master records a length only with every replica's receipt for it: a writer cannot make
// the master advertise bytes no replica holds.
TEST_F(ChunkserverTokenTest, AWriterCannotCommitBytesNoReplicaHolds) {
  ASSERT_OK(client_->CreateProject("p"));
  auto master = v1::MasterService::NewStub(local::AdminMasterChannel(cluster_));
  v1::LeaseRef ref;
  v1::AllocateChunkResponse allocated;
  ASSERT_NO_FATAL_FAILURE(CreateAndAllocate(master.get(), &ref, &allocated));
  // Nothing written: a commit of 1000 bytes, with no receipts or made-up ones, is refused.
  for (bool made_up : {false, true}) {
    grpc::ClientContext ctx;
    v1::CommitLengthRequest commit;
    *commit.mutable_lease() = ref;
    commit.set_length(1000);
    if (made_up) {
      for (const auto& r : allocated.chunk().replicas()) {
        v1::LengthReceipt* receipt = commit.add_receipts();
        receipt->set_server_id(r.server_id());
        receipt->set_chunk_id(allocated.chunk().chunk_id());
        receipt->set_length(1000);
        receipt->set_mac(std::string(32, 'x'));
      }
    }
    v1::CommitLengthResponse resp;
    grpc::Status s = master->CommitLength(&ctx, commit, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
    EXPECT_NE(s.error_message().find("no valid durable-length receipt"), std::string::npos)
        << s.error_message();
  }
  ASSERT_OK_AND_ASSIGN(FileStat st, client_->Stat("p", "f", true));
  EXPECT_EQ(st.length, 0u);
  // The library's writes carry the receipts: a real write commits.
  WriteFile("p", "g", "durable everywhere");
  ExpectContents("p", "g", "durable everywhere");
}

// A copy reads only from a source the master named in its replicate token: a writer recovering
// its chunk cannot point a chunkserver at an address of its choosing.
class CopySourceTest : public ChunkserverTokenTest {
 protected:
  void Configure(local::LocalClusterOptions* o) override {
    o->racks = 3;
    o->per_rack = 2;  // a replacement for a failed replica exists in its rack
  }
};

TEST_F(CopySourceTest, ACopyReadsOnlyFromASourceTheMasterNamed) {
  ASSERT_OK(client_->CreateProject("p"));
  auto master = v1::MasterService::NewStub(local::AdminMasterChannel(cluster_));
  v1::LeaseRef ref;
  v1::AllocateChunkResponse allocated;
  ASSERT_NO_FATAL_FAILURE(CreateAndAllocate(master.get(), &ref, &allocated));
  // Write recovery as a writer does it: one replica declared failed, a replicate token back.
  v1::ChunkInfo next;
  {
    grpc::ClientContext ctx;
    v1::ReplaceReplicasRequest replace;
    *replace.mutable_lease() = ref;
    replace.set_chunk_id(allocated.chunk().chunk_id());
    replace.add_failed_server_ids(allocated.chunk().replicas(0).server_id());
    replace.set_length(0);
    grpc::Status replaced = master->ReplaceReplicas(&ctx, replace, &next);
    ASSERT_TRUE(replaced.ok()) << replaced.error_message();
  }
  ASSERT_EQ(next.replicas_size(), 3);
  auto copy = [&](const std::string& source) {
    grpc::ClientContext ctx;
    v1::CopyChunkRequest req;
    req.set_chunk_id(next.chunk_id());
    req.set_version(next.version());
    req.set_project("p");
    req.set_chunk_size(64 << 20);
    req.set_length(0);
    req.set_source_address(source);
    req.set_token(next.token());
    v1::CopyChunkResponse resp;
    return Stub(next.replicas(0).address())->CopyChunk(&ctx, req, &resp);
  };
  for (const std::string& chosen :
       {std::string("127.0.0.1:1"), allocated.chunk().replicas(0).address(), std::string()}) {
    if (chosen == next.replicas(1).address() || chosen == next.replicas(2).address()) continue;
    grpc::Status s = copy(chosen);
    EXPECT_TRUE(s.error_code() == grpc::StatusCode::PERMISSION_DENIED ||
                s.error_code() == grpc::StatusCode::INVALID_ARGUMENT)
        << chosen << ": " << s.error_message();
  }
  EXPECT_EQ(copy("127.0.0.1:1").error_message(),
            "the chunk token does not name 127.0.0.1:1 as a source to copy from");
  // A source the master named is accepted (the refusal, if any, is not the token's).
  const grpc::Status named = copy(next.replicas(1).address());
  EXPECT_NE(named.error_code(), grpc::StatusCode::PERMISSION_DENIED) << named.error_message();
  EXPECT_NE(named.error_code(), grpc::StatusCode::UNAUTHENTICATED) << named.error_message();
}

// Tokens that live three seconds.
class ShortTokenTest : public ChunkserverTokenTest {
 protected:
  void Configure(local::LocalClusterOptions* o) override {
    ChunkserverTokenTest::Configure(o);
    o->token_lifetime_s = 3;
  }
};

TEST_F(ShortTokenTest, AnOpenReaderLosesARevokedRightAtItsNextToken) {
  ASSERT_OK(client_->CreateProject("p"));
  const std::string data = testing::RandomBytes(2 << 20, 8);
  WriteFile("p", "f", data, 1 << 20);
  CliJson("user create bob");
  const std::string profile = tmp_.path() + "/bob.profile";
  int rc = 0;
  std::string out = RunCli("key create --user bob --out " + profile, &rc);
  ASSERT_EQ(rc, 0) << out;
  CliJson("project add-member p bob");
  CliJson("grant read on p to bob");
  ClientOptions opts;
  opts.master_address = cluster_.master_address;
  ASSERT_OK(LoadCredentials(profile, &opts));
  ASSERT_OK_AND_ASSIGN(auto bob, Client::Connect(opts));
  ASSERT_OK_AND_ASSIGN(auto reader, bob->Open("p", "f"));
  std::string got;
  ASSERT_OK(reader->ReadAt(0, 1 << 20, &got));
  CliJson("revoke read on p from bob");
  absl::SleepFor(absl::Seconds(4));  // past the token lifetime
  EXPECT_EQ(reader->ReadAt(1 << 20, 1 << 20, &got).code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(ShortTokenTest, TokensExpireAndReadersRenewTheirs) {
  ASSERT_OK(client_->CreateProject("p"));
  const std::string data = testing::RandomBytes(3 << 20, 7);
  WriteFile("p", "f", data, 1 << 20);  // three chunks
  ASSERT_OK_AND_ASSIGN(FileStat f, client_->Stat("p", "f", true));
  ASSERT_OK_AND_ASSIGN(auto reader, client_->Open("p", "f"));
  std::string got;
  ASSERT_OK(reader->ReadAt(0, 1 << 20, &got));
  absl::SleepFor(absl::Seconds(4));  // past the 3-second token lifetime
  grpc::Status stale = Read(f.chunks[1], f.chunks[1].chunk_id, f.chunks[1].version,
                            f.chunks[1].token);
  EXPECT_EQ(stale.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(stale.error_message().find("expired"), std::string::npos) << stale.error_message();
  // The open reader looks the chunks up again and reads on.
  ASSERT_OK(reader->ReadAt(1 << 20, 2 << 20, &got));
  EXPECT_TRUE(got == absl::string_view(data).substr(1 << 20));
}

}  // namespace
}  // namespace ternion
