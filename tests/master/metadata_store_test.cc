#include "master/metadata_store.h"

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
    ASSERT_OK_AND_ASSIGN(auto store, MetadataStore::Open(dir.path() + "/db"));
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
}

TEST(MetadataStoreTest, OpenFailsCleanlyOnABadPath) {
  testing::TempDir dir;
  auto store = MetadataStore::Open("/proc/ternion-cannot-create-this");
  EXPECT_FALSE(store.ok());
  EXPECT_FALSE(store.status().message().empty());
}

}  // namespace
}  // namespace ternion::master
