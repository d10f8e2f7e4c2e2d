#include "master/exception_policy.h"

#include <gtest/gtest.h>

namespace ternion::master {
namespace {

TEST(ExceptionPolicyTest, AStatementNamesPrincipalsActionsResourcesAndTaskTypes) {
  auto policy = ParseExceptionPolicy(R"({"Version": "1", "Statement": [
      {"Effect": "Allow", "Principal": ["bob", "*"], "Action": ["read", "download"],
       "Resource": ["t", "logs/*", "*", "snapshot:t.snap"],
       "Condition": {"StringEquals": {"task_type": ["sql"]}}},
      {"Effect": "Allow", "Principal": "ann", "Action": "describe", "Resource": "x"}]})");
  ASSERT_TRUE(policy.ok()) << policy.status();
  ASSERT_EQ(policy->size(), 2u);
  const ExceptionStatement& first = (*policy)[0];
  EXPECT_EQ(first.principals, (std::vector<std::string>{"bob", "*"}));
  EXPECT_EQ(first.actions, ActionBit(Action::kRead) | ActionBit(Action::kDownload));
  ASSERT_EQ(first.resources.size(), 4u);
  EXPECT_EQ(first.resources[1].path, "logs/*");
  EXPECT_EQ(first.resources[3].path, "snapshot:t.snap");
  EXPECT_EQ(first.resources[3].pinned_file_id, 0u);  // the master pins it when set
  EXPECT_EQ(first.task_types, (std::vector<std::string>{"sql"}));
  EXPECT_TRUE((*policy)[1].task_types.empty());  // any task type
  EXPECT_TRUE(ParseExceptionPolicy("")->empty());
  EXPECT_TRUE(ParseExceptionPolicy(R"({"Version":"1","Statement":[]})")->empty());
}

TEST(ExceptionPolicyTest, AnythingMalformedOrUnknownIsRefusedNamingIt) {
  auto refused = [](const std::string& json, const std::string& says) {
    auto p = ParseExceptionPolicy(json);
    ASSERT_FALSE(p.ok()) << json;
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(p.status().message().find(says), std::string::npos) << p.status().message();
  };
  const std::string ok_tail = R"("Principal":["bob"],"Action":["read"],"Resource":["t"])";
  refused("{", "not valid JSON");
  refused("[]", "not a JSON object");
  refused(R"({"Version":"2","Statement":[]})", "Version");
  refused(R"({"Version":"1"})", "Statement");
  refused(R"({"Version":"1","Statement":[],"Extra":1})", "unknown key Extra");
  refused(R"({"Version":"1","Statement":[{"Effect":"Deny",)" + ok_tail + "}]}", "Effect");
  refused(R"({"Version":"1","Statement":[{"Effect":"Allow","Action":["read"],"Resource":["t"]}]})",
          "no Principal");
  refused(
      R"({"Version":"1","Statement":[{"Effect":"Allow","Principal":[],"Action":["read"],"Resource":["t"]}]})",
      "Principal needs 1");
  refused(
      R"({"Version":"1","Statement":[{"Effect":"Allow","Principal":["bob"],"Action":["fly"],"Resource":["t"]}]})",
      "unknown action fly");
  refused(
      R"({"Version":"1","Statement":[{"Effect":"Allow","Principal":["bob"],"Action":["read"],"Resource":["../t"]}]})",
      "resource ../t");
  refused(
      R"({"Version":"1","Statement":[{"Effect":"Allow","Principal":["bob"],"Action":["read"],"Resource":["snapshot:"]}]})",
      "resource snapshot:");
  refused(R"({"Version":"1","Statement":[{"Effect":"Allow",)" + ok_tail +
              R"(,"Condition":{"StringLike":{"task_type":["s*"]}}}]})",
          "unknown key StringLike");
  refused(R"({"Version":"1","Statement":[{"Effect":"Allow",)" + ok_tail +
              R"(,"Condition":{"StringEquals":{"tasktype":["sql"]}}}]})",
          "unknown key tasktype");
  refused(
      R"({"Version":"1","Statement":[{"Effect":"Allow","Principal":[1],"Action":["read"],"Resource":["t"]}]})",
      "non-string");
  std::string many = R"({"Version":"1","Statement":[)";
  for (size_t i = 0; i <= kMaxExceptionStatements; ++i) {
    many += std::string(i ? "," : "") + R"({"Effect":"Allow",)" + ok_tail + "}";
  }
  refused(many + "]}", "at most 100");
}

}  // namespace
}  // namespace ternion::master
