#include "master/metadata_store.h"

#include <filesystem>

#include <gtest/gtest.h>

#include <map>

#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"

namespace ternion::master {
namespace {

std::map<std::string, std::string> ScanAll(MetadataStore* store, absl::string_view prefix) {
  std::map<std::string, std::string> out;
  EXPECT_OK(store->Scan(prefix, [&](absl::string_view k, absl::string_view v) {
    out[std::string(k)] = std::string(v);
  }));
  return out;
}

TEST(MetadataStoreTest, BatchesAreAtomicAndSurviveReopen) {
  testing::TempDir dir;
  {
    ASSERT_OK_AND_ASSIGN(auto store, MetadataStore::Open(dir.path() + "/db", /*create=*/true));
    ASSERT_OK_AND_ASSIGN(bool empty, store->Empty());
    EXPECT_TRUE(empty);
    MetadataBatch b;
    b.Put("f/a", "1");
    b.Put("f/b", "2");
    b.Put("g/x", "3");
    ASSERT_OK(store->Write(b));
    MetadataBatch d;
    d.Delete("f/a");
    d.Put("f/c", std::string("bin\0ary", 7));
    ASSERT_OK(store->Write(d));
  }
  ASSERT_OK_AND_ASSIGN(auto store, MetadataStore::Open(dir.path() + "/db"));
  auto f = ScanAll(store.get(), "f/");
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f["f/b"], "2");
  EXPECT_EQ(f["f/c"], std::string("bin\0ary", 7));
  EXPECT_EQ(ScanAll(store.get(), "g/").size(), 1u);
  EXPECT_TRUE(ScanAll(store.get(), "h/").empty());
  ASSERT_OK_AND_ASSIGN(bool empty, store->Empty());
  EXPECT_FALSE(empty);
  ASSERT_OK_AND_ASSIGN(std::string b, store->Get("f/b"));
  EXPECT_EQ(b, "2");
  EXPECT_EQ(store->Get("f/a").status().code(), absl::StatusCode::kNotFound);
}

TEST(MetadataStoreTest, AnAbsentStoreIsNotCreatedUnlessAsked) {
  testing::TempDir dir;
  auto store = MetadataStore::Open(dir.path() + "/typo");
  EXPECT_EQ(store.status().code(), absl::StatusCode::kNotFound) << store.status();
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/typo/CURRENT"));
}

TEST(MetadataStoreTest, OpenFailsCleanlyOnABadPath) {
  testing::TempDir dir;
  auto store = MetadataStore::Open("/proc/ternion-cannot-create-this", /*create=*/true);
  EXPECT_FALSE(store.ok());
  EXPECT_FALSE(store.status().message().empty());
}

}  // namespace
}  // namespace ternion::master
