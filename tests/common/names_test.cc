#include "common/names.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ternion {
namespace {

TEST(NamesTest, ValidProjectNames) {
  for (const char* name : {"a", "demo", "proj_1", "x-y", "0abc"}) {
    EXPECT_TRUE(ValidateProjectName(name).ok()) << name;
  }
}

TEST(NamesTest, InvalidProjectNames) {
  for (std::string name : {std::string(""), std::string("Upper"), std::string("a/b"),
                           std::string("-lead"), std::string("sp ace"), std::string(".."),
                           std::string(65, 'a'), std::string("nul\0x", 5)}) {
    absl::Status s = ValidateProjectName(name);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_FALSE(s.message().empty());
  }
}

TEST(NamesTest, ValidPaths) {
  for (const char* p : {"a", "a/b/c.log", "logs/2026-11-23/part-0001", "...", "a..b"}) {
    EXPECT_TRUE(ValidatePath(p).ok()) << p;
  }
}

TEST(NamesTest, InvalidPaths) {
  struct Case {
    std::string path;
    std::string why;
  } cases[] = {
      {"", "empty"},
      {"..", "'.' or '..'"},
      {"a/../b", "'.' or '..'"},
      {"./a", "'.' or '..'"},
      {"/abs", "start or end"},
      {"dir/", "start or end"},
      {"a//b", "empty component"},
      {std::string("a\0b", 3), "NUL"},
      {"tab\there", "control"},
      {std::string(1025, 'a'), "longer than 1024"},
      {std::string(256, 'a'), "component is longer"},
  };
  for (const auto& c : cases) {
    absl::Status s = ValidatePath(c.path);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.path;
    EXPECT_NE(std::string(s.message()).find(c.why), std::string::npos) << s.message();
  }
}

TEST(NamesTest, PackageNames) {
  for (const std::string& ok :
       std::vector<std::string>{"a", "sales-2026", "x_y", std::string(128, 'p')}) {
    EXPECT_TRUE(ValidatePackageName(ok).ok()) << ok;
  }
  for (const std::string& bad :
       std::vector<std::string>{"", "-a", "A", "p.k", "a b", std::string(129, 'p')}) {
    EXPECT_EQ(ValidatePackageName(bad).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(NamesTest, ColumnNames) {
  for (const std::string& ok :
       std::vector<std::string>{"a", "Salary", "_id", "col_2", std::string(128, 'c')}) {
    EXPECT_TRUE(ValidateColumnName(ok).ok()) << ok;
  }
  for (const std::string& bad :
       std::vector<std::string>{"", "2col", "a-b", "a.b", "a b", std::string(129, 'c')}) {
    EXPECT_EQ(ValidateColumnName(bad).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace ternion
