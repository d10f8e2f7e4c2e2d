#include "master/chunk_health_report.h"

#include <gtest/gtest.h>

namespace ternion::master {
namespace {

TEST(ChunkHealthReportTest, EachChunkCountsOnceByItsWorstProblemAndRackSafetyApart) {
  ChunkHealth h;
  CountChunk(1, 3, 3, 3, true, false, &h);   // healthy
  CountChunk(2, 3, 2, 3, false, false, &h);  // under-replicated (and so not rack-safe)
  CountChunk(3, 3, 0, 3, true, false, &h);   // lost
  CountChunk(4, 2, 0, 3, false, true, &h);   // only damaged copies left: corrupt, not lost
  CountChunk(5, 3, 3, 3, false, false, &h);  // whole, two replicas in one rack
  EXPECT_EQ(h.total, 5u);
  EXPECT_EQ(h.replicas, 14u);
  EXPECT_EQ(h.under_replicated, 1u);
  EXPECT_EQ(h.lost, 1u);
  EXPECT_EQ(h.corrupt, 1u);
  EXPECT_EQ(h.rack_unsafe, 3u);
  EXPECT_EQ(h.examples.under_replicated, std::vector<uint64_t>{2});
  EXPECT_EQ(h.examples.lost, std::vector<uint64_t>{3});
  EXPECT_EQ(h.examples.corrupt, std::vector<uint64_t>{4});
  EXPECT_EQ(h.examples.rack_unsafe, (std::vector<uint64_t>{2, 4, 5}));
}

TEST(ChunkHealthReportTest, OnlyTheFirstFiveChunksOfAProblemAreExamples) {
  ChunkHealth h;
  for (uint64_t id = 1; id <= 8; ++id) CountChunk(id, 3, 0, 3, true, false, &h);
  EXPECT_EQ(h.lost, 8u);
  EXPECT_EQ(h.examples.lost, (std::vector<uint64_t>{1, 2, 3, 4, 5}));
}

TEST(ChunkHealthReportTest, FreshWalksAfterTheAskLatestNeverWalks) {
  int walks = 0;
  ChunkHealthReport report([&] {
    ChunkHealth h;
    h.total = ++walks;
    return h;
  });
  EXPECT_EQ(report.Latest().total, 0u) << "no walk yet";
  EXPECT_EQ(walks, 0);
  EXPECT_EQ(report.Fresh().total, 1u);
  EXPECT_EQ(report.Fresh().total, 2u) << "the first walk started before this ask";
  EXPECT_EQ(report.Latest().total, 2u);
  EXPECT_EQ(report.Latest().total, 2u);
  EXPECT_EQ(walks, 2);
}

}  // namespace
}  // namespace ternion::master
