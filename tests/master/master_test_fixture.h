#pragma once

// The fixture of the master's unit tests: a Master over a temporary RocksDB and a fake clock,
// reopened at will (master_test.cc, master_keys_test.cc).

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "master/master.h"
#include "security/length_receipt.h"
#include "tests/testutil/fake_clock.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"

namespace ternion::master {

// The newest `limit` audit records as "action: detail" lines, oldest first.
inline std::vector<std::string> AuditLines(Master* m, size_t limit) {
  (void)m->WaitDurable();  // the records are read back from the store
  std::vector<std::string> lines;
  EXPECT_TRUE(m->ReadAudit(0, [&](const ternion::v1::AuditRecord& r) {
                 lines.push_back(absl::StrCat(r.action(), ": ", r.detail()));
                 if (lines.size() > limit) lines.erase(lines.begin());
                 return true;
               }).ok());
  return lines;
}

class MasterTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }
  void Reopen() {
    master_.reset();
    options_.clock = &clock_;
    if (!std::filesystem::exists(dir_.path() + "/meta")) {
      ASSERT_OK(Master::Format(dir_.path() + "/meta").status());
    }
    auto m = Master::Open(dir_.path() + "/meta", options_);
    ASSERT_TRUE(m.ok()) << m.status();
    master_ = std::move(*m);
  }
  void RegisterServers(int racks, int per_rack) {
    for (int r = 0; r < racks; ++r) {
      for (int i = 0; i < per_rack; ++i) {
        ternion::v1::RegisterChunkServerRequest req;
        req.set_server_id("cs-" + std::to_string(r) + "-" + std::to_string(i));
        req.set_address("127.0.0.1:" + std::to_string(10000 + r * 10 + i));
        req.set_rack("rack" + std::to_string(r));
        auto* d = req.add_disks();
        d->set_capacity_bytes(100ull << 30);
        ASSERT_OK(master_->RegisterChunkServer(req).status());
      }
    }
  }
  // What a writer names its lease by.
  LeaseRef Lease(const master::Lease& l) { return {l.file.project, l.file.path, l.id}; }
  // The receipts every replica of the leased file's chunks would give for `length` bytes of the
  // file (security/length_receipt.h), made with the keys the master hands the servers.
  std::vector<security::LengthReceipt> Receipts(const LeaseRef& lease, uint64_t length) {
    std::vector<security::LengthReceipt> out;
    auto info = master_->GetFileInfo(lease.project, lease.path, true);
    if (!info.ok()) return out;
    for (const auto& c : info->chunks) {
      const uint64_t start = c.index * info->chunk_size;
      if (length <= start) continue;
      const uint64_t held = std::min<uint64_t>(info->chunk_size, length - start);
      for (const auto& r : c.replicas) {
        out.push_back({.server_id = r.server_id,
                       .chunk_id = c.chunk_id,
                       .length = held,
                       .mac = security::SignReceipt(master_->ReceiptKeyOf(r.server_id), c.chunk_id,
                                                    c.version, held)});
      }
    }
    return out;
  }
  // A commit as a writer makes it: with every replica's receipt.
  absl::StatusOr<uint64_t> Commit(const LeaseRef& lease, uint64_t length) {
    return master_->CommitLength(lease, length, Receipts(lease, length));
  }

  testing::TempDir dir_;
  testing::FakeClock clock_;  // moved by the tests: leases, liveness and delays never sleep
  MasterOptions options_ = [] {
    MasterOptions o;
    o.move_scan_interval = absl::ZeroDuration();  // every TakeMoves rescans
    return o;
  }();
  std::unique_ptr<Master> master_;
};

}  // namespace ternion::master
