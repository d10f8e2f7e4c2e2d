#include "master/master.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "master/metadata_keys.h"
#include "security/length_receipt.h"
#include "security/master_key.h"
#include "tests/master/master_test_fixture.h"
#include "tests/testutil/fake_clock.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"

namespace ternion::master {
namespace {

TEST_F(MasterTest, AClusterIsCreatedOnceAndKeepsItsIdentity) {
  const std::string id = master_->cluster_id();
  EXPECT_EQ(id.rfind("tcl-", 0), 0u) << id;
  // --format on existing metadata refuses and changes nothing.
  master_.reset();
  EXPECT_EQ(Master::Format(dir_.path() + "/meta").status().code(),
            absl::StatusCode::kAlreadyExists);
  Reopen();
  EXPECT_EQ(master_->cluster_id(), id);
  // No metadata (a typo, a fresh disk): refused, naming what to do, and nothing is created.
  auto empty = Master::Open(dir_.path() + "/typo", options_);
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(empty.status().message()), ::testing::HasSubstr("--format"));
  EXPECT_THAT(std::string(empty.status().message()), ::testing::HasSubstr("--restore-from"));
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/typo/CURRENT"));
  // Two formats make two different clusters.
  ASSERT_OK_AND_ASSIGN(std::string other, Master::Format(dir_.path() + "/other"));
  EXPECT_NE(other, id);
}

TEST_F(MasterTest, AChunkserverOfAnotherClusterIsRefused) {
  ternion::v1::RegisterChunkServerRequest req;
  req.set_server_id("cs-x");
  req.set_address("127.0.0.1:1");
  req.set_cluster_id("tcl-someotherclusterid");
  req.add_replicas()->set_chunk_id(77);
  auto refused = master_->RegisterChunkServer(req);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refused.status().message()),
              ::testing::HasSubstr("tcl-someotherclusterid"));
  EXPECT_THAT(std::string(refused.status().message()), ::testing::HasSubstr(master_->cluster_id()));
  ternion::v1::HeartbeatRequest hb;
  hb.set_server_id("cs-x");
  hb.set_cluster_id("tcl-someotherclusterid");
  EXPECT_TRUE(master_->Heartbeat(hb).reregister());
  EXPECT_EQ(master_->ClusterStatus().servers_size(), 0);
  // Unstamped (its first registration) or stamped with this cluster: accepted, told the id.
  req.clear_cluster_id();
  ASSERT_OK_AND_ASSIGN(auto resp, master_->RegisterChunkServer(req));
  EXPECT_EQ(resp.cluster_id(), master_->cluster_id());
  req.set_cluster_id(master_->cluster_id());
  ASSERT_OK(master_->RegisterChunkServer(req).status());
}

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

// A create whose answer was lost (the master restarted meanwhile) is retried with the same
// request id and gets the lease; any other create of the path, or a retry after data was
// written, is refused.
TEST_F(MasterTest, ARetriedCreateGetsItsLeaseAndNothingElseDoes) {
  RegisterServers(3, 2);
  ASSERT_OK(master_->CreateProject("p", ""));
  ASSERT_OK(master_->CreateFile("p", "f", 1 << 20, "c1", "req-1"));
  Reopen();
  RegisterServers(3, 2);
  ASSERT_OK_AND_ASSIGN(auto retried, master_->CreateFile("p", "f", 1 << 20, "c1", "req-1"));
  EXPECT_EQ(master_->CreateFile("p", "f", 1 << 20, "c1", "req-2").status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(master_->CreateFile("p", "f", 1 << 20, "c2", "req-1").status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(master_->CreateFile("p", "f", 1 << 20, "c1").status().code(),
            absl::StatusCode::kAlreadyExists);
  LeaseRef lease = Lease(retried);
  ASSERT_OK(master_->AllocateChunk(lease, 0));
  EXPECT_EQ(master_->CreateFile("p", "f", 1 << 20, "c1", "req-1").status().code(),
            absl::StatusCode::kAlreadyExists);
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
  ASSERT_EQ(c0.replicas.size(), 3);
  std::set<std::string> racks;
  for (const auto& r : c0.replicas) racks.insert(r.rack);
  EXPECT_EQ(racks.size(), 3u);
  // A retried allocation returns the same chunk; skipping ahead is refused.
  ASSERT_OK_AND_ASSIGN(auto again, master_->AllocateChunk(lease, 0));
  EXPECT_EQ(again.chunk_id, c0.chunk_id);
  EXPECT_EQ(master_->AllocateChunk(lease, 2).status().code(), absl::StatusCode::kInvalidArgument);
  // The next chunk only after the first is full and committed.
  EXPECT_EQ(master_->AllocateChunk(lease, 1).status().code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_OK(Commit(lease, 1000));
  EXPECT_EQ(Commit(lease, 999).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Commit(lease, (1 << 20) + 1).status().code(), absl::StatusCode::kOutOfRange);
  ASSERT_OK(Commit(lease, 1 << 20));
  ASSERT_OK_AND_ASSIGN(auto c1, master_->AllocateChunk(lease, 1));
  EXPECT_NE(c1.chunk_id, c0.chunk_id);
  ASSERT_OK(Commit(lease, (1 << 20) + 5));

  Reopen();  // everything acknowledged survives a restart
  ASSERT_OK_AND_ASSIGN(auto info, master_->GetFileInfo("p", "dir/f", true));
  EXPECT_EQ(info.length, (1u << 20) + 5);
  ASSERT_EQ(info.chunks.size(), 2);
  EXPECT_EQ(info.chunks[0].chunk_id, c0.chunk_id);
  EXPECT_EQ(info.chunks[0].length, 1u << 20);
  EXPECT_EQ(info.chunks[1].length, 5u);
  EXPECT_TRUE(info.under_lease);

  // The lease survives too; sealing ends it and makes the file immutable.
  ASSERT_OK(master_->SealFile(lease, true));
  EXPECT_EQ(Commit(lease, (1 << 20) + 6).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(master_->OpenForAppend("p", "dir/f", "c2").status().code(),
            absl::StatusCode::kFailedPrecondition);
  // New chunk ids never repeat after a restart (once servers have registered again).
  RegisterServers(3, 2);
  ASSERT_OK_AND_ASSIGN(auto g, master_->CreateFile("p", "g", 1 << 20, "c1"));
  ASSERT_OK_AND_ASSIGN(auto g0, master_->AllocateChunk(Lease(g), 0));
  EXPECT_GT(g0.chunk_id, c1.chunk_id);
}

TEST_F(MasterTest, ALengthIsCommittedOnlyWithEveryReplicasReceiptForIt) {
  RegisterServers(3, 1);
  ASSERT_OK(master_->CreateProject("p", ""));
  ASSERT_OK_AND_ASSIGN(auto created, master_->CreateFile("p", "f", 1 << 20, "c1"));
  const LeaseRef lease = Lease(created);
  ASSERT_OK_AND_ASSIGN(auto c0, master_->AllocateChunk(lease, 0));
  const std::vector<security::LengthReceipt> good = Receipts(lease, 1000);
  ASSERT_EQ(good.size(), 3u);
  auto refused = [&](std::vector<security::LengthReceipt> receipts, const std::string& why) {
    absl::StatusOr<uint64_t> s = master_->CommitLength(lease, 1000, receipts);
    EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition) << why;
    EXPECT_NE(s.status().message().find("no valid durable-length receipt"), std::string::npos)
        << why << ": " << s.status();
  };
  refused({}, "none");
  refused({good[0], good[1]}, "one replica's missing");
  refused({good[0], good[1], good[1]}, "one replica's twice instead of the third's");
  auto altered = good;
  altered[2].mac[0] ^= 1;
  refused(altered, "a forged MAC");
  altered = good;
  altered[2].length = 2000;  // claims more than the server said
  refused(altered, "a length the server did not sign");
  altered = good;
  altered[2].mac =
      security::SignReceipt(master_->ReceiptKeyOf(good[2].server_id), c0.chunk_id, c0.version, 999);
  altered[2].length = 999;
  refused(altered, "a receipt for fewer bytes");
  altered = good;
  altered[2].mac = security::SignReceipt(master_->ReceiptKeyOf(good[1].server_id), c0.chunk_id,
                                         c0.version, 1000);
  refused(altered, "another server's key");
  altered = good;
  altered[2].mac = security::SignReceipt(master_->ReceiptKeyOf(good[2].server_id), c0.chunk_id,
                                         c0.version + 1, 1000);
  refused(altered, "another version");
  ASSERT_OK_AND_ASSIGN(auto info, master_->GetFileInfo("p", "f", true));
  EXPECT_EQ(info.length, 0u);  // nothing was recorded
  EXPECT_EQ(info.chunks[0].length, 0u);
  // Receipts for more than the commit are fine (a replica may be ahead of the others).
  auto ahead = Receipts(lease, 4000);
  ASSERT_OK(master_->CommitLength(lease, 1000, ahead));
  // The keys are derived from the master's token key, kept wrapped by the master key: the same
  // after a restart.
  const auto master_key = security::MasterKey::FromHex(std::string(64, 'a'));
  ASSERT_TRUE(master_key.ok());
  options_.master_key = &*master_key;
  Reopen();
  const security::ReceiptKey before = master_->ReceiptKeyOf("cs-0-0");
  Reopen();
  EXPECT_EQ(master_->ReceiptKeyOf("cs-0-0"), before);
  EXPECT_NE(master_->ReceiptKeyOf("cs-0-1"), before);
  master_.reset();
  options_.master_key = nullptr;
}

TEST_F(MasterTest, RenameIsAtomicAndNeverReplaces) {
  RegisterServers(3, 1);
  ASSERT_OK(master_->CreateProject("p", ""));
  ASSERT_OK_AND_ASSIGN(auto a, master_->CreateFile("p", "a._COPYING_", 1 << 20, "c1"));
  ASSERT_OK(master_->AllocateChunk(Lease(a), 0).status());
  ASSERT_OK(Commit(Lease(a), 100).status());
  // Not while it is being written.
  EXPECT_EQ(master_->RenameFile("p", "a._COPYING_", "a").status().code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_OK(master_->SealFile(Lease(a), false).status());
  ASSERT_OK_AND_ASSIGN(auto b, master_->CreateFile("p", "b", 1 << 20, "c1"));
  ASSERT_OK(master_->SealFile(Lease(b), false).status());
  EXPECT_EQ(master_->RenameFile("p", "a._COPYING_", "b").status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(master_->RenameFile("p", "a._COPYING_", "../x").status().code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_OK(master_->RenameFile("p", "a._COPYING_", "a").status());
  Reopen();
  EXPECT_EQ(master_->GetFileInfo("p", "a._COPYING_", false).status().code(),
            absl::StatusCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(auto info, master_->GetFileInfo("p", "a", true));
  EXPECT_EQ(info.length, 100u);
  EXPECT_EQ(info.chunks.size(), 1);
  ASSERT_OK(master_->DeleteFile("p", "a"));  // the renamed record is the one deleted
  EXPECT_EQ(master_->GcStatus().chunks_pending(), 1u);
}

TEST_F(MasterTest, RenameReplacesOnlyTheFileItWasToldOf) {
  RegisterServers(3, 1);
  ASSERT_OK(master_->CreateProject("p", "ann"));
  auto write = [&](const std::string& path, uint64_t length) -> FileView {
    auto lease = master_->CreateFile("p", path, 1 << 20, "c1", "", /*table=*/true);
    EXPECT_OK(lease.status());
    EXPECT_OK(master_->AllocateChunk(Lease(*lease), 0).status());
    EXPECT_OK(Commit(Lease(*lease), length).status());
    auto closed = master_->SealFile(Lease(*lease), false);
    EXPECT_OK(closed.status());
    return *closed;
  };
  const FileView old_table = write("t", 100);
  const FileView copy = write("t.copy", 100);
  ASSERT_OK(master_->SetLabel("p", {.path = "t", .level = 3}, "ann").status());
  // Not another file, not at another length, not while written, not itself.
  for (Master::Replace wrong :
       {Master::Replace{old_table.file_id + 99, 100}, Master::Replace{old_table.file_id, 99}}) {
    EXPECT_EQ(master_->RenameFile("p", "t.copy", "t", wrong).status().code(),
              absl::StatusCode::kAborted);
  }
  EXPECT_EQ(master_->RenameFile("p", "t.copy", "t.copy", Master::Replace{copy.file_id, 100})
                .status()
                .code(),
            absl::StatusCode::kAborted);
  ASSERT_OK_AND_ASSIGN(auto appending, master_->OpenForAppend("p", "t", "w2"));
  EXPECT_EQ(master_->RenameFile("p", "t.copy", "t", Master::Replace{old_table.file_id, 100})
                .status()
                .code(),
            absl::StatusCode::kAborted);
  ASSERT_OK(master_->SealFile(Lease(appending), false).status());
  ASSERT_OK_AND_ASSIGN(
      FileView replaced,
      master_->RenameFile("p", "t.copy", "t", Master::Replace{old_table.file_id, 100}));
  EXPECT_EQ(replaced.file_id, copy.file_id);
  EXPECT_EQ(replaced.table_id, copy.table_id);
  EXPECT_EQ(master_->GcStatus().chunks_pending(), 1u);  // the old table's chunk
  EXPECT_FALSE(master_->GetFileInfo("p", "t.copy", false).ok());
  // The path's policies stay: the label still covers the table now at `t`.
  std::optional<ProjectView> view = master_->Project("p");
  ASSERT_TRUE(view.has_value());
  ASSERT_EQ(view->labels.size(), 1u);
  EXPECT_EQ(view->labels[0].path, "t");
}

// The decision on `user` reading `project`/`path` for a job of `context` (empty: none).
Decision ReadFor(Master* m, const std::string& user, const std::string& project,
                 const std::string& path, const std::string& context,
                 std::vector<std::string> columns = {}) {
  AccessRequest r{.need = {.scope = Requirement::Scope::kProject, .action = Action::kRead},
                  .project = project,
                  .objects = {{.path = path}},
                  .columns = std::move(columns),
                  .context_project = context};
  const PolicySnapshot state = m->PolicyState({project, context}, project, &r.objects);
  return Decide({.user = user}, r, state);
}

TEST_F(MasterTest, APackageSharesItsEntriesUntilUninstalledDisallowedOrDeleted) {
  for (const char* u : {"ann", "bob", "carol"})
    ASSERT_OK(master_->CreateUser(u, false, "t").status());
  ASSERT_OK(master_->CreateProject("p1", "ann"));
  ASSERT_OK(master_->CreateProject("p2", "bob"));
  ASSERT_OK(master_->SetProjectMember("p2", "carol", false, false, "bob").status());
  ASSERT_OK_AND_ASSIGN(auto f, master_->CreateFile("p1", "sales/t1", 1 << 20, "c1"));
  ASSERT_OK(master_->SealFile(Lease(f), false).status());
  using Op = Master::PackageChange::Op;
  const GrantView::Object kFile = GrantView::Object::kFile;
  auto change = [&](Op op, Master::PackageChange c = {}) {
    c.op = op;
    if (c.package.empty()) c.package = "k";
    return master_->ChangePackage("p1", c, "ann").status();
  };
  ASSERT_OK(change(Op::kCreate));
  EXPECT_EQ(change(Op::kCreate).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(change(Op::kCreate, {.package = std::string(129, 'k')}).code(),
            absl::StatusCode::kInvalidArgument);
  const PackageEntryView entry{.object = kFile, .path = "sales/t1"};
  ASSERT_OK(change(Op::kAdd, {.entry = entry}));
  // An entry never changes; a whole project is never an entry; a missing file is refused.
  EXPECT_EQ(change(Op::kAdd, {.entry = entry}).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(change(Op::kAdd, {.entry = {.object = GrantView::Object::kProject}}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(change(Op::kAdd, {.entry = {.object = kFile, .path = "none"}}).code(),
            absl::StatusCode::kNotFound);
  // Installing needs the package's allowance; reading then needs the installer's grant.
  EXPECT_EQ(master_->InstallPackage("p2", "p1.k", false, "bob").status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(change(Op::kAllow, {.target_project = "p2", .label = 10}).code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_OK(change(Op::kAllow, {.target_project = "p2", .label = 2}));
  ASSERT_OK(master_->InstallPackage("p2", "p1.k", false, "bob").status());
  EXPECT_EQ(ReadFor(master_.get(), "carol", "p1", "sales/t1", "p2").rule, "acl");
  const GrantView grant{.grantee = "carol",
                        .actions = ActionBit(Action::kRead),
                        .object = GrantView::Object::kPackage,
                        .path = "p1.k"};
  ASSERT_OK(master_->ChangeGrant("p2", grant, false, "bob").status());
  Reopen();  // all of it is durable
  Decision d = ReadFor(master_.get(), "carol", "p1", "sales/t1", "p2");
  EXPECT_TRUE(d.allowed) << d.reason;
  EXPECT_EQ(d.rule, "package");
  EXPECT_FALSE(ReadFor(master_.get(), "carol", "p1", "sales/t1", "").allowed);  // not for p1
  // Uninstalling takes the grants on it too.
  ASSERT_OK(master_->InstallPackage("p2", "p1.k", true, "bob").status());
  EXPECT_TRUE(master_->Project("p2")->grants.empty());
  EXPECT_FALSE(ReadFor(master_.get(), "carol", "p1", "sales/t1", "p2").allowed);
  // Disallowing and deleting uninstall it wherever it is installed.
  for (Op revoke : {Op::kDisallow, Op::kDelete}) {
    if (revoke == Op::kDelete) ASSERT_OK(change(Op::kAllow, {.target_project = "p2"}));
    ASSERT_OK(master_->InstallPackage("p2", "p1.k", false, "bob").status());
    ASSERT_OK(master_->ChangeGrant("p2", grant, false, "bob").status());
    EXPECT_TRUE(ReadFor(master_.get(), "carol", "p1", "sales/t1", "p2").allowed);
    ASSERT_OK(change(revoke, {.target_project = "p2"}));
    EXPECT_FALSE(ReadFor(master_.get(), "carol", "p1", "sales/t1", "p2").allowed);
    EXPECT_TRUE(master_->Project("p2")->installed.empty());
    EXPECT_TRUE(master_->Project("p2")->grants.empty());
  }
  EXPECT_TRUE(master_->Project("p1")->packages.empty());
  // A package made again under the same name shares nothing until installed and granted again.
  ASSERT_OK(change(Op::kCreate));
  ASSERT_OK(change(Op::kAdd, {.entry = entry}));
  ASSERT_OK(change(Op::kAllow, {.target_project = "p2"}));
  EXPECT_FALSE(ReadFor(master_.get(), "carol", "p1", "sales/t1", "p2").allowed);
  // An entry dies with its file.
  ASSERT_OK(master_->DeleteFile("p1", "sales/t1"));
  EXPECT_TRUE(master_->Project("p1")->packages[0].entries.empty());
}

TEST_F(MasterTest, LabelsFollowAFileThroughRenameAndSnapshotAndDieWithIt) {
  for (const char* u : {"ann", "dan"}) ASSERT_OK(master_->CreateUser(u, false, "t").status());
  ASSERT_OK(master_->CreateProject("p", "ann"));
  ASSERT_OK(master_->SetProjectMember("p", "dan", false, false, "ann").status());
  ASSERT_OK(
      master_
          ->ChangeGrant("p", {.grantee = "dan", .actions = ActionBit(Action::kRead)}, false, "ann")
          .status());
  ASSERT_OK_AND_ASSIGN(auto f, master_->CreateFile("p", "hr/pay", 1 << 20, "c1"));
  ASSERT_OK(master_->SealFile(Lease(f), false).status());
  ASSERT_OK(master_->SetLabelPolicy("p", true, std::nullopt, "ann").status());
  ASSERT_OK(
      master_
          ->SetLabel("p", {.object = GrantView::Object::kPrefix, .path = "hr/", .level = 2}, "ann")
          .status());
  ASSERT_OK(
      master_->SetLabel("p", {.path = "hr/pay", .column = "salary", .level = 3}, "ann").status());
  EXPECT_EQ(master_->SetLabel("p", {.path = "hr/pay", .level = 10}, "ann").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(master_->SetLabel("p", {.path = "hr/pay", .column = "a b", .level = 1}, "ann")
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(master_->SetClearance("p", "nobody", 2, "ann").status().code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_OK(master_->SetClearance("p", "dan", 2, "ann").status());
  Reopen();
  EXPECT_EQ(ReadFor(master_.get(), "dan", "p", "hr/pay", "", {"name"}).rule, "grant");
  Decision d = ReadFor(master_.get(), "dan", "p", "hr/pay", "");  // every column
  EXPECT_EQ(d.rule, "label");
  EXPECT_THAT(d.reason, ::testing::HasSubstr("column salary"));
  // An exception for the column, with an expiry.
  LabelExceptionView e{.user = "dan", .path = "hr/pay", .column = "salary", .level = 3};
  EXPECT_EQ(master_->SetLabelException("p", e, absl::Hours(367 * 24), false, "ann").status().code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_OK(master_->SetLabelException("p", e, absl::Hours(1), false, "ann").status());
  EXPECT_TRUE(ReadFor(master_.get(), "dan", "p", "hr/pay", "").allowed);
  clock_.Advance(absl::Hours(1));
  EXPECT_FALSE(ReadFor(master_.get(), "dan", "p", "hr/pay", "").allowed);
  // Renamed out of the labelled prefix, and snapshotted, the file keeps its levels.
  ASSERT_OK(master_->RenameFile("p", "hr/pay", "pub/pay").status());
  ASSERT_OK(master_->SnapshotFile("p", "pub/pay", "pub/pay.snap").status());
  for (const char* path : {"pub/pay", "pub/pay.snap"}) {
    EXPECT_TRUE(ReadFor(master_.get(), "dan", "p", path, "", {"name"}).allowed) << path;
    EXPECT_THAT(ReadFor(master_.get(), "dan", "p", path, "", {"salary"}).reason,
                ::testing::HasSubstr("column salary of p/pub/pay"))
        << path;
  }
  ASSERT_OK(master_->SetClearance("p", "dan", 0, "ann").status());
  for (const char* path : {"pub/pay", "pub/pay.snap"}) {
    EXPECT_THAT(ReadFor(master_.get(), "dan", "p", path, "", {"name"}).reason,
                ::testing::HasSubstr("is at level 2"))
        << path;
  }
  // A new file at the old path is new data: level 0 but for the prefix's label.
  ASSERT_OK_AND_ASSIGN(auto g, master_->CreateFile("p", "hr/pay", 1 << 20, "c2"));
  ASSERT_OK(master_->SealFile(Lease(g), false).status());
  EXPECT_THAT(ReadFor(master_.get(), "dan", "p", "hr/pay", "").reason,
              ::testing::HasSubstr("level 2, above"));
  ASSERT_OK(master_->SetClearance("p", "dan", 2, "ann").status());
  EXPECT_TRUE(ReadFor(master_.get(), "dan", "p", "hr/pay", "").allowed);
  // Labels die with their file.
  ASSERT_OK(master_->DeleteFile("p", "pub/pay"));
  ASSERT_OK(master_->DeleteFile("p", "pub/pay.snap"));
  EXPECT_EQ(master_->Project("p")->labels.size(), 1u);  // the prefix's
}

TEST_F(MasterTest, ListAndDelete) {
  ASSERT_OK(master_->CreateProject("p", ""));
  ASSERT_OK(master_->CreateProject("q", ""));
  for (const char* path : {"logs/a", "logs/b", "other", "logsx"}) {
    ASSERT_OK(master_->CreateFile("p", path, 0, "c"));
  }
  ASSERT_OK(master_->CreateFile("q", "logs/a", 0, "c"));
  ASSERT_OK_AND_ASSIGN(FileListing logs, master_->ListFiles("p", "logs/", 0));
  ASSERT_EQ(logs.files.size(), 2u);
  EXPECT_EQ(logs.files[0].path, "logs/a");
  EXPECT_EQ(logs.files[1].path, "logs/b");
  EXPECT_FALSE(logs.truncated);
  ASSERT_OK_AND_ASSIGN(FileListing all, master_->ListFiles("p", "", 0));
  EXPECT_EQ(all.files.size(), 4u);
  // In pages: two, then from after the last one.
  ASSERT_OK_AND_ASSIGN(FileListing first, master_->ListFiles("p", "", 2));
  ASSERT_EQ(first.files.size(), 2u);
  EXPECT_TRUE(first.truncated);
  ASSERT_OK_AND_ASSIGN(FileListing rest, master_->ListFiles("p", "", 2, first.files[1].path));
  ASSERT_EQ(rest.files.size(), 2u);
  EXPECT_FALSE(rest.truncated);
  EXPECT_EQ(rest.files[0].path, "logsx");
  EXPECT_EQ(rest.files[1].path, "other");
  ASSERT_OK_AND_ASSIGN(FileListing after, master_->ListFiles("p", "logs/", 0, "logs/a"));
  ASSERT_EQ(after.files.size(), 1u);
  EXPECT_EQ(after.files[0].path, "logs/b");
  // Still under its writer's lease: refused, unless forced (which revokes the lease).
  EXPECT_EQ(master_->DeleteFile("p", "logs/a").code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_OK(master_->DeleteFile("p", "logs/a", /*force=*/true));
  EXPECT_EQ(master_->GetFileInfo("p", "logs/a", false).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(master_->DeleteFile("p", "logs/a").code(), absl::StatusCode::kNotFound);
  Reopen();
  ASSERT_OK_AND_ASSIGN(all, master_->ListFiles("p", "", 0));
  EXPECT_EQ(all.files.size(), 3u);
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
  EXPECT_TRUE(files.files.empty());
  // Allocation needs three live servers.
  ASSERT_OK_AND_ASSIGN(auto f, master_->CreateFile("p", "f", 0, "c"));
  EXPECT_EQ(master_->AllocateChunk(Lease(f), 0).status().code(), absl::StatusCode::kUnavailable);
  LeaseRef forged = Lease(f);
  forged.lease_id = "forged";
  EXPECT_EQ(Commit(forged, 0).status().code(), absl::StatusCode::kFailedPrecondition);
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

// ---- Topology, replica moves, drain, balancer ----

class TopologyTest : public MasterTest {
 protected:
  // A sealed file of `chunks` full 64 KiB chunks; returns the chunk ids.
  std::vector<uint64_t> WriteFile(const std::string& path, int chunks) {
    constexpr uint64_t kChunk = 64 << 10;
    auto created = master_->CreateFile("p", path, kChunk, "w");
    EXPECT_TRUE(created.ok()) << created.status();
    LeaseRef lease = Lease(*created);
    std::vector<uint64_t> ids;
    for (int i = 0; i < chunks; ++i) {
      auto c = master_->AllocateChunk(lease, i);
      EXPECT_TRUE(c.ok()) << c.status();
      ids.push_back(c->chunk_id);
      EXPECT_TRUE(Commit(lease, (i + 1) * kChunk).ok());
    }
    EXPECT_TRUE(master_->SealFile(lease, true).ok());
    return ids;
  }
  std::map<std::string, std::string> RackOfServer() {
    std::map<std::string, std::string> out;
    const ternion::v1::GetTopologyResponse topology = master_->GetTopology();
    for (const auto& rack : topology.racks()) {
      for (const auto& s : rack.servers()) out[s.server_id()] = rack.name();
    }
    return out;
  }
  // Carries out every move the master hands out as if the copies succeeded.
  int RunMoves(std::vector<ReplicaMove>* done = nullptr) {
    int n = 0;
    for (int round = 0; round < 20; ++round) {
      std::vector<ReplicaMove> moves = master_->TakeMoves(100);
      if (moves.empty()) break;
      for (const auto& m : moves) {
        EXPECT_TRUE(master_->FinishMove(m, absl::OkStatus())) << m.chunk_id;
        if (done) done->push_back(m);
        ++n;
      }
    }
    return n;
  }
  // The administered structure, without time-varying figures.
  std::string Structure() {
    std::string out;
    const ternion::v1::GetTopologyResponse topology = master_->GetTopology();
    for (const auto& rack : topology.racks()) {
      out += rack.name() + "/" + rack.power_domain() + "/" + rack.datacenter() + ":";
      for (const auto& s : rack.servers()) out += s.server_id() + ",";
      out += ";";
    }
    return out;
  }
  void AddRacks(int n) {
    for (int r = 0; r < n; ++r) {
      ternion::v1::AddRackRequest req;
      req.set_rack("rack" + std::to_string(r));
      req.set_power_domain("pd" + std::to_string(r));
      ASSERT_TRUE(master_->AddRack(req).ok());
    }
  }
};

TEST_F(TopologyTest, InvalidChangesAreRefusedWhole) {
  RegisterServers(3, 1);
  AddRacks(3);
  const std::string before = Structure();
  auto import = [&](auto fill) {
    ternion::v1::ImportTopologyRequest req;
    auto* ok_rack = req.add_racks();  // valid on its own: must not be applied either
    ok_rack->set_rack("rack-new");
    ok_rack->set_power_domain("pd-new");
    fill(&req);
    return master_->ImportTopology(req).status();
  };
  // Unknown rack for a server, unknown server, duplicate rack, duplicate server, a power domain
  // in two data centres, a name at two levels, a bad name.
  EXPECT_EQ(import([](auto* r) {
              auto* m = r->add_servers();
              m->set_server_id("cs-0-0");
              m->set_rack("nowhere");
            }).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(import([](auto* r) {
              auto* m = r->add_servers();
              m->set_server_id("ghost");
              m->set_rack("rack0");
            }).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(import([](auto* r) { *r->add_racks() = r->racks(0); }).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(import([](auto* r) {
              for (int i = 0; i < 2; ++i) {
                auto* m = r->add_servers();
                m->set_server_id("cs-0-0");
                m->set_rack("rack1");
              }
            }).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(import([](auto* r) {
              auto* x = r->add_racks();
              x->set_rack("rack-x");
              x->set_power_domain("pd0");
              x->set_datacenter("dc2");
            }).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(import([](auto* r) {
              auto* x = r->add_racks();
              x->set_rack("pd1");  // a rack named like a power domain
              x->set_power_domain("pd9");
            }).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(import([](auto* r) { r->mutable_racks(0)->set_rack("bad name"); }).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Structure(), before);
  // Removing a rack that still holds servers is refused.
  EXPECT_EQ(master_->RemoveRack("rack0").status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(TopologyTest, ChangesPersistAndAreAudited) {
  RegisterServers(3, 2);
  AddRacks(4);
  ASSERT_OK(master_->MoveServer("cs-0-1", "rack3").status());
  // Idempotent: the same change again changes nothing and is not audited again.
  ASSERT_OK_AND_ASSIGN(std::string again, master_->MoveServer("cs-0-1", "rack3"));
  EXPECT_EQ(again, "0 rack(s) and 0 server placement(s) changed");
  Reopen();
  EXPECT_EQ(RackOfServer()["cs-0-1"], "rack3");  // the administrator's rack wins after restart
  // A server re-registering with its own claim does not override the administrator.
  RegisterServers(3, 2);
  EXPECT_EQ(RackOfServer()["cs-0-1"], "rack3");
  std::vector<std::string> audit = AuditLines(master_.get(), 100);
  ASSERT_EQ(audit.size(), 6u);  // format, four add-rack, one move
  EXPECT_NE(audit.front().find("format: new cluster " + master_->cluster_id()), std::string::npos);
  EXPECT_NE(audit.back().find("move cs-0-1 to rack rack3"), std::string::npos);
}

TEST_F(TopologyTest, MovingAServerMakesChunksRackSafeAgain) {
  RegisterServers(4, 1);
  AddRacks(4);
  ASSERT_OK(master_->CreateProject("p", ""));
  WriteFile("f", 30);
  // cs-0-0 joins cs-1-0's rack: chunks with replicas on both become rack-unsafe.
  ASSERT_OK(master_->MoveServer("cs-0-0", "rack1").status());
  EXPECT_GT(master_->ClusterStatus().chunks_rack_unsafe(), 0u);
  std::vector<ReplicaMove> done;
  EXPECT_GT(RunMoves(&done), 0);
  for (const auto& m : done) EXPECT_EQ(m.reason, MoveReason::kPolicy);
  EXPECT_EQ(master_->ClusterStatus().chunks_rack_unsafe(), 0u);
  ASSERT_OK_AND_ASSIGN(auto info, master_->GetFileInfo("p", "f", true));
  for (const auto& c : info.chunks) {
    std::set<std::string> racks;
    for (const auto& r : c.replicas) racks.insert(r.rack);
    EXPECT_EQ(racks.size(), 3u);
  }
}

TEST_F(TopologyTest, DrainEmptiesAServerThenMarksItDrained) {
  RegisterServers(4, 1);
  AddRacks(4);
  ASSERT_OK(master_->CreateProject("p", ""));
  WriteFile("f", 20);
  ternion::v1::SetServerStateRequest drain;
  drain.set_server_id("cs-2-0");
  drain.set_action(ternion::v1::SetServerStateRequest::DRAIN);
  ASSERT_OK(master_->SetServerState(drain).status());
  std::vector<ReplicaMove> done;
  RunMoves(&done);
  ASSERT_FALSE(done.empty());
  for (const auto& m : done) {
    EXPECT_EQ(m.from, "cs-2-0");
    EXPECT_EQ(m.reason, MoveReason::kDrain);
  }
  master_->TakeMoves(1);  // the next scan notices the empty server
  std::string state;
  const ternion::v1::ClusterStatusResponse status = master_->ClusterStatus();
  for (const auto& s : status.servers()) {
    if (s.server_id() == "cs-2-0") {
      state = s.admin_state();
      EXPECT_EQ(s.replicas(), 0u);
    }
  }
  EXPECT_EQ(state, "drained");
  // New chunks never land on a drained server.
  ASSERT_OK_AND_ASSIGN(auto created, master_->CreateFile("p", "g", 64 << 10, "w"));
  for (int i = 0; i < 20; ++i) {
    ASSERT_OK_AND_ASSIGN(auto c, master_->AllocateChunk(Lease(created), i));
    for (const auto& r : c.replicas) EXPECT_NE(r.server_id, "cs-2-0");
    ASSERT_OK(Commit(Lease(created), (i + 1) * (64 << 10)).status());
  }
}

TEST_F(TopologyTest, DecommissionedServerIsRefused) {
  RegisterServers(3, 1);
  ternion::v1::SetServerStateRequest req;
  req.set_server_id("cs-0-0");
  req.set_action(ternion::v1::SetServerStateRequest::DECOMMISSION);
  ASSERT_OK(master_->SetServerState(req).status());
  master_->TakeMoves(1);  // holds no replicas: decommissioned at once
  ternion::v1::HeartbeatRequest hb;
  hb.set_server_id("cs-0-0");
  EXPECT_TRUE(master_->Heartbeat(hb).refused());
  ternion::v1::RegisterChunkServerRequest reg;
  reg.set_server_id("cs-0-0");
  reg.set_address("127.0.0.1:1");
  EXPECT_EQ(master_->RegisterChunkServer(reg).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(TopologyTest, AMoveOfAChunkThatChangedIsDropped) {
  RegisterServers(4, 1);
  AddRacks(4);
  ASSERT_OK(master_->CreateProject("p", ""));
  // An open file: its last chunk is not full and has a writer, so it is never moved.
  ASSERT_OK_AND_ASSIGN(auto created, master_->CreateFile("p", "open", 64 << 10, "w"));
  ASSERT_OK(master_->AllocateChunk(Lease(created), 0).status());
  ASSERT_OK(Commit(Lease(created), 1000).status());
  // Put the first replica's server into the second replica's rack: the chunk is rack-unsafe.
  ASSERT_OK_AND_ASSIGN(auto info, master_->GetFileInfo("p", "open", true));
  const auto& replicas = info.chunks[0].replicas;
  ASSERT_OK(master_->MoveServer(replicas[0].server_id, replicas[1].rack).status());
  for (const auto& m : master_->TakeMoves(100)) ADD_FAILURE() << "moved open chunk " << m.chunk_id;
  // Released (no writer): it moves; but if the file is reopened meanwhile, the copy is dropped.
  ASSERT_OK(master_->SealFile(Lease(created), false).status());
  std::vector<ReplicaMove> moves = master_->TakeMoves(100);
  ASSERT_EQ(moves.size(), 1u);
  ASSERT_OK(master_->OpenForAppend("p", "open", "w2").status());
  EXPECT_FALSE(master_->FinishMove(moves[0], absl::OkStatus()));
}

TEST_F(TopologyTest, BalancerMovesFromFullerToEmptierServers) {
  RegisterServers(4, 2);
  AddRacks(4);
  ASSERT_OK(master_->CreateProject("p", ""));
  WriteFile("f", 40);
  // Reported usage: cs-0-0 is 80% full, the others 10%.
  for (int r = 0; r < 4; ++r) {
    for (int i = 0; i < 2; ++i) {
      ternion::v1::HeartbeatRequest hb;
      hb.set_server_id("cs-" + std::to_string(r) + "-" + std::to_string(i));
      auto* d = hb.add_disks();
      d->set_capacity_bytes(100ull << 30);
      d->set_used_bytes((r == 0 && i == 0 ? 80ull : 10ull) << 30);
      ASSERT_FALSE(master_->Heartbeat(hb).reregister());
    }
  }
  ternion::v1::BalancerRequest start;
  start.set_action(ternion::v1::BalancerRequest::START);
  ASSERT_TRUE(master_->Balancer(start).running());
  std::vector<ReplicaMove> moves = master_->TakeMoves(100);
  ASSERT_FALSE(moves.empty());
  for (const auto& m : moves) {
    EXPECT_EQ(m.reason, MoveReason::kBalance);
    EXPECT_EQ(m.from, "cs-0-0");
    ASSERT_TRUE(master_->FinishMove(m, absl::OkStatus()));
  }
  ternion::v1::BalancerRequest status;
  auto st = master_->Balancer(status);
  EXPECT_EQ(st.moves_done(), moves.size());
  EXPECT_EQ(st.bytes_moved(), moves.size() * (64 << 10));
  EXPECT_NEAR(st.fill_max(), 0.8, 1e-9);
}

TEST_F(TopologyTest, RackUnsafeChunksAreFixedWhenAThirdRackArrives) {
  RegisterServers(2, 2);  // two racks only
  ASSERT_OK(master_->CreateProject("p", ""));
  WriteFile("f", 10);
  EXPECT_EQ(master_->ClusterStatus().chunks_rack_unsafe(), 10u);
  EXPECT_EQ(RunMoves(), 0);  // nowhere better to go
  ternion::v1::RegisterChunkServerRequest req;
  req.set_server_id("cs-new");
  req.set_address("127.0.0.1:20000");
  req.set_rack("rack-new");
  req.add_disks()->set_capacity_bytes(100ull << 30);
  ASSERT_OK(master_->RegisterChunkServer(req).status());
  std::vector<ReplicaMove> done;
  EXPECT_EQ(RunMoves(&done), 10);
  for (const auto& m : done) EXPECT_EQ(m.to, "cs-new");
  EXPECT_EQ(master_->ClusterStatus().chunks_rack_unsafe(), 0u);
}

class RepairTest : public TopologyTest {
 protected:
  void SetUp() override {
    options_.dead_after = absl::Milliseconds(300);
    Reopen();
  }
  // Heartbeats from every registered server except `dead`, for long enough that the others
  // are declared dead.
  void KeepAliveAllBut(const std::set<std::string>& dead) {
    for (int i = 0; i < 8; ++i) {
      const ternion::v1::ClusterStatusResponse st = master_->ClusterStatus();
      for (const auto& s : st.servers()) {
        if (dead.contains(s.server_id())) continue;
        ternion::v1::HeartbeatRequest hb;
        hb.set_server_id(s.server_id());
        hb.add_disks()->set_capacity_bytes(100ull << 30);
        master_->Heartbeat(hb);
      }
      clock_.Advance(absl::Milliseconds(60));
    }
  }
};

TEST_F(RepairTest, DeadServersReplicasAreReplacedMostEndangeredFirst) {
  RegisterServers(4, 2);
  ASSERT_OK(master_->CreateProject("p", ""));
  WriteFile("f", 40);
  KeepAliveAllBut({"cs-0-0", "cs-1-0"});
  const ternion::v1::ClusterStatusResponse before = master_->ClusterStatus();
  EXPECT_GT(before.chunks_under_replicated(), 0u);
  EXPECT_EQ(before.chunks_lost(), 0u);
  std::vector<ReplicaMove> moves = master_->TakeMoves(1000);  // unlimited per-server for order
  std::vector<ReplicaMove> queued = moves;
  // Every chunk that lost replicas gets a repair; one-live-replica chunks come first.
  ASSERT_FALSE(moves.empty());
  int last_priority = 0;
  for (const auto& m : moves) {
    EXPECT_EQ(m.reason, MoveReason::kRepair);
    EXPECT_TRUE(m.from == "cs-0-0" || m.from == "cs-1-0") << m.from;
    EXPECT_FALSE(m.drop_from);  // its server is dead
    EXPECT_GE(m.priority, last_priority);
    last_priority = m.priority;
    EXPECT_TRUE(master_->FinishMove(m, absl::OkStatus()));
  }
  KeepAliveAllBut({"cs-0-0", "cs-1-0"});
  RunMoves();  // second replicas of chunks that had lost two
  const ternion::v1::ClusterStatusResponse after = master_->ClusterStatus();
  EXPECT_EQ(after.chunks_under_replicated(), 0u);
  EXPECT_EQ(after.chunks_rack_unsafe(), 0u);
}

// Recovery is throttled per server, not cluster-wide: however the copies under way finish, no
// server ever sends or receives more than the per-server limit at once, many copies run at once,
// and the dead server's chunks are read from and written to servers all over the cluster.
TEST_F(RepairTest, CopiesAreThrottledPerServerAndSpreadOverTheSurvivors) {
  RegisterServers(6, 3);
  ASSERT_OK(master_->CreateProject("p", ""));
  WriteFile("f", 120);
  size_t on_dead = 0;
  ASSERT_OK_AND_ASSIGN(auto info, master_->GetFileInfo("p", "f", true));
  for (const auto& c : info.chunks) {
    for (const auto& r : c.replicas) on_dead += r.server_id == "cs-0-0";
  }
  KeepAliveAllBut({"cs-0-0"});
  ternion::v1::ReplicationLimits limits;
  limits.set_copies_per_server(2);
  EXPECT_EQ(master_->SetReplicationLimits(limits).copies_per_server(), 2u);
  std::map<std::string, int> sending, receiving;
  std::set<std::string> sources, targets;
  std::vector<ReplicaMove> under_way;
  size_t repaired = 0, most_at_once = 0;
  for (int round = 0; round < 200 && (round < 5 || !under_way.empty()); ++round) {
    for (auto& m : master_->TakeMoves(1000)) {
      EXPECT_EQ(m.from, "cs-0-0");
      EXPECT_LE(++sending[m.source], 2) << m.source;
      EXPECT_LE(++receiving[m.to], 2) << m.to;
      sources.insert(m.source);
      targets.insert(m.to);
      under_way.push_back(std::move(m));
    }
    most_at_once = std::max(most_at_once, under_way.size());
    // The older half finishes.
    std::vector<std::pair<ReplicaMove, absl::Status>> done;
    const size_t n = (under_way.size() + 1) / 2;
    for (size_t i = 0; i < n; ++i) {
      --sending[under_way[i].source];
      --receiving[under_way[i].to];
      done.emplace_back(std::move(under_way[i]), absl::OkStatus());
    }
    under_way.erase(under_way.begin(), under_way.begin() + n);
    for (bool recorded : master_->FinishMoves(done)) repaired += recorded;
    KeepAliveAllBut({"cs-0-0"});
  }
  EXPECT_TRUE(under_way.empty());
  EXPECT_GE(most_at_once, 4u);
  EXPECT_GE(sources.size(), 6u) << "sources spread over the 17 survivors";
  EXPECT_GE(targets.size(), 6u) << "targets spread over the 17 survivors";
  EXPECT_EQ(master_->ClusterStatus().chunks_under_replicated(), 0u);
  EXPECT_EQ(repaired, on_dead);
  ASSERT_OK(master_->CheckInvariants());
}

// A writer that vanished leaves its lease behind. Until the lease is past the hard limit the
// writer may come back, so its file's last chunk is not copied. Past it, the master first
// recovers the lease: the least length the chunk's replicas report (they may hold flushed bytes
// the writer never committed) becomes the file's; only then is the chunk repaired like any
// other, and the old lease is refused.
TEST_F(RepairTest, TheLastChunkOfAnAbandonedFileIsRepairedAfterItsLeaseIsRecovered) {
  RegisterServers(4, 2);
  ASSERT_OK(master_->CreateProject("p", ""));
  ASSERT_OK_AND_ASSIGN(auto created, master_->CreateFile("p", "open", 64 << 10, "w"));
  const LeaseRef lease = Lease(created);
  ASSERT_OK_AND_ASSIGN(auto chunk, master_->AllocateChunk(lease, 0));
  ASSERT_OK(Commit(lease, 1000).status());
  const std::string victim = chunk.replicas[0].server_id;
  auto repairs_of_the_chunk = [&] {
    int n = 0;
    for (const auto& m : master_->TakeMoves(100)) {
      n += m.chunk_id == chunk.chunk_id;
      (void)master_->FinishMove(m, absl::UnavailableError("not copied in this test"));
    }
    return n;
  };
  KeepAliveAllBut({victim});
  EXPECT_EQ(repairs_of_the_chunk(), 0) << "its writer may still append";
  clock_.Advance(options_.lease_duration + options_.lease_hard_limit / 2);
  KeepAliveAllBut({victim});
  EXPECT_EQ(repairs_of_the_chunk(), 0) << "expired, but the holder may come back until the limit";
  std::string cursor;
  EXPECT_TRUE(master_->LeaseRecoveriesDue(10, &cursor).empty());
  clock_.Advance(options_.lease_hard_limit / 2 + absl::Seconds(1));
  KeepAliveAllBut({victim});
  EXPECT_EQ(repairs_of_the_chunk(), 0) << "not before the lease is recovered";
  const absl::Status late = Commit(lease, 2000).status();
  EXPECT_EQ(late.code(), absl::StatusCode::kFailedPrecondition) << late;
  EXPECT_NE(late.message().find("recovered"), std::string::npos) << late;

  std::vector<LeaseRecovery> due = master_->LeaseRecoveriesDue(10, &cursor);
  ASSERT_EQ(due.size(), 1u);
  const LeaseRecovery& r = due[0];
  EXPECT_EQ(r.lease.lease_id, lease.lease_id);
  EXPECT_EQ(r.chunk_id, chunk.chunk_id);
  EXPECT_EQ(r.version, chunk.version);
  EXPECT_EQ(r.committed, 1000u);
  EXPECT_EQ(r.addresses.size(), 2u) << "the live replicas only";
  EXPECT_FALSE(r.token.empty());
  // Nothing known (no answer, or a version the master never gave): nothing changes.
  EXPECT_EQ(master_->RecoverLease(r, {}, 0).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(
      master_->RecoverLease(r, {{.version = chunk.version + 1, .length = 9000}}, 0).status().code(),
      absl::StatusCode::kUnavailable);
  EXPECT_EQ(repairs_of_the_chunk(), 0);
  // The replicas hold 1500 and 1800 bytes durably (flushed, not committed): 1500 stands.
  ASSERT_OK_AND_ASSIGN(std::optional<RecoveryMove> move,
                       master_->RecoverLease(r,
                                             {{.version = chunk.version, .length = 1800},
                                              {.version = chunk.version, .length = 1500},
                                              {.version = chunk.version - 1, .length = 100}},
                                             0));
  EXPECT_FALSE(move.has_value());
  EXPECT_EQ(
      master_->RecoverLease(r, {{.version = chunk.version, .length = 1500}}, 0).status().code(),
      absl::StatusCode::kFailedPrecondition)
      << "recovered once";
  EXPECT_TRUE(master_->LeaseRecoveriesDue(10, &cursor).empty());
  ASSERT_OK_AND_ASSIGN(auto info, master_->GetFileInfo("p", "open", true));
  EXPECT_EQ(info.length, 1500u);
  EXPECT_EQ(info.chunks[0].length, 1500u);
  EXPECT_FALSE(info.under_lease);
  KeepAliveAllBut({victim});
  EXPECT_EQ(repairs_of_the_chunk(), 1);
  // Another writer may reopen the file; its last chunk is then under a live lease again.
  ASSERT_OK(master_->OpenForAppend("p", "open", "w2").status());
  KeepAliveAllBut({victim});
  EXPECT_EQ(repairs_of_the_chunk(), 0);
  ASSERT_OK(master_->CheckInvariants());
}

// A writer that died in the middle of write recovery (the master moved the chunk to a new
// version, no replica moved yet): lease recovery moves the replicas of the newest version that
// answers to a version of its own, and commits their length once they answer at it.
TEST_F(RepairTest, ALeaseWhoseReplicasAreBehindTheVersionIsRecoveredByMovingThem) {
  RegisterServers(4, 2);
  ASSERT_OK(master_->CreateProject("p", ""));
  ASSERT_OK_AND_ASSIGN(auto created, master_->CreateFile("p", "f", 64 << 10, "w"));
  const LeaseRef lease = Lease(created);
  ASSERT_OK_AND_ASSIGN(auto chunk, master_->AllocateChunk(lease, 0));
  ASSERT_OK(Commit(lease, 1000).status());
  const std::string failed = chunk.replicas[2].server_id;
  ASSERT_OK_AND_ASSIGN(auto recovered, master_->ReplaceReplicas({.lease = lease,
                                                                 .chunk_id = chunk.chunk_id,
                                                                 .length = 2000,
                                                                 .failed_server_ids = {failed}}));
  ASSERT_EQ(recovered.version, chunk.version + 1);
  // The writer dies here. Past the hard limit the replicas answer at the old version only.
  clock_.Advance(options_.lease_duration + options_.lease_hard_limit + absl::Seconds(1));
  KeepAliveAllBut({});
  std::string cursor;
  std::vector<LeaseRecovery> due = master_->LeaseRecoveriesDue(10, &cursor);
  ASSERT_EQ(due.size(), 1u);
  ASSERT_EQ(due[0].version, recovered.version);
  ASSERT_OK_AND_ASSIGN(std::optional<RecoveryMove> move,
                       master_->RecoverLease(due[0],
                                             {{.version = chunk.version, .length = 2100},
                                              {.version = chunk.version, .length = 2000}},
                                             0));
  ASSERT_TRUE(move.has_value());
  EXPECT_EQ(move->chunk_id, chunk.chunk_id);
  EXPECT_EQ(move->version, chunk.version);
  EXPECT_EQ(move->new_version, recovered.version + 1);
  EXPECT_EQ(move->length, 2000u);
  EXPECT_FALSE(move->token.empty());
  ASSERT_OK_AND_ASSIGN(auto moving, master_->GetFileInfo("p", "f", true));
  EXPECT_EQ(moving.chunks[0].version, move->new_version);
  EXPECT_TRUE(moving.open) << "not recovered until the replicas answer at the new version";
  EXPECT_EQ(master_->RecoverLease(due[0], {}, 0).status().code(),
            absl::StatusCode::kFailedPrecondition);
  // The moves are done: the next round commits.
  due = master_->LeaseRecoveriesDue(10, &cursor);
  ASSERT_EQ(due.size(), 1u);
  ASSERT_EQ(due[0].version, move->new_version);
  ASSERT_OK_AND_ASSIGN(move, master_->RecoverLease(due[0],
                                                   {{.version = move->new_version, .length = 2000},
                                                    {.version = move->new_version, .length = 2000}},
                                                   0));
  EXPECT_FALSE(move.has_value());
  ASSERT_OK_AND_ASSIGN(auto info, master_->GetFileInfo("p", "f", true));
  EXPECT_EQ(info.length, 2000u);
  EXPECT_FALSE(info.open);
  ASSERT_OK(master_->CheckInvariants());
}

// A writer that died after allocating a chunk, before its first byte reached a replica: every
// replica says it holds none, and nothing was committed into it. The chunk is dropped from the
// file (nothing to recover, and nothing a repair could copy); while a replica has not answered,
// nothing is decided.
TEST_F(RepairTest, ALastChunkNoReplicaEverHeldIsDroppedAtLeaseRecovery) {
  RegisterServers(3, 3);
  ASSERT_OK(master_->CreateProject("p", ""));
  ASSERT_OK_AND_ASSIGN(auto created, master_->CreateFile("p", "f", 64 << 10, "w"));
  const LeaseRef lease = Lease(created);
  ASSERT_OK(master_->AllocateChunk(lease, 0).status());
  ASSERT_OK(Commit(lease, 64 << 10).status());
  ASSERT_OK_AND_ASSIGN(auto empty, master_->AllocateChunk(lease, 1));
  clock_.Advance(options_.lease_duration + options_.lease_hard_limit + absl::Seconds(1));
  KeepAliveAllBut({});
  std::string cursor;
  std::vector<LeaseRecovery> due = master_->LeaseRecoveriesDue(10, &cursor);
  ASSERT_EQ(due.size(), 1u);
  ASSERT_EQ(due[0].chunk_id, empty.chunk_id);
  EXPECT_EQ(master_->RecoverLease(due[0], {}, 2).status().code(), absl::StatusCode::kUnavailable)
      << "one replica has not said";
  ASSERT_OK_AND_ASSIGN(std::optional<RecoveryMove> move, master_->RecoverLease(due[0], {}, 3));
  EXPECT_FALSE(move.has_value());
  ASSERT_OK_AND_ASSIGN(auto info, master_->GetFileInfo("p", "f", true));
  EXPECT_EQ(info.length, 64u << 10);
  ASSERT_EQ(info.chunks.size(), 1u);
  EXPECT_FALSE(info.open);
  EXPECT_EQ(master_->ClusterStatus().chunks_lost(), 0u);
  ASSERT_OK(master_->CheckInvariants());
}

// Recovery of a lease whose file ends at a chunk boundary asks no replica: it only releases it.
TEST_F(RepairTest, ALeaseEndingAtAChunkBoundaryIsReleasedWithoutAskingReplicas) {
  RegisterServers(3, 3);
  ASSERT_OK(master_->CreateProject("p", ""));
  ASSERT_OK_AND_ASSIGN(auto created, master_->CreateFile("p", "full", 64 << 10, "w"));
  const LeaseRef lease = Lease(created);
  ASSERT_OK(master_->AllocateChunk(lease, 0).status());
  ASSERT_OK(Commit(lease, 64 << 10).status());
  clock_.Advance(options_.lease_duration + options_.lease_hard_limit + absl::Seconds(1));
  std::string cursor;
  std::vector<LeaseRecovery> due = master_->LeaseRecoveriesDue(10, &cursor);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].chunk_id, 0u);
  ASSERT_OK(master_->RecoverLease(due[0], {}, 0).status());
  ASSERT_OK_AND_ASSIGN(auto info, master_->GetFileInfo("p", "full", false));
  EXPECT_EQ(info.length, 64u << 10);
  EXPECT_TRUE(master_->LeaseRecoveriesDue(10, &cursor).empty());
  ASSERT_OK(master_->CheckInvariants());
}

// The move scan examines a bounded slice of the chunk map per call; the chunks of a server
// found dead are examined before the rest of the pass.
TEST_F(RepairTest, ADeadServersChunksAreExaminedFirstInBoundedSlices) {
  options_.move_scan_slice = 4;
  Reopen();
  RegisterServers(4, 2);
  ASSERT_OK(master_->CreateProject("p", ""));
  WriteFile("f", 80);  // ~30 on each server: many slices of four (8 or fewer: p < 1e-6)
  ternion::v1::ReplicationLimits limits;
  limits.set_copies_per_server(100);  // every planned repair is handed out at once
  master_->SetReplicationLimits(limits);
  EXPECT_TRUE(master_->TakeMoves(1000).empty());  // a pass starts: nothing to move
  KeepAliveAllBut({"cs-0-0"});
  size_t on_dead = 0;
  ASSERT_OK_AND_ASSIGN(auto info, master_->GetFileInfo("p", "f", true));
  for (const auto& c : info.chunks) {
    for (const auto& r : c.replicas) on_dead += r.server_id == "cs-0-0";
  }
  ASSERT_GT(on_dead, 8u);
  std::vector<ReplicaMove> first = master_->TakeMoves(1000);
  ASSERT_EQ(first.size(), 4u) << "one slice: four chunks, all of them the dead server's";
  for (const auto& m : first) {
    EXPECT_EQ(m.reason, MoveReason::kRepair);
    EXPECT_EQ(m.from, "cs-0-0");
    EXPECT_TRUE(master_->FinishMove(m, absl::OkStatus()));
  }
  size_t repaired = first.size();
  for (int i = 0; i < 80 && repaired < on_dead; ++i) {
    for (const auto& m : master_->TakeMoves(1000)) {
      EXPECT_EQ(m.from, "cs-0-0");
      EXPECT_TRUE(master_->FinishMove(m, absl::OkStatus()));
      ++repaired;
    }
  }
  EXPECT_EQ(repaired, on_dead);
  // The status walk goes in slices of four too, and counts every chunk once.
  const ternion::v1::ClusterStatusResponse st = master_->ClusterStatus();
  EXPECT_EQ(st.chunks_total(), 80u);
  EXPECT_EQ(st.replicas_total(), 240u);
  EXPECT_EQ(st.chunks_under_replicated(), 0u);
}

// Many threads create, write, seal, snapshot, rename and delete files while servers die and
// come back empty and moves run, and readers list and look up files with their chunks; a
// checker thread holds the master to its invariants (across the namespace's lock and the chunk
// map's) all the while, and once more at the end.
TEST_F(RepairTest, ConcurrentChangesWhileServersDieKeepTheInvariants) {
  options_.move_scan_slice = 7;  // passes in many slices, interleaved with everything else
  Reopen();
  RegisterServers(4, 2);
  ASSERT_OK(master_->CreateProject("p", ""));
  std::atomic<bool> done{false};
  std::atomic<int> broken{0}, checks{0}, files_made{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 40; ++i) {
        // Halfway, the checker must have run a few times (bounded wait), so it runs mid-change.
        for (int w = 0; i == 20 && w < 10000 && checks.load() < 5; ++w) {
          absl::SleepFor(absl::Milliseconds(1));
        }
        const std::string path = absl::StrCat("w", t, "/f", i);
        auto created = master_->CreateFile("p", path, 1 << 20, absl::StrCat("c", t));
        if (!created.ok()) continue;
        const LeaseRef lease = Lease(*created);
        if (master_->AllocateChunk(lease, 0).ok() && Commit(lease, 1 << 20).ok() &&
            master_->AllocateChunk(lease, 1).ok()) {
          (void)Commit(lease, (1 << 20) + 100 * i);
        }
        (void)master_->SealFile(lease, i % 2 == 0);
        ++files_made;
        switch (i % 4) {
          case 0:
            (void)master_->SnapshotFile("p", path, path + ".snap");
            (void)master_->DeleteFile("p", path);
            break;
          case 1:
            (void)master_->RenameFile("p", path, path + ".moved");
            break;
          case 2:
            (void)master_->DeleteFile("p", path);
            break;
          default:
            break;
        }
      }
    });
  }
  threads.emplace_back([&] {  // servers die (no heartbeats) and come back with nothing
    for (int round = 0; round < 12 && !done; ++round) {
      const std::string victim = absl::StrCat("cs-", round % 4, "-", round % 2);
      KeepAliveAllBut({victim});
      ternion::v1::RegisterChunkServerRequest req;
      req.set_server_id(victim);
      req.set_address("127.0.0.1:1" + std::to_string(round % 4) + std::to_string(round % 2));
      req.set_rack("rack" + std::to_string(round % 4));
      req.add_disks()->set_capacity_bytes(100ull << 30);
      (void)master_->RegisterChunkServer(req);
    }
  });
  threads.emplace_back([&] {  // the replication scheduler, every copy succeeding
    while (!done) {
      for (const auto& m : master_->TakeMoves(10)) (void)master_->FinishMove(m, absl::OkStatus());
    }
  });
  threads.emplace_back([&] {
    while (!done) {
      if (!master_->CheckInvariants().ok()) ++broken;
      ++checks;
    }
  });
  threads.emplace_back([&] {  // readers: every listed file's chunks resolve
    while (!done) {
      auto listed = master_->ListFiles("p", "w", 0);
      if (!listed.ok()) ++broken;
      for (const auto& f : listed.ok() ? listed->files : std::vector<FileView>{}) {
        auto info = master_->GetFileInfo("p", f.path, /*with_chunks=*/true);
        if (info.ok() && info->chunks.size() * info->chunk_size < info->length) ++broken;
      }
      if (!master_->Fsck("p").ok()) ++broken;
    }
  });
  for (int t = 0; t < 5; ++t) threads[t].join();  // the writers and the failures
  done = true;
  for (size_t t = 5; t < threads.size(); ++t) threads[t].join();
  EXPECT_OK(master_->CheckInvariants());
  EXPECT_EQ(broken.load(), 0) << "of " << checks.load() << " checks";
  EXPECT_GE(checks.load(), 5);
  EXPECT_GT(files_made.load(), 40);
  (void)master_->ClusterStatus();  // a sliced walk over what is left
}

TEST_F(RepairTest, NoRepairsDuringTheStartUpGracePeriod) {
  options_.dead_after = absl::Seconds(30);
  Reopen();
  RegisterServers(4, 1);
  ASSERT_OK(master_->CreateProject("p", ""));
  WriteFile("f", 5);
  Reopen();  // every server is unknown until it registers again
  EXPECT_EQ(master_->ClusterStatus().chunks_lost(), 5u);
  EXPECT_TRUE(master_->TakeMoves(100).empty());
}

TEST_F(RepairTest, ReportsAreReconciledWithTheChunkMap) {
  options_.dead_after = absl::Seconds(30);
  Reopen();
  RegisterServers(4, 1);
  ASSERT_OK(master_->CreateProject("p", ""));
  std::vector<uint64_t> ids = WriteFile("f", 3);
  ASSERT_OK_AND_ASSIGN(auto info, master_->GetFileInfo("p", "f", true));
  // A server holding chunk 0: it reports chunk 0 at an old version, an unknown chunk, and a
  // chunk it does not hold in the map (extra); chunk 1 (if it holds it) it does not report.
  const std::string server = info.chunks[0].replicas[0].server_id;
  ternion::v1::RegisterChunkServerRequest reg;
  reg.set_server_id(server);
  reg.set_address("127.0.0.1:1");
  reg.add_disks()->set_capacity_bytes(100ull << 30);
  auto add = [&](uint64_t id, uint64_t version) {
    auto* r = reg.add_replicas();
    r->set_chunk_id(id);
    r->set_version(version);
    r->set_length(64 << 10);
  };
  add(ids[0], 0);      // stale
  add(999999, 1);      // unknown
  uint64_t extra = 0;  // a chunk whose replicas do not include this server
  for (const auto& c : info.chunks) {
    bool here = false;
    for (const auto& r : c.replicas) here |= r.server_id == server;
    if (!here) extra = c.chunk_id;
  }
  if (extra != 0) add(extra, 1);
  ASSERT_OK_AND_ASSIGN(auto resp, master_->RegisterChunkServer(reg));
  // Each wipe names the version it was judged at: the chunkserver keeps a replica moved since.
  std::map<uint64_t, uint64_t> deletes;
  for (const auto& w : resp.wipes()) deletes[w.chunk_id()] = w.max_version();
  ASSERT_TRUE(deletes.contains(ids[0]));  // a newer version exists
  EXPECT_EQ(deletes.at(ids[0]), 0u);
  if (extra != 0) {
    ASSERT_TRUE(deletes.contains(extra));  // whole on live servers elsewhere
    EXPECT_EQ(deletes.at(extra), 1u);
  }
  // A chunk the master does not know is never wiped on its say: it is quarantined.
  EXPECT_FALSE(deletes.contains(999999));
  EXPECT_EQ(std::vector<uint64_t>(resp.quarantine_chunk_ids().begin(),
                                  resp.quarantine_chunk_ids().end()),
            std::vector<uint64_t>{999999});
  // The stale replica is out of the map now: chunk 0 has two replicas.
  ASSERT_OK_AND_ASSIGN(auto after, master_->GetFileInfo("p", "f", true));
  EXPECT_EQ(after.chunks[0].replicas.size(), 2);
  // Chunks it holds but did not report are not dropped within the grace period (the file was
  // just written), but a replica it says it lost is dropped at once.
  for (int i = 1; i < 3; ++i) {
    EXPECT_EQ(after.chunks[i].replicas.size(), info.chunks[i].replicas.size());
  }
  ternion::v1::ReportReplicasRequest report;
  report.set_server_id(server);
  for (int i = 1; i < 3; ++i) report.add_lost_chunk_ids(info.chunks[i].chunk_id);
  EXPECT_FALSE(master_->ReportReplicas(report).reregister());
  ASSERT_OK_AND_ASSIGN(auto lost, master_->GetFileInfo("p", "f", true));
  for (int i = 1; i < 3; ++i) {
    for (const auto& r : lost.chunks[i].replicas) EXPECT_NE(r.server_id, server);
  }
}

// ---- Nothing destroyed on a guess: orphans, the deletion valve, the last copies ----

class OrphanTest : public TopologyTest {
 protected:
  void SetUp() override {
    options_.dead_after = absl::Seconds(30);
    options_.deletion_valve_min = 4;
    Reopen();
    RegisterServers(3, 1);
    ASSERT_OK(master_->CreateProject("p", ""));
  }
  static ternion::v1::ReplicaReport Replica(uint64_t id, uint64_t version = 1,
                                            std::vector<uint32_t> bad_blocks = {}) {
    ternion::v1::ReplicaReport r;
    r.set_chunk_id(id);
    r.set_version(version);
    r.set_length(64 << 10);
    r.set_project("p");
    r.mutable_bad_blocks()->Add(bad_blocks.begin(), bad_blocks.end());
    return r;
  }
  // A full report of `server`: `live` replicas and `quarantined` ones.
  ternion::v1::ReportReplicasResponse Report(const std::string& server,
                                             const std::vector<ternion::v1::ReplicaReport>& live,
                                             const std::vector<ternion::v1::ReplicaReport>& aside,
                                             std::vector<uint64_t> corrupt = {}) {
    ternion::v1::ReportReplicasRequest req;
    req.set_server_id(server);
    for (const auto& r : live) *req.add_replicas() = r;
    for (const auto& r : aside) *req.add_quarantined() = r;
    for (uint64_t id : corrupt) req.add_corrupt_chunk_ids(id);
    auto resp = master_->ReportReplicas(req);
    EXPECT_FALSE(resp.reregister());
    return resp;
  }
  // The server's live replicas of `ids` (at version 1) and `extra` more.
  std::vector<ternion::v1::ReplicaReport> Holding(const std::vector<uint64_t>& ids) {
    std::vector<ternion::v1::ReplicaReport> out;
    for (uint64_t id : ids) out.push_back(Replica(id));
    return out;
  }
  static std::vector<uint64_t> Ids(const google::protobuf::RepeatedField<uint64_t>& f) {
    return {f.begin(), f.end()};
  }
  static std::vector<uint64_t> Ids(
      const google::protobuf::RepeatedPtrField<ternion::v1::ReplicaWipe>& wipes) {
    std::vector<uint64_t> ids;
    for (const auto& w : wipes) ids.push_back(w.chunk_id());
    return ids;
  }
};

TEST_F(OrphanTest, UnknownReplicasAreQuarantinedThenWipedOnlyAfterTheDelay) {
  std::vector<uint64_t> ids = WriteFile("f", 10);
  auto reports = Holding(ids);
  reports.push_back(Replica(uint64_t{1} << 40));  // a chunk this master never allocated
  auto resp = Report("cs-0-0", reports, {});
  EXPECT_TRUE(resp.wipes().empty());
  EXPECT_EQ(Ids(resp.quarantine_chunk_ids()), std::vector<uint64_t>{uint64_t{1} << 40});
  // Set aside on the server, it is counted and listed, and not wiped before the delay.
  reports.pop_back();
  resp = Report("cs-0-0", reports, {Replica(uint64_t{1} << 40)});
  EXPECT_TRUE(resp.wipes().empty());
  EXPECT_EQ(master_->GcStatus().orphans_quarantined(), 1u);
  EXPECT_EQ(master_->ClusterStatus().orphans_quarantined(), 1u);
  ASSERT_OK_AND_ASSIGN(auto listed, master_->Orphans({}));
  ASSERT_EQ(listed.replicas_size(), 1);
  EXPECT_EQ(listed.replicas(0).state(), "quarantined");
  EXPECT_EQ(listed.replicas(0).reason(), "unknown");
  EXPECT_GT(listed.replicas(0).wipe_in_ms(), 3'000'000);  // about a day
  // With the delay over (a master with a zero delay), the next report wipes it.
  options_.orphan_wipe_delay = absl::ZeroDuration();
  Reopen();
  RegisterServers(3, 1);
  resp = Report("cs-0-0", reports, {Replica(uint64_t{1} << 40)});
  EXPECT_EQ(Ids(resp.wipes()), std::vector<uint64_t>{uint64_t{1} << 40});
}

TEST_F(OrphanTest, TheValveHoldsAReportThatWouldSetAsideMuchOfAServer) {
  std::vector<uint64_t> ids = WriteFile("f", 10);
  auto reports = Holding(ids);
  for (uint64_t id = 1000; id < 1006; ++id) reports.push_back(Replica(id));  // 6 of 16 unknown
  auto resp = Report("cs-1-0", reports, {});
  EXPECT_TRUE(resp.wipes().empty());
  EXPECT_TRUE(resp.quarantine_chunk_ids().empty());  // held: nothing is set aside
  EXPECT_EQ(master_->ClusterStatus().deletion_valve_held_servers(), 1u);
  ASSERT_OK_AND_ASSIGN(auto listed, master_->Orphans({}));
  ASSERT_EQ(listed.held_size(), 1);
  EXPECT_EQ(listed.held(0).would_remove(), 6u);
  EXPECT_EQ(listed.replicas_size(), 6);
  // Reports go on being held (not acted on) until the operator decides.
  resp = Report("cs-1-0", reports, {});
  EXPECT_TRUE(resp.quarantine_chunk_ids().empty());
  // WIPE needs the operator to name what or say all.
  ternion::v1::OrphansRequest wipe;
  wipe.set_action(ternion::v1::OrphansRequest::WIPE);
  EXPECT_EQ(master_->Orphans(wipe).status().code(), absl::StatusCode::kInvalidArgument);
  // RELEASE of two of them: each becomes a readable one-chunk file in lost+found.
  ternion::v1::OrphansRequest release;
  release.set_action(ternion::v1::OrphansRequest::RELEASE);
  release.add_chunk_ids(1000);
  release.add_chunk_ids(1001);
  ASSERT_OK_AND_ASSIGN(auto released, master_->Orphans(release));
  EXPECT_EQ(released.released_files_size(), 2);
  ASSERT_OK_AND_ASSIGN(auto file, master_->GetFileInfo("p", "lost+found/chunk-00000000000003e8",
                                                       true));
  EXPECT_TRUE(file.sealed);
  EXPECT_EQ(file.length, 64u << 10);
  ASSERT_EQ(file.chunks.size(), 1);
  EXPECT_EQ(file.chunks[0].chunk_id, 1000u);
  ASSERT_EQ(file.chunks[0].replicas.size(), 1);
  EXPECT_EQ(file.chunks[0].replicas[0].server_id, "cs-1-0");
  // WIPE --all --server: the rest go with the server's next report.
  wipe.set_all(true);
  wipe.set_server_id("cs-1-0");
  ASSERT_OK_AND_ASSIGN(auto wiped, master_->Orphans(wipe));
  EXPECT_EQ(wiped.affected(), 4u);
  resp = Report("cs-1-0", reports, {});
  std::vector<uint64_t> removed = Ids(resp.wipes());
  std::sort(removed.begin(), removed.end());
  EXPECT_EQ(removed, (std::vector<uint64_t>{1002, 1003, 1004, 1005}));
  EXPECT_EQ(master_->ClusterStatus().deletion_valve_held_servers(), 0u);
  EXPECT_NE(AuditLines(master_.get(), 100).back().find("orphans wipe"), std::string::npos);
}

TEST_F(OrphanTest, TheLastCopiesOfAChunkAreKeptEvenWhenDamaged) {
  std::vector<uint64_t> ids = WriteFile("f", 1);
  const uint64_t id = ids[0];
  // Every replica fails a different block's checksum: each server sets its copy aside.
  int n = 0;
  for (const std::string server : {"cs-0-0", "cs-1-0", "cs-2-0"}) {
    auto resp = Report(server, {}, {Replica(id, 1, {static_cast<uint32_t>(n++)})}, {id});
    EXPECT_TRUE(resp.wipes().empty()) << server;  // never the last copies
  }
  ternion::v1::ClusterStatusResponse st = master_->ClusterStatus();
  EXPECT_EQ(st.chunks_corrupt(), 1u);
  EXPECT_EQ(st.chunks_lost(), 0u);
  ASSERT_OK_AND_ASSIGN(auto info, master_->GetFileInfo("p", "f", true));
  EXPECT_EQ(info.chunks[0].replicas.size(), 0);
  EXPECT_EQ(info.chunks[0].corrupt_replicas.size(), 3);  // for salvage
  ASSERT_OK_AND_ASSIGN(auto fsck, master_->Fsck("p"));
  ASSERT_EQ(fsck.problems_size(), 1);
  EXPECT_EQ(fsck.problems(0).state(), "corrupt");
  EXPECT_EQ(fsck.problems(0).corrupt_copies(), 3u);
  EXPECT_EQ(fsck.problems(0).damaged_size(), 0);  // every block is intact in some copy
  // Block 0 damaged in every copy: beyond salvage, and fsck says which bytes.
  for (const std::string server : {"cs-0-0", "cs-1-0", "cs-2-0"}) {
    Report(server, {}, {Replica(id, 1, {0, 1})});
  }
  ASSERT_OK_AND_ASSIGN(fsck, master_->Fsck("p"));
  ASSERT_EQ(fsck.problems(0).damaged_size(), 1);
  EXPECT_EQ(fsck.problems(0).damaged(0).offset(), 0u);
  EXPECT_EQ(fsck.problems(0).damaged(0).length(), 64u << 10);
  // A good copy appears (a server returns with it): it is adopted, and once the chunk is whole
  // on live servers again the damaged copies go.
  RegisterServers(4, 1);  // cs-3-0 is new
  Report("cs-3-0", {Replica(id)}, {});
  ASSERT_OK_AND_ASSIGN(info, master_->GetFileInfo("p", "f", true));
  ASSERT_EQ(info.chunks[0].replicas.size(), 1);
  EXPECT_EQ(info.chunks[0].replicas[0].server_id, "cs-3-0");
  EXPECT_EQ(master_->ClusterStatus().chunks_corrupt(), 0u);
  auto resp = Report("cs-0-0", {}, {Replica(id, 1, {0})});
  EXPECT_TRUE(resp.wipes().empty());  // one good copy is not yet whole
}

TEST_F(OrphanTest, ReplicasNoWipeCoveredStayCountedUntilWipedOrAcknowledged) {
  std::vector<uint64_t> ids = WriteFile("f", 2);
  // cs-0-0 lost a disk with both replicas on it; cs-1-0 found one replica damaged at load.
  ternion::v1::ReportReplicasRequest lost;
  lost.set_server_id("cs-0-0");
  for (uint64_t id : ids) lost.add_lost_chunk_ids(id);
  EXPECT_FALSE(master_->ReportReplicas(lost).reregister());
  ternion::v1::ReportReplicasRequest damaged;
  damaged.set_server_id("cs-1-0");
  *damaged.add_replicas() = Replica(ids[1]);
  *damaged.add_damaged() = Replica(ids[0]);
  master_->ReportReplicas(damaged);
  EXPECT_EQ(master_->GcStatus().replicas_unwiped(), 3u);
  Reopen();  // the failed disk's replicas are remembered; the damaged one is reported again
  RegisterServers(3, 1);
  EXPECT_EQ(master_->GcStatus().replicas_unwiped(), 2u);
  master_->ReportReplicas(damaged);
  EXPECT_EQ(master_->GcStatus().replicas_unwiped(), 3u);
  ASSERT_OK_AND_ASSIGN(auto listed, master_->Orphans({}));
  std::multiset<std::string> states;
  for (const auto& r : listed.replicas()) states.insert(r.state());
  EXPECT_EQ(states, (std::multiset<std::string>{"damaged", "unwiped", "unwiped"}));
  // The operator says cs-0-0's failed disk was destroyed.
  ternion::v1::OrphansRequest ack;
  ack.set_action(ternion::v1::OrphansRequest::ACK_DESTROYED);
  EXPECT_EQ(master_->Orphans(ack).status().code(), absl::StatusCode::kInvalidArgument);
  ack.set_server_id("cs-0-0");
  ASSERT_OK_AND_ASSIGN(auto acked, master_->Orphans(ack));
  EXPECT_EQ(acked.affected(), 2u);
  EXPECT_EQ(master_->GcStatus().replicas_unwiped(), 1u);
  EXPECT_NE(AuditLines(master_.get(), 10).back().find("disks destroyed"), std::string::npos);
  // ... and has the damaged one wiped: it goes with cs-1-0's next report.
  ternion::v1::OrphansRequest wipe;
  wipe.set_action(ternion::v1::OrphansRequest::WIPE);
  wipe.set_server_id("cs-1-0");
  wipe.set_all(true);
  ASSERT_OK(master_->Orphans(wipe).status());
  auto resp = master_->ReportReplicas(damaged);
  EXPECT_EQ(Ids(resp.wipes()), std::vector<uint64_t>{ids[0]});
  damaged.clear_damaged();
  master_->ReportReplicas(damaged);
  EXPECT_EQ(master_->GcStatus().replicas_unwiped(), 0u);
}

}  // namespace
}  // namespace ternion::master
