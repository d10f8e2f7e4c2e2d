#include "master/copy_slots.h"

#include <gtest/gtest.h>

namespace ternion::master {
namespace {

TEST(CopySlotsTest, TheHolderSendingTheFewestCopiesIsTheSource) {
  CopySlots slots(2);
  EXPECT_EQ(slots.PickSource({3, 1, 2}), 3u) << "all idle: the first";
  slots.Start(3, 7);
  EXPECT_EQ(slots.PickSource({3, 1, 2}), 1u);
  slots.Start(1, 3);  // receiving does not count against sending
  EXPECT_EQ(slots.PickSource({3, 1}), 3u);
  slots.Start(2, 9);
  slots.Start(2, 10);
  EXPECT_EQ(slots.sending(2), 2);
  EXPECT_EQ(slots.PickSource({2, 3}), 3u) << "2 sends its limit";
  slots.Start(3, 11);
  EXPECT_EQ(slots.PickSource({2, 3}), std::nullopt) << "both send their limit";
  EXPECT_EQ(slots.PickSource({}), std::nullopt);
}

TEST(CopySlotsTest, ReceivingIsLimitedApartFromSending) {
  CopySlots slots(2);
  slots.Start(0, 5);
  slots.Start(1, 5);
  EXPECT_FALSE(slots.CanReceive(5));
  EXPECT_TRUE(slots.CanReceive(0)) << "a server sending its limit may still receive";
  slots.Start(5, 0);
  slots.Start(6, 0);
  EXPECT_FALSE(slots.CanReceive(0));
  EXPECT_EQ(slots.sending(0), 1);
}

TEST(CopySlotsTest, EndFreesBothSidesAndALowerLimitAppliesToNewCopiesOnly) {
  CopySlots slots(3);
  slots.Start(0, 1);
  slots.Start(0, 1);
  slots.Start(0, 2);
  EXPECT_EQ(slots.sending(0), 3);
  EXPECT_EQ(slots.receiving(1), 2);
  slots.set_limit(2);
  EXPECT_FALSE(slots.CanReceive(1));
  EXPECT_EQ(slots.PickSource({0}), std::nullopt);
  slots.End(0, 1);
  EXPECT_EQ(slots.PickSource({0}), std::nullopt) << "still sending two, the new limit";
  EXPECT_TRUE(slots.CanReceive(1));
  slots.End(0, 1);
  EXPECT_EQ(slots.PickSource({0}), 0u);
  EXPECT_EQ(slots.receiving(1), 0);
  slots.End(0, 1);  // a stray end never goes below zero
  EXPECT_EQ(slots.receiving(1), 0);
  EXPECT_EQ(slots.sending(99), 0);
}

}  // namespace
}  // namespace ternion::master
