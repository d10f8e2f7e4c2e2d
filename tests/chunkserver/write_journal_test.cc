#include "chunkserver/write_journal.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/crc32c.h"
#include "common/failpoint.h"
#include "tests/testutil/fault_file_system.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"

namespace ternion::chunkserver {
namespace {

constexpr uint64_t kCap = 1 << 20;  // the smallest journal: wraps and fills quickly

JournalRecord Inline(uint64_t chunk, uint64_t offset, const std::string& data) {
  JournalRecord r;
  r.chunk_id = chunk;
  r.version = 1;
  r.offset = offset;
  r.length = static_cast<uint32_t>(data.size());
  r.crc = Crc32c(data);
  r.data = data;
  return r;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class WriteJournalTest : public ::testing::Test {
 protected:
  void TearDown() override { DisarmFailpoints(); }
  std::string Path() { return dir_.path() + "/journal"; }
  // Opens the journal; *recovered gets what a crash left.
  std::unique_ptr<WriteJournal> OpenJournal(std::vector<JournalRecord>* recovered,
                                            uint64_t cap = kCap) {
    auto j = WriteJournal::Open(FileSystem::Default(), Path(), cap, recovered);
    EXPECT_TRUE(j.ok()) << j.status();
    return j.ok() ? std::move(*j) : nullptr;
  }
  // Opened and started with an applier that records what it was asked to apply.
  std::unique_ptr<WriteJournal> Started(WriteJournal::Applier applier = nullptr,
                                        uint64_t cap = kCap) {
    std::vector<JournalRecord> recovered;
    auto j = OpenJournal(&recovered, cap);
    if (applier == nullptr) {
      applier = [this](const std::vector<uint64_t>& ids) {
        absl::MutexLock lock(&mu_);
        applied_.insert(applied_.end(), ids.begin(), ids.end());
        return absl::OkStatus();
      };
    }
    EXPECT_OK(j->Start(std::move(applier)));
    return j;
  }
  // The ring (everything after the two header slots) is all zeros.
  bool RingIsZero() {
    const std::string bytes = ReadAll(Path());
    return bytes.size() > 8192 && bytes.find_first_not_of('\0', 8192) == std::string::npos;
  }

  testing::TempDir dir_;
  absl::Mutex mu_;
  std::vector<uint64_t> applied_;
};

TEST(JournalRecordTest, RoundTripsAndRefusesEveryDamagedByte) {
  JournalRecord r = Inline(7, 4096, "payload bytes");
  std::string enc;
  EncodeJournalRecord(r, 42, &enc);
  ASSERT_EQ(enc.size(), EncodedJournalRecordSize(r));
  auto d = DecodeJournalRecord(enc + "trailing");
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->seq, 42u);
  EXPECT_EQ(d->size, enc.size());
  EXPECT_EQ(d->record.chunk_id, 7u);
  EXPECT_EQ(d->record.offset, 4096u);
  EXPECT_EQ(d->record.data, "payload bytes");
  for (size_t i = 0; i < enc.size(); ++i) {
    std::string bad = enc;
    bad[i] ^= 0x20;
    EXPECT_FALSE(DecodeJournalRecord(bad).has_value()) << "byte " << i;
  }
  EXPECT_FALSE(DecodeJournalRecord(enc.substr(0, enc.size() - 1)).has_value());
  // A record without its bytes (synced to the data file first) carries only range and CRC.
  JournalRecord big;
  big.chunk_id = 8;
  big.length = 1 << 20;
  big.crc = 1234;
  enc.clear();
  EncodeJournalRecord(big, 1, &enc);
  d = DecodeJournalRecord(enc);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->record.length, 1u << 20);
  EXPECT_TRUE(d->record.data.empty());
}

TEST_F(WriteJournalTest, UnappliedRecordsComeBackInOrderAfterACrash) {
  {
    // The applier fails: nothing is released, as if the process died before applying.
    auto j = Started([](const std::vector<uint64_t>&) { return absl::InternalError("down"); });
    for (int i = 0; i < 50; ++i) {
      ASSERT_OK(j->Commit({Inline(i % 3, i * 100, std::string(100, 'a' + i % 26))}).status());
    }
  }
  std::vector<JournalRecord> recovered;
  auto j = OpenJournal(&recovered);
  ASSERT_EQ(recovered.size(), 50u);
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(recovered[i].chunk_id, static_cast<uint64_t>(i % 3));
    EXPECT_EQ(recovered[i].offset, static_cast<uint64_t>(i * 100));
    EXPECT_EQ(recovered[i].data, std::string(100, 'a' + i % 26));
  }
  // Once the caller has applied them, Start wipes the ring: a second open finds nothing.
  ASSERT_OK(j->Start([](const std::vector<uint64_t>&) { return absl::OkStatus(); }));
  EXPECT_TRUE(RingIsZero());
  j.reset();
  j = OpenJournal(&recovered);
  EXPECT_TRUE(recovered.empty());
}

TEST_F(WriteJournalTest, ConcurrentWritersShareSyncs) {
  auto j = Started();
  constexpr int kThreads = 16, kEach = 40;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        if (!j->Commit({Inline(t, i * 4096, std::string(4096, 'x'))}).ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  JournalStats s = j->Stats();
  EXPECT_EQ(s.records, static_cast<uint64_t>(kThreads * kEach));
  // Group commit: a sync carries every record that arrived while the one before it ran.
  EXPECT_LT(s.syncs, s.records);
  ASSERT_OK(j->Drain());
  absl::MutexLock lock(&mu_);
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_NE(std::find(applied_.begin(), applied_.end(), t), applied_.end()) << t;
  }
}

TEST_F(WriteJournalTest, WrapsAroundTheRingAndWipesWhatItReleases) {
  auto j = Started();
  // 40 records of 60 KiB: the 1 MiB ring wraps more than twice.
  for (int i = 0; i < 40; ++i) {
    ASSERT_OK(j->Commit({Inline(1, i * 61440ull, std::string(61440, 'S'))}).status());
  }
  EXPECT_GE(j->Stats().applies, 2u);
  ASSERT_OK(j->Drain());
  EXPECT_EQ(j->Stats().used, 0u);
  EXPECT_TRUE(RingIsZero());  // the journaled bytes are gone from the disk
  // Records after a wrap come back in order after a crash.
  j.reset();
  {
    auto k = Started([](const std::vector<uint64_t>&) { return absl::InternalError("down"); });
    for (int i = 0; i < 14; ++i) {  // about 840 KiB from wherever the ring position is
      ASSERT_OK(k->Commit({Inline(2, i, std::string(61440, 'a' + i))}).status());
    }
  }
  std::vector<JournalRecord> recovered;
  auto k = OpenJournal(&recovered);
  ASSERT_EQ(recovered.size(), 14u);
  for (int i = 0; i < 14; ++i) EXPECT_EQ(recovered[i].data[0], 'a' + i);
}

TEST_F(WriteJournalTest, AFullJournalMakesWritersWaitForTheApplier) {
  absl::Notification release;
  auto j = Started([&](const std::vector<uint64_t>&) {
    release.WaitForNotification();
    return absl::OkStatus();
  });
  // Fill it: the applier starts (a quarter full) and blocks.
  for (int i = 0; i < 16; ++i) {
    ASSERT_OK(j->Commit({Inline(1, i, std::string(61440, 'f'))}).status());
  }
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 0; i < 4; ++i)
      EXPECT_OK(j->Commit({Inline(2, i, std::string(61440, 'g'))}).status());
    done = true;
  });
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (j->Stats().throttled == 0 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
  EXPECT_GE(j->Stats().throttled, 1u);
  EXPECT_FALSE(done.load());  // held back while the journal is full
  release.Notify();
  writer.join();
  EXPECT_TRUE(done.load());
  ASSERT_OK(j->Drain());
}

TEST_F(WriteJournalTest, AJournalThatCannotBeAppliedRefusesWhenFullInsteadOfHanging) {
  auto j = Started([](const std::vector<uint64_t>&) { return absl::InternalError("EIO"); });
  absl::Status s;
  for (int i = 0; i < 40 && s.ok(); ++i)
    s = j->Commit({Inline(1, i, std::string(61440, 'h'))}).status();
  EXPECT_TRUE(absl::IsUnavailable(s)) << s;
  EXPECT_FALSE(j->Drain().ok());
}

TEST_F(WriteJournalTest, AFailedSyncFailsEveryLaterCommit) {
  auto j = Started();
  ASSERT_OK(j->Commit({Inline(1, 0, "a")}).status());
  ASSERT_OK(ArmFailpoints("journal.commit.before_sync=eio@1"));
  EXPECT_FALSE(j->Commit({Inline(1, 1, "b")}).ok());
  DisarmFailpoints();
  // Its bytes may or may not be on the disk: the journal takes nothing more.
  EXPECT_FALSE(j->Commit({Inline(1, 2, "c")}).ok());
}

TEST_F(WriteJournalTest, ACrashAtEachApplyEdgeLosesNothingAndLeavesNothingUnwiped) {
  for (const char* edge : {"journal.apply.after_apply", "journal.apply.after_header"}) {
    SCOPED_TRACE(edge);
    std::filesystem::remove(Path());
    {
      auto j = Started();
      ASSERT_OK(
          j->Commit({Inline(5, 0, std::string(1000, 'k')), Inline(5, 1000, "tail")}).status());
      ASSERT_OK(ArmFailpoints(absl::StrCat(edge, "=eio")));
      EXPECT_FALSE(j->Drain().ok());  // the round fails at the edge (and is retried: disarm)
      j.reset();                      // "dies" there
      DisarmFailpoints();
    }
    std::vector<JournalRecord> recovered;
    auto j = OpenJournal(&recovered);
    if (std::string(edge) == "journal.apply.after_apply") {
      ASSERT_EQ(recovered.size(), 2u);  // not released: applied again (idempotently)
      EXPECT_EQ(recovered[1].data, "tail");
    } else {
      EXPECT_TRUE(recovered.empty());  // released, but not yet zeroed
    }
    ASSERT_OK(j->Start([](const std::vector<uint64_t>&) { return absl::OkStatus(); }));
    EXPECT_TRUE(RingIsZero());
  }
}

TEST_F(WriteJournalTest, ATornHeaderFallsBackToTheOtherSlotAndTwoRefuseToGuess) {
  {
    std::atomic<bool> fail{false};
    auto j = Started([&](const std::vector<uint64_t>&) {
      return fail ? absl::InternalError("down") : absl::OkStatus();
    });
    ASSERT_OK(j->Commit({Inline(9, 0, "applied")}).status());
    ASSERT_OK(j->Drain());  // header generation 2, in slot 0
    fail = true;
    ASSERT_OK(j->Commit({Inline(9, 7, "kept")}).status());
  }
  auto tear = [&](uint64_t slot) {
    std::fstream f(Path(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(slot * 4096 + 20));
    f.put('\x7f');
  };
  // A crash tore the write of generation 3 into slot 1: the header in slot 0 stands.
  tear(1);
  std::vector<JournalRecord> recovered;
  {
    auto j = OpenJournal(&recovered);
    ASSERT_EQ(recovered.size(), 1u);
    EXPECT_EQ(recovered[0].data, "kept");
  }
  // With both slots damaged nothing is known: the open fails rather than guess it empty.
  tear(0);
  auto j = WriteJournal::Open(FileSystem::Default(), Path(), kCap, &recovered);
  EXPECT_TRUE(absl::IsDataLoss(j.status())) << j.status();
}

TEST_F(WriteJournalTest, AJournalWhoseCreationWasCutShortStartsOverButAnUnreadableOneFails) {
  // A crash while the ring was being zero-filled, before the first header: nothing was ever
  // committed, so the journal starts over.
  std::ofstream(Path(), std::ios::binary) << std::string(200000, '\0');
  {
    auto j = Started();
    ASSERT_OK(j->Commit({Inline(1, 0, "after")}).status());
  }
  // The records cannot be read: the open fails rather than take the journal for empty (Start
  // would then wipe them).
  testing::FaultFileSystem fs;
  fs.Inject(testing::FaultFileSystem::kRead, "/journal", absl::InternalError("EIO"), 3);
  std::vector<JournalRecord> recovered;
  EXPECT_FALSE(WriteJournal::Open(&fs, Path(), kCap, &recovered).ok());
}

TEST_F(WriteJournalTest, RefusesSizesOutsideItsLimits) {
  std::vector<JournalRecord> recovered;
  EXPECT_TRUE(absl::IsInvalidArgument(
      WriteJournal::Open(FileSystem::Default(), Path(), 4096, &recovered).status()));
  auto j = Started();
  JournalRecord big = Inline(1, 0, std::string(kJournalInlineBytes + 1, 'x'));
  EXPECT_TRUE(absl::IsInvalidArgument(j->Commit({big}).status()));
}

}  // namespace
}  // namespace ternion::chunkserver
