// Crashes and I/O errors at every named durability edge, on real daemons (--failpoints): after
// a restart no acknowledged byte is lost, no byte a replica serves differs from what was
// written, and no byte of a deleted file survives its wipe.

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "chunkserver/chunk_store.h"
#include "tests/testutil/cluster_fixture.h"

namespace ternion {
namespace {

using nlohmann::json;
using testing::RandomBytes;

class CrashTest : public testing::ClusterFixture {
 protected:
  void Configure(local::LocalClusterOptions* options) override {
    options->racks = 4;  // a fourth server to replace a crashed one mid-write
    options->per_rack = 1;
    options->heartbeat_s = 0.3;
    options->dead_after_s = 30;  // the crashed server comes back before it would be repaired
  }

  std::string Victim() { return cluster_.processes[1].name; }

  // Restarts `name` once it has died (it crashes itself at a failpoint), with `args`.
  void RestartWhenDead(const std::string& name, const std::vector<std::string>& args = {}) {
    absl::Status s;
    for (int i = 0; i < 300; ++i) {
      s = local::RestartProcess(cluster_.dir, name, args);
      if (!absl::IsFailedPrecondition(s)) break;  // "is running": not dead yet
      absl::SleepFor(absl::Milliseconds(100));
    }
    ASSERT_OK(s);
  }

  // Writes `data` with a durable flush every 128 KiB (many syncs on every replica).
  absl::Status WriteFlushing(const std::string& path, const std::string& data) {
    auto w = client_->Create("t", path, {.chunk_size = 1 << 20});
    if (!w.ok()) return w.status();
    for (size_t off = 0; off < data.size(); off += 128 << 10) {
      if (absl::Status s = (*w)->Append(absl::string_view(data).substr(off, 128 << 10)); !s.ok()) {
        return s;
      }
      if (absl::Status s = (*w)->Flush(); !s.ok()) return s;
    }
    return (*w)->Close();
  }

  // What the victim left on disk when it died: for every replica of `path`'s chunks, the
  // length its meta file records (all it would ever serve) covers only bytes that were written
  // there (docs/formats.md: length at byte 24 of the meta header).
  void ExpectReplicaFilesHoldOnlyWrittenBytes(const std::string& name, const std::string& path,
                                              const std::string& data) {
    EXPECT_GT(ExpectReplicaFilesHoldOnlyWrittenBytesIfAny(name, path, data), 0)
        << name << " holds none of " << path << ": "
        << ReadFileToString(cluster_.dir + "/logs/" + name + ".log").value_or("");
  }
  // As above; returns how many replicas of `path` the server holds.
  int ExpectReplicaFilesHoldOnlyWrittenBytesIfAny(const std::string& name, const std::string& path,
                                                  const std::string& data) {
    absl::StatusOr<FileStat> st = client_->Stat("t", path, true);
    EXPECT_OK(st.status());
    if (!st.ok()) return 0;
    int checked = 0;
    for (const auto& p : cluster_.processes) {
      if (p.name != name) continue;
      for (const auto& c : st->chunks) {
        const std::string base = absl::StrFormat("%s/chunks/t/%016x", p.data_dirs[0], c.chunk_id);
        absl::StatusOr<std::string> meta = ReadFileToString(base + ".meta");
        if (!meta.ok()) continue;
        EXPECT_GE(meta->size(), 40u);
        if (meta->size() < 40) continue;
        uint64_t length;
        std::memcpy(&length, meta->data() + 24, 8);
        const std::string bytes = ReadFileToString(base + ".data").value_or("");
        EXPECT_GE(bytes.size(), length);
        EXPECT_TRUE(absl::string_view(bytes).substr(0, length) ==
                    absl::string_view(data).substr(c.index * (1 << 20), length))
            << "chunk " << c.index << " on " << name << " records bytes never written";
        ++checked;
      }
    }
    return checked;
  }
};

TEST_F(CrashTest, AChunkserverDyingAtEachWriteEdgeLosesNoAcknowledgedByte) {
  ASSERT_OK(client_->CreateProject("t"));
  int round = 0;
  for (const char* edge : {"chunk_store.sync.before_data_sync", "chunk_store.sync.after_data_sync",
                           "chunk_store.sync.after_journal_sync"}) {
    SCOPED_TRACE(edge);
    const std::string path = absl::StrCat("f", round);
    const std::string data = RandomBytes(6 << 20, 100 + round++);
    ASSERT_OK(local::KillProcess(cluster_.dir, Victim()));
    ASSERT_OK(local::RestartProcess(cluster_.dir, Victim(),
                                    {"--failpoints", absl::StrCat(edge, "=crash@6")}));
    ASSERT_OK(local::WaitForLiveServers(cluster_, 4, 30));
    // A new client: the old one's connection to the victim is still backing off from the last
    // crash, and would route around it.
    ClientOptions copts = local::AdminClientOptions(cluster_);
    copts.rpc_timeout = absl::Seconds(20);
    ASSERT_OK_AND_ASSIGN(client_, Client::Connect(copts));
    // The victim dies at its sixth sync; the write goes on with a replacement.
    ASSERT_OK(WriteFlushing(path, data));
    ExpectReplicaFilesHoldOnlyWrittenBytes(Victim(), path, data);  // as it died
    RestartWhenDead(Victim());
    EXPECT_NE(ReadFileToString(cluster_.dir + "/logs/" + Victim() + ".log")
                  .value_or("")
                  .find(absl::StrCat("failpoint ", edge, ": crashing")),
              std::string::npos);
    ASSERT_OK(local::WaitForLiveServers(cluster_, 4, 30));
    ExpectContents("t", path, data);
  }
}

// Many writers making small appends durable at once share the victim's journal syncs; it dies
// in the middle of a group commit (before or after the sync). With three servers there is no
// replacement: every writer stops at its first failed flush, so what each was acknowledged is
// known exactly. The verifier replays a copy of the victim's disk as its restart would and
// checks that its replica of every file holds every acknowledged byte, and only bytes written;
// after the real restart every file reads back its acknowledged bytes.
class GroupCommitCrashTest : public CrashTest {
 protected:
  void Configure(local::LocalClusterOptions* options) override {
    CrashTest::Configure(options);
    options->racks = 3;
  }
};

TEST_F(GroupCommitCrashTest, AChunkserverKilledDuringAGroupCommitKeepsEveryAcknowledgedAppend) {
  ASSERT_OK(client_->CreateProject("t"));
  int round = 0;
  for (const char* edge : {"journal.commit.before_sync", "journal.commit.after_sync"}) {
    SCOPED_TRACE(edge);
    ASSERT_OK(local::KillProcess(cluster_.dir, Victim()));
    ASSERT_OK(local::RestartProcess(cluster_.dir, Victim(),
                                    {"--failpoints", absl::StrCat(edge, "=crash@100")}));
    ASSERT_OK(local::WaitForLiveServers(cluster_, 3, 30));
    ClientOptions copts = local::AdminClientOptions(cluster_);
    copts.rpc_timeout = absl::Seconds(5);
    ASSERT_OK_AND_ASSIGN(client_, Client::Connect(copts));
    constexpr int kWriters = 4;
    std::vector<std::string> data(kWriters), paths(kWriters);
    std::vector<uint64_t> acked(kWriters, 0);
    std::vector<std::thread> threads;
    for (int w = 0; w < kWriters; ++w) {
      paths[w] = absl::StrCat("g", round, "-", w);
      data[w] = RandomBytes(900 << 10, 300 + 10 * round + w);  // one 1 MiB chunk
      threads.emplace_back([&, w] {
        auto f = client_->Create("t", paths[w], {.chunk_size = 1 << 20});
        if (!f.ok()) return;
        for (size_t off = 0; off < data[w].size(); off += 4096) {
          if (!(*f)->Append(absl::string_view(data[w]).substr(off, 4096)).ok() ||
              !(*f)->Flush().ok()) {
            return;  // the victim is gone and nothing can replace it
          }
          acked[w] = off + 4096;
        }
      });
    }
    for (auto& t : threads) t.join();
    // The victim's disk as it died, replayed offline.
    const std::string victim_disk = cluster_.processes[1].data_dirs[0];
    const std::string copy = absl::StrCat(tmp_.path(), "/victim-copy-", round);
    ASSERT_TRUE(WaitUntil([&] { return !local::ProcessAlive(cluster_.dir, Victim()); }));
    std::filesystem::copy(victim_disk, copy, std::filesystem::copy_options::recursive);
    {
      ASSERT_OK_AND_ASSIGN(auto store, chunkserver::ChunkStore::Open({copy}));
      for (int w = 0; w < kWriters; ++w) {
        SCOPED_TRACE(paths[w]);
        ASSERT_LT(acked[w], data[w].size());  // every writer was cut off by the crash
        ASSERT_OK_AND_ASSIGN(FileStat st, client_->Stat("t", paths[w], true));
        ASSERT_EQ(st.chunks.size(), 1u);
        ASSERT_OK_AND_ASSIGN(chunkserver::ReplicaInfo info,
                             store->GetReplica(st.chunks[0].chunk_id));
        EXPECT_GE(info.length, acked[w]);
        std::string held;
        ASSERT_OK(store->Read(info.chunk_id, info.version, 0, info.length, &held));
        EXPECT_TRUE(held == absl::string_view(data[w]).substr(0, info.length));
      }
    }
    RestartWhenDead(Victim());
    EXPECT_NE(ReadFileToString(cluster_.dir + "/logs/" + Victim() + ".log")
                  .value_or("")
                  .find(absl::StrCat("failpoint ", edge, ": crashing")),
              std::string::npos);
    ASSERT_OK(local::WaitForLiveServers(cluster_, 3, 30));
    // The writers are gone (their leases lapse); every acknowledged byte reads back.
    for (int w = 0; w < kWriters; ++w) {
      auto r = client_->Open("t", paths[w]);
      ASSERT_OK(r.status());
      std::string got;
      ASSERT_OK((*r)->ReadAt(0, acked[w], &got));
      EXPECT_TRUE(got == absl::string_view(data[w]).substr(0, acked[w])) << paths[w];
    }
    ++round;
  }
}

class WipeCrashTest : public CrashTest {
 protected:
  std::string MarkerData(const std::string& marker) {
    std::string data;
    while (data.size() < (8 << 20)) data += marker;  // 8 chunks: every server holds some
    data.resize(8 << 20);
    return data;
  }
};

TEST_F(WipeCrashTest, AChunkserverDyingInTheMiddleOfAWipeFinishesItAtRestart) {
  ASSERT_OK(client_->CreateProject("t"));
  for (const char* edge : {"wipe.after_journal", "wipe.after_overwrite"}) {
    SCOPED_TRACE(edge);
    const std::string marker = absl::StrCat("CRASH-WIPE-MARKER-", edge, "|");
    WriteFile("t", edge, MarkerData(marker), 1 << 20);
    ASSERT_FALSE(FilesContaining(marker).empty());
    ASSERT_OK(local::KillProcess(cluster_.dir, Victim()));
    ASSERT_OK(local::RestartProcess(cluster_.dir, Victim(),
                                    {"--failpoints", absl::StrCat(edge, "=crash")}));
    ASSERT_OK(local::WaitForLiveServers(cluster_, 4, 30));
    ASSERT_OK(client_->Delete("t", edge));
    RestartWhenDead(Victim());
    ASSERT_TRUE(WaitUntil([&] { return CliJson("gc status")["chunks_pending"] == 0; }));
    EXPECT_EQ(FilesContaining(marker), std::vector<std::string>{});
  }
}

TEST_F(WipeCrashTest, AFailedWipeIsRetriedAndNotReportedUntilItSucceeds) {
  ASSERT_OK(client_->CreateProject("t"));
  const std::string marker = "EIO-WIPE-MARKER|";
  WriteFile("t", "f", MarkerData(marker), 1 << 20);
  ASSERT_OK(local::KillProcess(cluster_.dir, Victim()));
  // Its first ten overwrites fail with EIO (the wipe is retried about once a second).
  ASSERT_OK(local::RestartProcess(cluster_.dir, Victim(),
                                  {"--failpoints", "wipe.overwrite=eio*10"}));
  ASSERT_OK(local::WaitForLiveServers(cluster_, 4, 30));
  ASSERT_OK(client_->Delete("t", "f"));
  const std::string victim_dir = cluster_.processes[1].data_dirs[0];
  ASSERT_TRUE(WaitUntil([&] {
    const std::vector<std::string> left = FilesContaining(marker);
    return !left.empty() && std::all_of(left.begin(), left.end(), [&](const std::string& p) {
      return p.rfind(victim_dir, 0) == 0;
    });
  }));  // everyone else has wiped; the victim has not, and says so
  EXPECT_GT(CliJson("gc status")["chunks_pending"], 0);
  EXPECT_NE(ReadFileToString(cluster_.dir + "/logs/" + Victim() + ".log")
                .value_or("")
                .find("failpoint wipe.overwrite"),
            std::string::npos);
  ASSERT_TRUE(WaitUntil([&] { return CliJson("gc status")["chunks_pending"] == 0; }));
  EXPECT_EQ(FilesContaining(marker), std::vector<std::string>{});
}

TEST_F(CrashTest, TheMasterDyingAfterACommitBeforeAnsweringLosesNothing) {
  ASSERT_OK(client_->CreateProject("t"));
  const std::string data = RandomBytes(4 << 20, 200);
  ASSERT_OK(local::KillProcess(cluster_.dir, "master"));
  ASSERT_OK(local::RestartProcess(cluster_.dir, "master",
                                  {"--failpoints", "master.commit_length.durable=crash@3"}));
  ASSERT_OK(local::WaitForLiveServers(cluster_, 4, 30));
  absl::Status written;
  std::thread writer([&] { written = WriteFlushing("m", data); });
  RestartWhenDead("master");  // the writer waits for it and retries
  writer.join();
  ASSERT_OK(written);
  ASSERT_OK(local::WaitForLiveServers(cluster_, 4, 30));
  ExpectContents("t", "m", data);
}

// The master dying while many writers' changes are being group-committed: every change a
// writer was answered for is there after the restart (the file exists; a sealed file is sealed
// with all its bytes), and no change is half there (every file's chunks have their records).
TEST_F(CrashTest, TheMasterKilledDuringGroupCommitsKeepsEveryAnsweredChange) {
  ASSERT_OK(client_->CreateProject("t"));
  // The master dies just before its 100th group write from now: the changes of that group are
  // applied in its memory, and would be lost if any had been answered.
  ASSERT_OK(local::KillProcess(cluster_.dir, "master"));
  ASSERT_OK(local::RestartProcess(cluster_.dir, "master",
                                  {"--failpoints", "master.metadata.before_write=crash@100"}));
  ASSERT_OK(local::WaitForLiveServers(cluster_, 4, 30));
  std::atomic<bool> stop{false};
  absl::Mutex mu;
  std::vector<std::string> created;                  // answered creates
  std::vector<std::pair<std::string, std::string>> sealed;  // answered seals, with contents
  std::vector<std::thread> writers;
  for (int t = 0; t < 6; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < 400 && !stop.load(); ++i) {
        const std::string path = absl::StrCat("g/", t, "-", i);
        auto w = client_->Create("t", path, {.chunk_size = 1 << 20});
        if (!w.ok()) continue;
        {
          absl::MutexLock lock(&mu);
          created.push_back(path);
        }
        const std::string data = RandomBytes(1000 + i, t * 1000 + i);
        if ((*w)->Append(data).ok() && (*w)->Seal().ok()) {
          absl::MutexLock lock(&mu);
          sealed.emplace_back(path, data);
        }
      }
    });
  }
  RestartWhenDead("master");
  ASSERT_OK(local::WaitForLiveServers(cluster_, 4, 30));
  absl::SleepFor(absl::Seconds(1));  // the writers go on against the new incarnation
  stop = true;
  for (auto& w : writers) w.join();
  absl::MutexLock lock(&mu);
  ASSERT_GT(sealed.size(), 10u) << "too few writes to prove anything";
  ASSERT_OK_AND_ASSIGN(std::vector<FileStat> files, client_->List("t", "g/"));
  std::set<std::string> listed;
  for (const FileStat& f : files) {
    listed.insert(f.path);
    ASSERT_OK_AND_ASSIGN(FileStat st, client_->Stat("t", f.path, /*with_chunks=*/true));
    for (const auto& c : st.chunks) EXPECT_GT(c.version, 0u) << f.path;
  }
  for (const std::string& path : created) EXPECT_TRUE(listed.contains(path)) << path;
  for (const auto& [path, data] : sealed) {
    ASSERT_OK_AND_ASSIGN(FileStat st, client_->Stat("t", path, false));
    EXPECT_TRUE(st.sealed) << path;
    ExpectContents("t", path, data);
  }
}

}  // namespace
}  // namespace ternion
