// Data safety on a real cluster: nothing is destroyed on a guess. A master on the wrong metadata
// cannot make chunkservers wipe their replicas; replicas a master does not know are quarantined
// before any wipe; a report that would delete much of a server trips the deletion valve; the
// last copies of a chunk are kept even when damaged.

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "tests/testutil/cluster_fixture.h"

namespace ternion {
namespace {

using nlohmann::json;
using testing::RandomBytes;

class SafetyTest : public testing::ClusterFixture {
 protected:
  void Configure(local::LocalClusterOptions* options) override {
    options->racks = 3;
    options->per_rack = 1;
    options->heartbeat_s = 0.3;
    options->dead_after_s = 30;
  }

  // Path -> bytes of every replica file (data and meta) on every chunkserver disk, once their
  // journals are applied.
  std::map<std::string, std::string> ReplicaFiles() {
    EXPECT_TRUE(WaitForJournalsApplied());
    std::map<std::string, std::string> out;
    for (const auto& p : cluster_.processes) {
      for (const auto& d : p.data_dirs) {
        for (const auto& e : std::filesystem::recursive_directory_iterator(d)) {
          const std::string path = e.path();
          if (!e.is_regular_file() || (path.find(".data") == std::string::npos &&
                                       path.find(".meta") == std::string::npos)) {
            continue;
          }
          std::ifstream in(path, std::ios::binary);
          out[path] =
              std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        }
      }
    }
    return out;
  }

  std::string Log(const std::string& name) {
    return ReadFileToString(cluster_.dir + "/logs/" + name + ".log").value_or("");
  }
};

TEST_F(SafetyTest, AMasterOnTheWrongMetadataCannotDestroyTheCluster) {
  ASSERT_OK(client_->CreateProject("t"));
  const std::string data = RandomBytes(8 << 20, 1);
  WriteFile("t", "f", data, 1 << 20);
  const std::map<std::string, std::string> before = ReplicaFiles();
  ASSERT_EQ(before.size(), 2u * 8 * 3);  // data + meta of 8 chunks x 3 replicas

  // The master's directory is mistyped: an empty one. It refuses to start and creates nothing.
  ASSERT_OK(local::KillProcess(cluster_.dir, "master"));
  const std::string bin = TERNION_BIN_DIR;
  const std::string port = cluster_.master_address.substr(cluster_.master_address.rfind(':') + 1);
  const std::string empty_dir = tmp_.path() + "/typo";
  int rc = 0;
  std::string out = RunCommand(bin + "/ternion-master --metadata-dir " + empty_dir + " --port " +
                                   port + " --metrics-port -1 --insecure --master-key-file " +
                                   cluster_.dir + "/master.key",
                               &rc);
  EXPECT_NE(rc, 0) << out;
  EXPECT_NE(out.find("--format"), std::string::npos) << out;
  EXPECT_FALSE(std::filesystem::exists(empty_dir + "/CURRENT"));

  // The operator formats it: a new, empty cluster, started on the old master's address.
  out = RunCommand(bin + "/ternion-master --format --metadata-dir " + empty_dir, &rc);
  ASSERT_EQ(rc, 0) << out;
  out = RunCommand(bin + "/ternion-master --format --metadata-dir " + empty_dir, &rc);
  EXPECT_NE(rc, 0) << "a second --format must refuse: " << out;
  EXPECT_NE(out.find("already holds"), std::string::npos) << out;
  // Its bootstrap admin's key goes to a new file: the cluster's own profile is never replaced.
  const std::string typo_profile = tmp_.path() + "/typo.profile";
  out = RunCommand(bin + "/ternion-master --metadata-dir " + empty_dir + " --master-key-file " +
                       cluster_.dir + "/master.key --bootstrap-credentials " + cluster_.profile +
                       " --insecure --ready-file " + tmp_.path() + "/typo.ready",
                   &rc);
  EXPECT_NE(rc, 0) << out;
  EXPECT_NE(out.find("exists but this cluster has no users"), std::string::npos) << out;
  ASSERT_OK(local::RestartProcess(cluster_.dir, "master",
                                  {"--metadata-dir", empty_dir, "--bootstrap-credentials",
                                   typo_profile}));
  const std::string old_id = ReadFileToString(cluster_.processes[1].data_dirs[0] + "/cluster")
                                 .value_or("");
  ASSERT_NE(old_id.find("cluster_id=tcl-"), std::string::npos) << old_id;
  // The old chunkservers refuse to join it, and it refuses them; nobody wipes anything.
  absl::SleepFor(absl::Seconds(4));  // a dozen heartbeat intervals
  out = RunCommand(bin + "/ternion --json --master " + cluster_.master_address + " --profile " +
                       typo_profile + " cluster status",
                   &rc);
  const json st = json::parse(out, nullptr, false);
  ASSERT_FALSE(st.is_discarded()) << out;
  EXPECT_EQ(st["live_servers"], 0) << st.dump(2);
  EXPECT_EQ(st["servers"].size(), 0u);
  const std::string cs_log = Log(cluster_.processes[1].name);
  EXPECT_NE(cs_log.find("belongs to cluster " + old_id.substr(old_id.find("tcl-"), 36)),
            std::string::npos)
      << cs_log;
  EXPECT_NE(cs_log.find("but this master serves cluster tcl-"), std::string::npos);
  EXPECT_EQ(ReplicaFiles(), before);

  // The right master comes back: every byte is there and readable.
  ASSERT_OK(local::KillProcess(cluster_.dir, "master"));
  ASSERT_OK(local::RestartProcess(cluster_.dir, "master"));
  ASSERT_OK(local::WaitForLiveServers(cluster_, 3, 30));
  ExpectContents("t", "f", data);
  EXPECT_EQ(ReplicaFiles(), before);
}

// Values of ReplicaFiles(), sorted: the bytes on disk, wherever they were moved.
std::multiset<std::string> Contents(const std::map<std::string, std::string>& files) {
  std::multiset<std::string> out;
  for (const auto& [path, bytes] : files) out.insert(bytes);
  return out;
}

class RestoreTest : public SafetyTest {
 protected:
  // Writes `before` (backed up) and `after` (not in the backup), then replaces the master's
  // metadata by the backup, as after losing the master's disk.
  void RestoreOlderBackup(const std::string& before, const std::vector<std::string>& after,
                          const std::function<void()>& before_restore = [] {}) {
    ASSERT_OK(client_->CreateProject("t"));
    WriteFile("t", "before", before, 1 << 20);
    const std::string backup = cluster_.dir + "/backups/one";
    int rc = 0;
    std::string out = RunCli("admin backup " + backup, &rc);
    ASSERT_EQ(rc, 0) << out;
    for (size_t i = 0; i < after.size(); ++i) {
      WriteFile("t", absl::StrCat("after", i), after[i], 1 << 20);
      ASSERT_OK_AND_ASSIGN(FileStat st, client_->Stat("t", absl::StrCat("after", i), true));
      for (const auto& c : st.chunks) after_chunks_.push_back(c.chunk_id);
    }
    on_disk_ = ReplicaFiles();
    before_restore();
    ASSERT_OK(local::KillProcess(cluster_.dir, "master"));
    std::filesystem::remove_all(cluster_.dir + "/master");
    ASSERT_OK(local::RestartProcess(cluster_.dir, "master", {"--restore-from", backup}));
    ASSERT_OK(local::WaitForLiveServers(cluster_, 3, 30));
    ExpectContents("t", "before", before);
    EXPECT_EQ(client_->Open("t", "after0").status().code(), absl::StatusCode::kNotFound);
  }

  std::vector<uint64_t> after_chunks_;
  std::map<std::string, std::string> on_disk_;
};

TEST_F(RestoreTest, ChunksNewerThanTheBackupAreQuarantinedNotWipedAndCanBeReleased) {
  const std::string kept = RandomBytes(1 << 20, 3), dropped = RandomBytes(1 << 20, 4);
  // 20 chunks in the backup, 2 after it: 2 of 22 replicas per server, under the valve.
  RestoreOlderBackup(RandomBytes(20 << 20, 2), {kept, dropped});
  ASSERT_TRUE(WaitUntil([&] { return CliJson("gc status")["orphans_quarantined"] == 6; }))
      << CliJson("gc status").dump();
  EXPECT_EQ(CliJson("cluster status")["orphans_quarantined"], 6);
  const json orphans = CliJson("admin orphans ls");
  ASSERT_EQ(orphans["replicas"].size(), 6u) << orphans.dump(2);
  for (const auto& r : orphans["replicas"]) {
    EXPECT_EQ(r["state"], "quarantined");
    EXPECT_EQ(r["reason"], "unknown");
    EXPECT_GT(r["wipe_in_ms"].get<int64_t>(), 3'600'000);
  }
  // Nothing was wiped: every byte is on disk still, the newer chunks' set aside.
  const auto now = ReplicaFiles();
  EXPECT_EQ(Contents(now), Contents(on_disk_));
  int aside = 0;
  for (const auto& [path, bytes] : now) aside += path.find("/quarantine/") != std::string::npos;
  EXPECT_EQ(aside, 2 * 6);

  // The operator releases the first: readable again, byte-exact, under lost+found.
  const json released =
      CliJson(absl::StrCat("admin orphans release --chunk ", after_chunks_[0]));
  ASSERT_EQ(released["released_files"].size(), 1u) << released.dump();
  const std::string file = released["released_files"][0];
  const std::string path = file.substr(file.find('/') + 1);
  EXPECT_EQ(path, absl::StrFormat("lost+found/chunk-%016x", after_chunks_[0]));
  ASSERT_TRUE(WaitUntil([&] {
    auto r = client_->Open("t", path);
    std::string got;
    return r.ok() && (*r)->ReadAt(0, 2 << 20, &got).ok() && got == kept;
  }));
  // The other is wiped once its delay is over (a master whose delay is one second).
  ASSERT_OK(local::KillProcess(cluster_.dir, "master"));
  ASSERT_OK(local::RestartProcess(cluster_.dir, "master", {"--orphan-wipe-delay", "1"}));
  ASSERT_OK(local::WaitForLiveServers(cluster_, 3, 30));
  ASSERT_TRUE(WaitUntil([&] { return CliJson("gc status")["orphans_quarantined"] == 3; }));
  ASSERT_TRUE(WaitUntil([&] { return CliJson("gc status")["orphans_quarantined"] == 0; }));
  ASSERT_TRUE(WaitUntil([&] { return ReplicaFiles().size() == on_disk_.size() - 6; }));
  for (const auto& [p, bytes] : ReplicaFiles()) {
    EXPECT_EQ(p.find(absl::StrFormat("%016x", after_chunks_[1])), std::string::npos) << p;
  }
  ExpectContents("t", path, kept);
}

TEST_F(RestoreTest, AChunkserverDyingInTheMiddleOfAQuarantineFinishesItAtRestart) {
  const std::string newer = RandomBytes(1 << 20, 8);
  const std::string victim = cluster_.processes[1].name;
  RestoreOlderBackup(RandomBytes(20 << 20, 9), {newer}, [&] {
    ASSERT_OK(local::KillProcess(cluster_.dir, victim));
    ASSERT_OK(local::RestartProcess(
        cluster_.dir, victim, {"--failpoints", "chunk_store.move.after_data_rename=crash"}));
  });
  // The victim dies between moving the data file aside and moving its meta file.
  ASSERT_TRUE(WaitUntil([&] {
    return Log(victim).find("failpoint chunk_store.move.after_data_rename: crashing") !=
           std::string::npos;
  }));
  absl::Status restarted;
  for (int i = 0; i < 100; ++i) {
    restarted = local::RestartProcess(cluster_.dir, victim);
    if (!absl::IsFailedPrecondition(restarted)) break;  // "is running": not dead yet
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_OK(restarted);
  // At restart the move is finished: every copy is set aside whole, none wiped, and released
  // they read back byte-exact.
  ASSERT_TRUE(WaitUntil([&] { return CliJson("gc status")["orphans_quarantined"] == 3; }));
  EXPECT_EQ(Contents(ReplicaFiles()), Contents(on_disk_));
  const json released = CliJson("admin orphans release");
  ASSERT_EQ(released["released_files"].size(), 1u);
  const std::string path = absl::StrFormat("lost+found/chunk-%016x", after_chunks_[0]);
  ASSERT_TRUE(WaitUntil([&] {
    auto r = client_->Open("t", path);
    std::string got;
    return r.ok() && (*r)->ReadAt(0, 2 << 20, &got).ok() && got == newer;
  }));
}

TEST_F(RestoreTest, AReportThatWouldSetAsideMostOfAServerTripsTheValve) {
  const std::string newer = RandomBytes(20 << 20, 6);
  RestoreOlderBackup(RandomBytes(1 << 20, 5), {newer});  // 20 of 21 replicas per server unknown
  ASSERT_TRUE(WaitUntil([&] {
    return CliJson("cluster status")["deletion_valve_held_servers"] == 3;
  }));
  EXPECT_EQ(CliJson("gc status")["deletion_valve_held_servers"], 3);
  absl::SleepFor(absl::Seconds(1));  // more reports: still held, nothing moved or wiped
  EXPECT_EQ(ReplicaFiles(), on_disk_);
  const json orphans = CliJson("admin orphans ls");
  ASSERT_EQ(orphans["held"].size(), 3u);
  EXPECT_EQ(orphans["held"][0]["would_remove"], 20);
  EXPECT_EQ(orphans["replicas"].size(), 60u);
  int rc = 0;
  std::string out = RunCli("admin orphans ls", &rc);
  EXPECT_NE(out.find("HELD"), std::string::npos) << out;
  out = RunCli("cluster status", &rc);
  EXPECT_NE(out.find("DELETION VALVE"), std::string::npos) << out;
  // WIPE without naming what refuses.
  out = RunCli("admin orphans wipe", &rc);
  EXPECT_NE(rc, 0) << out;
  // The operator releases them all: twenty one-chunk files, together the file written.
  const json released = CliJson("admin orphans release");
  ASSERT_EQ(released["released_files"].size(), 20u);
  EXPECT_EQ(released["affected"], 60);
  std::string joined;
  for (uint64_t id : after_chunks_) {
    const std::string path = absl::StrFormat("lost+found/chunk-%016x", id);
    std::string got;
    ASSERT_TRUE(WaitUntil([&] {
      auto r = client_->Open("t", path);
      return r.ok() && (*r)->ReadAt(0, 2 << 20, &got).ok();
    })) << path;
    joined += got;
  }
  EXPECT_TRUE(joined == newer);
  ASSERT_TRUE(WaitUntil([&] {
    return CliJson("cluster status")["deletion_valve_held_servers"] == 0;
  }));
  EXPECT_EQ(ReplicaFiles(), on_disk_);
}

TEST_F(SafetyTest, TheLastCopiesOfAChunkAreKeptEvenWhenEveryOneIsDamaged) {
  ASSERT_OK(client_->CreateProject("t"));
  const std::string data = RandomBytes(1 << 20, 7);  // one chunk of 16 blocks
  WriteFile("t", "f", data, 1 << 20);
  ASSERT_OK_AND_ASSIGN(FileStat st, client_->Stat("t", "f", true));
  ASSERT_EQ(st.chunks.size(), 1u);
  const uint64_t id = st.chunks[0].chunk_id;
  // One flipped byte in a different 64 KiB block of each of the three replicas.
  int block = 0;
  for (const auto& [server, dirs] : ServerDirs()) {
    const std::string path = absl::StrFormat("%s/chunks/t/%016x.data", dirs[0], id);
    int fd = ::open(path.c_str(), O_RDWR);
    ASSERT_GE(fd, 0) << path;
    char b;
    const off_t at = block++ * (64 << 10) + 100;
    ASSERT_EQ(::pread(fd, &b, 1, at), 1);
    b ^= 0x5a;
    ASSERT_EQ(::pwrite(fd, &b, 1, at), 1);
    ::close(fd);
  }
  ASSERT_OK_AND_ASSIGN(auto reader, client_->Open("t", "f"));
  std::string got;
  EXPECT_EQ(reader->ReadAt(0, 1 << 20, &got).code(), absl::StatusCode::kDataLoss);
  ASSERT_TRUE(WaitUntil([&] { return CliJson("cluster status")["chunks_corrupt"] == 1; }));
  EXPECT_EQ(CliJson("cluster status")["chunks_lost"], 0);
  EXPECT_EQ(CliJson("gc status")["corrupt_quarantined"], 3);
  ASSERT_OK_AND_ASSIGN(reader, client_->Open("t", "f"));
  absl::Status read = reader->ReadAt(0, 1 << 20, &got);
  EXPECT_EQ(read.code(), absl::StatusCode::kDataLoss) << read;
  int rc = 0;
  std::string out = RunCli("--json fsck", &rc);
  EXPECT_EQ(rc, 2) << out;
  const json fsck = json::parse(out);
  ASSERT_EQ(fsck["problems"].size(), 1u);
  EXPECT_EQ(fsck["problems"][0]["state"], "corrupt");
  EXPECT_EQ(fsck["problems"][0]["corrupt_copies"], 3);
  EXPECT_TRUE(fsck["problems"][0]["damaged"].empty());  // every block is intact somewhere
  // Every copy is still on disk, set aside.
  int aside = 0;
  for (const auto& [path, bytes] : ReplicaFiles()) {
    aside += path.find("/quarantine/t/") != std::string::npos;
  }
  EXPECT_EQ(aside, 6);
  // Salvage puts the intact blocks together: the whole file, byte-exact.
  const std::string saved = tmp_.path() + "/saved";
  out = RunCli("admin salvage t/f " + saved, &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_TRUE(ReadFileToString(saved).value_or("") == data);
}

// A chunkserver whose master is down retries its reports at the heartbeat pace, not in a
// tight loop (which once wrote millions of log lines a minute and took a core).
class MasterDownTest : public SafetyTest {
 protected:
  void Configure(local::LocalClusterOptions* options) override {
    SafetyTest::Configure(options);
    options->report_s = 0.2;  // a full report is always due
  }
};

TEST_F(MasterDownTest, ReportsAreRetriedAtTheHeartbeatPaceWhileTheMasterIsDown) {
  ASSERT_OK(local::KillProcess(cluster_.dir, "master"));
  const std::string name = cluster_.processes[1].name;
  auto failures = [&] {
    const std::string log = Log(name);
    size_t n = 0;
    for (size_t at = log.find("replica report failed"); at != std::string::npos;
         at = log.find("replica report failed", at + 1)) {
      ++n;
    }
    return n;
  };
  absl::SleepFor(absl::Seconds(1));
  const size_t before = failures();
  absl::SleepFor(absl::Seconds(3));  // ten heartbeat intervals of 0.3 s
  EXPECT_LE(failures() - before, 20u);
  ASSERT_OK(local::RestartProcess(cluster_.dir, "master"));
  ASSERT_OK(local::WaitForLiveServers(cluster_, 3, 30));
}

}  // namespace
}  // namespace ternion
