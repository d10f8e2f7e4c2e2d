#include "chunkserver/chunk_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/failpoint.h"
#include "tests/testutil/fault_file_system.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"

namespace ternion::chunkserver {
namespace {

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(gen());
  return s;
}

class ChunkStoreTest : public ::testing::Test {
 protected:
  std::vector<std::string> Dirs() { return {dir_.path() + "/d0", dir_.path() + "/d1"}; }
  std::unique_ptr<ChunkStore> OpenStore() {
    auto s = ChunkStore::Open(Dirs());
    EXPECT_TRUE(s.ok()) << s.status();
    return std::move(*s);
  }
  testing::TempDir dir_;
};

TEST_F(ChunkStoreTest, AppendThenReadBack) {
  auto store = OpenStore();
  std::string data = RandomBytes(300000, 1);
  ASSERT_OK_AND_ASSIGN(auto w, store->StartWrite(7, 1, "proj", 1 << 20));
  ASSERT_OK(w->Append(0, data.data(), 100000));
  ASSERT_OK(w->Append(100000, data.data() + 100000, 200000));
  EXPECT_EQ(w->length(), 300000u);
  std::string out;
  ASSERT_OK(store->Read(7, 1, 0, 300000, &out));
  EXPECT_EQ(out, data);
  ASSERT_OK(store->Read(7, 1, 65530, 20, &out));  // straddles a block boundary
  EXPECT_EQ(out, data.substr(65530, 20));
  ASSERT_OK(store->Read(7, 1, 299990, 1000, &out));  // short read at the end
  EXPECT_EQ(out, data.substr(299990));
}

TEST_F(ChunkStoreTest, SmallAppendsExtendThePartialBlockChecksum) {
  auto store = OpenStore();
  std::string data = RandomBytes(70000, 2);
  ASSERT_OK_AND_ASSIGN(auto w, store->StartWrite(8, 1, "proj", 1 << 20));
  for (size_t off = 0; off < data.size(); off += 4096) {
    size_t n = std::min<size_t>(4096, data.size() - off);
    ASSERT_OK(w->Append(off, data.data() + off, n));
  }
  w.reset();
  // Reopen: lengths and checksums come back from the meta file.
  store = OpenStore();
  std::string out;
  ASSERT_OK(store->Read(8, 1, 0, data.size(), &out));
  EXPECT_EQ(out, data);
}

// Appends small enough for their journal record go to the data file through the page cache,
// larger ones with O_DIRECT (rewriting the partial last page whole): interleaved at unaligned
// offsets, every read (O_DIRECT) sees exactly what was appended, before and after a reopen.
TEST_F(ChunkStoreTest, SmallAndLargeAppendsInterleavedReadBackExactly) {
  auto store = OpenStore();
  const std::string data = RandomBytes(600000, 9);
  ASSERT_OK_AND_ASSIGN(auto w, store->StartWrite(9, 1, "proj", 1 << 20));
  size_t off = 0;
  std::string out;
  for (size_t n : {100, 5000, 70000, 3, 4096, 200000, 10, 65536, 65537, 1}) {
    ASSERT_OK(w->Append(off, data.data() + off, n));
    off += n;
    ASSERT_OK(store->Read(9, 1, 0, off, &out));
    ASSERT_TRUE(out == data.substr(0, off)) << "after " << n << " bytes at " << off - n;
  }
  w.reset();
  store = OpenStore();
  ASSERT_OK(store->Read(9, 1, 0, off, &out));
  EXPECT_TRUE(out == data.substr(0, off));
}

TEST_F(ChunkStoreTest, SurvivesReopenAndContinuesAppending) {
  std::string data = RandomBytes(200000, 3);
  {
    auto store = OpenStore();
    ASSERT_OK_AND_ASSIGN(auto w, store->StartWrite(9, 4, "p", 1 << 20));
    ASSERT_OK(w->Append(0, data.data(), 150000));
  }
  auto store = OpenStore();
  ASSERT_OK_AND_ASSIGN(ReplicaInfo info, store->GetReplica(9));
  EXPECT_EQ(info.version, 4u);
  EXPECT_EQ(info.length, 150000u);
  EXPECT_EQ(info.project, "p");
  ASSERT_OK_AND_ASSIGN(auto w, store->StartWrite(9, 4, "p", 1 << 20));
  ASSERT_OK(w->Append(150000, data.data() + 150000, 50000));
  std::string out;
  ASSERT_OK(store->Read(9, 4, 0, data.size(), &out));
  EXPECT_EQ(out, data);
}

TEST_F(ChunkStoreTest, RefusesBadAppends) {
  auto store = OpenStore();
  ASSERT_OK_AND_ASSIGN(auto w, store->StartWrite(10, 1, "p", 100000));
  ASSERT_OK(w->Append(0, "abc", 3));
  EXPECT_EQ(w->Append(10, "x", 1).code(), absl::StatusCode::kFailedPrecondition);  // a gap
  EXPECT_EQ(w->Append(0, "x", 1).code(), absl::StatusCode::kFailedPrecondition);   // rewrite
  std::string big(100000, 'z');
  EXPECT_EQ(w->Append(3, big.data(), big.size()).code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(w->length(), 3u);
  // One writer at a time; other versions and projects are refused.
  EXPECT_EQ(store->StartWrite(10, 1, "p", 100000).status().code(), absl::StatusCode::kAborted);
  w.reset();
  EXPECT_EQ(store->StartWrite(10, 2, "p", 100000).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store->StartWrite(10, 1, "other", 100000).status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(ChunkStoreTest, ReadErrors) {
  auto store = OpenStore();
  std::string out;
  EXPECT_EQ(store->Read(99, 1, 0, 10, &out).code(), absl::StatusCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(auto w, store->StartWrite(11, 1, "p", 1 << 20));
  ASSERT_OK(w->Append(0, "hello", 5));
  EXPECT_EQ(store->Read(11, 2, 0, 5, &out).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store->Read(11, 1, 6, 5, &out).code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(store->Read(11, 1, UINT64_MAX, 5, &out).code(), absl::StatusCode::kOutOfRange);
  ASSERT_OK(store->Read(11, 1, 5, 5, &out));
  EXPECT_TRUE(out.empty());
}

TEST_F(ChunkStoreTest, CorruptionIsDataLoss) {
  auto store = OpenStore();
  std::string data = RandomBytes(200000, 4);
  ASSERT_OK_AND_ASSIGN(auto w, store->StartWrite(12, 1, "p", 1 << 20));
  ASSERT_OK(w->Append(0, data.data(), data.size()));
  ASSERT_OK_AND_ASSIGN(ReplicaInfo info, store->GetReplica(12));
  std::string path = absl::StrFormat("%s/chunks/p/%016x.data", info.disk, 12);
  int fd = ::open(path.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::pwrite(fd, "X", 1, 70000), 1);  // inside block 1
  ::close(fd);
  std::string out;
  EXPECT_EQ(store->Read(12, 1, 0, data.size(), &out).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(store->Read(12, 1, 65536, 10, &out).code(), absl::StatusCode::kDataLoss);
  ASSERT_OK(store->Read(12, 1, 0, 65536, &out));  // block 0 is intact
  EXPECT_EQ(out, data.substr(0, 65536));
}

TEST_F(ChunkStoreTest, ListsReplicasAndDisks) {
  auto store = OpenStore();
  for (uint64_t id = 1; id <= 4; ++id) {
    ASSERT_OK_AND_ASSIGN(auto w, store->StartWrite(id, 1, "p", 1 << 20));
    ASSERT_OK(w->Append(0, "x", 1));
  }
  EXPECT_EQ(store->ListReplicas().size(), 4u);
  auto disks = store->Disks();
  ASSERT_EQ(disks.size(), 2u);
  EXPECT_FALSE(disks[0].failed);
  EXPECT_GT(disks[0].capacity_bytes, 0u);
}

TEST_F(ChunkStoreTest, UnusableDirectoryIsMarkedFailed) {
  std::string file = dir_.path() + "/not-a-dir";
  ASSERT_EQ(::close(::open(file.c_str(), O_CREAT | O_WRONLY, 0644)), 0);
  ASSERT_OK_AND_ASSIGN(auto store, ChunkStore::Open({dir_.path() + "/ok", file + "/sub"}));
  auto disks = store->Disks();
  EXPECT_FALSE(disks[0].failed);
  EXPECT_TRUE(disks[1].failed);
  EXPECT_FALSE(ChunkStore::Open({file + "/sub"}).ok());
}

TEST_F(ChunkStoreTest, UpdateReplicaMovesTheVersionAndCutsDurably) {
  const std::string data = RandomBytes(200000, 31);
  {
    auto store = OpenStore();
    ASSERT_OK_AND_ASSIGN(auto w, store->StartWrite(40, 1, "proj", 1 << 20));
    ASSERT_OK(w->Append(0, data.data(), data.size()));
    // Not while it is being written.
    EXPECT_EQ(store->UpdateReplica(40, 1, 2, 100000).code(), absl::StatusCode::kAborted);
    w.reset();
    EXPECT_EQ(store->UpdateReplica(40, 2, 3, 100000).code(),
              absl::StatusCode::kFailedPrecondition);  // wrong current version
    EXPECT_EQ(store->UpdateReplica(40, 1, 2, 300000).code(), absl::StatusCode::kOutOfRange);
    ASSERT_OK(store->UpdateReplica(40, 1, 2, 100001));  // mid-block: its checksum is redone
  }
  auto store = OpenStore();  // as after a restart
  ASSERT_OK_AND_ASSIGN(ReplicaInfo info, store->GetReplica(40));
  EXPECT_EQ(info.version, 2u);
  EXPECT_EQ(info.length, 100001u);
  std::string out;
  ASSERT_OK(store->Read(40, 2, 0, 1 << 20, &out));
  EXPECT_EQ(out, data.substr(0, 100001));
  EXPECT_EQ(store->Read(40, 1, 0, 10, &out).code(), absl::StatusCode::kFailedPrecondition);
  // Appending goes on from the cut at the new version.
  ASSERT_OK_AND_ASSIGN(auto w, store->StartWrite(40, 2, "proj", 1 << 20));
  ASSERT_OK(w->Append(100001, data.data() + 100001, 99999));
  ASSERT_OK(store->Read(40, 2, 0, 1 << 20, &out));
  EXPECT_EQ(out, data);
}

TEST_F(ChunkStoreTest, CorruptAndFailedDiskReplicasAreQueuedAsLost) {
  auto store = OpenStore();
  for (uint64_t id = 50; id < 56; ++id) {
    ASSERT_OK_AND_ASSIGN(auto w, store->StartWrite(id, 1, "proj", 1 << 20));
    ASSERT_OK(w->Append(0, "abcdef", 6));
  }
  // One byte of chunk 50 flips on disk.
  {
    ASSERT_OK_AND_ASSIGN(ReplicaInfo info, store->GetReplica(50));
    const std::string path =
        absl::StrFormat("%s/chunks/proj/%016x.data", info.disk, uint64_t{50});
    int fd = ::open(path.c_str(), O_WRONLY);
    ASSERT_EQ(::pwrite(fd, "X", 1, 2), 1);
    ::close(fd);
  }
  store->QuarantineCorrupt(51);  // intact: a read error that does not recur keeps it
  EXPECT_TRUE(store->GetReplica(51).ok());
  store->QuarantineCorrupt(50);
  EXPECT_FALSE(store->GetReplica(50).ok());
  ASSERT_EQ(store->ListQuarantined().size(), 1u);
  EXPECT_EQ(store->ListQuarantined()[0].bad_blocks, std::vector<uint32_t>{0});
  // A disk's chunks directory vanishes: every replica on it is lost, the others stay.
  ASSERT_OK_AND_ASSIGN(ReplicaInfo on, store->GetReplica(51));
  std::filesystem::rename(on.disk + "/chunks", on.disk + "/gone");
  store->CheckDisks();
  LostReplicas lost = store->TakeLost();
  EXPECT_EQ(lost.corrupt, std::vector<uint64_t>{50});
  EXPECT_FALSE(lost.failed_disk.empty());
  for (uint64_t id : lost.failed_disk) {
    EXPECT_FALSE(store->GetReplica(id).ok());
    ASSERT_NE(id, 50u);
  }
  EXPECT_EQ(lost.failed_disk.size() + 1 + store->ListReplicas().size(), 6u);
  EXPECT_TRUE(store->TakeLost().failed_disk.empty());  // taken once
}

// Quarantine sets a replica aside without destroying it: not served, not written, listed with
// its bad blocks, surviving a restart, and either released or wiped on the master's word.
TEST_F(ChunkStoreTest, QuarantinedReplicasAreKeptAsideUntilReleasedOrWiped) {
  const std::string data = RandomBytes(200000, 9);
  {
    auto store = OpenStore();
    for (uint64_t id : {60, 61}) {
      ASSERT_OK_AND_ASSIGN(auto w, store->StartWrite(id, 3, "proj", 1 << 20));
      ASSERT_OK(w->Append(0, data.data(), data.size()));
    }
    {
      ASSERT_OK_AND_ASSIGN(auto w, store->StartWrite(61, 3, "proj", 1 << 20));
      EXPECT_EQ(store->Quarantine(61).code(), absl::StatusCode::kFailedPrecondition);  // writing
    }
    ASSERT_OK(store->Quarantine(60));
    ASSERT_OK(store->Quarantine(61));
    EXPECT_EQ(store->Quarantine(62).code(), absl::StatusCode::kNotFound);
    std::string out;
    EXPECT_EQ(store->Read(60, 3, 0, 10, &out).code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(store->StartWrite(60, 3, "proj", 1 << 20).status().code(),
              absl::StatusCode::kFailedPrecondition);
    EXPECT_TRUE(store->ListReplicas().empty());
    ASSERT_OK_AND_ASSIGN(auto reader, store->OpenQuarantined(60));
    ASSERT_OK(reader->Read(0, data.size(), &out));
    EXPECT_EQ(out, data);  // what salvage reads
  }
  // A crash cut a move short: the data file went into quarantine, its meta did not.
  {
    auto store = OpenStore();
    EXPECT_EQ(store->ListQuarantined().size(), 2u);
    ASSERT_OK(store->Release(61));
    ReplicaInfo info;
    for (const QuarantinedReplica& q : store->ListQuarantined()) info = q.info;
    ASSERT_EQ(info.chunk_id, 60u);
    std::filesystem::rename(absl::StrFormat("%s/quarantine/proj/%016x.meta", info.disk, 60),
                            absl::StrFormat("%s/chunks/proj/%016x.meta", info.disk, 60));
  }
  auto store = OpenStore();
  ASSERT_EQ(store->ListQuarantined().size(), 1u);  // the move of 60 is finished
  EXPECT_EQ(store->ListQuarantined()[0].info.chunk_id, 60u);
  EXPECT_TRUE(store->ListQuarantined()[0].bad_blocks.empty());
  std::string out;
  ASSERT_OK(store->Read(61, 3, 0, data.size(), &out));  // released: served again
  EXPECT_EQ(out, data);
  ASSERT_OK_AND_ASSIGN(uint64_t wiped, store->Delete(60, ChunkStore::kAnyVersion));
  EXPECT_GE(wiped, data.size());
  EXPECT_TRUE(store->ListQuarantined().empty());
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir_.path())) {
    EXPECT_EQ(e.path().string().find("000000000000003c"), std::string::npos) << e.path();
  }
}

// Faults at the durability edges (named failpoints): an append that fails before its journal
// record is durable is never served, a wipe that fails is not done and not forgotten, and a
// wipe cut short after its journal is finished at the next open.
class ChunkStoreFaultTest : public ChunkStoreTest {
 protected:
  void TearDown() override { DisarmFailpoints(); }
};

TEST_F(ChunkStoreFaultTest, AnAppendThatFailsBeforeItIsDurableIsNeverServed) {
  const std::string data = RandomBytes(200000, 11);
  uint64_t id = 70;
  // Large appends (data file synced, then journaled) and small ones (journaled whole).
  for (size_t n : {size_t{100000}, size_t{4096}}) {
    for (const char* edge : {"chunk_store.sync.before_data_sync",
                             "chunk_store.sync.after_data_sync", "journal.commit.before_sync",
                             "journal.commit.after_sync", "chunk_store.sync.after_journal_sync"}) {
      SCOPED_TRACE(absl::StrCat(edge, " ", n));
      ++id;
      {
        auto store = OpenStore();
        ASSERT_OK_AND_ASSIGN(auto w, store->StartWrite(id, 1, "proj", 1 << 20));
        ASSERT_OK(w->Append(0, data.data(), n));
        ASSERT_OK(ArmFailpoints(absl::StrCat(edge, "=eio")));
        EXPECT_FALSE(w->Append(n, data.data() + n, n).ok());
        DisarmFailpoints();
        EXPECT_EQ(w->length(), n);                            // the failed append is not visible
        EXPECT_FALSE(w->Append(n, data.data() + n, n).ok());  // the writer is done
        std::string out;
        ASSERT_OK(store->Read(id, 1, 0, 1 << 20, &out));
        EXPECT_EQ(out, data.substr(0, n));
      }
      auto store = OpenStore();  // as after a crash at that edge
      ASSERT_OK_AND_ASSIGN(ReplicaInfo info, store->GetReplica(id));
      // Before its journal record is written the old length stands; once it is written (even
      // if its sync "failed": the bytes may reach the disk anyway) the new one may: either way
      // every byte served is a byte written.
      std::string out;
      ASSERT_OK(store->Read(id, 1, 0, 1 << 20, &out));
      EXPECT_EQ(out, data.substr(0, info.length));
      if (absl::StrContains(edge, "data_sync")) EXPECT_EQ(info.length, n);
    }
  }
}

// The journal is the only sync of a small append: a store that dies before its applier has
// brought the meta files up to date gets every acknowledged byte back from the journal.
TEST_F(ChunkStoreFaultTest, AcknowledgedAppendsSurviveACrashBeforeOrDuringTheirApply) {
  const std::string data = RandomBytes(300000, 12);
  for (const char* edge : {"journal.apply.after_apply", "journal.apply.after_header"}) {
    SCOPED_TRACE(edge);
    const uint64_t id = std::string(edge) == "journal.apply.after_apply" ? 120 : 121;
    {
      auto store = OpenStore();
      ASSERT_OK_AND_ASSIGN(auto w, store->StartWrite(id, 1, "proj", 1 << 20));
      // Small appends straddling blocks, and a large one.
      size_t off = 0;
      for (; off < 150000; off += 5000) ASSERT_OK(w->Append(off, data.data() + off, 5000));
      ASSERT_OK(w->Append(off, data.data() + off, data.size() - off));
      ASSERT_OK(ArmFailpoints(absl::StrCat(edge, "=eio")));
      w.reset();
      // The applier's round fails at the edge; the process "dies" with the failpoint armed.
    }
    DisarmFailpoints();
    auto store = OpenStore();
    ASSERT_OK_AND_ASSIGN(ReplicaInfo info, store->GetReplica(id));
    EXPECT_EQ(info.length, data.size());
    std::string out;
    ASSERT_OK(store->Read(id, 1, 0, 1 << 20, &out));
    EXPECT_EQ(out, data);
    // The meta file alone now holds it all: a second restart needs no journal.
    store.reset();
    store = OpenStore();
    ASSERT_OK(store->Read(id, 1, 0, 1 << 20, &out));
    EXPECT_EQ(out, data);
  }
}

// Deleting a replica wipes its journaled bytes too, not only its files.
TEST_F(ChunkStoreFaultTest, DeletingAReplicaLeavesNoneOfItsBytesInTheJournal) {
  auto store = OpenStore();
  std::string secret;
  while (secret.size() < 40000) secret += "JOURNALED-SECRET|";
  ASSERT_OK_AND_ASSIGN(auto w, store->StartWrite(130, 1, "proj", 1 << 20));
  for (size_t off = 0; off < secret.size(); off += 4000) {
    ASSERT_OK(w->Append(off, secret.data() + off, std::min<size_t>(4000, secret.size() - off)));
  }
  w.reset();
  ASSERT_OK(store->Delete(130, ChunkStore::kAnyVersion).status());
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir_.path())) {
    if (!e.is_regular_file()) continue;
    std::ifstream in(e.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), {});
    EXPECT_EQ(bytes.find("JOURNALED-SECRET"), std::string::npos) << e.path();
  }
}

TEST_F(ChunkStoreFaultTest, AShortOrFailedDataWriteIsNeverServed) {
  const std::string data = RandomBytes(300000, 13);
  uint64_t id = 80;
  for (const char* action : {"short", "eio", "enospc"}) {
    SCOPED_TRACE(action);
    ++id;
    {
      auto store = OpenStore();
      ASSERT_OK_AND_ASSIGN(auto w, store->StartWrite(id, 1, "proj", 1 << 20));
      ASSERT_OK(w->Append(0, data.data(), 100000));
      ASSERT_OK(ArmFailpoints(absl::StrCat("chunk_store.write_data=", action)));
      absl::Status s = w->Append(100000, data.data() + 100000, 200000);
      DisarmFailpoints();
      EXPECT_FALSE(s.ok());
      if (std::string(action) == "enospc") {
        EXPECT_TRUE(absl::IsResourceExhausted(s)) << s;
      }
      EXPECT_EQ(w->length(), 100000u);
    }
    auto store = OpenStore();
    ASSERT_OK_AND_ASSIGN(ReplicaInfo info, store->GetReplica(id));
    EXPECT_EQ(info.length, 100000u);
    std::string out;
    ASSERT_OK(store->Read(id, 1, 0, 1 << 20, &out));
    EXPECT_EQ(out, data.substr(0, 100000));
    // Appending goes on from the durable length, over whatever the failed write left.
    ASSERT_OK_AND_ASSIGN(auto w, store->StartWrite(id, 1, "proj", 1 << 20));
    ASSERT_OK(w->Append(100000, data.data() + 100000, 200000));
    ASSERT_OK(store->Read(id, 1, 0, 1 << 20, &out));
    EXPECT_EQ(out, data);
  }
}

// A wipe order names the version the master judged. Write recovery may have moved the replica
// to a newer version since (the order was built from a report made before the move): that is
// not the replica the master meant, and it keeps every byte.
TEST_F(ChunkStoreTest, AWipeJudgedAtAnOlderVersionSparesAReplicaMovedSince) {
  auto store = OpenStore();
  const std::string data = RandomBytes(200000, 21);
  {
    ASSERT_OK_AND_ASSIGN(auto w, store->StartWrite(140, 1, "proj", 1 << 20));
    ASSERT_OK(w->Append(0, data.data(), data.size()));
  }
  ASSERT_OK(store->UpdateReplica(140, 1, 2, data.size()));
  store->RefuseReads(140);  // as the chunkserver does when the order arrives
  absl::StatusOr<uint64_t> refused = store->Delete(140, 1);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kAborted) << refused.status();
  std::string out;
  ASSERT_OK(store->Read(140, 2, 0, 1 << 20, &out));  // served again, whole
  EXPECT_EQ(out, data);
  ASSERT_OK_AND_ASSIGN(ReplicaInfo info, store->GetReplica(140));
  EXPECT_EQ(info.version, 2u);
  // An order judged at its version wipes it, and from then on it moves no more.
  ASSERT_OK_AND_ASSIGN(uint64_t wiped, store->Delete(140, 2));
  EXPECT_GE(wiped, data.size());
  EXPECT_EQ(store->UpdateReplica(140, 2, 3, 0).code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(store->ListReplicas().empty());
}

TEST_F(ChunkStoreFaultTest, AFailedWipeIsRetriedAndTheReplicaStaysKnownUntilItSucceeds) {
  auto store = OpenStore();
  const std::string marker(300000, 'M');
  {
    ASSERT_OK_AND_ASSIGN(auto w, store->StartWrite(90, 1, "proj", 1 << 20));
    ASSERT_OK(w->Append(0, marker.data(), marker.size()));
  }
  ASSERT_OK(ArmFailpoints("wipe.overwrite=eio*2"));
  for (int attempt = 0; attempt < 2; ++attempt) {
    EXPECT_EQ(store->Delete(90, ChunkStore::kAnyVersion).status().code(),
              absl::StatusCode::kInternal);
    // Not wiped, so not forgotten: still listed (reported to the master), still refused.
    EXPECT_EQ(store->ListReplicas().size(), 1u);
    std::string out;
    EXPECT_EQ(store->Read(90, 1, 0, 10, &out).code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(store->StartWrite(90, 1, "proj", 1 << 20).status().code(),
              absl::StatusCode::kFailedPrecondition);
  }
  ASSERT_OK_AND_ASSIGN(uint64_t wiped,
                       store->Delete(90, ChunkStore::kAnyVersion));  // the third try succeeds
  EXPECT_GE(wiped, marker.size());
  EXPECT_TRUE(store->ListReplicas().empty());
  EXPECT_EQ(store->Delete(90, ChunkStore::kAnyVersion).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(ChunkStoreFaultTest, AWipeCutShortAfterItsJournalIsFinishedAtTheNextOpen) {
  for (const char* edge : {"wipe.after_journal", "wipe.after_overwrite"}) {
    SCOPED_TRACE(edge);
    const std::string marker = absl::StrCat("WIPE-MARKER-", edge, std::string(70000, 'W'));
    {
      auto store = OpenStore();
      {
        ASSERT_OK_AND_ASSIGN(auto w, store->StartWrite(91, 1, "proj", 1 << 20));
        ASSERT_OK(w->Append(0, marker.data(), marker.size()));
      }
      ASSERT_OK(ArmFailpoints(absl::StrCat(edge, "=eio")));
      EXPECT_FALSE(store->Delete(91, ChunkStore::kAnyVersion).ok());
      DisarmFailpoints();
    }
    auto store = OpenStore();  // the journal finishes the wipe before anything is loaded
    EXPECT_EQ(store->GetReplica(91).status().code(), absl::StatusCode::kNotFound);
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir_.path())) {
      EXPECT_EQ(e.path().string().find("000000000000005b"), std::string::npos) << e.path();
      if (e.is_directory()) {
        EXPECT_FALSE(e.path().filename() == "wipe" && !std::filesystem::is_empty(e.path()))
            << "a journal entry is left in " << e.path();
      }
    }
  }
}

TEST_F(ChunkStoreFaultTest, AReplicaCutShortAfterItsNewLengthIsDurableServesOnlyThatLength) {
  const std::string data = RandomBytes(300000, 16);
  {
    auto store = OpenStore();
    {
      ASSERT_OK_AND_ASSIGN(auto w, store->StartWrite(94, 1, "proj", 1 << 20));
      ASSERT_OK(w->Append(0, data.data(), data.size()));
    }
    ASSERT_OK(ArmFailpoints("chunk_store.update.after_meta_sync=eio"));
    EXPECT_FALSE(store->UpdateReplica(94, 1, 2, 100001).ok());  // dies before the data is cut
    DisarmFailpoints();
  }
  auto store = OpenStore();  // the new version and length are durable: they count
  ASSERT_OK_AND_ASSIGN(ReplicaInfo info, store->GetReplica(94));
  EXPECT_EQ(info.version, 2u);
  EXPECT_EQ(info.length, 100001u);
  std::string out;
  ASSERT_OK(store->Read(94, 2, 0, 1 << 20, &out));
  EXPECT_EQ(out, data.substr(0, 100001));
  // Appending goes on from the cut, over the bytes left past it.
  ASSERT_OK_AND_ASSIGN(auto w, store->StartWrite(94, 2, "proj", 1 << 20));
  ASSERT_OK(w->Append(100001, "tail", 4));
  ASSERT_OK(store->Read(94, 2, 0, 1 << 20, &out));
  EXPECT_EQ(out, data.substr(0, 100001) + "tail");
}

TEST_F(ChunkStoreFaultTest, AMoveIntoQuarantineCutShortIsFinishedAtTheNextOpen) {
  const std::string data = RandomBytes(100000, 12);
  {
    auto store = OpenStore();
    {
      ASSERT_OK_AND_ASSIGN(auto w, store->StartWrite(92, 1, "proj", 1 << 20));
      ASSERT_OK(w->Append(0, data.data(), data.size()));
    }
    ASSERT_OK(ArmFailpoints("chunk_store.move.after_data_rename=eio"));
    EXPECT_FALSE(store->Quarantine(92).ok());  // rolled back: still served
    DisarmFailpoints();
    std::string out;
    ASSERT_OK(store->Read(92, 1, 0, 1 << 20, &out));
    EXPECT_EQ(out, data);
  }
  auto store = OpenStore();
  std::string out;
  ASSERT_OK(store->Read(92, 1, 0, 1 << 20, &out));
  EXPECT_EQ(out, data);
}

TEST_F(ChunkStoreTest, AReplicaDamagedAtLoadIsKeptUnservedUntilWiped) {
  const std::string data(100000, 'D');
  std::string meta;
  {
    auto store = OpenStore();
    ASSERT_OK_AND_ASSIGN(auto w, store->StartWrite(93, 1, "proj", 1 << 20));
    ASSERT_OK(w->Append(0, data.data(), data.size()));
    meta = absl::StrFormat("%s/chunks/proj/%016x.meta", store->GetReplica(93)->disk, 93);
  }
  std::filesystem::resize_file(meta, 10);  // its header is gone
  auto store = OpenStore();
  EXPECT_EQ(store->GetReplica(93).status().code(), absl::StatusCode::kNotFound);
  ASSERT_EQ(store->ListDamaged().size(), 1u);
  EXPECT_EQ(store->ListDamaged()[0].chunk_id, 93u);
  EXPECT_TRUE(std::filesystem::exists(meta));  // not destroyed on its own
  ASSERT_OK_AND_ASSIGN(uint64_t wiped, store->Delete(93, ChunkStore::kAnyVersion));
  EXPECT_GE(wiped, data.size());
  EXPECT_TRUE(store->ListDamaged().empty());
  EXPECT_FALSE(std::filesystem::exists(meta));
}

// A copy into a new replica is nobody's replica until it is whole: a write recovery's writer
// places the replica before copying, and a partial copy counted among the replicas would pull
// the chunk's visible length below what was acknowledged. A copy a crash cut short stays that
// way after a restart: kept unserved with the damaged replicas until the master says wipe.
TEST_F(ChunkStoreTest, AnUnfinishedCopyIsNobodysReplicaEvenAfterARestart) {
  const std::string data = RandomBytes(300000, 41);
  std::string marker;
  {
    auto store = OpenStore();
    ASSERT_OK_AND_ASSIGN(auto w, store->StartCopy(150, 3, "proj", 1 << 20));
    ASSERT_OK(w->Write(0, data.data(), 200000));
    ASSERT_OK(w->Sync());  // a durable prefix, as a copy syncs every 8 MiB
    EXPECT_EQ(store->GetReplica(150).status().code(), absl::StatusCode::kNotFound);
    EXPECT_TRUE(store->ListReplicas().empty()) << "not reported";
    std::string out;
    EXPECT_EQ(store->Read(150, 3, 0, 10, &out).code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(store->UpdateReplica(150, 3, 4, 0).code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(store->StartCopy(150, 3, "proj", 1 << 20).status().code(),
              absl::StatusCode::kAlreadyExists);
    for (const std::string& d : Dirs()) {
      const std::string m = absl::StrFormat("%s/chunks/proj/%016x.copying", d, 150);
      if (std::filesystem::exists(m)) marker = m;
    }
    ASSERT_FALSE(marker.empty());
  }  // the server stops before the copy ends
  auto store = OpenStore();
  EXPECT_EQ(store->GetReplica(150).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(store->ListReplicas().empty());
  ASSERT_EQ(store->ListDamaged().size(), 1u);
  EXPECT_EQ(store->ListDamaged()[0].chunk_id, 150u);
  EXPECT_EQ(store->StartWrite(150, 3, "proj", 1 << 20).status().code(),
            absl::StatusCode::kFailedPrecondition)
      << "a new replica would take the kept one's files";
  ASSERT_OK_AND_ASSIGN(uint64_t wiped, store->Delete(150, ChunkStore::kAnyVersion));
  EXPECT_GE(wiped, 200000u);
  EXPECT_FALSE(std::filesystem::exists(marker));
  store.reset();
  store = OpenStore();
  EXPECT_TRUE(store->ListDamaged().empty());
  // A finished copy is an ordinary replica, before and after a restart.
  {
    ASSERT_OK_AND_ASSIGN(auto w, store->StartCopy(150, 4, "proj", 1 << 20));
    ASSERT_OK(w->Write(0, data.data(), data.size()));
    ASSERT_OK(w->Sync());
  }
  ASSERT_OK(store->FinishCopy(150));
  EXPECT_FALSE(std::filesystem::exists(marker));
  for (int restart = 0; restart < 2; ++restart) {
    ASSERT_OK_AND_ASSIGN(ReplicaInfo info, store->GetReplica(150));
    EXPECT_EQ(info.version, 4u);
    EXPECT_EQ(info.length, data.size());
    std::string out;
    ASSERT_OK(store->Read(150, 4, 0, 1 << 20, &out));
    EXPECT_EQ(out, data);
    store.reset();
    store = OpenStore();
  }
}

// The same edges through the file-system seam: the store does every I/O through the
// FileSystem it is given, so a fault-injecting one fails exactly the operation a test names.
class ChunkStoreFileSystemTest : public ChunkStoreTest {
 protected:
  std::unique_ptr<ChunkStore> OpenFaulty() {
    auto s = ChunkStore::Open(Dirs(), &fs_);
    EXPECT_TRUE(s.ok()) << s.status();
    return std::move(*s);
  }
  testing::FaultFileSystem fs_;
};

TEST_F(ChunkStoreFileSystemTest, FailedSyncsAndFullDisksLeaveNothingVisible) {
  const std::string data = RandomBytes(200000, 14);
  auto store = OpenFaulty();
  ASSERT_OK_AND_ASSIGN(auto w, store->StartWrite(100, 1, "proj", 1 << 20));
  ASSERT_OK(w->Append(0, data.data(), 100000));
  fs_.Inject(testing::FaultFileSystem::kSync, "/journal", absl::InternalError("EIO"));
  EXPECT_FALSE(w->Append(100000, data.data() + 100000, 100000).ok());
  EXPECT_EQ(fs_.hits(), 1);
  EXPECT_EQ(w->length(), 100000u);
  w.reset();
  ASSERT_OK_AND_ASSIGN(auto w2, store->StartWrite(101, 1, "proj", 1 << 20));
  fs_.Inject(testing::FaultFileSystem::kWrite, ".data", absl::ResourceExhaustedError("ENOSPC"));
  EXPECT_EQ(w2->Append(0, data.data(), 5000).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(w2->length(), 0u);
  w2.reset();
  store.reset();
  // Until a restart the failed append is not visible. After one, the journal record whose sync
  // "failed" may have reached the disk after all (as after a real fsync error): the replica then
  // holds the unacknowledged append too, but only bytes that were written there.
  auto reopened = OpenFaulty();
  std::string out;
  ASSERT_OK(reopened->Read(100, 1, 0, 1 << 20, &out));
  EXPECT_TRUE(out == data.substr(0, 100000) || out == data) << out.size();
  ASSERT_OK_AND_ASSIGN(ReplicaInfo empty, reopened->GetReplica(101));
  EXPECT_EQ(empty.length, 0u);
}

TEST_F(ChunkStoreFileSystemTest, ShortWritesAreFinishedOrRefused) {
  const std::string data = RandomBytes(150000, 15);
  auto store = OpenFaulty();
  ASSERT_OK_AND_ASSIGN(auto w, store->StartWrite(102, 1, "proj", 1 << 20));
  // Journal writes are plain pwrites: a short one is continued where it stopped.
  fs_.Inject(testing::FaultFileSystem::kWrite, "/journal", absl::OkStatus(), 3);
  ASSERT_OK(w->Append(0, data.data(), 50000));
  // An O_DIRECT data write that comes back short fails the append: nothing of it is visible.
  fs_.Inject(testing::FaultFileSystem::kWrite, ".data", absl::OkStatus());
  absl::Status s = w->Append(50000, data.data() + 50000, 100000);
  EXPECT_GE(fs_.hits(), 3);
  w.reset();
  std::string out;
  ASSERT_OK(store->Read(102, 1, 0, 1 << 20, &out));
  EXPECT_EQ(out, data.substr(0, s.ok() ? data.size() : 50000)) << s;
}

TEST_F(ChunkStoreFileSystemTest, AWipeWhoseUnlinkFailsIsNotDoneAndNotForgotten) {
  auto store = OpenFaulty();
  {
    ASSERT_OK_AND_ASSIGN(auto w, store->StartWrite(103, 1, "proj", 1 << 20));
    ASSERT_OK(w->Append(0, "secret", 6));
  }
  fs_.Inject(testing::FaultFileSystem::kUnlink, ".data", absl::InternalError("EIO"));
  EXPECT_FALSE(store->Delete(103, ChunkStore::kAnyVersion).ok());
  EXPECT_EQ(store->ListReplicas().size(), 1u);  // still known, still refused
  ASSERT_OK(store->Delete(103, ChunkStore::kAnyVersion).status());
  EXPECT_TRUE(store->ListReplicas().empty());
  // A quarantine whose second rename fails is rolled back: the replica is served again.
  {
    ASSERT_OK_AND_ASSIGN(auto w, store->StartWrite(104, 1, "proj", 1 << 20));
    ASSERT_OK(w->Append(0, "kept", 4));
  }
  fs_.Inject(testing::FaultFileSystem::kRename, ".meta", absl::InternalError("EIO"));
  EXPECT_FALSE(store->Quarantine(104).ok());
  std::string out;
  ASSERT_OK(store->Read(104, 1, 0, 10, &out));
  EXPECT_EQ(out, "kept");
}

}  // namespace
}  // namespace ternion::chunkserver
