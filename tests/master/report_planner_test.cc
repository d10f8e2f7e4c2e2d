#include "master/report_planner.h"

#include <gtest/gtest.h>

namespace ternion::master {
namespace {

// A live, stable chunk at version 4 with 100 acknowledged bytes, whole on three live servers,
// one of them the reporting server.
ChunkFacts Whole() {
  return ChunkFacts{.known = true, .deleted = false, .placed_here = true, .version = 4,
                    .length = 100, .stable = true, .live_replicas = 3, .wanted_replicas = 3};
}

TEST(ReportPlannerTest, AReportedReplicaIsKeptWipedAdoptedOrReplacedOnlyOnKnowledge) {
  EXPECT_EQ(JudgeReported(Whole(), 4, 100, false), ReportedVerdict::kKeep);
  EXPECT_EQ(JudgeReported(Whole(), 4, 120, false), ReportedVerdict::kKeep)
      << "bytes past the acknowledged length are harmless";
  EXPECT_EQ(JudgeReported(ChunkFacts{}, 4, 100, false), ReportedVerdict::kQuarantine)
      << "an unknown chunk is never wiped at once";
  ChunkFacts deleted = Whole();
  deleted.deleted = true;
  EXPECT_EQ(JudgeReported(deleted, 4, 100, false), ReportedVerdict::kWipeDeleted);
  EXPECT_EQ(JudgeReported(Whole(), 3, 100, false), ReportedVerdict::kReplace) << "stale";
  EXPECT_EQ(JudgeReported(Whole(), 4, 50, false), ReportedVerdict::kReplace) << "short";
  ChunkFacts open = Whole();
  open.stable = false;
  EXPECT_EQ(JudgeReported(open, 4, 50, false), ReportedVerdict::kKeep)
      << "a chunk being written may be ahead of its replicas' reports";
  EXPECT_EQ(JudgeReported(open, 3, 100, false), ReportedVerdict::kKeep)
      << "write recovery may be moving this replica to the new version right now";

  ChunkFacts elsewhere = Whole();
  elsewhere.placed_here = false;
  EXPECT_EQ(JudgeReported(elsewhere, 4, 100, true), ReportedVerdict::kArriving);
  EXPECT_EQ(JudgeReported(elsewhere, 4, 100, false), ReportedVerdict::kWipeExtra)
      << "whole on three live servers elsewhere";
  elsewhere.live_replicas = 2;
  EXPECT_EQ(JudgeReported(elsewhere, 4, 100, false), ReportedVerdict::kAdopt);
  EXPECT_EQ(JudgeReported(elsewhere, 3, 100, false), ReportedVerdict::kKeepUnplaced)
      << "short of replicas: even a stale copy is kept";
  EXPECT_EQ(JudgeReported(elsewhere, 4, 99, false), ReportedVerdict::kKeepUnplaced);
}

TEST(ReportPlannerTest, AMissingReplicaIsDroppedOnlyWhenItCannotBeOnItsWay) {
  EXPECT_EQ(JudgeMissing(Whole(), false, false, false, false), MissingVerdict::kDrop);
  EXPECT_EQ(JudgeMissing(Whole(), false, false, false, true), MissingVerdict::kWait)
      << "recorded just before the report was built";
  ChunkFacts open = Whole();
  open.stable = false;
  EXPECT_EQ(JudgeMissing(open, false, false, false, false), MissingVerdict::kWait);
  EXPECT_EQ(JudgeMissing(open, false, false, true, true), MissingVerdict::kDrop)
      << "the server's word that it lost the replica needs no grace";
  EXPECT_EQ(JudgeMissing(Whole(), true, true, false, false), MissingVerdict::kWait)
      << "an adopted orphan still in quarantine is released, not dropped";
  EXPECT_EQ(JudgeMissing(Whole(), true, false, false, false), MissingVerdict::kDrop)
      << "a damaged copy in quarantine does not count";
  ChunkFacts deleted = Whole();
  deleted.deleted = true;
  EXPECT_EQ(JudgeMissing(deleted, false, false, false, false), MissingVerdict::kWiped);
  EXPECT_EQ(JudgeMissing(deleted, true, false, false, false), MissingVerdict::kWait)
      << "still held in quarantine: not wiped yet";
}

TEST(ReportPlannerTest, AQuarantinedReplicaIsWipedOnlyWithPositiveKnowledge) {
  const ChunkFacts unknown;
  EXPECT_EQ(JudgeQuarantined(unknown, 1, false, false, false), QuarantineVerdict::kKeep);
  EXPECT_EQ(JudgeQuarantined(unknown, 1, false, false, true), QuarantineVerdict::kWipe)
      << "an orphan whose delay is over";
  EXPECT_EQ(JudgeQuarantined(unknown, 1, true, false, true), QuarantineVerdict::kKeep)
      << "a damaged orphan waits for the operator";
  EXPECT_EQ(JudgeQuarantined(unknown, 1, true, true, false), QuarantineVerdict::kWipe)
      << "the operator's word";
  EXPECT_EQ(JudgeQuarantined(Whole(), 4, false, false, false), QuarantineVerdict::kRelease);
  EXPECT_EQ(JudgeQuarantined(Whole(), 3, false, false, false), QuarantineVerdict::kKeep)
      << "an old version is not released";
  EXPECT_EQ(JudgeQuarantined(Whole(), 4, true, false, false), QuarantineVerdict::kKeep)
      << "a damaged copy may hold the only intact bytes of some blocks";
  ChunkFacts elsewhere = Whole();
  elsewhere.placed_here = false;
  EXPECT_EQ(JudgeQuarantined(elsewhere, 4, true, false, false), QuarantineVerdict::kWipe)
      << "whole on live servers elsewhere";
  elsewhere.live_replicas = 2;
  EXPECT_EQ(JudgeQuarantined(elsewhere, 4, true, false, false), QuarantineVerdict::kKeep);
  ChunkFacts deleted = Whole();
  deleted.deleted = true;
  EXPECT_EQ(JudgeQuarantined(deleted, 4, true, false, false), QuarantineVerdict::kWipe);
}

}  // namespace
}  // namespace ternion::master
