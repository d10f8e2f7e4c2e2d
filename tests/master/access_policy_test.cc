#include "master/access_policy.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"

namespace ternion::master {
namespace {

const PrincipalView kAdmin{.user = "root", .cluster_admin = true};
const PrincipalView kAnn{.user = "ann"};
const PrincipalView kBob{.user = "bob"};
const ProjectView kAnnsProject{.name = "p", .owner = "ann"};

Requirement In(Action a) { return {.scope = Requirement::Scope::kProject, .action = a}; }

TEST(AccessPolicyTest, OwnersAndClusterAdminsActInAProjectOthersAreRefusedNamingTheAction) {
  for (Action a : kAllActions) {
    EXPECT_TRUE(Decide(kAnn, In(a), "p", kAnnsProject).allowed);
    EXPECT_EQ(Decide(kAnn, In(a), "p", kAnnsProject).rule, "owner");
    EXPECT_TRUE(Decide(kAdmin, In(a), "p", kAnnsProject).allowed);
    Decision d = Decide(kBob, In(a), "p", kAnnsProject);
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.reason, std::string("user bob lacks ") + ActionName(a) + " on project p");
  }
}

TEST(AccessPolicyTest, AMissingProjectIsRefusedLikeAForbiddenOne) {
  Decision missing = Decide(kBob, In(Action::kRead), "q", std::nullopt);
  Decision forbidden = Decide(kBob, In(Action::kRead), "q", ProjectView{.name = "q", .owner = "x"});
  EXPECT_FALSE(missing.allowed);
  EXPECT_EQ(missing.reason, forbidden.reason);
  // An ownerless project (made before users existed) belongs to no one but cluster admins.
  EXPECT_FALSE(Decide(kBob, In(Action::kRead), "q", ProjectView{.name = "q"}).allowed);
  EXPECT_TRUE(Decide(kAdmin, In(Action::kRead), "q", std::nullopt).allowed);
}

TEST(AccessPolicyTest, ClusterAdministrationNeedsTheRole) {
  const Requirement cluster{.scope = Requirement::Scope::kCluster};
  EXPECT_TRUE(Decide(kAdmin, cluster, "", std::nullopt).allowed);
  Decision d = Decide(kAnn, cluster, "", std::nullopt);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason, "user ann lacks the cluster admin role");
  EXPECT_TRUE(Decide(kAnn, Requirement{}, "", std::nullopt).allowed);  // any signed caller
}

TEST(AccessPolicyTest, ProjectsAreCreatedForOneselfAndKeysManagedByTheirUser) {
  EXPECT_TRUE(DecideCreateProject(kAnn, "").allowed);
  EXPECT_TRUE(DecideCreateProject(kAnn, "ann").allowed);
  EXPECT_FALSE(DecideCreateProject(kAnn, "bob").allowed);
  EXPECT_TRUE(DecideCreateProject(kAdmin, "bob").allowed);
  EXPECT_TRUE(DecideSelfOrAdmin(kAnn, "ann").allowed);
  EXPECT_FALSE(DecideSelfOrAdmin(kAnn, "bob").allowed);
  EXPECT_TRUE(DecideSelfOrAdmin(kAdmin, "bob").allowed);
}

}  // namespace
}  // namespace ternion::master

namespace ternion::master {
namespace {

ProjectView Shared() {
  return {.name = "p",
          .owner = "ann",
          .members = {"bob", "cid", "dee"},
          .admins = {"dee"},
          .grants = {{.grantee = "bob", .actions = ActionBit(Action::kRead) |
                                                    ActionBit(Action::kList)},
                     {.grantee = "cid",
                      .actions = ActionBit(Action::kWrite),
                      .object = GrantView::Object::kPrefix,
                      .path = "logs/"},
                     {.grantee = kMemberRole,
                      .actions = ActionBit(Action::kDescribe),
                      .object = GrantView::Object::kFile,
                      .path = "README"}}};
}

TEST(AccessPolicyTest, MembersDoWhatTheirGrantsCoverAndNothingElse) {
  const ProjectView p = Shared();
  const PrincipalView bob{.user = "bob"}, cid{.user = "cid"}, dee{.user = "dee"},
      eve{.user = "eve"};
  // A project-wide grant covers every path; other actions stay refused.
  EXPECT_TRUE(Decide(bob, In(Action::kRead), "p", p, {"any/file"}).allowed);
  EXPECT_TRUE(Decide(bob, In(Action::kList), "p", p).allowed);
  Decision d = Decide(bob, In(Action::kWrite), "p", p, {"any/file"});
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason, "user bob lacks write on project p (p/any/file)");
  // A prefix grant covers the paths under it only; every path of a call must be covered.
  EXPECT_TRUE(Decide(cid, In(Action::kWrite), "p", p, {"logs/a"}).allowed);
  EXPECT_FALSE(Decide(cid, In(Action::kWrite), "p", p, {"logsx"}).allowed);
  EXPECT_FALSE(Decide(cid, In(Action::kWrite), "p", p, {"logs/a", "other"}).allowed);
  EXPECT_FALSE(Decide(cid, In(Action::kWrite), "p", p).allowed);  // the project itself
  // A grant to the member role reaches every member, for that file only.
  EXPECT_TRUE(Decide(cid, In(Action::kDescribe), "p", p, {"README"}).allowed);
  EXPECT_FALSE(Decide(cid, In(Action::kDescribe), "p", p, {"README2"}).allowed);
  // The project's admins do everything; non-members nothing, whatever grants name them.
  EXPECT_TRUE(Decide(dee, In(Action::kAdmin), "p", p).allowed);
  EXPECT_EQ(Decide(dee, In(Action::kDelete), "p", p, {"x"}).rule, "project-admin");
  ProjectView stray = p;
  stray.grants.push_back({.grantee = "eve", .actions = ActionBit(Action::kRead)});
  EXPECT_FALSE(Decide(eve, In(Action::kRead), "p", stray).allowed);
  EXPECT_FALSE(Decide(eve, In(Action::kDescribe), "p", p, {"README"}).allowed);
  EXPECT_EQ(ActionFromName("download"), Action::kDownload);
  EXPECT_FALSE(ActionFromName("fly").has_value());
}

}  // namespace
}  // namespace ternion::master

namespace ternion::master {
namespace {

// The data-flow policies, one worked example each (docs/security.md tells the same stories).
// ann owns P1 and P2 and is a member of both; bob is a member of P2 only.
struct Flows {
  PolicySnapshot state{.now_unix_ms = 1000};
  Flows() {
    for (const char* name : {"P1", "P2", "P3", "P4"}) {
      state.projects[name] = ProjectView{.name = name, .owner = "ann", .members = {"ann"}};
    }
    state.projects["P2"].members.push_back("bob");
    state.projects["P1"].protection = true;
  }
  ProjectView& operator[](const std::string& name) { return state.projects[name]; }
  Decision Read(const std::string& user, const std::string& project, const std::string& path,
                const std::string& context, std::vector<std::string> columns = {},
                uint64_t file_id = 0, const std::string& task_type = "") const {
    return Decide(PrincipalView{.user = user},
                  AccessRequest{.need = In(Action::kRead),
                                .project = project,
                                .objects = {{.path = path, .file_id = file_id}},
                                .columns = std::move(columns),
                                .peer_ip = "127.0.0.1",
                                .context_project = context,
                                .task_type = task_type},
                  state);
  }
};

TEST(DataFlowPolicyTest, AProtectedProjectsDataFlowsOnlyToProjectsItTrusts) {
  Flows f;
  // ann may read P1's table, in P1, but not copy it into P2 (a read made for P2).
  EXPECT_TRUE(f.Read("ann", "P1", "t", "").allowed);
  Decision d = f.Read("ann", "P1", "t", "P2");
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.rule, "protection");
  EXPECT_EQ(d.reason,
            "project P1 is protected: P1/t may not flow to project P2 (no trust, exception "
            "statement or package covers it)");
  // Unprotected P2's data flows anywhere its reader belongs.
  EXPECT_TRUE(f.Read("ann", "P2", "t", "P1").allowed);
  // P1 trusts P2: the copy is allowed. A trusted group P1, P2, P3 (each trusting the others);
  // P4 stays outside.
  f["P1"].trusted = {"P2", "P3"};
  EXPECT_EQ(f.Read("ann", "P1", "t", "P2").rule, "trusted");
  EXPECT_TRUE(f.Read("ann", "P1", "t", "P3").allowed);
  EXPECT_EQ(f.Read("ann", "P1", "t", "P4").rule, "protection");
  // Acting for a project one does not belong to is refused whatever the data.
  EXPECT_EQ(f.Read("bob", "P2", "t", "P1").rule, "acl");
}

TEST(DataFlowPolicyTest, AnExceptionStatementLetsOneUserAndTaskTypeTakeOneFile) {
  Flows f;
  f["P1"].members.push_back("bob");
  f["P1"].grants.push_back({.grantee = "bob", .actions = ActionBit(Action::kRead)});
  f["P1"].exceptions.push_back({.principals = {"bob"},
                                .actions = ActionBit(Action::kRead),
                                .resources = {{.path = "t"}},
                                .task_types = {"sql"}});
  EXPECT_EQ(f.Read("bob", "P1", "t", "P2", {}, 0, "sql").rule, "exception");
  EXPECT_EQ(f.Read("bob", "P1", "t", "P2", {}, 0, "ml").rule, "protection");
  EXPECT_EQ(f.Read("bob", "P1", "u", "P2", {}, 0, "sql").rule, "protection");
  EXPECT_EQ(f.Read("ann", "P1", "t", "P2", {}, 0, "sql").rule, "protection");
  // Pinned to a snapshot's file id, a statement covers that file only: new bytes written to
  // another file at the path are not covered.
  f["P1"].exceptions[0].resources = {{.path = "t.snap", .pinned_file_id = 7}};
  EXPECT_TRUE(f.Read("bob", "P1", "t.snap", "P2", {}, 7, "sql").allowed);
  EXPECT_EQ(f.Read("bob", "P1", "t.snap", "P2", {}, 8, "sql").rule, "protection");
}

TEST(DataFlowPolicyTest, APackageSharesObjectsAcrossProjectsAndWinsOverProtection) {
  Flows f;
  f["P1"].packages.push_back(
      {.name = "shared", .entries = {{.object = GrantView::Object::kPrefix, .path = "pub/"}}});
  // bob (P2 only) may not read P1's data until P1 allows P2, P2 installs the package and grants
  // bob read on it.
  EXPECT_EQ(f.Read("bob", "P1", "pub/t", "P2").rule, "acl");
  f["P1"].packages[0].allowed["P2"] = 0;
  f["P2"].installed.push_back("P1.shared");
  EXPECT_EQ(f.Read("bob", "P1", "pub/t", "P2").rule, "acl");
  f["P2"].grants.push_back({.grantee = "bob",
                            .actions = ActionBit(Action::kRead),
                            .object = GrantView::Object::kPackage,
                            .path = "P1.shared"});
  EXPECT_EQ(f.Read("bob", "P1", "pub/t", "P2").rule, "package");  // P1 is protected
  EXPECT_EQ(f.Read("bob", "P1", "secret", "P2").rule, "acl");     // not in the package
  EXPECT_EQ(f.Read("bob", "P1", "pub/t", "").rule, "acl");        // only through P2
  // Package entries are read-only unless stated.
  EXPECT_FALSE(Decide(PrincipalView{.user = "bob"},
                      AccessRequest{.need = In(Action::kWrite),
                                    .project = "P1",
                                    .objects = {{.path = "pub/t"}},
                                    .context_project = "P2"},
                      f.state)
                   .allowed);
  // Uninstalled: refused at once.
  f["P2"].installed.clear();
  EXPECT_EQ(f.Read("bob", "P1", "pub/t", "P2").rule, "acl");
}

TEST(DataFlowPolicyTest, NoReadUpRefusesDataAboveTheReadersClearanceUnlessExcepted) {
  Flows f;
  ProjectView& p = f["P2"];
  p.label_security = true;
  p.grants.push_back({.grantee = "bob", .actions = ActionBit(Action::kRead)});
  p.labels = {{.object = GrantView::Object::kFile, .path = "t", .level = 2},
              {.object = GrantView::Object::kFile, .path = "t", .column = "ssn", .level = 3}};
  Decision d = f.Read("bob", "P2", "t", "");
  EXPECT_EQ(d.rule, "label");
  EXPECT_EQ(d.reason, "P2/t is at level 2, above user bob's clearance 0");
  p.clearances["bob"] = 2;
  EXPECT_TRUE(f.Read("bob", "P2", "t", "", {"name"}).allowed);
  d = f.Read("bob", "P2", "t", "", {"name", "ssn"});
  EXPECT_EQ(d.reason, "column ssn of P2/t is at level 3, above user bob's clearance 2");
  // An explicit exception for the object, until it expires.
  p.label_exceptions.push_back({.user = "bob", .path = "t", .level = 3, .expires_unix_ms = 2000});
  EXPECT_TRUE(f.Read("bob", "P2", "t", "", {"ssn"}).allowed);
  f.state.now_unix_ms = 2000;
  EXPECT_EQ(f.Read("bob", "P2", "t", "", {"ssn"}).rule, "label");
  // Writing at any level is allowed (Trusted-User).
  EXPECT_TRUE(
      Decide(PrincipalView{.user = "ann"},
             AccessRequest{.need = In(Action::kWrite), .project = "P2", .objects = {{.path = "t"}}},
             f.state)
          .allowed);
}

TEST(DataFlowPolicyTest, ThroughAPackageTheLabelItWasAllowedWithIsTheClearance) {
  Flows f;
  f["P1"].label_security = true;
  f["P1"].labels = {{.object = GrantView::Object::kFile, .path = "t", .level = 2},
                    {.object = GrantView::Object::kFile, .path = "u", .level = 3}};
  for (auto [name, label] : {std::pair{"two", 2}, {"one", 1}}) {
    f["P1"].packages.push_back(
        {.name = name, .entries = {{.path = "t"}, {.path = "u"}}, .allowed = {{"P2", label}}});
    f["P2"].installed.push_back(absl::StrCat("P1.", name));
    f["P2"].grants.push_back({.grantee = "bob",
                              .actions = ActionBit(Action::kRead),
                              .object = GrantView::Object::kPackage,
                              .path = absl::StrCat("P1.", name)});
  }
  EXPECT_TRUE(f.Read("bob", "P1", "t", "P2").allowed);  // the higher of the two packages' labels
  Decision d = f.Read("bob", "P1", "u", "P2");
  EXPECT_EQ(d.reason, "P1/u is at level 3, above user bob's clearance 2");
}

TEST(DataFlowPolicyTest, WithNoWriteDownOnlyTheOwnerAndAdminsGrant) {
  Flows f;
  ProjectView& p = f["P2"];
  p.grants.push_back({.grantee = "bob",
                      .actions = ActionBit(Action::kAdmin),
                      .object = GrantView::Object::kPrefix,
                      .path = "bobs/"});
  const AccessRequest grant{
      .need = In(Action::kAdmin), .project = "P2", .objects = {{.path = "bobs/new"}}};
  EXPECT_TRUE(Decide(PrincipalView{.user = "bob"}, grant, f.state).allowed);
  p.no_write_down = true;
  EXPECT_EQ(Decide(PrincipalView{.user = "bob"}, grant, f.state).rule, "no-write-down");
  EXPECT_TRUE(Decide(PrincipalView{.user = "ann"}, grant, f.state).allowed);
}

}  // namespace
}  // namespace ternion::master
