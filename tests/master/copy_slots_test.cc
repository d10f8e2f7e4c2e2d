#include "master/copy_slots.h"

#include <gtest/gtest.h>

namespace ternion::master {
namespace {

TEST(CopySlotsTest, TheLeastBusyHolderWithRoomIsTheSource) {
  CopySlots slots(2);
  EXPECT_EQ(slots.PickSource({3, 1, 2}), 3u) << "all idle: the first";
  slots.Start(3, 7);
  EXPECT_EQ(slots.PickSource({3, 1, 2}), 1u);
  slots.Start(1, 8);
  slots.Start(2, 9);
  slots.Start(2, 10);
  EXPECT_EQ(slots.busy(2), 2);
  EXPECT_FALSE(slots.HasRoom(2));
  EXPECT_EQ(slots.PickSource({2, 3}), 3u) << "2 is full";
  slots.Start(3, 11);
  EXPECT_EQ(slots.PickSource({2, 3}), std::nullopt) << "both full";
  EXPECT_EQ(slots.PickSource({}), std::nullopt);
}

TEST(CopySlotsTest, EndFreesBothSidesAndALowerLimitAppliesToNewCopiesOnly) {
  CopySlots slots(3);
  slots.Start(0, 1);
  slots.Start(0, 2);
  EXPECT_EQ(slots.busy(0), 2);
  EXPECT_EQ(slots.busy(1), 1);
  slots.set_limit(2);
  EXPECT_FALSE(slots.HasRoom(0));
  EXPECT_TRUE(slots.HasRoom(1));
  slots.End(0, 1);
  EXPECT_TRUE(slots.HasRoom(0));
  EXPECT_EQ(slots.busy(1), 0);
  slots.End(0, 1);  // a stray end never goes below zero
  EXPECT_EQ(slots.busy(1), 0);
  EXPECT_EQ(slots.busy(99), 0);
}

}  // namespace
}  // namespace ternion::master
