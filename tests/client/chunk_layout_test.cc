#include "client/chunk_layout.h"

#include <gtest/gtest.h>

namespace ternion::client {
namespace {

TEST(ChunkLayoutTest, SplitWithinOneChunk) {
  auto s = SplitRange(10, 20, 100);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0], (ChunkSlice{0, 10, 20, 10}));
}

TEST(ChunkLayoutTest, SplitAcrossChunks) {
  auto s = SplitRange(90, 230, 100);
  ASSERT_EQ(s.size(), 4u);
  EXPECT_EQ(s[0], (ChunkSlice{0, 90, 10, 90}));
  EXPECT_EQ(s[1], (ChunkSlice{1, 0, 100, 100}));
  EXPECT_EQ(s[2], (ChunkSlice{2, 0, 100, 200}));
  EXPECT_EQ(s[3], (ChunkSlice{3, 0, 20, 300}));
}

TEST(ChunkLayoutTest, SplitEmpty) { EXPECT_TRUE(SplitRange(5, 0, 100).empty()); }

TEST(ChunkLayoutTest, FramesStopAtChunkBoundaries) {
  const uint64_t kChunk = 64 << 20, kFrame = 1 << 20;
  EXPECT_EQ(NextFrameLength(0, 10 << 20, kChunk, kFrame), kFrame);
  EXPECT_EQ(NextFrameLength(0, 4096, kChunk, kFrame), 4096u);
  EXPECT_EQ(NextFrameLength(kChunk - 100, 10 << 20, kChunk, kFrame), 100u);
  EXPECT_EQ(NextFrameLength(kChunk, 10 << 20, kChunk, kFrame), kFrame);
  EXPECT_EQ(NextFrameLength(5, 0, kChunk, kFrame), 0u);
}

}  // namespace
}  // namespace ternion::client
