#include "master/master.h"

#include <gtest/gtest.h>

#include <set>

#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"

namespace ternion::master {
namespace {

using ternion::v1::LeaseRef;

class MasterTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }
  void Reopen() {
    master_.reset();
    auto m = Master::Open(dir_.path() + "/meta", MasterOptions());
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
        ASSERT_OK(master_->RegisterChunkServer(req));
      }
    }
  }
  LeaseRef Lease(const ternion::v1::LeaseResponse& r) {
    LeaseRef l;
    l.set_project(r.file().project());
    l.set_path(r.file().path());
    l.set_lease_id(r.lease_id());
    return l;
  }

  testing::TempDir dir_;
  std::unique_ptr<Master> master_;
};

TEST_F(MasterTest, ProjectsPersist) {
  ASSERT_OK(master_->CreateProject("alpha", "ann"));
  EXPECT_EQ(master_->CreateProject("alpha", "bob").code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(master_->CreateProject("Bad Name", "x").code(), absl::StatusCode::kInvalidArgument);
  Reopen();
  auto projects = master_->ListProjects();
  ASSERT_EQ(projects.size(), 1u);
  EXPECT_EQ(projects[0].name(), "alpha");
  EXPECT_EQ(projects[0].owner(), "ann");
}

TEST_F(MasterTest, WriteLifecycleAndRestart) {
  RegisterServers(3, 2);
  ASSERT_OK(master_->CreateProject("p", ""));
  ASSERT_OK_AND_ASSIGN(auto created, master_->CreateFile("p", "dir/f", 1 << 20, "c1"));
  LeaseRef lease = Lease(created);
  EXPECT_EQ(master_->CreateFile("p", "dir/f", 0, "c2").status().code(),
            absl::StatusCode::kAlreadyExists);
  // Another writer cannot take the lease while it is held.
  EXPECT_EQ(master_->OpenForAppend("p", "dir/f", "c2").status().code(),
            absl::StatusCode::kFailedPrecondition);

  ASSERT_OK_AND_ASSIGN(auto c0, master_->AllocateChunk(lease, 0));
  ASSERT_EQ(c0.replicas_size(), 3);
  std::set<std::string> racks;
  for (const auto& r : c0.replicas()) racks.insert(r.rack());
  EXPECT_EQ(racks.size(), 3u);
  // A retried allocation returns the same chunk; skipping ahead is refused.
  ASSERT_OK_AND_ASSIGN(auto again, master_->AllocateChunk(lease, 0));
  EXPECT_EQ(again.chunk_id(), c0.chunk_id());
  EXPECT_EQ(master_->AllocateChunk(lease, 2).status().code(), absl::StatusCode::kInvalidArgument);
  // The next chunk only after the first is full and committed.
  EXPECT_EQ(master_->AllocateChunk(lease, 1).status().code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_OK(master_->CommitLength(lease, 1000));
  EXPECT_EQ(master_->CommitLength(lease, 999).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(master_->CommitLength(lease, (1 << 20) + 1).status().code(),
            absl::StatusCode::kOutOfRange);
  ASSERT_OK(master_->CommitLength(lease, 1 << 20));
  ASSERT_OK_AND_ASSIGN(auto c1, master_->AllocateChunk(lease, 1));
  EXPECT_NE(c1.chunk_id(), c0.chunk_id());
  ASSERT_OK(master_->CommitLength(lease, (1 << 20) + 5));

  Reopen();  // everything acknowledged survives a restart
  ASSERT_OK_AND_ASSIGN(auto info, master_->GetFileInfo("p", "dir/f", true));
  EXPECT_EQ(info.length(), (1u << 20) + 5);
  ASSERT_EQ(info.chunks_size(), 2);
  EXPECT_EQ(info.chunks(0).chunk_id(), c0.chunk_id());
  EXPECT_EQ(info.chunks(0).length(), 1u << 20);
  EXPECT_EQ(info.chunks(1).length(), 5u);
  EXPECT_TRUE(info.under_lease());

  // The lease survives too; sealing ends it and makes the file immutable.
  ASSERT_OK(master_->SealFile(lease, true));
  EXPECT_EQ(master_->CommitLength(lease, (1 << 20) + 6).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(master_->OpenForAppend("p", "dir/f", "c2").status().code(),
            absl::StatusCode::kFailedPrecondition);
  // New chunk ids never repeat after a restart (once servers have registered again).
  RegisterServers(3, 2);
  ASSERT_OK_AND_ASSIGN(auto g, master_->CreateFile("p", "g", 1 << 20, "c1"));
  ASSERT_OK_AND_ASSIGN(auto g0, master_->AllocateChunk(Lease(g), 0));
  EXPECT_GT(g0.chunk_id(), c1.chunk_id());
}

TEST_F(MasterTest, ListAndDelete) {
  ASSERT_OK(master_->CreateProject("p", ""));
  ASSERT_OK(master_->CreateProject("q", ""));
  for (const char* path : {"logs/a", "logs/b", "other", "logsx"}) {
    ASSERT_OK(master_->CreateFile("p", path, 0, "c"));
  }
  ASSERT_OK(master_->CreateFile("q", "logs/a", 0, "c"));
  ASSERT_OK_AND_ASSIGN(auto logs, master_->ListFiles("p", "logs/", 0));
  ASSERT_EQ(logs.size(), 2u);
  EXPECT_EQ(logs[0].path(), "logs/a");
  EXPECT_EQ(logs[1].path(), "logs/b");
  ASSERT_OK_AND_ASSIGN(auto all, master_->ListFiles("p", "", 0));
  EXPECT_EQ(all.size(), 4u);
  ASSERT_OK(master_->DeleteFile("p", "logs/a"));
  EXPECT_EQ(master_->GetFileInfo("p", "logs/a", false).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(master_->DeleteFile("p", "logs/a").code(), absl::StatusCode::kNotFound);
  Reopen();
  ASSERT_OK_AND_ASSIGN(all, master_->ListFiles("p", "", 0));
  EXPECT_EQ(all.size(), 3u);
  EXPECT_OK(master_->GetFileInfo("q", "logs/a", false));
}

TEST_F(MasterTest, BadInputChangesNothing) {
  ASSERT_OK(master_->CreateProject("p", ""));
  EXPECT_EQ(master_->CreateFile("nope", "f", 0, "c").status().code(), absl::StatusCode::kNotFound);
  for (std::string bad : {std::string(".."), std::string(""), std::string("a\0b", 3),
                          std::string(2000, 'x'), std::string("/abs")}) {
    EXPECT_EQ(master_->CreateFile("p", bad, 0, "c").status().code(),
              absl::StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(master_->CreateFile("p", "f", 1000, "c").status().code(),
            absl::StatusCode::kInvalidArgument);  // chunk size not a 64 KiB multiple
  ASSERT_OK_AND_ASSIGN(auto files, master_->ListFiles("p", "", 0));
  EXPECT_TRUE(files.empty());
  // Allocation needs three live servers.
  ASSERT_OK_AND_ASSIGN(auto f, master_->CreateFile("p", "f", 0, "c"));
  EXPECT_EQ(master_->AllocateChunk(Lease(f), 0).status().code(), absl::StatusCode::kUnavailable);
  LeaseRef forged = Lease(f);
  forged.set_lease_id("forged");
  EXPECT_EQ(master_->CommitLength(forged, 0).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(MasterTest, ClusterStatusCountsServersAndChunks) {
  RegisterServers(3, 1);
  ASSERT_OK(master_->CreateProject("p", ""));
  ASSERT_OK_AND_ASSIGN(auto f, master_->CreateFile("p", "f", 0, "c"));
  ASSERT_OK(master_->AllocateChunk(Lease(f), 0));
  auto st = master_->ClusterStatus();
  EXPECT_EQ(st.live_servers(), 3u);
  EXPECT_EQ(st.chunks_total(), 1u);
  EXPECT_EQ(st.replicas_total(), 3u);
  EXPECT_EQ(st.chunks_under_replicated(), 0u);
  EXPECT_EQ(st.chunks_rack_unsafe(), 0u);
  // After a restart no server has re-registered yet: the chunk has no live replica.
  Reopen();
  st = master_->ClusterStatus();
  EXPECT_EQ(st.live_servers(), 0u);
  EXPECT_EQ(st.chunks_lost(), 1u);
  ternion::v1::HeartbeatRequest hb;
  hb.set_server_id("cs-0-0");
  EXPECT_TRUE(master_->Heartbeat(hb).reregister());  // must register again
}

}  // namespace
}  // namespace ternion::master
