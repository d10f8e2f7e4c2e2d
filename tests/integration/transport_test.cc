// Transport security on a real cluster (security/tls.h): TLS 1.2+ on every connection, the
// cluster's own CA, role names checked instead of addresses, and chunkserver calls to the master
// admitted only with the certificate of the server they name.

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "client/master_channel.h"
#include "security/certificates.h"
#include "security/tls.h"
#include "ternion/v1/chunkserver.grpc.pb.h"
#include "ternion/v1/master.grpc.pb.h"
#include "tests/testutil/cluster_fixture.h"

namespace ternion {
namespace {

namespace v1 = ::ternion::v1;

class TransportTest : public testing::ClusterFixture {
 protected:
  void Configure(local::LocalClusterOptions* o) override {
    o->racks = 3;
    o->per_rack = 1;
  }

  // A signed WhoAmI as the cluster admin over `tls`, to `address`, expecting the master's name.
  grpc::Status WhoAmI(const security::TlsConfig& tls, const std::string& address) {
    auto stub = v1::MasterService::NewStub(NewMasterChannel(address, cluster_.admin, tls));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::WhoAmIResponse resp;
    return stub->WhoAmI(&ctx, v1::WhoAmIRequest(), &resp);
  }

  // Each server's state and replica count, as the master sees them.
  std::map<std::string, std::string> Servers() {
    std::map<std::string, std::string> out;
    const nlohmann::json status = CliJson("cluster status");
    for (const auto& s : status["servers"]) {
      out[s["server_id"].get<std::string>()] =
          absl::StrCat(s["state"].get<std::string>(), "/", s["replicas"].get<uint64_t>());
    }
    return out;
  }

  const std::string& Address(const std::string& name) {
    for (const auto& p : cluster_.processes) {
      if (p.name == name) return p.address;
    }
    static const std::string none;
    ADD_FAILURE() << "no process " << name;
    return none;
  }
};

TEST_F(TransportTest, PlaintextForeignCaAndOldTlsClientsAreRefused) {
  ASSERT_TRUE(WhoAmI(cluster_.tls, cluster_.master_address).ok());  // the baseline

  // Plaintext, to the master and to a chunkserver.
  EXPECT_EQ(WhoAmI(security::TlsConfig::Insecure(), cluster_.master_address).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  {
    auto stub = v1::ChunkServerService::NewStub(
        security::TlsConfig::Insecure().NewChannel(Address("cs-rack1-0"), "unused"));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::ReplicaReport resp;
    EXPECT_EQ(stub->GetReplica(&ctx, v1::GetReplicaRequest(), &resp).error_code(),
              grpc::StatusCode::UNAVAILABLE);
  }

  // A client trusting another CA does not accept this cluster's master.
  const security::CertificateDir foreign{tmp_.path() + "/foreign"};
  ASSERT_OK(foreign.Init({"127.0.0.1"}));
  ASSERT_OK_AND_ASSIGN(security::TlsConfig foreign_client,
                       security::TlsConfig::Load({.ca = foreign.ca_cert()}));
  EXPECT_EQ(WhoAmI(foreign_client, cluster_.master_address).error_code(),
            grpc::StatusCode::UNAVAILABLE);

  // A chunkserver's certificate, although from the cluster's CA, does not pass for the master's.
  EXPECT_EQ(WhoAmI(cluster_.tls, Address("cs-rack1-0")).error_code(),
            grpc::StatusCode::UNAVAILABLE);

  // TLS 1.1 is refused; TLS 1.2 is accepted (openssl's own client; SECLEVEL 0 so that it offers
  // TLS 1.1 at all).
  int rc = 0;
  const std::string s_client =
      absl::StrCat("openssl s_client -connect ", cluster_.master_address, " -alpn h2 -CAfile ",
                   cluster_.dir, "/tls/ca.crt </dev/null");
  std::string out = RunCommand(s_client + " -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0'", &rc);
  EXPECT_NE(out.find("New, (NONE), Cipher is (NONE)"), std::string::npos) << out;
  out = RunCommand(s_client + " -tls1_2", &rc);
  EXPECT_NE(out.find("New, TLSv1.2, Cipher is ECDHE-ECDSA-"), std::string::npos) << out;
  EXPECT_NE(out.find("Verify return code: 0 (ok)"), std::string::npos) << out;
}

TEST_F(TransportTest, OnlyTheChunkserverItsCertificateNamesMayRegisterHeartbeatOrReport) {
  ASSERT_OK(client_->CreateProject("p"));
  ASSERT_OK_AND_ASSIGN(auto w, client_->Create("p", "f"));
  ASSERT_OK(w->Append(testing::RandomBytes(1 << 20, 7)));
  ASSERT_OK(w->Close());
  const std::map<std::string, std::string> before = Servers();
  ASSERT_EQ(before.size(), 3u);
  ASSERT_EQ(before.at("cs-rack2-0"), "live/1");

  // Forgeries that would drop cs-rack2-0's replicas or move its address, if accepted.
  auto forge = [&](const security::TlsConfig& tls) {
    auto stub = v1::MasterService::NewStub(
        tls.NewChannel(cluster_.master_address, security::kMasterTlsName));
    std::vector<grpc::Status> out;
    {
      grpc::ClientContext ctx;
      v1::RegisterChunkServerRequest req;
      req.set_server_id("cs-rack2-0");
      req.set_address("127.0.0.1:1");
      req.set_rack("rack2");
      v1::RegisterChunkServerResponse resp;
      out.push_back(stub->RegisterChunkServer(&ctx, req, &resp));
    }
    {
      grpc::ClientContext ctx;
      v1::HeartbeatRequest req;
      req.set_server_id("cs-rack2-0");
      v1::HeartbeatResponse resp;
      out.push_back(stub->Heartbeat(&ctx, req, &resp));
    }
    {
      grpc::ClientContext ctx;
      v1::ReportReplicasRequest req;
      req.set_server_id("cs-rack2-0");  // a full report of nothing
      v1::ReportReplicasResponse resp;
      out.push_back(stub->ReportReplicas(&ctx, req, &resp));
    }
    return out;
  };
  // No certificate; the master's; another chunkserver's: refused, naming why.
  for (const auto& [who, tls] :
       {std::pair{"no certificate", cluster_.tls}, std::pair{"the master's", DaemonTls("master")},
        std::pair{"cs-rack1-0's", DaemonTls("cs-rack1-0")}}) {
    for (const grpc::Status& s : forge(tls)) {
      EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED)
          << who << ": " << s.error_message();
    }
  }
  EXPECT_NE(forge(DaemonTls("cs-rack1-0"))[0].error_message().find(
                "the certificate is chunkserver cs-rack1-0's, not cs-rack2-0's"),
            std::string::npos);
  // A certificate for cs-rack2-0 from another CA does not even connect.
  const security::CertificateDir foreign{tmp_.path() + "/foreign"};
  ASSERT_OK(foreign.Init({"127.0.0.1"}));
  ASSERT_OK(foreign.IssueChunkserver("cs-rack2-0", {"127.0.0.1"}));
  ASSERT_OK_AND_ASSIGN(security::TlsConfig impostor,
                       security::TlsConfig::Load({.ca = cluster_.dir + "/tls/ca.crt",
                                                  .cert = foreign.cert("cs-rack2-0"),
                                                  .key = foreign.key("cs-rack2-0")}));
  for (const grpc::Status& s : forge(impostor)) {
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  }
  EXPECT_EQ(Servers(), before);  // nothing changed
  EXPECT_NE(MasterMetrics().find("ternion_master_auth_failures_total{cause=\"not_chunkserver\"}"),
            std::string::npos);

  // A chunkserver started on another server's data with its own certificate refuses to start.
  ASSERT_OK(local::KillProcess(cluster_.dir, "cs-rack2-0"));
  const local::LocalProcess& victim = cluster_.processes[2];
  ASSERT_EQ(victim.name, "cs-rack2-0");
  const security::CertificateDir certs{cluster_.dir + "/tls"};
  int rc = 0;
  std::string out =
      RunCommand(absl::StrCat(TERNION_BIN_DIR, "/ternion-chunkserver --master ",
                              cluster_.master_address, " --data-dirs ", victim.data_dirs[0],
                              " --metrics-port -1 --tls-ca ", certs.ca_cert(), " --tls-cert ",
                              certs.cert("cs-rack1-0"), " --tls-key ", certs.key("cs-rack1-0")),
                 &rc);
  EXPECT_NE(rc, 0) << out;
  EXPECT_NE(out.find("belongs to chunkserver cs-rack2-0, but the TLS certificate names "
                     "cs-rack1-0"),
            std::string::npos)
      << out;
  ASSERT_OK(local::RestartProcess(cluster_.dir, "cs-rack2-0"));
  EXPECT_TRUE(WaitUntil([&] { return Servers() == before; }));
}

// A cluster may run in plaintext, but only when asked for by name, and then refuses TLS.
class InsecureClusterTest : public testing::ClusterFixture {
 protected:
  void Configure(local::LocalClusterOptions* o) override {
    o->racks = 3;
    o->per_rack = 1;
    o->insecure = true;
  }
};

TEST_F(InsecureClusterTest, APlaintextClusterServesPlaintextClientsOnly) {
  EXPECT_TRUE(cluster_.tls.insecure());
  ASSERT_OK(client_->CreateProject("p"));
  ASSERT_OK_AND_ASSIGN(auto w, client_->Create("p", "f"));
  ASSERT_OK(w->Append("plain"));
  ASSERT_OK(w->Close());
  int rc = 0;
  std::string out = RunCli("cat p/f", &rc);  // the profile says insecure = true
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(out, "plain");
  // Row keys go only over TLS: a table's rows cannot be sealed here.
  ASSERT_OK_AND_ASSIGN(auto table, client_->CreateTable("p", "t", {{{"c", ColumnType::kString}}}));
  ASSERT_OK(table->Append({std::string("row")}).status());
  absl::Status flushed = table->Flush();
  EXPECT_EQ(flushed.code(), absl::StatusCode::kFailedPrecondition) << flushed;
  EXPECT_NE(flushed.message().find("only over TLS"), absl::string_view::npos) << flushed;
  ASSERT_OK_AND_ASSIGN(security::TlsConfig tls, security::TlsConfig::Load({}));
  auto stub =
      v1::MasterService::NewStub(NewMasterChannel(cluster_.master_address, cluster_.admin, tls));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::WhoAmIResponse resp;
  EXPECT_EQ(stub->WhoAmI(&ctx, v1::WhoAmIRequest(), &resp).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  // A daemon without TLS files or --insecure does not start.
  out = RunCommand(absl::StrCat(TERNION_BIN_DIR, "/ternion-chunkserver --master ",
                                cluster_.master_address, " --data-dirs ", tmp_.path(), "/x"),
                   &rc);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("TLS needs --tls-ca, --tls-cert and --tls-key"), std::string::npos) << out;
}

}  // namespace
}  // namespace ternion
