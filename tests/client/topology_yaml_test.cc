#include "client/cli/topology_yaml.h"

#include <gtest/gtest.h>

#include "tests/testutil/status_matchers.h"

namespace ternion::cli {
namespace {

constexpr char kTopology[] = R"(datacenters:
  - name: dc1
    power_domains:
      - name: pd-a
        racks:
          - name: rack-1
            servers: [cs-1, cs-2]
          - name: rack-2
            servers: []
      - name: pd-b
        racks:
          - name: rack-3
            servers: [cs-3]
)";

TEST(TopologyYamlTest, ParsesTheTree) {
  ASSERT_OK_AND_ASSIGN(auto req, ParseTopologyYaml(kTopology));
  ASSERT_EQ(req.racks_size(), 3);
  EXPECT_EQ(req.racks(0).rack(), "rack-1");
  EXPECT_EQ(req.racks(0).power_domain(), "pd-a");
  EXPECT_EQ(req.racks(0).datacenter(), "dc1");
  EXPECT_EQ(req.racks(2).power_domain(), "pd-b");
  ASSERT_EQ(req.servers_size(), 3);
  EXPECT_EQ(req.servers(2).server_id(), "cs-3");
  EXPECT_EQ(req.servers(2).rack(), "rack-3");
}

TEST(TopologyYamlTest, ExportRoundTrips) {
  ASSERT_OK_AND_ASSIGN(auto req, ParseTopologyYaml(kTopology));
  // The master's view of that topology.
  ternion::v1::GetTopologyResponse topo;
  for (const auto& r : req.racks()) {
    auto* rack = topo.add_racks();
    rack->set_name(r.rack());
    rack->set_power_domain(r.power_domain());
    rack->set_datacenter(r.datacenter());
    for (const auto& s : req.servers()) {
      if (s.rack() == r.rack()) rack->add_servers()->set_server_id(s.server_id());
    }
  }
  // A rack only claimed by a server (no power domain) is not part of the administered topology.
  topo.add_racks()->set_name("claimed-only");
  const std::string yaml = TopologyToYaml(topo);
  ASSERT_OK_AND_ASSIGN(auto again, ParseTopologyYaml(yaml));
  EXPECT_EQ(again.SerializeAsString(), req.SerializeAsString()) << yaml;
}

TEST(TopologyYamlTest, BadDocumentsAreRefusedWithAReason) {
  const std::pair<const char*, const char*> cases[] = {
      {"datacenters: [", "bad topology YAML"},
      {"racks: []", "'datacenters'"},
      {"datacenters: 3", "must be a list"},
      {"datacenters:\n  - power_domains: []", "needs a name"},
      {"datacenters:\n  - name: dc\n    colour: red", "unknown key 'colour'"},
      {"datacenters:\n  - name: dc\n    power_domains:\n      - name: pd\n        racks:\n"
       "          - name: r1\n          - name: r1",
       "rack r1 is listed twice"},
      {"datacenters:\n  - name: dc\n    power_domains:\n      - name: pd\n        racks:\n"
       "          - name: r1\n            servers: [a]\n          - name: r2\n"
       "            servers: [a]",
       "chunkserver a is listed twice"},
      {"datacenters:\n  - name: dc\n    power_domains:\n      - name: pd\n        racks:\n"
       "          - name: r1\n            servers: [[a]]",
       "by its id"},
  };
  for (const auto& [text, reason] : cases) {
    auto req = ParseTopologyYaml(text);
    ASSERT_FALSE(req.ok()) << text;
    EXPECT_EQ(req.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_NE(req.status().message().find(reason), std::string::npos)
        << text << " -> " << req.status();
  }
}

}  // namespace
}  // namespace ternion::cli
