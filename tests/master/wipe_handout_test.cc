#include "master/wipe_handout.h"

#include <gtest/gtest.h>

namespace ternion::master {
namespace {

using Ids = std::vector<uint64_t>;
const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);

TEST(WipeHandoutTest, EachHeartbeatTakesTheNextFewSoEveryReplicaGetsItsTurn) {
  WipeHandout handout(2, absl::Seconds(30));
  const absl::btree_set<uint64_t> pending = {3, 5, 8, 13, 21};
  EXPECT_EQ(handout.Next(7, pending, kStart), (Ids{3, 5}));
  EXPECT_EQ(handout.Next(7, pending, kStart), (Ids{8, 13}));
  EXPECT_EQ(handout.Next(7, pending, kStart), (Ids{21})) << "3 and 5 wait for their resend";
  EXPECT_EQ(handout.Next(7, pending, kStart), Ids{});
  EXPECT_EQ(handout.Next(9, pending, kStart), (Ids{3, 5})) << "every server has its own turn";
}

TEST(WipeHandoutTest, AnUnconfirmedWipeIsAskedAgainAfterTheResendDelayAConfirmedOneNever) {
  WipeHandout handout(10, absl::Seconds(30));
  absl::btree_set<uint64_t> pending = {1, 2};
  EXPECT_EQ(handout.Next(0, pending, kStart), (Ids{1, 2}));
  EXPECT_EQ(handout.Next(0, pending, kStart + absl::Seconds(29)), Ids{});
  handout.Confirmed(0, 1);
  pending.erase(1);  // the master records the wipe
  EXPECT_EQ(handout.Next(0, pending, kStart + absl::Seconds(30)), (Ids{2}));
  EXPECT_EQ(handout.Next(0, pending, kStart + absl::Seconds(59)), Ids{});
  EXPECT_EQ(handout.Next(0, pending, kStart + absl::Seconds(60)), (Ids{2}));
}

TEST(WipeHandoutTest, NothingPendingNothingHandedOut) {
  WipeHandout handout(64, absl::Seconds(30));
  EXPECT_EQ(handout.Next(0, {}, kStart), Ids{});
}

}  // namespace
}  // namespace ternion::master
