// The projects' data keys for row encryption on a real cluster, through the CLI as operators run
// it: versions are rotated, listed and destroyed by the project's owner or admins; no answer,
// log line or audit record holds a key.

#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tests/testutil/cluster_fixture.h"

namespace ternion {
namespace {

class RowKeysTest : public testing::ClusterFixture {
 protected:
  void Configure(local::LocalClusterOptions* o) override {
    o->racks = 3;
    o->per_rack = 1;
  }
  std::string Run(const std::string& profile, const std::string& args, bool ok) {
    int rc = 0;
    std::string out = RunAs(profile, args, &rc);
    EXPECT_EQ(rc == 0, ok) << args << ": " << out;
    return out;
  }
};

TEST_F(RowKeysTest, ProjectAdminsRotateListAndDestroyDataKeyVersions) {
  const std::string ann = NewUser("ann"), bob = NewUser("bob");
  Run(ann, "project create p", true);
  EXPECT_EQ(Run(ann, "key ls-data p", true), "");
  EXPECT_TRUE(absl::StrContains(Run(ann, "key rotate-data p", true), "data key 1 created"));
  const std::string two = Run(ann, "key rotate-data p", true);
  EXPECT_TRUE(absl::StrContains(two, "data key 2 created")) << two;
  EXPECT_TRUE(absl::StrContains(Run(bob, "key rotate-data p", false), "lacks admin on project p"));
  EXPECT_TRUE(absl::StrContains(Run(bob, "key ls-data p", false), "lacks admin on project p"));
  EXPECT_TRUE(
      absl::StrContains(Run(bob, "key destroy-data p 1 --yes-destroy", false), "lacks admin"));
  EXPECT_TRUE(absl::StrContains(Run(ann, "key destroy-data p 1", false), "--yes-destroy"));
  const std::string destroyed = Run(ann, "key destroy-data p 1 --yes-destroy", true);
  EXPECT_TRUE(absl::StrContains(destroyed, "data key 1 created")) << destroyed;
  EXPECT_TRUE(absl::StrContains(destroyed, "DESTROYED")) << destroyed;
  const std::string listed = Run(ann, "key ls-data p", true);
  const std::string second = listed.substr(listed.find("data key 2"));
  EXPECT_FALSE(absl::StrContains(second, "DESTROYED")) << listed;  // the newer one is alive
  EXPECT_TRUE(absl::StrContains(Run(ann, "key destroy-data p 9 --yes-destroy", false),
                                "no data key version 9"));

  // Audited, without a key: each record names the version and who acted.
  const nlohmann::json records = CliJson("audit query --limit 10000");
  int created = 0, destroys = 0;
  for (const auto& r : records) {
    const std::string detail = r["detail"].get<std::string>();
    created += absl::StrContains(detail, "data key version") &&
               absl::StrContains(detail, "created by ann");
    destroys += detail == "project p: data key version 1 destroyed by ann";
  }
  EXPECT_EQ(created, 2);
  EXPECT_EQ(destroys, 1);
}

}  // namespace
}  // namespace ternion
