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
  for (Action a : {Action::kRead, Action::kWrite, Action::kList, Action::kDelete,
                   Action::kDescribe, Action::kDownload, Action::kAdmin}) {
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
