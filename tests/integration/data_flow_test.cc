// The data-flow policies on a real cluster, through the CLI as their users run them: project
// protection, trusted projects, exception policies, packages and label security
// (docs/security.md). Every decision is the
// master's; the reading project travels, signed, in the request.

#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "tests/testutil/cluster_fixture.h"

namespace ternion {
namespace {

class DataFlowTest : public testing::ClusterFixture {
 protected:
  void Configure(local::LocalClusterOptions* o) override {
    o->racks = 3;
    o->per_rack = 1;
  }

  // Runs the CLI as `profile`; expects exit code `want` and returns the output.
  std::string Run(const std::string& profile, const std::string& args, int want) {
    int rc = 0;
    std::string out = RunAs(profile, args, &rc);
    EXPECT_EQ(rc, want) << args << ": " << out;
    return out;
  }
  std::string Ok(const std::string& profile, const std::string& args) {
    return Run(profile, args, 0);
  }
  // A refusal: non-zero exit, and the output names `says`.
  void Refused(const std::string& profile, const std::string& args, const std::string& says) {
    int rc = 0;
    std::string out = RunAs(profile, args, &rc);
    EXPECT_NE(rc, 0) << args << ": " << out;
    EXPECT_TRUE(absl::StrContains(out, says)) << args << ": " << out;
  }
};

TEST_F(DataFlowTest, AProtectedProjectsDataLeavesOnlyForTheProjectsItTrusts) {
  const std::string ann = NewUser("ann"), bob = NewUser("bob");
  for (const char* p : {"p1", "p2", "p3", "p4"}) Ok(ann, absl::StrCat("project create ", p));
  Ok(ann, "project add-member p2 bob");
  Ok(ann, "grant read,write,list on p2 to bob");
  const std::string local = tmp_.path() + "/table";
  std::ofstream(local) << "rows of p1";
  Ok(ann, "put " + local + " p1/t");

  // Unprotected, ann (owner of both) copies p1's table into p2.
  Ok(ann, "cp p1/t p2/copy");
  EXPECT_EQ(Ok(ann, "cat p2/copy"), "rows of p1");

  // Protected: the copy, and any read made for a p2 job, are refused; reading in p1 is not.
  Ok(ann, "project protect p1 on");
  Refused(ann, "cp p1/t p2/copy2", "project p1 is protected: p1/t may not flow to project p2");
  Refused(ann, "--job-project p2 cat p1/t", "(rule: protection)");
  EXPECT_EQ(Ok(ann, "cat p1/t"), "rows of p1");
  EXPECT_FALSE(absl::StrContains(Ok(ann, "ls p2"), "copy2"));  // nothing was written
  // Writing into the protected project is still allowed: data flows in.
  Ok(ann, "cp p2/copy p1/in");

  // p1 trusts p2 and p3 (a group); p4 stays outside.
  Ok(ann, "trusted add p1 p2");
  Ok(ann, "trusted add p1 p3");
  EXPECT_EQ(Ok(ann, "trusted ls p1"), "p2\np3\n");
  Ok(ann, "cp p1/t p2/copy2");
  EXPECT_EQ(Ok(ann, "cat p2/copy2"), "rows of p1");
  Ok(ann, "cp p1/t p3/copy");
  Refused(ann, "cp p1/t p4/copy", "(rule: protection)");
  Ok(ann, "trusted remove p1 p3");
  Refused(ann, "cp p1/t p3/copy2", "(rule: protection)");

  // bob, a member of p2 only, reads nothing of p1's, for p2 or otherwise; nor may he change
  // p1's trust or protection.
  Refused(bob, "--job-project p2 cat p1/t", "(rule: acl)");
  Refused(bob, "cat p1/t", "(rule: acl)");
  Refused(bob, "trusted add p1 p4", "lacks admin on project p1");
  Refused(bob, "project protect p1 off", "lacks admin on project p1");
  // Acting for a project one does not belong to is refused too.
  Refused(bob, "--job-project p4 cat p2/copy", "is not a member of project p4");
  // Trust names an existing other project.
  Refused(ann, "trusted add p1 nowhere", "nowhere");
  Refused(ann, "trusted add p1 p1", "need not trust itself");

  // Every change and refusal is in the audit log.
  const nlohmann::json records = CliJson("audit query --project p1 --limit 10000");
  bool protected_on = false, refusal = false;
  for (const auto& r : records) {
    const std::string result = r["result"].get<std::string>();
    protected_on |= r["action"] == "SetProjectProtection" && result == "ok";
    refusal |= r["action"] == "GetFileInfo" && absl::StrContains(result, "(rule: protection)") &&
               r["detail"] == "for project p2";
  }
  EXPECT_TRUE(protected_on);
  EXPECT_TRUE(refusal);
  // Protection off: the flow is open again.
  Ok(ann, "project protect p1 off");
  Ok(ann, "cp p1/t p4/copy");
}

TEST_F(DataFlowTest, AnExceptionPolicyLetsNamedUsersAndTaskTypesTakeNamedFilesOut) {
  const std::string ann = NewUser("ann"), bob = NewUser("bob");
  for (const char* p : {"p1", "p2"}) {
    Ok(ann, absl::StrCat("project create ", p));
    Ok(ann, absl::StrCat("project add-member ", p, " bob"));
    Ok(ann, absl::StrCat("grant read,write,list on ", p, " to bob"));
  }
  const std::string local = tmp_.path() + "/rows";
  std::ofstream(local) << "rows";
  for (const char* f : {"p1/t", "p1/u", "p1/live"}) Ok(ann, absl::StrCat("put ", local, " ", f));
  Ok(ann, "snapshot p1/live live.snap");
  Ok(ann, "project protect p1 on");
  auto policy = [&](const std::string& json) {
    const std::string file = tmp_.path() + "/policy.json";
    std::ofstream(file) << json;
    return file;
  };
  const std::string statement =
      R"({"Version":"1","Statement":[{"Effect":"Allow","Principal":["bob"],"Action":["read"],)"
      R"("Resource":[%s],"Condition":{"StringEquals":{"task_type":["sql"]}}}]})";
  auto with = [&](const std::string& resources) {
    return policy(absl::StrReplaceAll(statement, {{"%s", resources}}));
  };
  Refused(bob, "project exception set p1 " + with(R"("t")"), "lacks admin on project p1");
  Refused(ann, "project exception set p1 " + policy("{"), "not valid JSON");
  Ok(ann, "project exception set p1 " + with(R"("t", "snapshot:live.snap")"));
  EXPECT_TRUE(absl::StrContains(Ok(ann, "project describe p1"), "exception policy"));

  // bob's sql job reads t (and the pinned snapshot) into p2; nothing else gets out.
  EXPECT_EQ(Ok(bob, "--job-project p2 --task-type sql cat p1/t"), "rows");
  EXPECT_EQ(Ok(bob, "--job-project p2 --task-type sql cat p1/live.snap"), "rows");
  Refused(bob, "--job-project p2 --task-type ml cat p1/t", "(rule: protection)");
  Refused(bob, "--job-project p2 cat p1/t", "(rule: protection)");
  Refused(bob, "--job-project p2 --task-type sql cat p1/u", "(rule: protection)");
  Refused(bob, "--job-project p2 --task-type sql cat p1/live", "(rule: protection)");
  Refused(ann, "--job-project p2 --task-type sql cat p1/t", "(rule: protection)");

  // The pin covers the snapshot's bytes, not whatever is put at its path later.
  Ok(ann, "rm p1/live.snap");
  std::ofstream(local) << "new rows";
  Ok(ann, "put " + local + " p1/live2");
  Ok(ann, "snapshot p1/live2 live.snap");
  Refused(bob, "--job-project p2 --task-type sql cat p1/live.snap", "(rule: protection)");
  // Only a sealed file (a snapshot, whose bytes never change) can be pinned.
  Refused(ann, "project exception set p1 " + with(R"("snapshot:live2")"), "is not sealed");
  // Cleared: the way out is closed again.
  Ok(ann, "project exception clear p1");
  Refused(bob, "--job-project p2 --task-type sql cat p1/t", "(rule: protection)");
}

TEST_F(DataFlowTest, APackageSharesAcrossProtectionUntilUninstalled) {
  const std::string ann = NewUser("ann"), bob = NewUser("bob"), carol = NewUser("carol");
  Ok(ann, "project create p1");
  Ok(bob, "project create p2");
  Ok(bob, "project add-member p2 carol");
  Ok(bob, "grant read,write,list on p2 to carol");
  const std::string local = tmp_.path() + "/rows";
  std::ofstream(local) << "sales rows";
  Ok(ann, "put " + local + " p1/sales/t1");
  Ok(ann, "put " + local + " p1/hr/pay");
  Ok(ann, "project protect p1 on");

  Ok(ann, "package create p1 k");
  Ok(ann, "package add p1.k p1/sales/");
  Refused(ann, "package add p1.k p1", "PROJECT/FILE or PROJECT/PREFIX/");  // never the project
  Refused(ann, "package add p1.k p1/sales/", "an entry never changes");
  Refused(bob, "package install p2 p1.k", "does not allow project p2");
  Refused(bob, "package allow p1 k p2", "lacks admin on project p1");
  Ok(ann, "package allow p1 k p2 --label 2");
  Ok(bob, "package install p2 p1.k");
  // Installed, it shares nothing until the installing project grants it to its users.
  Refused(carol, "--job-project p2 cat p1/sales/t1", "(rule: acl)");
  Ok(bob, "grant read on p2:p1.k to carol");
  EXPECT_TRUE(absl::StrContains(Ok(bob, "package ls p2"), "installed p1.k"));
  // Sharing wins over p1's protection: carol's p2 jobs read and copy the package's objects...
  EXPECT_EQ(Ok(carol, "--job-project p2 cat p1/sales/t1"), "sales rows");
  Ok(carol, "cp p1/sales/t1 p2/t1");
  EXPECT_EQ(Ok(carol, "cat p2/t1"), "sales rows");
  // ... and nothing else of p1's, nor for any other project.
  Refused(carol, "--job-project p2 cat p1/hr/pay", "(rule: acl)");
  Refused(carol, "cat p1/sales/t1", "(rule: acl)");
  // The operator's checklist names the way out.
  const std::string report = Ok(ann, "project protection-report p1");
  EXPECT_TRUE(absl::StrContains(report, "package p1.k")) << report;
  EXPECT_TRUE(absl::StrContains(report, "entry prefix sales/ (read,describe)")) << report;
  EXPECT_TRUE(absl::StrContains(report, "allowed p2 (label 2)")) << report;

  // Label security in p1: members of p2 read through the package up to its label, 2.
  Ok(ann, "label security p1 on");
  Ok(ann, "label set p1/sales/t1 3");
  Refused(carol, "--job-project p2 cat p1/sales/t1", "(rule: label)");
  Ok(ann, "label set p1/sales/t1 2");
  EXPECT_EQ(Ok(carol, "--job-project p2 cat p1/sales/t1"), "sales rows");

  // Uninstalled: the way is closed at once, and the grant went with it.
  Ok(bob, "package uninstall p2 p1.k");
  Refused(carol, "--job-project p2 cat p1/sales/t1", "(rule: acl)");
  EXPECT_FALSE(absl::StrContains(Ok(bob, "project describe p2"), "p1.k"));
  // Installed again and granted, then the package deleted: closed everywhere at once.
  Ok(bob, "package install p2 p1.k");
  Ok(bob, "grant read on p2:p1.k to carol");
  EXPECT_EQ(Ok(carol, "--job-project p2 cat p1/sales/t1"), "sales rows");
  Ok(ann, "package delete p1 k");
  Refused(carol, "--job-project p2 cat p1/sales/t1", "(rule: acl)");
  EXPECT_TRUE(
      absl::StrContains(Ok(ann, "project protection-report p1"), "packages that share data: none"));
}

TEST_F(DataFlowTest, NoReadUpRefusesDataAndColumnsAboveTheReadersClearance) {
  const std::string ann = NewUser("ann"), dan = NewUser("dan");
  Ok(ann, "project create p");
  Ok(ann, "project add-member p dan");
  Ok(ann, "grant read,write,list on p to dan");
  const std::string local = tmp_.path() + "/rows";
  std::ofstream(local) << "pay rows";
  Ok(ann, "put " + local + " p/hr/pay");
  Ok(ann, "label set p/hr/ 2");  // labels wait until label security is on
  EXPECT_EQ(Ok(dan, "cat p/hr/pay"), "pay rows");
  Refused(dan, "label security p on", "lacks admin on project p");
  Ok(ann, "label security p on");
  Refused(dan, "cat p/hr/pay",
          "p/hr/pay is at level 2, above user dan's clearance 0 (rule: label)");
  // Trusted-User: writing at any level is allowed.
  Ok(dan, "put " + local + " p/hr/new");
  // An explicit exception, for a while.
  Refused(ann, "label grant-exception p/hr/pay dan 2 --for 9000h", "366 days");
  Ok(ann, "label grant-exception p/hr/pay dan 2 --for 1h");
  EXPECT_EQ(Ok(dan, "cat p/hr/pay"), "pay rows");
  Refused(dan, "cat p/hr/new", "(rule: label)");  // the exception names one file
  Ok(ann, "label revoke-exception p/hr/pay dan");
  Refused(dan, "cat p/hr/pay", "(rule: label)");
  // Cleared to 2, dan reads the table but for a column above it.
  Ok(ann, "label clearance p dan 2");
  EXPECT_EQ(Ok(dan, "cat p/hr/pay"), "pay rows");
  Ok(ann, "label set p/hr/pay 3 --column salary");
  Refused(dan, "cat p/hr/pay", "column salary of p/hr/pay is at level 3");  // every column
  EXPECT_EQ(Ok(dan, "--columns name,dept cat p/hr/pay"), "pay rows");
  Refused(dan, "--columns name,salary cat p/hr/pay", "column salary of p/hr/pay is at level 3");
  const std::string listing = Ok(ann, "label ls p");
  EXPECT_TRUE(absl::StrContains(listing, "level 3 file hr/pay column salary")) << listing;
  EXPECT_TRUE(absl::StrContains(listing, "clearance 2 dan")) << listing;
  // Off again: no label is checked.
  Ok(ann, "label security p off");
  EXPECT_EQ(Ok(dan, "cat p/hr/pay"), "pay rows");
}

}  // namespace
}  // namespace ternion
