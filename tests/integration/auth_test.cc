// Request authentication and the access policy on a real cluster: every client call to the
// master is signed, verified in one place and decided by the access policy; users see only
// their own projects; cluster administration needs the role.

#include <grpcpp/grpcpp.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/master_channel.h"
#include "security/credentials.h"
#include "security/master_key.h"
#include "security/request_fields.h"
#include "security/request_signing.h"
#include "tests/testutil/cluster_fixture.h"
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
        grpc::CreateChannel(cluster_.master_address, grpc::InsecureChannelCredentials()));
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

  // Creates user `name` and a key for it; returns the profile file holding the key.
  std::string NewUser(const std::string& name, bool cluster_admin = false) {
    CliJson(absl::StrCat("user create ", name, cluster_admin ? " --cluster-admin" : ""));
    const std::string profile = absl::StrCat(tmp_.path(), "/", name, ".profile");
    int rc = 0;
    std::string out = RunCli(absl::StrCat("key create --user ", name, " --out ", profile), &rc);
    EXPECT_EQ(rc, 0) << out;
    return profile;
  }

  // Runs the CLI as the user of `profile`.
  std::string RunAs(const std::string& profile, const std::string& args, int* rc) {
    return RunCommand(absl::StrCat(TERNION_BIN_DIR, "/ternion --master ", cluster_.master_address,
                                   " --profile ", profile, " ", args),
                      rc);
  }

  std::string MasterMetrics() {
    int rc = 0;
    return RunCommand(absl::StrCat("curl -sf http://127.0.0.1:",
                                   cluster_.processes[0].metrics_port, "/metrics"),
                      &rc);
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
  EXPECT_NE(metrics.find("ternion_master_authz_denials_total{action=\"read\"}"),
            std::string::npos);
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

TEST_F(AuthTest, ClusterAdministrationNeedsTheClusterAdminRole) {
  const std::string ann = NewUser("ann");
  auto racks = [&] {
    std::vector<std::string> out;
    for (const auto& r : CliJson("topology show")["racks"]) {
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
  // A second cluster admin can administer.
  const std::string root = NewUser("root", /*cluster_admin=*/true);
  int rc = 0;
  std::string out = RunAs(root, "user create eve", &rc);
  EXPECT_EQ(rc, 0) << out;
}

}  // namespace
}  // namespace ternion
