#include "master/topology_planner.h"

#include <gtest/gtest.h>

#include "tests/testutil/status_matchers.h"

namespace ternion::master {
namespace {

using ternion::v1::ImportTopologyRequest;
using ternion::v1::RackRecord;

RackRecord Rack(const std::string& name, const std::string& pd, const std::string& dc = "dc1") {
  RackRecord r;
  r.set_name(name);
  r.set_power_domain(pd);
  r.set_datacenter(dc);
  return r;
}

void AddRack(ImportTopologyRequest* req, const std::string& rack, const std::string& pd,
             const std::string& dc = "") {
  auto* r = req->add_racks();
  r->set_rack(rack);
  r->set_power_domain(pd);
  r->set_datacenter(dc);
}

void Place(ImportTopologyRequest* req, const std::string& server, const std::string& rack) {
  auto* m = req->add_servers();
  m->set_server_id(server);
  m->set_rack(rack);
}

class TopologyPlannerTest : public ::testing::Test {
 protected:
  std::map<std::string, RackRecord> racks_ = {{"r1", Rack("r1", "pd1")},
                                              {"r2", Rack("r2", "pd2")}};
  std::map<std::string, std::string> servers_ = {{"cs-a", ""}, {"cs-b", "r1"}};
};

TEST_F(TopologyPlannerTest, AChangeSaysWhatItChangesAndNothingElse) {
  ImportTopologyRequest req;
  AddRack(&req, "r1", "pd1");        // unchanged
  AddRack(&req, "r3", "pd3", "");    // new, in the default data centre
  Place(&req, "cs-a", "r3");         // moved
  Place(&req, "cs-b", "r1");         // already there
  ASSERT_OK_AND_ASSIGN(TopologyPlan plan, PlanTopologyChange(racks_, servers_, req));
  EXPECT_EQ(plan.changed_racks, std::vector<std::string>{"r3"});
  EXPECT_EQ(plan.racks.size(), 3u);
  EXPECT_EQ(plan.racks.at("r3").datacenter(), kDefaultDatacenter);
  ASSERT_EQ(plan.moved_servers.size(), 1u);
  EXPECT_EQ(plan.moved_servers[0], (std::pair<std::string, std::string>{"cs-a", "r3"}));
}

TEST_F(TopologyPlannerTest, ChangesThatBreakTheTreeOrNameUnknownsAreRefusedWhole) {
  auto refused = [&](const ImportTopologyRequest& req, absl::StatusCode code,
                     const std::string& words) {
    absl::StatusOr<TopologyPlan> plan = PlanTopologyChange(racks_, servers_, req);
    ASSERT_FALSE(plan.ok());
    EXPECT_EQ(plan.status().code(), code);
    EXPECT_NE(plan.status().message().find(words), std::string::npos) << plan.status();
  };
  ImportTopologyRequest twice;
  AddRack(&twice, "r3", "pd3");
  AddRack(&twice, "r3", "pd4");
  refused(twice, absl::StatusCode::kInvalidArgument, "listed twice");
  ImportTopologyRequest two_dcs;
  AddRack(&two_dcs, "r3", "pd1", "dc2");  // pd1 is in dc1 already
  refused(two_dcs, absl::StatusCode::kInvalidArgument, "two data centres");
  ImportTopologyRequest cycle;
  AddRack(&cycle, "r3", "r1");  // a power domain named like a rack
  refused(cycle, absl::StatusCode::kInvalidArgument, "two levels");
  ImportTopologyRequest stranger;
  Place(&stranger, "cs-z", "r1");
  refused(stranger, absl::StatusCode::kNotFound, "must register");
  ImportTopologyRequest nowhere;
  Place(&nowhere, "cs-a", "r9");
  refused(nowhere, absl::StatusCode::kNotFound, "add the rack first");
  ImportTopologyRequest bad_name;
  AddRack(&bad_name, "r 3", "pd3");
  absl::StatusOr<TopologyPlan> plan = PlanTopologyChange(racks_, servers_, bad_name);
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ternion::master
