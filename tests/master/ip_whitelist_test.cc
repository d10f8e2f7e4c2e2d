#include "master/ip_whitelist.h"

#include <gtest/gtest.h>

namespace ternion::master {
namespace {

TEST(IpWhitelistTest, AddressesRangesAndBlocks) {
  absl::StatusOr<IpWhitelist> w =
      IpWhitelist::Parse("10.0.0.1, 10.0.0.5-10.0.0.9,10.1.0.0/16, 2001:db8::/32");
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_FALSE(w->off());
  for (const char* ip : {"10.0.0.1", "10.0.0.5", "10.0.0.7", "10.0.0.9", "10.1.0.0",
                         "10.1.255.255", "2001:db8::1"}) {
    EXPECT_TRUE(w->Allows(ip)) << ip;
  }
  for (const char* ip : {"10.0.0.2", "10.0.0.4", "10.0.0.10", "10.2.0.0", "10.0.255.255",
                         "127.0.0.1", "2001:db9::1", "", "not an ip"}) {
    EXPECT_FALSE(w->Allows(ip)) << ip;
  }
}

TEST(IpWhitelistTest, EmptyIsOffAndBadEntriesAreRefusedNamingThem) {
  absl::StatusOr<IpWhitelist> off = IpWhitelist::Parse("");
  ASSERT_TRUE(off.ok());
  EXPECT_TRUE(off->off());
  EXPECT_TRUE(off->Allows("192.0.2.1"));
  for (const char* bad : {"10.0.0", "10.0.0.9-10.0.0.5", "10.0.0.1/33", "10.0.0.1/-1",
                          "10.0.0.1-::1", "host.example", "10.0.0.1/x"}) {
    absl::StatusOr<IpWhitelist> w = IpWhitelist::Parse(std::string("127.0.0.1,") + bad);
    ASSERT_FALSE(w.ok()) << bad;
    EXPECT_NE(w.status().message().find(bad), std::string::npos) << w.status();
  }
  EXPECT_TRUE(IpWhitelist::Parse("0.0.0.0/0")->Allows("203.0.113.9"));
  EXPECT_FALSE(IpWhitelist::Nobody().Allows("127.0.0.1"));
}

}  // namespace
}  // namespace ternion::master
