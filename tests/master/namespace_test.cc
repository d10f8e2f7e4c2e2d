#include "master/namespace.h"

#include <gtest/gtest.h>

#include "master/lease_recovery.h"
#include "master/metadata_keys.h"
#include "tests/testutil/fake_clock.h"

namespace ternion::master {
namespace {

using ternion::v1::FileRecord;

class NamespaceTest : public ::testing::Test {
 protected:
  NamespaceTest() {
    absl::MutexLock lock(&ns_.mu);
    ternion::v1::ProjectRecord p;
    p.set_name("proj");
    MetadataBatch batch;
    EXPECT_TRUE(ns_.CreateProject(p, &batch).ok());
  }

  // A new file of `proj` with a lease for "writer", put in the namespace.
  const FileRecord& NewLeasedFile(const std::string& path) ABSL_EXCLUSIVE_LOCKS_REQUIRED(ns_.mu) {
    FileRecord f;
    f.set_file_id(ns_.next_file_id());
    f.set_project("proj");
    f.set_path(path);
    f.set_chunk_size(1 << 20);
    MetadataBatch batch;
    return ns_.Put(ns_.WithNewLease(std::move(f), "writer"), &batch);
  }

  LeaseRef RefOf(const FileRecord& f) { return {f.project(), f.path(), f.lease_id()}; }

  testing::FakeClock clock_;
  Namespace ns_{&clock_, absl::Seconds(60), absl::Hours(1)};
};

TEST_F(NamespaceTest, APutRecordsTheFileItsIdAndItsFacts) {
  absl::MutexLock lock(&ns_.mu);
  FileRecord f;
  f.set_file_id(ns_.next_file_id());
  f.set_project("proj");
  f.set_path("a");
  f.set_chunk_size(1 << 20);
  MetadataBatch batch;
  const FileRecord& stored = ns_.Put(ns_.WithNewLease(f, "writer"), &batch);
  EXPECT_EQ(ns_.next_file_id(), stored.file_id() + 1);
  // The file and the id counter, in the caller's batch.
  ASSERT_EQ(batch.puts.size(), 2u);
  EXPECT_EQ(batch.puts[0].first, kFilePrefix + FileKey("proj", "a"));
  EXPECT_EQ(batch.puts[1].first, kNextFileIdKey);
  std::optional<FileFacts> facts = ns_.facts().Get(stored.file_id());
  ASSERT_TRUE(facts.has_value());
  EXPECT_EQ(facts->chunk_size, 1u << 20);
  EXPECT_TRUE(facts->leased);
  EXPECT_EQ(facts->lease_expires_unix_ms, clock_.NowMs() + 60'000);
  EXPECT_TRUE(ns_.CheckFacts().ok());

  // Replacing a file keeps the counter and updates the facts.
  FileRecord sealed = stored;
  sealed.set_sealed(true);
  sealed.clear_lease_id();
  MetadataBatch batch2;
  ns_.Put(sealed, &batch2);
  EXPECT_EQ(batch2.puts.size(), 1u);
  EXPECT_TRUE(ns_.facts().Get(sealed.file_id())->sealed);
  EXPECT_FALSE(ns_.facts().Get(sealed.file_id())->leased);
  EXPECT_TRUE(ns_.CheckFacts().ok());
}

TEST_F(NamespaceTest, EraseForgetsTheFileAndItsFacts) {
  absl::MutexLock lock(&ns_.mu);
  const uint64_t id = NewLeasedFile("a").file_id();
  MetadataBatch batch;
  ns_.Erase("proj", "a", &batch);
  EXPECT_EQ(batch.deletes, std::vector<std::string>{kFilePrefix + FileKey("proj", "a")});
  EXPECT_FALSE(ns_.Exists("proj", "a"));
  EXPECT_FALSE(ns_.facts().Get(id).has_value());
  EXPECT_EQ(ns_.Find("proj", "a").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(ns_.CheckFacts().ok());
}

TEST_F(NamespaceTest, ALeaseIsValidUntilAnotherWriterTakesItOrItIsRecovered) {
  absl::MutexLock lock(&ns_.mu);
  const FileRecord& f = NewLeasedFile("a");
  const LeaseRef ref = RefOf(f);
  EXPECT_TRUE(ns_.CheckLease(ref).ok());
  EXPECT_TRUE(ns_.UnderLease(f));

  // Expired but within the hard limit: its holder may still use it; others may take it.
  clock_.Advance(absl::Minutes(30));
  EXPECT_FALSE(ns_.UnderLease(f));
  EXPECT_TRUE(ns_.CheckLease(ref).ok());

  // Past the hard limit: refused, and due for recovery (master/lease_recovery.h).
  std::string cursor;
  EXPECT_TRUE(ns_.LeasesPastHardLimit(10, &cursor).empty());
  clock_.Advance(absl::Minutes(32));
  EXPECT_EQ(ns_.CheckLease(ref).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(LeaseRecovered(*ns_.facts().Get(f.file_id()), clock_.NowMs(), absl::Hours(1)));
  std::vector<const FileRecord*> due = ns_.LeasesPastHardLimit(10, &cursor);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0]->path(), "a");
  EXPECT_TRUE(ns_.LeasesPastHardLimit(0, &cursor).empty());

  // Another writer's lease: the old one is refused.
  MetadataBatch batch;
  const FileRecord& taken = ns_.Put(ns_.WithNewLease(f, "other"), &batch);
  EXPECT_NE(taken.lease_id(), ref.lease_id);
  EXPECT_EQ(ns_.CheckLease(ref).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(ns_.CheckLease(RefOf(taken)).ok());
}

// The visible length of a chunk being written: the least any replica of the chunk's version
// holds, never below what was committed nor past the chunk.
TEST(VisibleLengthTest, TheLeastLengthOfTheCurrentVersion) {
  EXPECT_EQ(VisibleLength(5, 100, 4096, {}), std::nullopt);
  EXPECT_EQ(VisibleLength(5, 100, 4096, {{.version = 4, .length = 900}}), std::nullopt);
  EXPECT_EQ(VisibleLength(5, 100, 4096,
                          {{.version = 5, .length = 900},
                           {.version = 5, .length = 700},
                           {.version = 4, .length = 300}}),
            700u);
  EXPECT_EQ(VisibleLength(5, 100, 4096, {{.version = 5, .length = 50}}), 100u);
  EXPECT_EQ(VisibleLength(5, 100, 4096, {{.version = 5, .length = 9000}}), 4096u);
}

// Where a takeover or lease recovery goes on: the replicas of the chunk's version at their
// visible length; with none of them, those of the newest older version (a writer died in write
// recovery, after the master's version move and before the replicas'); a version the master
// never gave is no answer.
TEST(VisibleLengthTest, TheResumePointIsTheNewestVersionAnswered) {
  auto point = [](const std::vector<ReplicaLength>& answers) {
    std::optional<ResumePoint> p = FindResumePoint(7, 100, 4096, answers);
    return p ? std::make_pair(p->version, p->length) : std::make_pair(uint64_t{0}, uint64_t{0});
  };
  EXPECT_EQ(point({}), std::make_pair(uint64_t{0}, uint64_t{0}));
  EXPECT_EQ(point({{.version = 8, .length = 900}}), std::make_pair(uint64_t{0}, uint64_t{0}));
  EXPECT_EQ(point({{.version = 7, .length = 900}, {.version = 6, .length = 300}}),
            std::make_pair(uint64_t{7}, uint64_t{900}));
  EXPECT_EQ(point({{.version = 5, .length = 3000},
                   {.version = 6, .length = 2600},
                   {.version = 6, .length = 2500}}),
            std::make_pair(uint64_t{6}, uint64_t{2500}));
  EXPECT_EQ(point({{.version = 6, .length = 10}}), std::make_pair(uint64_t{6}, uint64_t{100}))
      << "what was committed stands";
  EXPECT_EQ(point({{.version = 6, .length = 9000}}), std::make_pair(uint64_t{6}, uint64_t{4096}));
}

// Leases due for recovery come round in turn, so a few that cannot be recovered yet never hold
// up the others.
TEST_F(NamespaceTest, LeasesPastTheHardLimitComeRoundInTurn) {
  absl::MutexLock lock(&ns_.mu);
  for (const char* path : {"a", "b", "c"}) NewLeasedFile(path);
  NewLeasedFile("fresh");  // its lease is renewed below
  clock_.Advance(absl::Hours(2));
  MetadataBatch batch;
  ns_.Put(ns_.WithLeaseRenewed(*ns_.Find("proj", "fresh").value()), &batch);
  auto paths = [](const std::vector<const FileRecord*>& files) {
    std::string out;
    for (const FileRecord* f : files) out += f->path();
    return out;
  };
  std::string cursor;
  EXPECT_EQ(paths(ns_.LeasesPastHardLimit(2, &cursor)), "ab");
  EXPECT_EQ(paths(ns_.LeasesPastHardLimit(2, &cursor)), "ca");
  EXPECT_EQ(paths(ns_.LeasesPastHardLimit(2, &cursor)), "bc");
  EXPECT_EQ(paths(ns_.LeasesPastHardLimit(5, &cursor)), "abc");
  ns_.Erase("proj", "b", &batch);
  EXPECT_EQ(paths(ns_.LeasesPastHardLimit(5, &cursor)), "ac");
}

TEST_F(NamespaceTest, StaleFactsAreFound) {
  absl::MutexLock lock(&ns_.mu);
  NewLeasedFile("a");
  NewLeasedFile("b");
  EXPECT_TRUE(ns_.CheckFacts().ok());
  // Facts of a file that is not there (as if an Erase had not reached the table).
  const_cast<FileFactsTable&>(ns_.facts()).Put(999, FileFacts{});
  EXPECT_EQ(ns_.CheckFacts().code(), absl::StatusCode::kInternal);
}

TEST_F(NamespaceTest, NamesAreCheckedBeforeAnyLookup) {
  absl::ReaderMutexLock lock(&ns_.mu);
  EXPECT_EQ(ns_.Find("proj", "").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ns_.Find("no-such", "a").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ns_.CheckProject("no-such").code(), absl::StatusCode::kNotFound);
}

TEST_F(NamespaceTest, ACreatedProjectExistsOnce) {
  absl::MutexLock lock(&ns_.mu);
  ternion::v1::ProjectRecord p;
  p.set_name("proj");
  MetadataBatch batch;
  EXPECT_EQ(ns_.CreateProject(p, &batch).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(batch.puts.empty());
}

}  // namespace
}  // namespace ternion::master
