#include "master/audit_log.h"

#include <gtest/gtest.h>

#include <map>

namespace ternion::master {
namespace {

// A log of `n` records as stored: key sequence -> value.
std::map<uint64_t, std::string> MakeLog(int n) {
  AuditLog log;
  EXPECT_TRUE(log.Load(std::nullopt).ok());
  MetadataBatch batch;
  {
    absl::MutexLock lock(&log.mu);
    for (int i = 0; i < n; ++i) {
      log.Append({.user = "ann",
                  .project = "p",
                  .action = "GetFileInfo",
                  .object = "f" + std::to_string(i)},
                 1000 + i, &batch);
    }
  }
  std::map<uint64_t, std::string> out;
  for (auto& [k, v] : batch.puts) out[std::stoull(k.substr(2), nullptr, 16)] = v;
  return out;
}

absl::Status Verify(const std::map<uint64_t, std::string>& log) {
  AuditChainVerifier v;
  for (const auto& [seq, value] : log) v.Add(seq, value);
  return v.Finish();
}

ternion::v1::AuditRecord Decode(const std::string& value) {
  auto r = DecodeAuditRecord(value);
  EXPECT_TRUE(r.ok() && r->has_value());
  return **r;
}

TEST(AuditLogTest, AnIntactChainVerifies) {
  const auto log = MakeLog(5);
  ASSERT_EQ(log.size(), 5u);
  EXPECT_EQ(log.begin()->first, 1u);
  AuditChainVerifier v;
  for (const auto& [seq, value] : log) v.Add(seq, value);
  EXPECT_TRUE(v.Finish().ok()) << v.Finish();
  EXPECT_EQ(v.records(), 5u);
  const ternion::v1::AuditRecord first = Decode(log.at(1)), second = Decode(log.at(2));
  EXPECT_TRUE(first.prev_hash().empty());
  EXPECT_EQ(second.prev_hash(), first.hash());
  EXPECT_EQ(second.object(), "f1");
}

TEST(AuditLogTest, AnEditedRemovedOrReorderedRecordBreaksTheChain) {
  const auto log = MakeLog(5);
  auto expect_broken = [](const std::map<uint64_t, std::string>& changed, const std::string& says) {
    absl::Status s = Verify(changed);
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << says;
    EXPECT_NE(s.message().find(says), std::string::npos) << s;
  };
  // Edited: a field changed, the hash kept (or recomputed: then the next record breaks).
  auto edited = log;
  ternion::v1::AuditRecord r = Decode(edited[3]);
  r.set_result("ok");
  r.set_user("mallory");
  edited[3] = EncodeAuditRecord(r);
  expect_broken(edited, "record 3 does not match its hash: edited");
  r.set_hash(AuditHash(r));
  edited[3] = EncodeAuditRecord(r);
  expect_broken(edited, "record 4 does not follow record 3");
  // Removed: from the middle, or the first.
  auto removed = log;
  removed.erase(3);
  expect_broken(removed, "audit records 3 to 3 are missing: removed");
  removed = log;
  removed.erase(1);
  expect_broken(removed, "record 2 does not follow record 0");
  // Reordered: two records swapped (their keys kept), or swapped and renumbered.
  auto reordered = log;
  std::swap(reordered[2], reordered[3]);
  expect_broken(reordered, "says it is record 3: moved");
  ternion::v1::AuditRecord a = Decode(log.at(2)), b = Decode(log.at(3));
  a.set_seq(3);
  b.set_seq(2);
  reordered[2] = EncodeAuditRecord(b);
  reordered[3] = EncodeAuditRecord(a);
  expect_broken(reordered, "edited");
  // Garbage, and a legacy line inside the chain.
  auto garbage = log;
  garbage[4] = "TAR1\xff\xff\xff";
  expect_broken(garbage, "does not parse");
  auto legacy = log;
  legacy[4] = "2026-11-30T10:00:00.000Z something";
  expect_broken(legacy, "legacy line inside the chain");
}

TEST(AuditLogTest, LegacyLinesBeforeTheChainAreCountedAndTheChainStartsAfterThem) {
  std::map<uint64_t, std::string> log = {{1, "2026-11-01T00:00:00.000Z format: new cluster x"},
                                         {2, "2026-11-02T00:00:00.000Z add-rack r1"}};
  AuditLog head;
  ASSERT_TRUE(head.Load(std::make_pair(uint64_t{2}, log.at(2))).ok());
  MetadataBatch batch;
  {
    absl::MutexLock lock(&head.mu);
    head.Append({.action = "Grant"}, 5, &batch);
    head.Append({.action = "Grant"}, 6, &batch);
  }
  ASSERT_EQ(batch.puts.size(), 2u);
  EXPECT_EQ(batch.puts[0].first, AuditKey(3));
  for (auto& [k, v] : batch.puts) log[std::stoull(k.substr(2), nullptr, 16)] = v;
  AuditChainVerifier v;
  for (const auto& [seq, value] : log) v.Add(seq, value);
  EXPECT_TRUE(v.Finish().ok()) << v.Finish();
  EXPECT_EQ(v.legacy(), 2u);
  EXPECT_EQ(v.records(), 2u);
  // A log continues its chain across a restart.
  AuditLog again;
  ASSERT_TRUE(again.Load(std::make_pair(uint64_t{4}, log.at(4))).ok());
  MetadataBatch more;
  {
    absl::MutexLock lock(&again.mu);
    again.Append({.action = "Grant"}, 7, &more);
  }
  log[5] = more.puts[0].second;
  EXPECT_TRUE(Verify(log).ok()) << Verify(log);
}

}  // namespace
}  // namespace ternion::master
