#include "client/read_order.h"

#include <gtest/gtest.h>

namespace ternion::client {
namespace {

TEST(ReadOrderTest, SameHostThenSameRackThenTheRestEachLeastLoadedFirst) {
  ReaderPlace here{{"10.0.0.5", "worker-5"}, "r1"};
  std::vector<ReadCandidate> replicas = {
      {"10.0.2.1", "r2", true, 0},   // far, idle
      {"10.0.1.1", "r1", true, 9},   // same rack, busy
      {"10.0.1.2", "r1", true, 2},   // same rack, less busy
      {"10.0.0.5", "r1", true, 30},  // this host, very busy: still first
  };
  EXPECT_EQ(ReadOrder(replicas, here), (std::vector<size_t>{3, 2, 1, 0}));
  // Without a rack, distance is host or not; then load.
  here.rack.clear();
  EXPECT_EQ(ReadOrder(replicas, here), (std::vector<size_t>{3, 0, 2, 1}));
}

TEST(ReadOrderTest, ServersTheMasterDoesNotHearComeLastWhereverTheyAre) {
  ReaderPlace here{{"worker-5"}, "r1"};
  std::vector<ReadCandidate> replicas = {
      {"worker-5", "r1", false, 0},  // on this host, but silent
      {"10.0.2.1", "r2", true, 4},
      {"10.0.2.2", "r2", true, 4},  // a tie: the master's order stands
  };
  EXPECT_EQ(ReadOrder(replicas, here), (std::vector<size_t>{1, 2, 0}));
}

TEST(ReadOrderTest, LoopbackAddressesAreThisHost) {
  ReaderPlace here{{}, ""};
  std::vector<ReadCandidate> replicas = {{"10.9.9.9", "", true, 0}, {"127.0.0.2", "", true, 5}};
  EXPECT_EQ(ReadOrder(replicas, here), (std::vector<size_t>{1, 0}));
}

TEST(ReadOrderTest, HostOfAddresses) {
  EXPECT_EQ(HostOf("10.0.0.1:7000"), "10.0.0.1");
  EXPECT_EQ(HostOf("[::1]:7000"), "::1");
  EXPECT_EQ(HostOf("node-3.example:7000"), "node-3.example");
  EXPECT_EQ(HostOf("noport"), "noport");
  EXPECT_TRUE(LocalHosts().contains("127.0.0.1"));
}

}  // namespace
}  // namespace ternion::client
