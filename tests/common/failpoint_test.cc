#include "common/failpoint.h"

#include <gtest/gtest.h>

namespace ternion {
namespace {

TEST(FailpointTest, UnarmedFailpointsPassAndArmedOnesActAsToldThenStop) {
  DisarmFailpoints();
  EXPECT_TRUE(Failpoint("a").ok());
  ASSERT_TRUE(ArmFailpoints("a=eio*2, b=enospc@3").ok());
  EXPECT_EQ(Failpoint("a").code(), absl::StatusCode::kInternal);
  EXPECT_NE(Failpoint("a").message().find("failpoint a"), absl::string_view::npos);
  EXPECT_TRUE(Failpoint("a").ok());  // the first two hits only
  EXPECT_TRUE(Failpoint("b").ok());
  EXPECT_TRUE(Failpoint("b").ok());
  EXPECT_EQ(Failpoint("b").code(), absl::StatusCode::kResourceExhausted);  // the third only
  EXPECT_TRUE(Failpoint("b").ok());
  EXPECT_TRUE(Failpoint("c").ok());
  DisarmFailpoints();
  ASSERT_TRUE(ArmFailpoints("a=eio").ok());
  EXPECT_FALSE(Failpoint("a").ok());
  EXPECT_FALSE(Failpoint("a").ok());  // no count: every hit
  DisarmFailpoints();
  EXPECT_TRUE(Failpoint("a").ok());
  ASSERT_TRUE(ArmFailpoints("w=short*1").ok());
  EXPECT_EQ(*FailpointWrite("w", 4096), 2048u);  // half, once
  EXPECT_EQ(*FailpointWrite("w", 4096), 4096u);
  DisarmFailpoints();
}

TEST(FailpointTest, BadSpecsAreRefusedAndArmNothing) {
  DisarmFailpoints();
  for (const char* bad : {"a", "a=", "=eio", "a=explode", "a=eio*0", "a=eio@x", "a=eio,b=nope"}) {
    EXPECT_EQ(ArmFailpoints(bad).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_TRUE(Failpoint("a").ok());
  EXPECT_TRUE(ArmFailpoints("").ok());  // nothing to arm
}

TEST(FailpointDeathTest, CrashKillsTheProcessAsKillDashNineWould) {
  EXPECT_EXIT(
      {
        (void)ArmFailpoints("edge=crash");
        (void)Failpoint("edge");
      },
      ::testing::KilledBySignal(SIGKILL), "");
}

}  // namespace
}  // namespace ternion
