#include "master/metadata_log.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/failpoint.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"

namespace ternion::master {
namespace {

class MetadataLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = MetadataStore::Open(dir_.path() + "/db", /*create=*/true);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }
  void TearDown() override { DisarmFailpoints(); }
  static MetadataBatch Put(std::string k, std::string v) {
    MetadataBatch b;
    b.Put(std::move(k), std::move(v));
    return b;
  }
  static MetadataBatch Delete(std::string k) {
    MetadataBatch b;
    b.Delete(std::move(k));
    return b;
  }

  testing::TempDir dir_;
  std::unique_ptr<MetadataStore> store_;
};

// Batches appended while a write runs share the next write, and each is durable, in order,
// when WaitDurable says so.
TEST_F(MetadataLogTest, BatchesAppendedTogetherShareOneSyncedWrite) {
  auto log = NewGroupCommitLog(store_.get());
  constexpr int kBatches = 200;
  for (int i = 0; i < kBatches; ++i) EXPECT_EQ(log->Append(Put(absl::StrCat("k/", i), "v")), i + 1);
  EXPECT_EQ(log->LastAppended(), static_cast<uint64_t>(kBatches));
  ASSERT_OK(log->WaitDurable(kBatches));
  for (int i = 0; i < kBatches; ++i) EXPECT_OK(store_->Get(absl::StrCat("k/", i)).status());
  const MetadataLog::Stats stats = log->stats();
  EXPECT_EQ(stats.batches, static_cast<uint64_t>(kBatches));
  EXPECT_LT(stats.writes, stats.batches / 4) << "batches were not grouped";
}

// A later batch overrides an earlier one even inside one group: a delete then a put of a key
// leaves the put, a put then a delete leaves nothing.
TEST_F(MetadataLogTest, OrderIsKeptInsideAGroup) {
  auto log = NewGroupCommitLog(store_.get());
  log->Append(Put("a", "1"));
  log->Append(Delete("a"));
  log->Append(Put("a", "2"));
  log->Append(Put("b", "1"));
  const uint64_t last = log->Append(Delete("b"));
  ASSERT_OK(log->WaitDurable(last));
  EXPECT_EQ(store_->Get("a").value_or(""), "2");
  EXPECT_EQ(store_->Get("b").status().code(), absl::StatusCode::kNotFound);
}

// Concurrent writers each see their own batch durable; nothing is lost or reordered per key.
TEST_F(MetadataLogTest, ConcurrentWritersAreAllDurable) {
  auto log = NewGroupCommitLog(store_.get());
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        const uint64_t seq = log->Append(Put(absl::StrCat("t", t), absl::StrCat(i)));
        if (!log->WaitDurable(seq).ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  for (int t = 0; t < 8; ++t) EXPECT_EQ(store_->Get(absl::StrCat("t", t)).value_or(""), "49");
}

// The log is closed by its destructor only after what was appended is written.
TEST_F(MetadataLogTest, DestroyingTheLogWritesWhatIsPending) {
  {
    auto log = NewGroupCommitLog(store_.get());
    for (int i = 0; i < 20; ++i) log->Append(Put(absl::StrCat("k/", i), "v"));
  }
  for (int i = 0; i < 20; ++i) EXPECT_OK(store_->Get(absl::StrCat("k/", i)).status());
}

// A failed write fails the log for good: every waiter of that group and every later batch gets
// the error, the failure callback runs once, and nothing of the failed group is in the store.
TEST_F(MetadataLogTest, AFailedWriteFailsTheLogForGood) {
  std::atomic<int> failures{0};
  auto log = NewGroupCommitLog(store_.get(), [&](const absl::Status&) { ++failures; });
  ASSERT_OK(log->WaitDurable(log->Append(Put("before", "1"))));
  ASSERT_OK(ArmFailpoints("master.metadata.before_write=eio"));
  const uint64_t seq = log->Append(Put("lost", "1"));
  absl::Status s = log->WaitDurable(seq);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_NE(std::string(s.message()).find("must restart"), std::string::npos) << s;
  DisarmFailpoints();
  EXPECT_EQ(log->WaitDurable(log->Append(Put("after", "1"))).code(),
            absl::StatusCode::kUnavailable);
  EXPECT_OK(log->WaitDurable(1));  // what was durable before stays so
  EXPECT_EQ(failures.load(), 1);
  EXPECT_OK(store_->Get("before").status());
  EXPECT_EQ(store_->Get("lost").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->Get("after").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace ternion::master
