#pragma once

// A cluster under attack (security_matrix_test, rpc_fuzz_test): the cluster admin's project
// `victim` (files f of three chunks and g, member ann with read on f), and mallory, a user with
// a project `mine` of her own and no right on `victim`. Snapshot() is everything an attack
// could change; RawMasterCall() sends any bytes to any master method with any signature.

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "security/credentials.h"
#include "security/master_key.h"
#include "security/request_fields.h"
#include "security/request_signing.h"
#include "ternion/v1/chunkserver.grpc.pb.h"
#include "ternion/v1/master.grpc.pb.h"
#include "tests/testutil/cluster_fixture.h"

namespace ternion::testing {

namespace v1 = ::ternion::v1;
namespace pb = ::google::protobuf;

class VictimClusterFixture : public ClusterFixture {
 protected:
  void Configure(local::LocalClusterOptions* o) override {
    o->racks = 3;
    o->per_rack = 1;
  }

  void SetUp() override {
    ClusterFixture::SetUp();
    if (HasFatalFailure()) return;
    // The victim: project `victim` with files f and g, and a member ann who may read f.
    ASSERT_OK(client_->CreateProject("victim"));
    WriteFile("victim", "f", RandomBytes(300 << 10, 1), /*chunk_size=*/128 << 10);
    WriteFile("victim", "g", "the bytes of g");
    ann_ = NewUser("ann");
    int rc = 0;
    std::string out = RunCli("project add-member victim ann", &rc);
    ASSERT_EQ(rc, 0) << out;
    out = RunCli("grant read on victim/f to ann", &rc);
    ASSERT_EQ(rc, 0) << out;
    // The attacker: a user of the cluster with a project of its own and no right on `victim`.
    const std::string mallory = NewUser("mallory");
    auto creds = security::ReadProfile(mallory);
    ASSERT_TRUE(creds.ok()) << creds.status();
    mallory_ = *creds;
    ClientOptions options = local::AdminClientOptions(cluster_);
    options.access_key_id = mallory_.key_id;
    options.access_key_secret = mallory_.secret;
    ASSERT_OK_AND_ASSIGN(mallory_client_, Client::Connect(options));
    ASSERT_OK(mallory_client_->CreateProject("mine"));
    ASSERT_OK_AND_ASSIGN(auto w, mallory_client_->Create("mine", "x"));
    ASSERT_OK(w->Append("mallory's own bytes"));
    ASSERT_OK(w->Close());
    // What attacks aim at: victim/f, its first chunk and its replicas, ann and her key.
    auto ann = security::ReadProfile(ann_);
    ASSERT_TRUE(ann.ok()) << ann.status();
    ASSERT_OK_AND_ASSIGN(FileStat f, client_->Stat("victim", "f", /*with_chunks=*/true));
    ASSERT_EQ(f.chunks.size(), 3u);
    chunk_ = f.chunks[0];
    aims_.strings = {{"project", "victim"},
                     {"path", "f"},
                     {"new_path", "g"},
                     {"snapshot_path", "s"},
                     {"user", "ann"},
                     {"grantee", "ann"},
                     {"member", "ann"},
                     {"key_id", ann->key_id},
                     {"lease_id", "0123456789abcdef"},
                     {"token", chunk_.token},
                     {"source_address", chunk_.replicas[1].address}};
    aims_.numbers = {{"chunk_id", chunk_.chunk_id},
                     {"version", chunk_.version},
                     {"new_version", chunk_.version + 5},
                     {"length", chunk_.length},
                     {"chunk_size", 128 << 10}};
  }

  // The services' descriptors: the lists of RPCs attacks are sent to.
  static const pb::ServiceDescriptor* MasterServiceDescriptor() {
    return v1::GetFileInfoRequest::descriptor()->file()->FindServiceByName("MasterService");
  }
  static const pb::ServiceDescriptor* ChunkServiceDescriptor() {
    return v1::ReadChunkRequest::descriptor()->file()->FindServiceByName("ChunkServerService");
  }

  // Everything an attack could change, as the cluster admin sees it: the victim's files, their
  // chunks (ids, versions, lengths, replica servers), each replica's version and length as its
  // chunkserver reports it, every file's bytes (by digest), the project's description (owner,
  // members, grants, whitelist), users and ann's keys.
  std::string Snapshot() {
    std::string out;
    auto files = client_->List("victim", "");
    EXPECT_TRUE(files.ok()) << files.status();
    for (const FileStat& listed : files.ok() ? *files : std::vector<FileStat>{}) {
      auto f = client_->Stat("victim", listed.path, /*with_chunks=*/true);
      EXPECT_TRUE(f.ok()) << f.status();
      if (!f.ok()) continue;
      absl::StrAppend(&out, f->path, " length ", f->length, " sealed ", f->sealed, "\n");
      for (const ChunkStat& c : f->chunks) {
        absl::StrAppend(&out, "  chunk ", c.chunk_id, " v", c.version, " len ", c.length, ":");
        for (const ReplicaLocation& r : c.replicas) {
          v1::GetReplicaRequest req;
          req.set_chunk_id(c.chunk_id);
          req.set_token(c.token);
          v1::ReplicaReport rep;
          grpc::ClientContext ctx;
          grpc::Status s = ChunkStub(r.address)->GetReplica(&ctx, req, &rep);
          absl::StrAppend(&out, " ", r.server_id, "=", s.ok() ? "" : "error ", rep.version(), "/",
                          rep.length());
        }
        absl::StrAppend(&out, "\n");
      }
      auto reader = client_->Open("victim", listed.path);
      EXPECT_TRUE(reader.ok()) << reader.status();
      std::string bytes;
      if (reader.ok()) EXPECT_OK((*reader)->ReadAt(0, f->length, &bytes));
      absl::StrAppend(&out, "  sha256 ", security::Sha256Hex(bytes), "\n");
    }
    absl::StrAppend(&out, CliJson("project describe victim").dump(), "\n");
    absl::StrAppend(&out, CliJson("user ls").dump(), "\n");
    absl::StrAppend(&out, CliJson("key ls --user ann").dump(), "\n");
    return out;
  }

  std::unique_ptr<v1::ChunkServerService::Stub> ChunkStub(const std::string& address) {
    return v1::ChunkServerService::NewStub(local::ChunkserverChannel(cluster_, address));
  }

  // A call of `method` (a full gRPC method name) at `channel` sending `messages` (any bytes) with
  // exactly these signature headers (none when `sig` is null); its status. Every kind of RPC is
  // a stream of messages on the wire, so this reaches unary and streaming methods alike.
  static grpc::Status RawCall(const std::shared_ptr<grpc::Channel>& channel,
                              const std::string& method, const std::vector<std::string>& messages,
                              const security::RequestSignature* sig) {
    grpc::GenericStub stub(channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    if (sig != nullptr) {
      ctx.AddMetadata(security::kKeyIdHeader, sig->key_id);
      ctx.AddMetadata(security::kTimestampHeader, absl::StrCat(sig->timestamp_ms));
      ctx.AddMetadata(security::kNonceHeader, sig->nonce);
      ctx.AddMetadata(security::kSignatureHeader, sig->signature);
    }
    grpc::CompletionQueue cq;
    auto done = [&cq] {
      void* tag = nullptr;
      bool ok = false;
      return cq.Next(&tag, &ok) && ok;
    };
    void* const tag = reinterpret_cast<void*>(1);
    auto call = stub.PrepareCall(&ctx, method, &cq);
    call->StartCall(tag);
    bool open = done();
    for (const std::string& m : messages) {
      if (!open) break;
      grpc::Slice slice(m);
      grpc::ByteBuffer buffer(&slice, 1);
      call->Write(buffer, tag);
      open = done();
    }
    if (open) {
      call->WritesDone(tag);
      done();
    }
    grpc::ByteBuffer received;
    for (int i = 0; i < 1000; ++i) {  // bounded: a chunk is at most 128 frames here
      call->Read(&received, tag);
      if (!done()) break;
    }
    grpc::Status status;
    call->Finish(&status, tag);
    done();
    return status;
  }

  // RawCall on the master, over a client's TLS connection (no certificate).
  grpc::Status RawMasterCall(const std::string& method, const std::string& request,
                             const security::RequestSignature* sig) {
    return RawCall(cluster_.tls.NewChannel(cluster_.master_address, security::kMasterTlsName),
                   method, {request}, sig);
  }

  // A request of `method` aimed at the victim: the fields (nested ones too) that aims_ names are
  // set to its project, files, chunk, replicas, member and key.
  std::unique_ptr<pb::Message> AimedRequest(const pb::MethodDescriptor* method) const {
    std::unique_ptr<pb::Message> m(
        pb::MessageFactory::generated_factory()->GetPrototype(method->input_type())->New());
    Aim(m.get());
    return m;
  }

  void Aim(pb::Message* m, int depth = 0) const {
    const pb::Descriptor* d = m->GetDescriptor();
    const pb::Reflection* r = m->GetReflection();
    for (int i = 0; i < d->field_count(); ++i) {
      const pb::FieldDescriptor* f = d->field(i);
      if (f->is_repeated()) continue;
      if ((f->type() == pb::FieldDescriptor::TYPE_STRING ||
           f->type() == pb::FieldDescriptor::TYPE_BYTES) &&
          aims_.strings.contains(f->name())) {
        r->SetString(m, f, aims_.strings.at(f->name()));
      } else if (f->type() == pb::FieldDescriptor::TYPE_UINT64 &&
                 aims_.numbers.contains(f->name())) {
        r->SetUInt64(m, f, aims_.numbers.at(f->name()));
      } else if (f->type() == pb::FieldDescriptor::TYPE_MESSAGE && depth < 3) {
        Aim(r->MutableMessage(m, f), depth + 1);
      }
    }
  }

  static security::RequestSignature Sign(const std::string& method, const pb::Message& request,
                                         const std::string& key_id, const std::string& secret,
                                         int64_t timestamp_ms) {
    return security::SignRequest(secret, method, security::RequestProject(request),
                                 security::RequestPayload(request), key_id, timestamp_ms,
                                 absl::BytesToHexString(security::SecureRandomBytes(16)));
  }

  struct Aims {
    std::map<std::string, std::string> strings;  // string and bytes fields by name
    std::map<std::string, uint64_t> numbers;     // uint64 fields by name
  };
  std::string ann_;
  ChunkStat chunk_;  // victim/f's first chunk
  Aims aims_;
  security::Credentials mallory_;
  std::unique_ptr<Client> mallory_client_;
};

}  // namespace ternion::testing
