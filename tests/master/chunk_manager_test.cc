#include "master/chunk_manager.h"

#include <gtest/gtest.h>

#include "master/metadata_keys.h"
#include "tests/testutil/fake_clock.h"

namespace ternion::master {
namespace {

class ChunkManagerTest : public ::testing::Test {
 protected:
  ChunkManagerTest() {
    absl::MutexLock lock(&chunks_.mu);
    for (uint32_t i = 0; i < 4; ++i) chunks_.NameServer(i, "cs" + std::to_string(i));
  }

  // An entry of file 7 of project "proj" on servers 0, 1, 2.
  ChunkEntry EntryOnThree() ABSL_EXCLUSIVE_LOCKS_REQUIRED(chunks_.mu) {
    ChunkEntry e;
    e.file_id = 7;
    e.project = chunks_.ProjectOrdinal("proj");
    for (uint32_t s : {0u, 1u, 2u}) e.AddReplica(s);
    return e;
  }

  testing::FakeClock clock_;
  ChunkManager chunks_{&clock_};
};

TEST_F(ChunkManagerTest, AllocationTakesTheNextIdAtVersionOneAndRecordsItAndTheCounter) {
  absl::MutexLock lock(&chunks_.mu);
  chunks_.LoadNextChunkId(41);
  MetadataBatch batch;
  const uint64_t id = chunks_.Allocate(EntryOnThree(), &batch);
  EXPECT_EQ(id, 41u);
  EXPECT_EQ(chunks_.next_chunk_id(), 42u);
  EXPECT_EQ(chunks_.table().at(id).version, 1u);
  EXPECT_EQ(chunks_.table().OnServer(2).count(id), 1u);
  ASSERT_EQ(batch.puts.size(), 2u);
  EXPECT_EQ(batch.puts[0], std::make_pair(std::string(kNextChunkIdKey), std::string("42")));
  EXPECT_EQ(batch.puts[1].first, ChunkKey(41));
  // The record names the project and servers, and loads back into the same entry.
  ternion::v1::ChunkRecord rec;
  ASSERT_TRUE(rec.ParseFromString(batch.puts[1].second));
  EXPECT_EQ(rec.project(), "proj");
  EXPECT_EQ(std::vector<std::string>(rec.replica_servers().begin(), rec.replica_servers().end()),
            (std::vector<std::string>{"cs0", "cs1", "cs2"}));
  ChunkManager reloaded(&clock_);
  absl::MutexLock reloaded_lock(&reloaded.mu);
  reloaded.Load(rec, [](const std::string& s) { return static_cast<uint32_t>(s[2] - '0'); });
  const ChunkEntry& e = reloaded.table().at(41);
  EXPECT_EQ(e.file_id, 7u);
  EXPECT_EQ(e.version, 1u);
  EXPECT_TRUE(e.HasReplica(0) && e.HasReplica(1) && e.HasReplica(2));
}

TEST_F(ChunkManagerTest, TheLastReferenceDeletesAChunkAndOnlyThat) {
  absl::MutexLock lock(&chunks_.mu);
  MetadataBatch batch;
  const uint64_t id = chunks_.Allocate(EntryOnThree(), &batch);
  ASSERT_TRUE(chunks_.AddReferences({id}, &batch).ok());  // a snapshot
  chunks_.DropReference(id, &batch);                      // the file goes: the snapshot keeps it
  EXPECT_FALSE(chunks_.table().at(id).deleted());
  EXPECT_EQ(chunks_.table().at(id).extra_refs, 0u);
  chunks_.DropReference(id, &batch);  // the snapshot goes
  EXPECT_TRUE(chunks_.table().at(id).deleted());
  EXPECT_EQ(chunks_.table().DeletedOnServer(1).count(id), 1u);
  EXPECT_EQ(chunks_.table().DeletedChunks(), 1u);
  chunks_.Erase(id, &batch);  // wiped everywhere
  EXPECT_FALSE(chunks_.table().contains(id));
  EXPECT_EQ(batch.deletes, std::vector<std::string>{ChunkKey(id)});
  EXPECT_TRUE(chunks_.table().Consistent());
}

TEST_F(ChunkManagerTest, ASnapshotTooManyChangesNothing) {
  absl::MutexLock lock(&chunks_.mu);
  MetadataBatch batch;
  const uint64_t a = chunks_.Allocate(EntryOnThree(), &batch);
  ChunkEntry full = EntryOnThree();
  full.extra_refs = UINT16_MAX;
  const uint64_t b = chunks_.Allocate(full, &batch);
  MetadataBatch snapshot;
  EXPECT_EQ(chunks_.AddReferences({a, b}, &snapshot).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(chunks_.table().at(a).extra_refs, 0u);
  EXPECT_TRUE(snapshot.puts.empty());
}

TEST_F(ChunkManagerTest, ReplicaAndVersionChangesAreRememberedForAWhile) {
  absl::MutexLock lock(&chunks_.mu);
  MetadataBatch batch;
  const uint64_t id = chunks_.Allocate(EntryOnThree(), &batch);
  EXPECT_TRUE(chunks_.ReplicasChangedWithin(id, absl::Seconds(5)));
  clock_.Advance(absl::Seconds(10));
  EXPECT_FALSE(chunks_.ReplicasChangedWithin(id, absl::Seconds(5)));
  ChunkEntry e = chunks_.table().at(id);
  e.length = 100;  // a commit: no replica changed
  chunks_.Put(id, e, &batch);
  EXPECT_FALSE(chunks_.ReplicasChangedWithin(id, absl::Seconds(5)));
  e.ReplaceReplica(2, 3);  // a move
  chunks_.Put(id, e, &batch);
  EXPECT_TRUE(chunks_.ReplicasChangedWithin(id, absl::Seconds(5)));
  clock_.Advance(absl::Minutes(2));
  e.version = 2;  // write recovery
  chunks_.Put(id, e, &batch);
  EXPECT_TRUE(chunks_.ReplicasChangedWithin(id, absl::Seconds(5)));
  clock_.Advance(absl::Minutes(2));
  chunks_.PruneReplicaChanges();
  EXPECT_FALSE(chunks_.ReplicasChangedWithin(id, absl::Hours(1)));  // forgotten
}

}  // namespace
}  // namespace ternion::master
