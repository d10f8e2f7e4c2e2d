#include "master/access_policy.h"

#include <gtest/gtest.h>

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
