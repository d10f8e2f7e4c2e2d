// Failures on a real 4-rack, 8-chunkserver cluster: after kill -9 of a chunkserver, or of a
// whole rack, the master re-replicates until every chunk again has three live replicas in
// three racks, and every byte reads back.

#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/failpoint.h"
#include "ternion/v1/chunkserver.grpc.pb.h"
#include "tests/testutil/cluster_fixture.h"

namespace ternion {
namespace {

using nlohmann::json;
using testing::RandomBytes;

class FailureTest : public testing::FourRackFixture {
 protected:
  // A writer dying in the middle of write recovery: it flushes `flushed` into t/`path` (4 MiB
  // chunks; only the first flush commits), then a replica's server is killed and the flush of
  // `more` fails, the writer giving up right after the master moved the chunk to a new version,
  // before any replica moved. Returns the version the surviving replicas still have.
  uint64_t DieInWriteRecovery(const std::string& path, const std::string& flushed,
                              const std::string& more) {
    ClientOptions lazy = local::AdminClientOptions(cluster_);
    lazy.lazy_commit_interval = absl::Seconds(60);
    absl::StatusOr<std::unique_ptr<Client>> writer_client = Client::Connect(lazy);
    EXPECT_OK(writer_client.status());
    if (!writer_client.ok()) return 0;
    auto w = (*writer_client)->Create("t", path, {.chunk_size = 4 << 20});
    EXPECT_OK(w.status());
    if (!w.ok()) return 0;
    EXPECT_OK((*w)->Append(absl::string_view(flushed).substr(0, flushed.size() / 2)));
    EXPECT_OK((*w)->Flush());
    EXPECT_OK((*w)->Append(absl::string_view(flushed).substr(flushed.size() / 2)));
    EXPECT_OK((*w)->Flush());  // durable on three replicas, not committed
    absl::StatusOr<FileStat> st = client_->Stat("t", path, true);
    EXPECT_OK(st.status());
    if (!st.ok()) return 0;
    EXPECT_OK(local::KillProcess(cluster_.dir, ProcessNameOf(st->chunks[0].replicas[0].server_id)));
    EXPECT_OK(ArmFailpoints("client.recovery.after_replace_replicas=eio"));
    EXPECT_OK((*w)->Append(more));
    const absl::Status failed = (*w)->Flush();
    DisarmFailpoints();
    EXPECT_FALSE(failed.ok()) << "the writer gives up after the master's version move";
    absl::StatusOr<FileStat> moved = client_->Stat("t", path, true);
    EXPECT_OK(moved.status());
    if (moved.ok()) EXPECT_GT(moved->chunks[0].version, st->chunks[0].version);
    return st->chunks[0].version;  // the writer vanishes without closing
  }
};

TEST_F(FailureTest, KillOneChunkserverAndEveryChunkIsBackToThreeReplicas) {
  ASSERT_OK(client_->CreateProject("t"));
  const std::string data = RandomBytes(40 << 20, 11);
  WriteFile("t", "f", data, 1 << 20);
  ASSERT_OK(local::KillProcess(cluster_.dir, "cs-rack2-0"));
  WaitForLive(7);
  ExpectRepaired("f", data);
  const json st = CliJson("cluster status");
  EXPECT_EQ(st["replicas_total"], 120);
  // Repairs happened (checking for under-replicated chunks before them would race them).
  EXPECT_GT(st["replicas_repaired"], 0);
}

TEST_F(FailureTest, KillAWholeRackAndEveryChunkIsBackToThreeReplicas) {
  ASSERT_OK(client_->CreateProject("t"));
  const std::string data = RandomBytes(40 << 20, 12);
  WriteFile("t", "f", data, 1 << 20);
  for (const std::string& name : ProcessesInRack("rack3")) {
    ASSERT_OK(local::KillProcess(cluster_.dir, name));
  }
  WaitForLive(6);
  ExpectRepaired("f", data);
  // The chunks that had a replica in the rack were copied again. (How under-replicated the
  // cluster looked in between is a race: repairs start as soon as the rack is found dead.)
  EXPECT_GT(CliJson("cluster status")["replicas_repaired"], 0);
}

TEST_F(FailureTest, AServerRestartedInTimeIsReconciledNotRecopied) {
  ASSERT_OK(client_->CreateProject("t"));
  const std::string data = RandomBytes(20 << 20, 13);
  WriteFile("t", "f", data, 1 << 20);
  ASSERT_OK(local::KillProcess(cluster_.dir, "cs-rack1-0"));
  ASSERT_OK(local::RestartProcess(cluster_.dir, "cs-rack1-0"));  // back within --dead-after
  absl::SleepFor(absl::Seconds(3));  // past --dead-after and a few move scans
  const json st = CliJson("cluster status");
  EXPECT_EQ(st["replicas_repaired"], 0) << st.dump(2);
  EXPECT_EQ(st["replicas_total"], 60);
  EXPECT_EQ(st["chunks_under_replicated"], 0);
  ExpectContents("t", "f", data);
}

TEST_F(FailureTest, AServerBackAfterRepairLosesItsExtraReplicas) {
  ASSERT_OK(client_->CreateProject("t"));
  const std::string data = RandomBytes(20 << 20, 14);
  WriteFile("t", "f", data, 1 << 20);
  const std::string name = "cs-rack4-1";
  std::string id;
  for (const auto& [server, dirs] : ServerDirs()) {
    if (ProcessNameOf(server) == name) id = server;
  }
  ASSERT_OK(local::KillProcess(cluster_.dir, name));
  WaitForLive(7);
  ExpectRepaired("f", data);
  const int repaired = CliJson("cluster status")["replicas_repaired"];
  EXPECT_GT(repaired, 0);
  // Back with its old replicas: the master already placed them elsewhere, so they go.
  ASSERT_OK(local::RestartProcess(cluster_.dir, name));
  WaitForLive(8);
  auto data_files = [&] {
    size_t n = 0;
    const auto dirs = ServerDirs();
    for (const auto& d : dirs.at(id)) {
      for (const auto& e : std::filesystem::recursive_directory_iterator(d)) {
        n += e.path().extension() == ".data";
      }
    }
    return n;
  };
  for (int i = 0; i < 100 && data_files() != 0; ++i) absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(data_files(), 0u);
  const json st = CliJson("cluster status");
  EXPECT_EQ(st["replicas_total"], 60);
  EXPECT_EQ(st["replicas_repaired"], repaired);  // nothing copied again
  ExpectContents("t", "f", data);
}

class DiskFailureTest : public FailureTest {
 protected:
  void Configure(local::LocalClusterOptions* options) override {
    FailureTest::Configure(options);
    options->disks_per_server = 2;
    options->report_s = 1;
  }
};

TEST_F(DiskFailureTest, AFailedDiskLosesOnlyItsReplicas) {
  ASSERT_OK(client_->CreateProject("t"));
  const std::string data = RandomBytes(40 << 20, 15);
  WriteFile("t", "f", data, 1 << 20);
  // The disk with the most replicas on the first server.
  auto dirs = ServerDirs();
  std::string disk;
  size_t on_disk = 0;
  for (const auto& d : dirs.begin()->second) {
    size_t n = 0;
    for (const auto& e : std::filesystem::recursive_directory_iterator(d)) {
      n += e.path().extension() == ".data";
    }
    if (n > on_disk) {
      on_disk = n;
      disk = d;
    }
  }
  ASSERT_GT(on_disk, 0u);
  // The disk's directory vanishes (as when a disk drops out).
  std::filesystem::rename(disk + "/chunks", disk + "/chunks.failed");
  ASSERT_TRUE(WaitUntil([&] { return CliJson("cluster status")["replicas_repaired"] > 0; }));
  ExpectRepaired("f", data);
  EXPECT_EQ(CliJson("cluster status")["replicas_repaired"], on_disk);  // only its chunks
  EXPECT_EQ(CliJson("cluster status")["live_servers"], 8);            // the server stays up
}

class ScrubTest : public FailureTest {
 protected:
  void Configure(local::LocalClusterOptions* options) override {
    FailureTest::Configure(options);
    options->scrub_interval_s = 0.5;
  }
};

TEST_F(ScrubTest, TheScrubberFindsACorruptReplicaAndItIsReplaced) {
  ASSERT_OK(client_->CreateProject("t"));
  const std::string data = RandomBytes(8 << 20, 16);
  WriteFile("t", "f", data, 1 << 20);
  // Flip bytes in the middle of one replica file, behind the chunkserver's back.
  auto dirs = ServerDirs();
  std::string victim;
  for (const auto& [server, disks] : dirs) {
    for (const auto& e : std::filesystem::recursive_directory_iterator(disks[0])) {
      if (e.path().extension() == ".data" && victim.empty()) victim = e.path();
    }
  }
  ASSERT_FALSE(victim.empty());
  {
    std::fstream f(victim, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(300000);
    f.write("CORRUPTION", 10);
  }
  ASSERT_TRUE(WaitUntil([&] { return CliJson("cluster status")["replicas_corrupt"] == 1; }));
  ExpectRepaired("f", data);
  EXPECT_EQ(CliJson("cluster status")["replicas_repaired"], 1);
}

TEST_F(FailureTest, MasterKilledDuringWritesLosesNothingAcknowledged) {
  ASSERT_OK(client_->CreateProject("t"));
  const std::string data = RandomBytes(24 << 20, 17);
  std::atomic<int> flushed{0};
  absl::Status result;
  std::thread writer([&] {
    auto w = client_->Create("t", "w", {.chunk_size = 1 << 20});
    if (!w.ok()) {
      result = w.status();
      return;
    }
    for (size_t off = 0; off < data.size() && result.ok(); off += 512 << 10) {
      result = (*w)->Append(absl::string_view(data).substr(off, 512 << 10));
      if (result.ok()) result = (*w)->Flush();  // durable on 3 replicas, committed at the master
      ++flushed;
    }
    if (result.ok()) result = (*w)->Close();
  });
  while (flushed < 8) absl::SleepFor(absl::Milliseconds(10));
  ASSERT_OK(local::KillProcess(cluster_.dir, "master"));
  absl::SleepFor(absl::Milliseconds(500));
  ASSERT_OK(local::RestartProcess(cluster_.dir, "master"));
  writer.join();
  ASSERT_OK(result);  // the writer rode over the restart
  ExpectContents("t", "w", data);
}

TEST_F(FailureTest, BackupWhileWritingRestoresOnAFreshMaster) {
  ASSERT_OK(client_->CreateProject("t"));
  const std::string a = RandomBytes(6 << 20, 18);
  WriteFile("t", "a", a, 1 << 20);
  const std::string b = RandomBytes(8 << 20, 19);
  ASSERT_OK_AND_ASSIGN(auto w, client_->Create("t", "b", {.chunk_size = 1 << 20}));
  ASSERT_OK(w->Append(absl::string_view(b).substr(0, 3 << 20)));
  ASSERT_OK(w->Flush());
  const std::string backup = cluster_.dir + "/backups/one";
  int rc = 0;
  std::string out = RunCli("admin backup " + backup, &rc);  // while b is open for writing
  ASSERT_EQ(rc, 0) << out;
  ASSERT_OK(w->Append(absl::string_view(b).substr(3 << 20)));
  ASSERT_OK(w->Close());

  // The master's disk is lost: a fresh master starts from the backup.
  ASSERT_OK(local::KillProcess(cluster_.dir, "master"));
  std::filesystem::remove_all(cluster_.dir + "/master");
  ASSERT_OK(local::RestartProcess(cluster_.dir, "master", {"--restore-from", backup}));
  WaitForLive(8);
  ExpectContents("t", "a", a);
  // b as the backup saw it: its acknowledged length then, byte-exact.
  ExpectContents("t", "b", b.substr(0, 3 << 20));
  // Chunks created after the backup are unknown to the restored master: quarantined, not counted.
  const json st = CliJson("cluster status");
  EXPECT_EQ(st["chunks_total"], 6 + 3);
}

TEST_F(FailureTest, AChunkserverKilledMidWriteIsReplacedAndTheWriteCompletes) {
  ASSERT_OK(client_->CreateProject("t"));
  const std::string data = RandomBytes(40 << 20, 20);
  std::atomic<int> pieces{0};
  absl::Status result;
  std::thread writer([&] {
    auto w = client_->Create("t", "w", {.chunk_size = 16 << 20});
    if (!w.ok()) {
      result = w.status();
      return;
    }
    for (size_t off = 0; off < data.size() && result.ok(); off += 1 << 20) {
      result = (*w)->Append(absl::string_view(data).substr(off, 1 << 20));
      ++pieces;
      absl::SleepFor(absl::Milliseconds(40));  // a steady writer, so the kill lands mid-chunk
    }
    if (result.ok()) result = (*w)->Close();
  });
  while (pieces < 6) absl::SleepFor(absl::Milliseconds(5));
  // kill -9 a replica of the chunk being written.
  ASSERT_OK_AND_ASSIGN(FileStat st, client_->Stat("t", "w", true));
  ASSERT_FALSE(st.chunks.empty());
  const std::string victim = ProcessNameOf(st.chunks.back().replicas[1].server_id);
  ASSERT_FALSE(victim.empty());
  ASSERT_OK(local::KillProcess(cluster_.dir, victim));
  writer.join();
  ASSERT_OK(result);  // recovered: the user sees success
  // The recovered chunk moved to a new version on three live replicas.
  ASSERT_OK_AND_ASSIGN(FileStat after, client_->Stat("t", "w", true));
  EXPECT_GT(after.chunks[0].version, st.chunks[0].version);
  ExpectRepaired("w", data);
}

// Stops the cluster's master (SIGSTOP) for a while; its pid, to SIGCONT it, or 0 on failure.
pid_t StopMaster(const local::LocalCluster& c) {
  for (const auto& p : c.processes) {
    if (p.role == "master") return ::kill(p.pid, SIGSTOP) == 0 ? p.pid : 0;
  }
  return 0;
}

// A thread appending and flushing 4 KiB records to `w` until `until` (at most 1,000), which
// records when each flush returned OK and stops at the first failure, keeping its status.
// Read the results after Join().
class FlushLoop {
 public:
  FlushLoop(FileWriter* w, absl::Time until) : thread_([this, w, until] { Run(w, until); }) {}
  ~FlushLoop() { Join(); }
  void Join() {
    if (thread_.joinable()) thread_.join();
  }

  std::string appended;  // every record whose flush returned OK
  std::vector<absl::Time> returned;
  absl::Status failed;
  std::atomic<bool> done{false};

 private:
  void Run(FileWriter* w, absl::Time until) {
    for (int i = 0; i < 1000 && absl::Now() < until; ++i) {
      const std::string rec = RandomBytes(4096, 1000 + i);
      failed = w->Append(rec);
      if (failed.ok()) failed = w->Flush();
      if (!failed.ok()) break;
      returned.push_back(absl::Now());
      appended += rec;
      absl::SleepFor(absl::Milliseconds(5));
    }
    done = true;
  }
  std::thread thread_;  // last: starts once the results above exist
};

// The master is off the flush path: once a chunk's first flush has committed, flushes return
// while the master is stopped, and the lazy commits that fall due meanwhile (every 0.3 s here)
// reach it in the background once it runs again. (Stopped for a second: well short of the 2 s
// after which it would count the chunkservers dead.)
TEST_F(FailureTest, FlushesDoNotWaitForTheMaster) {
  ASSERT_OK(client_->CreateProject("t"));
  ClientOptions eager = local::AdminClientOptions(cluster_);
  eager.lazy_commit_interval = absl::Milliseconds(300);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Client> writer_client, Client::Connect(eager));
  ASSERT_OK_AND_ASSIGN(auto w, writer_client->Create("t", "f", {.chunk_size = 8 << 20}));
  const std::string first = RandomBytes(4096, 7);
  ASSERT_OK(w->Append(first));
  ASSERT_OK(w->Flush());  // the chunk's first flush: committed before it returns
  const pid_t master = StopMaster(cluster_);
  ASSERT_GT(master, 0);
  const absl::Time stopped = absl::Now();
  FlushLoop loop(w.get(), stopped + absl::Seconds(1));
  // A flush waiting for the stopped master would hold the loop until the master runs again.
  bool finished = false;
  for (int i = 0; i < 100 && !finished; ++i) {
    absl::SleepFor(absl::Milliseconds(100));
    finished = loop.done.load();
  }
  ASSERT_EQ(::kill(master, SIGCONT), 0);
  loop.Join();
  EXPECT_TRUE(finished) << "a flush waited for the stopped master";
  ASSERT_OK(loop.failed);
  ASSERT_FALSE(loop.returned.empty());
  EXPECT_GT(loop.returned.back() - stopped, absl::Milliseconds(600))
      << "flushes went on past the time commits fell due";
  ASSERT_OK(w->Close());
  ExpectContents("t", "f", first + loop.appended);
}

class LeaseTest : public FailureTest {
 protected:
  void Configure(local::LocalClusterOptions* options) override {
    FailureTest::Configure(options);
    options->lease_s = 2;
  }
  // What each replica of `chunk` holds durably (those that answer).
  std::vector<uint64_t> ReplicaLengths(const ChunkStat& chunk) {
    std::vector<uint64_t> lengths;
    for (const auto& r : chunk.replicas) {
      auto stub = ternion::v1::ChunkServerService::NewStub(
          ternion::local::ChunkserverChannel(cluster_, r.address));
      grpc::ClientContext ctx;
      ternion::v1::GetReplicaRequest req;
      req.set_chunk_id(chunk.chunk_id);
      req.set_token(chunk.token);
      ternion::v1::ReplicaReport rep;
      if (stub->GetReplica(&ctx, req, &rep).ok()) lengths.push_back(rep.length());
    }
    return lengths;
  }
};

// A flush returns without the master only while the writer's lease is known to stay its own
// for half its length more: with 2 s leases and the master stopped right after a commit,
// flushes return for about a second, then wait for a commit, so no flush acknowledges bytes
// after the lease could have passed to another writer.
TEST_F(LeaseTest, FlushesWaitForTheMasterOnceTheLeaseIsNoLongerSurelyHeld) {
  ASSERT_OK(client_->CreateProject("t"));
  ASSERT_OK_AND_ASSIGN(auto w, client_->Create("t", "f", {.chunk_size = 8 << 20}));
  ASSERT_OK(w->Append(RandomBytes(4096, 8)));
  ASSERT_OK(w->Flush());  // committed: the lease is renewed for 2 s from before the stop
  const pid_t master = StopMaster(cluster_);
  ASSERT_GT(master, 0);
  const absl::Time stopped = absl::Now();
  FlushLoop loop(w.get(), stopped + absl::Milliseconds(1800));
  absl::SleepFor(absl::Milliseconds(1800));
  const bool waiting = !loop.done.load();
  const absl::Time resumed = absl::Now();
  ASSERT_EQ(::kill(master, SIGCONT), 0);
  loop.Join();
  EXPECT_TRUE(waiting) << "flushes went on without the master for the whole lease";
  ASSERT_FALSE(loop.returned.empty());
  // By the rule, every flush that returned while the master was stopped did so within a
  // second of the commit; half a second more is slack for this machine's scheduling, still
  // short of the 2 s lease. (The one waiting returns once the master runs again.)
  for (absl::Time t : loop.returned) {
    if (t < resumed) EXPECT_LT(t - stopped, absl::Milliseconds(1500));
  }
}

// A writer that dies leaves its lease until it expires; then another may append. It appends
// after every byte the dead writer flushed (which the master may never have heard of: writers
// commit lazily), and also after bytes that reached every replica unacknowledged: as with HDFS's
// block recovery, the file continues at the least length its replicas hold durably.
TEST_F(LeaseTest, AWriterThatDiesLeavesAFileThatCanBeReopened) {
  ASSERT_OK(client_->CreateProject("t"));
  const std::string flushed = RandomBytes(1536 << 10, 21);
  const std::string unacknowledged = RandomBytes(1536 << 10, 99);
  {
    ASSERT_OK_AND_ASSIGN(auto w, client_->Create("t", "f", {.chunk_size = 8 << 20}));
    ASSERT_OK(w->Append(flushed));
    ASSERT_OK(w->Flush());  // 1.5 MiB acknowledged
    // Another 1.5 MiB: a full 1 MiB frame goes out to the replicas but is never acknowledged.
    ASSERT_OK(w->Append(unacknowledged));
    absl::SleepFor(absl::Milliseconds(300));
  }  // the writer dies without closing: its lease stays until it expires
  // The replicas hold bytes past the acknowledged length.
  ASSERT_OK_AND_ASSIGN(FileStat st, client_->Stat("t", "f", true));
  const std::vector<uint64_t> lengths = ReplicaLengths(st.chunks[0]);
  ASSERT_EQ(lengths.size(), 3u);
  const uint64_t longest = *std::max_element(lengths.begin(), lengths.end());
  const uint64_t least = *std::min_element(lengths.begin(), lengths.end());
  EXPECT_EQ(longest, 2560u << 10);
  ASSERT_GE(least, 1536u << 10);
  EXPECT_EQ(client_->OpenForAppend("t", "f").status().code(), absl::StatusCode::kFailedPrecondition);
  absl::SleepFor(absl::Milliseconds(2500));
  ASSERT_OK_AND_ASSIGN(auto w2, client_->OpenForAppend("t", "f"));
  EXPECT_EQ(w2->length(), least);
  ASSERT_OK_AND_ASSIGN(FileStat resumed, client_->Stat("t", "f", false));
  EXPECT_EQ(resumed.length, least) << "committed at once, before any append";
  const std::string tail = RandomBytes(1 << 20, 22);
  ASSERT_OK(w2->Append(tail));
  ASSERT_OK(w2->Close());
  ExpectContents("t", "f", flushed + unacknowledged.substr(0, least - (1536 << 10)) + tail);
}

// A writer that dies after its bytes reached every replica of a new chunk but before any flush
// into it returned leaves the file's committed length at the chunk's start. Another writer
// taking the file over goes on after those bytes, as inside a chunk, rather than writing the
// chunk again from its start.
TEST_F(LeaseTest, ATakeoverAtAChunkStartKeepsTheBytesTheEarlierWriterLeftInIt) {
  ASSERT_OK(client_->CreateProject("t"));
  const std::string first = RandomBytes(2 << 20, 51);
  const std::string unflushed = RandomBytes(1536 << 10, 52);
  {
    ASSERT_OK_AND_ASSIGN(auto w, client_->Create("t", "f", {.chunk_size = 2 << 20}));
    ASSERT_OK(w->Append(first));
    ASSERT_OK(w->Flush());            // the first chunk is full and committed
    ASSERT_OK(w->Append(unflushed));  // a 1 MiB frame goes out; no flush
    absl::SleepFor(absl::Milliseconds(300));
  }  // the writer vanishes without closing
  ASSERT_OK_AND_ASSIGN(FileStat before, client_->Stat("t", "f", true));
  ASSERT_EQ(before.length, 2u << 20);
  ASSERT_EQ(before.chunks.size(), 2u);
  EXPECT_EQ(ReplicaLengths(before.chunks[1]), (std::vector<uint64_t>(3, 1 << 20)))
      << "the frame is durable on every replica of the second chunk";
  absl::SleepFor(absl::Milliseconds(2500));  // the lease expires
  ASSERT_OK_AND_ASSIGN(auto w2, client_->OpenForAppend("t", "f"));
  EXPECT_EQ(w2->length(), 3u << 20);
  const std::string tail = RandomBytes(300 << 10, 53);
  ASSERT_OK(w2->Append(tail));
  ASSERT_OK(w2->Close());
  ExpectContents("t", "f", first + unflushed.substr(0, 1 << 20) + tail);
}

// A writer that died in the middle of write recovery left no replica at the chunk's version.
// Once its lease expires another writer takes the file over: it moves the replicas of the
// newest version that answers on, and appends after every flushed byte.
TEST_F(LeaseTest, AFileWhoseWriterDiedInWriteRecoveryCanBeTakenOver) {
  ASSERT_OK(client_->CreateProject("t"));
  const std::string flushed = RandomBytes(1200 << 10, 37);
  const std::string more = RandomBytes(70 << 10, 38);
  ASSERT_GT(DieInWriteRecovery("f", flushed, more), 0u);
  absl::SleepFor(absl::Milliseconds(2500));  // the lease expires
  ASSERT_OK_AND_ASSIGN(auto w2, client_->OpenForAppend("t", "f"));
  // Every flushed byte, and perhaps unflushed ones that reached every survivor.
  ASSERT_GE(w2->length(), flushed.size());
  ASSERT_LE(w2->length(), flushed.size() + more.size());
  const std::string kept = (flushed + more).substr(0, w2->length());
  const std::string tail = RandomBytes(300 << 10, 39);
  ASSERT_OK(w2->Append(tail));
  ASSERT_OK(w2->Close());
  ExpectContents("t", "f", kept + tail);
}

class LeaseRecoveryTest : public FailureTest {
 protected:
  void Configure(local::LocalClusterOptions* options) override {
    FailureTest::Configure(options);
    options->lease_s = 2;
    options->lease_hard_limit_s = 2;
  }
};

// A writer that vanishes after flushes the master never heard of (writers commit lazily): past
// the lease hard limit the master recovers the lease, asking the last chunk's replicas for
// their length, and the file keeps every flushed byte; only then is the chunk repaired, so
// losing a replica of it loses nothing.
TEST_F(LeaseRecoveryTest, AnAbandonedFileKeepsEveryFlushedByteThroughRecoveryAndRepair) {
  ASSERT_OK(client_->CreateProject("t"));
  ClientOptions lazy = local::AdminClientOptions(cluster_);
  lazy.lazy_commit_interval = absl::Seconds(60);  // only the first flush into the chunk commits
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Client> writer_client, Client::Connect(lazy));
  const std::string data = RandomBytes(1200 << 10, 31);
  {
    ASSERT_OK_AND_ASSIGN(auto w, writer_client->Create("t", "f", {.chunk_size = 4 << 20}));
    ASSERT_OK(w->Append(absl::string_view(data).substr(0, 1 << 20)));
    ASSERT_OK(w->Flush());  // committed: the chunk's first flush
    ASSERT_OK(w->Append(absl::string_view(data).substr(1 << 20)));
    ASSERT_OK(w->Flush());  // durable on three replicas, not committed
    EXPECT_EQ(w->length(), data.size());
  }  // the writer vanishes without closing
  writer_client.reset();
  ASSERT_OK_AND_ASSIGN(FileStat before, client_->Stat("t", "f", true));
  EXPECT_EQ(before.length, 1u << 20);
  EXPECT_TRUE(before.open);
  // Recovered: 2 s of lease, 2 s of hard limit, then the master's next recovery round (5 s).
  ASSERT_TRUE(WaitUntil([&] {
    absl::StatusOr<FileStat> st = client_->Stat("t", "f", false);
    return st.ok() && !st->open;
  }));
  ASSERT_OK_AND_ASSIGN(FileStat recovered, client_->Stat("t", "f", true));
  EXPECT_EQ(recovered.length, data.size());
  EXPECT_EQ(recovered.chunks[0].length, data.size());
  ExpectContents("t", "f", data);
  // The chunk is stable now: a lost replica is repaired with every byte.
  const std::string victim = ProcessNameOf(recovered.chunks[0].replicas[0].server_id);
  ASSERT_OK(local::KillProcess(cluster_.dir, victim));
  ExpectRepaired("f", data);
}

// The same writer death, with nobody taking the file over: past the hard limit the master
// moves the surviving replicas itself, then recovers the length.
TEST_F(LeaseRecoveryTest, AWriterDyingInWriteRecoveryLeavesEveryFlushedByte) {
  ASSERT_OK(client_->CreateProject("t"));
  const std::string flushed = RandomBytes(1200 << 10, 37);
  const std::string more = RandomBytes(70 << 10, 38);
  ASSERT_GT(DieInWriteRecovery("f", flushed, more), 0u);
  ASSERT_OK_AND_ASSIGN(FileStat stuck, client_->Stat("t", "f", true));
  ASSERT_TRUE(WaitUntil([&] {
    absl::StatusOr<FileStat> st = client_->Stat("t", "f", false);
    return st.ok() && !st->open;
  })) << "recovered: 2 s of lease, 2 s of hard limit, then two recovery rounds (5 s each)";
  ASSERT_OK_AND_ASSIGN(FileStat recovered, client_->Stat("t", "f", true));
  EXPECT_GT(recovered.chunks[0].version, stuck.chunks[0].version);
  ASSERT_GE(recovered.length, flushed.size());
  ASSERT_LE(recovered.length, flushed.size() + more.size());
  ExpectContents("t", "f", (flushed + more).substr(0, recovered.length));
}

TEST_F(FailureTest, AFullServerIsAvoidedAndWritesGoElsewhere) {
  ASSERT_OK(client_->CreateProject("t"));
  // A server holding a replica comes back reporting a 1 MiB disk, which that replica fills.
  WriteFile("t", "before", RandomBytes(8 << 20, 22), 1 << 20);
  ASSERT_OK_AND_ASSIGN(FileStat before, client_->Stat("t", "before", true));
  const std::string full_id = before.chunks[0].replicas[0].server_id;
  const std::string name = ProcessNameOf(full_id);
  ASSERT_OK(local::KillProcess(cluster_.dir, name));
  ASSERT_OK(local::RestartProcess(cluster_.dir, name, {"--disk-capacity-mib", "1"}));
  absl::SleepFor(absl::Seconds(1));  // its next heartbeat reports the usage
  const std::string data = RandomBytes(16 << 20, 23);
  WriteFile("t", "after", data, 1 << 20);
  ASSERT_OK_AND_ASSIGN(FileStat st, client_->Stat("t", "after", true));
  for (const auto& c : st.chunks) {
    for (const auto& r : c.replicas) EXPECT_NE(r.server_id, full_id) << "chunk " << c.index;
  }
  ExpectContents("t", "after", data);
}

class FullClusterTest : public FailureTest {
 protected:
  void Configure(local::LocalClusterOptions* options) override {
    FailureTest::Configure(options);
    options->disk_capacity_mib = 8;  // 8 servers x 8 MiB: ~19 MiB of user data fit
  }
};

TEST_F(FullClusterTest, WhenNothingCanBePlacedTheErrorIsClearAndDataStays) {
  ASSERT_OK(client_->CreateProject("t"));
  const std::string data = RandomBytes(1 << 20, 24);
  absl::Status s;
  int written = 0;
  for (; written < 40 && s.ok(); ++written) {
    auto w = client_->Create("t", absl::StrCat("f", written), {.chunk_size = 1 << 20});
    s = w.status();
    if (s.ok()) s = (*w)->Append(data);
    if (s.ok()) s = (*w)->Close();
  }
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
  EXPECT_NE(s.message().find("high-water mark"), std::string::npos) << s;
  EXPECT_GT(written, 10);
  for (int i = 0; i + 1 < written; ++i) ExpectContents("t", absl::StrCat("f", i), data);
}

// A put that fails (here: the cluster fills up) leaves nothing under the final name, nor its
// temporary file; one that succeeds leaves only the final name.
TEST_F(FullClusterTest, AFailedPutLeavesNothingBehind) {
  ASSERT_OK(client_->CreateProject("t"));
  const std::string small = tmp_.path() + "/small", big = tmp_.path() + "/big";
  {
    std::ofstream(small, std::ios::binary) << RandomBytes(1 << 20, 25);
    std::ofstream(big, std::ios::binary) << RandomBytes(40 << 20, 26);  // more than fits
  }
  int rc = 0;
  std::string out = RunCli("put " + small + " t/small --chunk-size-mib 1", &rc);
  ASSERT_EQ(rc, 0) << out;
  ExpectContents("t", "small", ReadFileToString(small).value());
  out = RunCli("put " + small + " t/small", &rc);
  EXPECT_NE(rc, 0) << "a put never replaces an existing file: " << out;
  // A rename is atomic and refuses to replace.
  WriteFile("t", "other", "x");
  EXPECT_EQ(client_->Rename("t", "other", "small").code(), absl::StatusCode::kAlreadyExists);
  ASSERT_OK(client_->Rename("t", "other", "renamed"));
  ExpectContents("t", "renamed", "x");
  EXPECT_EQ(client_->Open("t", "other").status().code(), absl::StatusCode::kNotFound);
  out = RunCli("put " + big + " t/big --chunk-size-mib 1", &rc);
  EXPECT_NE(rc, 0) << out;
  EXPECT_NE(out.find("high-water mark"), std::string::npos) << out;
  ASSERT_OK_AND_ASSIGN(auto files, client_->List("t"));
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].path, "renamed");
  EXPECT_EQ(files[1].path, "small");
}

}  // namespace
}  // namespace ternion
