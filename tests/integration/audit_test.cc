// The audit log on a real cluster: every client call leaves a record naming user, project,
// action, object and result; no secret appears in it; `ternion audit verify` catches an edited
// or a removed record in the master's RocksDB.

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "master/audit_log.h"
#include "master/metadata_store.h"
#include "security/credentials.h"
#include "tests/testutil/cluster_fixture.h"

namespace ternion {
namespace {

class AuditTest : public testing::ClusterFixture {
 protected:
  void Configure(local::LocalClusterOptions* o) override {
    o->racks = 3;
    o->per_rack = 1;
  }
  // Records matching `filter` (CLI flags) as JSON.
  nlohmann::json Query(const std::string& filter) {
    return CliJson("audit query --limit 10000 " + filter);
  }
  static bool Has(const nlohmann::json& records, const std::string& action,
                  const std::string& object, const std::string& result_prefix) {
    for (const auto& r : records) {
      if (r["action"] == action && r["object"] == object &&
          r["result"].get<std::string>().rfind(result_prefix, 0) == 0) {
        return true;
      }
    }
    return false;
  }
};

TEST_F(AuditTest, CallsAppearWithUserProjectActionObjectAndResultButNoSecret) {
  CliJson("user create ann");
  const std::string ann = tmp_.path() + "/ann.profile";
  int rc = 0;
  std::string out = RunCli("key create --user ann --out " + ann, &rc);
  ASSERT_EQ(rc, 0) << out;
  ASSERT_OK(client_->CreateProject("adminproj"));
  WriteFile("adminproj", "secret.txt", "admin data");
  const std::string local = tmp_.path() + "/in.txt";
  ASSERT_OK(WriteFileAtomically(local, "ann data"));
  out = RunAs(ann, "project create pa", &rc);
  ASSERT_EQ(rc, 0) << out;
  out = RunAs(ann, "put " + local + " pa/f.txt", &rc);
  ASSERT_EQ(rc, 0) << out;
  out = RunAs(ann, "cat adminproj/secret.txt", &rc);  // refused
  ASSERT_NE(rc, 0);
  // A key that does not verify.
  const std::string forged = tmp_.path() + "/forged.profile";
  ASSERT_OK(security::WriteProfile(forged, {.key_id = "TK00000000000000000000",
                                            .secret = "not-the-secret",
                                            .master = cluster_.master_address,
                                            .ca = cluster_.admin.ca}));
  out = RunAs(forged, "ls pa", &rc);
  ASSERT_NE(rc, 0);

  const nlohmann::json mine = Query("--user ann");
  EXPECT_TRUE(Has(mine, "CreateProject", "", "ok")) << mine.dump(1);
  EXPECT_TRUE(Has(mine, "CreateFile", "f.txt._COPYING_", "ok")) << mine.dump(1);
  EXPECT_TRUE(Has(mine, "GetFileInfo", "secret.txt", "PERMISSION_DENIED: user ann lacks read"))
      << mine.dump(1);
  for (const auto& r : mine) EXPECT_EQ(r["user"], "ann");
  const nlohmann::json refused = Query("--user key:TK00000000000000000000");
  ASSERT_FALSE(refused.empty());
  EXPECT_NE(refused[0]["result"].get<std::string>().find("UNAUTHENTICATED"), std::string::npos);
  // Filters: project and action.
  const nlohmann::json in_pa = Query("--project pa --action CreateFile");
  ASSERT_FALSE(in_pa.empty());
  for (const auto& r : in_pa) {
    EXPECT_EQ(r["project"], "pa");
    EXPECT_EQ(r["action"], "CreateFile");
  }
  // Who changed users: the admin's own calls are there too.
  EXPECT_TRUE(Has(Query("--user admin --action CreateUser"), "CreateUser", "", "ok"));
  // No secret anywhere: not the admin's, not ann's, not the forged one.
  const std::string all = Query("").dump();
  const security::Credentials ann_key = *security::ReadProfile(ann);
  for (const std::string& secret :
       {cluster_.admin.secret, ann_key.secret, std::string("not-the-secret")}) {
    EXPECT_EQ(all.find(secret), std::string::npos);
  }
  // Only cluster admins read the log.
  out = RunAs(ann, "audit query", &rc);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("cluster admin"), std::string::npos) << out;
  // And it is intact.
  out = RunCli("audit verify", &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("audit log intact"), std::string::npos) << out;
}

TEST_F(AuditTest, VerifyCatchesAnEditedAndARemovedRecord) {
  ASSERT_OK(client_->CreateProject("p"));
  WriteFile("p", "f", "bytes");
  int rc = 0;
  ASSERT_EQ(CliJson("audit verify")["intact"], true);
  const std::string meta = cluster_.dir + "/master";
  // Runs `change` on the master's RocksDB with the master down, then starts it again.
  auto tamper = [&](const std::function<void(master::MetadataStore*)>& change) {
    ASSERT_OK(local::KillProcess(cluster_.dir, "master"));
    {
      // The store's lock is free once the killed process is gone.
      absl::StatusOr<std::unique_ptr<master::MetadataStore>> store;
      ASSERT_TRUE(WaitUntil([&] { return (store = master::MetadataStore::Open(meta)).ok(); }))
          << store.status();
      change(store->get());
    }
    ASSERT_OK(local::RestartProcess(cluster_.dir, "master"));
    ASSERT_OK(local::WaitForLiveServers(cluster_, 3, 30));
  };
  auto put = [](master::MetadataStore* store, uint64_t seq, const std::string& value) {
    master::MetadataBatch batch;
    if (value.empty()) {
      batch.Delete(master::AuditKey(seq));
    } else {
      batch.Put(master::AuditKey(seq), value);
    }
    ASSERT_OK(store->Write(batch));
  };
  // Someone rewrites who did record 5.
  std::string original;
  tamper([&](master::MetadataStore* store) {
    ASSERT_OK_AND_ASSIGN(original, store->Get(master::AuditKey(5)));
    auto record = master::DecodeAuditRecord(original);
    ASSERT_TRUE(record.ok() && record->has_value());
    ternion::v1::AuditRecord edited = **record;
    edited.set_user("nobody");
    put(store, 5, master::EncodeAuditRecord(edited));
  });
  std::string out = RunCli("audit verify", &rc);
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find("audit record 5 does not match its hash: edited"), std::string::npos) << out;
  // Put back, then someone deletes record 4.
  tamper([&](master::MetadataStore* store) { put(store, 5, original); });
  ASSERT_EQ(CliJson("audit verify")["intact"], true);
  tamper([&](master::MetadataStore* store) { put(store, 4, ""); });
  out = RunCli("audit verify", &rc);
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find("audit records 4 to 4 are missing: removed"), std::string::npos) << out;
}

}  // namespace
}  // namespace ternion
