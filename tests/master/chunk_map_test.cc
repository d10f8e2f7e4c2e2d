#include "master/chunk_map.h"

#include <gtest/gtest.h>

#include <vector>

namespace ternion::master {
namespace {

ChunkEntry Entry(std::vector<uint32_t> servers, uint32_t length, bool deleted = false) {
  ChunkEntry e;
  e.length = length;
  e.version = 1;
  for (uint32_t s : servers) e.AddReplica(s);
  if (deleted) e.flags |= ChunkEntry::kDeleted;
  return e;
}

std::vector<uint64_t> Ids(const absl::btree_set<uint64_t>& s) { return {s.begin(), s.end()}; }

// Every change keeps each server's chunk list, its deleted list and the bytes awaiting wipe
// in step with the map.
TEST(ChunkTableTest, ServerListsFollowEveryChange) {
  ChunkTable t;
  t.Put(1, Entry({0, 1, 2}, 100));
  t.Put(2, Entry({1, 2, 3}, 200));
  EXPECT_EQ(Ids(t.OnServer(0)), (std::vector<uint64_t>{1}));
  EXPECT_EQ(Ids(t.OnServer(1)), (std::vector<uint64_t>{1, 2}));
  EXPECT_TRUE(t.OnServer(9).empty());  // a server the map never saw
  t.Put(1, Entry({4, 1, 2}, 100));     // a move from 0 to 4
  EXPECT_TRUE(t.OnServer(0).empty());
  EXPECT_EQ(Ids(t.OnServer(4)), (std::vector<uint64_t>{1}));
  EXPECT_EQ(t.DeletedReplicaBytes(), 0u);
  t.Put(2, Entry({1, 2, 3}, 200, /*deleted=*/true));
  EXPECT_EQ(Ids(t.DeletedOnServer(3)), (std::vector<uint64_t>{2}));
  EXPECT_EQ(t.DeletedReplicaBytes(), 600u);
  t.Put(2, Entry({1, 2}, 200, /*deleted=*/true));  // wiped on 3
  EXPECT_TRUE(t.DeletedOnServer(3).empty());
  EXPECT_TRUE(t.OnServer(3).empty());
  EXPECT_EQ(t.DeletedReplicaBytes(), 400u);
  t.Erase(2);  // wiped everywhere
  EXPECT_EQ(t.DeletedReplicaBytes(), 0u);
  EXPECT_EQ(Ids(t.OnServer(1)), (std::vector<uint64_t>{1}));
  EXPECT_TRUE(t.DeletedOnServer(1).empty());
  EXPECT_EQ(t.size(), 1u);
  // Ordered by id: a sliced scan goes on from where it stopped.
  t.Put(7, Entry({0}, 1));
  t.Put(5, Entry({0}, 1));
  EXPECT_EQ(t.lower_bound(2)->first, 5u);
}

}  // namespace
}  // namespace ternion::master
