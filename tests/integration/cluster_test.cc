// End to end on a real 3-rack, 6-chunkserver cluster: three-way placement, replica files on
// disk, byte-exact reads, a master restart, and read failover after kill -9 of a chunkserver.

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/file_util.h"
#include "tests/testutil/cluster_fixture.h"
#include "ternion/v1/chunkserver.grpc.pb.h"

namespace ternion {
namespace {

namespace v1 = ::ternion::v1;

using ClusterTest = testing::ClusterFixture;
using testing::RandomBytes;

TEST_F(ClusterTest, ThreeRackReplicationRestartAndFailover) {
  ASSERT_OK(client_->CreateProject("demo"));
  const std::string data = RandomBytes(300 << 20, 2026);
  WriteFile("demo", "big/data.bin", data);

  // stat --chunks --json: every chunk with exactly three replicas in three distinct racks.
  int rc;
  std::string out = RunCli("--json stat --chunks demo/big/data.bin", &rc);
  ASSERT_EQ(rc, 0) << out;
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["length"].get<uint64_t>(), data.size());
  ASSERT_EQ(j["chunks"].size(), 5u);  // 300 MiB in 64 MiB chunks
  auto dirs = ServerDirs();
  for (const auto& c : j["chunks"]) {
    ASSERT_EQ(c["replicas"].size(), 3u);
    std::set<std::string> racks, servers;
    for (const auto& r : c["replicas"]) {
      racks.insert(r["rack"].get<std::string>());
      std::string server = r["server_id"].get<std::string>();
      servers.insert(server);
      // The replica file exists on one of that server's disks, with at least the chunk's bytes.
      bool found = false;
      for (const std::string& d : dirs[server]) {
        std::string path = absl::StrFormat("%s/chunks/demo/%016x.data", d,
                                           c["chunk_id"].get<uint64_t>());
        struct stat st;
        if (::stat(path.c_str(), &st) == 0) {
          found = static_cast<uint64_t>(st.st_size) >= c["length"].get<uint64_t>();
        }
      }
      EXPECT_TRUE(found) << "no replica file of chunk " << c["chunk_id"] << " on " << server;
    }
    EXPECT_EQ(racks.size(), 3u);
    EXPECT_EQ(servers.size(), 3u);
  }
  ExpectContents("demo", "big/data.bin", data);

  // Restart the master (kill -9): metadata is durable, chunkservers re-register.
  ASSERT_OK(local::KillProcess(cluster_.dir, "master"));
  ASSERT_OK(local::RestartProcess(cluster_.dir, "master"));
  ASSERT_OK(local::WaitForLiveServers(cluster_, 6, 30));
  ExpectContents("demo", "big/data.bin", data);

  // kill -9 the first-listed replica of chunk 0: reads fail over to another replica.
  std::string victim = ProcessNameOf(j["chunks"][0]["replicas"][0]["server_id"]);
  ASSERT_FALSE(victim.empty());
  ASSERT_OK(local::KillProcess(cluster_.dir, victim));
  ExpectContents("demo", "big/data.bin", data);
}

TEST_F(ClusterTest, ReadFailsOverFromACorruptReplica) {
  ASSERT_OK(client_->CreateProject("c"));
  const std::string data = RandomBytes(3 << 20, 11);
  WriteFile("c", "f", data, /*chunk_size=*/1 << 20);
  ASSERT_OK_AND_ASSIGN(FileStat st, client_->Stat("c", "f", true));
  ASSERT_EQ(st.chunks.size(), 3u);

  // Flip one byte in one replica of chunk 1.
  const ChunkStat& chunk = st.chunks[1];
  std::string corrupted;
  auto dirs = ServerDirs();
  for (const std::string& d : dirs[chunk.replicas[0].server_id]) {
    std::string path = absl::StrFormat("%s/chunks/c/%016x.data", d, chunk.chunk_id);
    int fd = ::open(path.c_str(), O_RDWR);
    if (fd < 0) continue;
    char b;
    ASSERT_EQ(::pread(fd, &b, 1, 12345), 1);
    b ^= 0x5a;
    ASSERT_EQ(::pwrite(fd, &b, 1, 12345), 1);
    ::close(fd);
    corrupted = path;
  }
  ASSERT_FALSE(corrupted.empty());
  // Readers try the nearest, least loaded replica first, so a read may or may not start at the
  // corrupt one: read until one has (each read byte-exact, served from another replica). The
  // chunkserver that found the corruption drops that replica (its file is gone, reading it
  // directly says so) and reports it; the master replaces it from a good one.
  struct stat unused;
  ASSERT_TRUE(WaitUntil([&] {
    ExpectContents("c", "f", data);
    return ::stat(corrupted.c_str(), &unused) != 0;
  }));
  auto stub = v1::ChunkServerService::NewStub(
      local::ChunkserverChannel(cluster_, chunk.replicas[0].address));
  grpc::ClientContext ctx;
  v1::ReadChunkRequest req;
  req.set_chunk_id(chunk.chunk_id);
  req.set_version(chunk.version);
  req.set_length(1 << 20);
  req.set_token(chunk.token);
  auto reader = stub->ReadChunk(&ctx, req);
  v1::ReadChunkResponse resp;
  while (reader->Read(&resp)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::NOT_FOUND);
  bool replaced = false;
  for (int i = 0; i < 150 && !replaced; ++i) {  // bounded: 30 s
    absl::SleepFor(absl::Milliseconds(200));
    ASSERT_OK_AND_ASSIGN(FileStat now, client_->Stat("c", "f", true));
    int rc = 0;
    auto status = nlohmann::json::parse(RunCli("--json cluster status", &rc), nullptr, false);
    replaced = now.chunks[1].replicas.size() == 3 && !status.is_discarded() &&
               status["replicas_corrupt"] == 1 && status["replicas_repaired"] == 1;
  }
  EXPECT_TRUE(replaced);
  ExpectContents("c", "f", data);
}

// (One failed replica is recovered from; see failure_test.) With every replica of the chunk
// being written gone, the write fails clearly and the acknowledged prefix stays.
TEST_F(ClusterTest, FailedWriteKeepsTheAcknowledgedPrefix) {
  ASSERT_OK(client_->CreateProject("p"));
  const std::string data = RandomBytes(6 << 20, 7);
  const uint64_t kChunk = 1 << 20;
  ASSERT_OK_AND_ASSIGN(auto w, client_->Create("p", "f", {.chunk_size = kChunk}));
  const size_t acked = 3 * kChunk + kChunk / 2;  // mid-chunk
  ASSERT_OK(w->Append(absl::string_view(data).substr(0, acked)));
  ASSERT_OK(w->Flush());
  EXPECT_EQ(w->length(), acked);

  // Kill every replica of the chunk being written, then keep writing: a clear error.
  ASSERT_OK_AND_ASSIGN(FileStat st, client_->Stat("p", "f", true));
  ASSERT_EQ(st.chunks.size(), 4u);
  std::vector<std::string> killed;
  for (const auto& r : st.chunks[3].replicas) {
    killed.push_back(ProcessNameOf(r.server_id));
    ASSERT_OK(local::KillProcess(cluster_.dir, killed.back()));
  }
  absl::Status s = w->Append(absl::string_view(data).substr(acked, kChunk / 4));
  if (s.ok()) s = w->Flush();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("replica"), std::string::npos) << s;
  EXPECT_EQ(w->length(), acked);
  EXPECT_FALSE(w->Flush().ok());  // the writer stays failed

  // Readers see exactly the acknowledged prefix (once the servers are back).
  for (const auto& name : killed) ASSERT_OK(local::RestartProcess(cluster_.dir, name));
  ASSERT_OK_AND_ASSIGN(auto r, client_->Open("p", "f"));
  EXPECT_EQ(r->length(), acked);
  std::string got;
  ASSERT_OK(r->ReadAt(0, acked + 100, &got));
  EXPECT_TRUE(got == absl::string_view(data).substr(0, acked));
}

// Writers commit lazily (the master is off the flush path), so a reader of a file being written
// gets the last chunk's length from its replicas: it sees every flushed byte, also those the
// master has not heard of yet, and across chunk boundaries.
TEST_F(ClusterTest, AReaderOfAGrowingFileSeesEveryFlushedByte) {
  ASSERT_OK(client_->CreateProject("p"));
  ClientOptions lazy = local::AdminClientOptions(cluster_);
  lazy.lazy_commit_interval = absl::Seconds(50);  // nothing but chunk events commits (lease 60 s)
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Client> writer_client, Client::Connect(lazy));
  const uint64_t kChunk = 1 << 20;
  const std::string data = RandomBytes(2 * kChunk + 300'000, 8);
  ASSERT_OK_AND_ASSIGN(auto w, writer_client->Create("p", "f", {.chunk_size = kChunk}));
  uint64_t flushed = 0;
  // Flush points: inside the first chunk (its first flush commits), further inside it (not
  // committed), past the first boundary (the chunk's end commits), then inside the third chunk.
  for (uint64_t to : {uint64_t{100'000}, uint64_t{600'000}, kChunk + 50'000, 2 * kChunk + 1,
                      2 * kChunk + 300'000}) {
    ASSERT_OK(w->Append(absl::string_view(data).substr(flushed, to - flushed)));
    ASSERT_OK(w->Flush());
    flushed = to;
    EXPECT_EQ(w->length(), flushed);
    ASSERT_OK_AND_ASSIGN(FileStat st, client_->Stat("p", "f", false));
    EXPECT_TRUE(st.open);
    EXPECT_LE(st.length, flushed);
    ASSERT_OK_AND_ASSIGN(auto r, client_->Open("p", "f"));
    EXPECT_EQ(r->length(), flushed) << "the master had " << st.length;
    std::string got;
    ASSERT_OK(r->ReadAt(0, flushed, &got));
    EXPECT_TRUE(got == absl::string_view(data).substr(0, flushed)) << "at " << flushed;
  }
  ASSERT_OK_AND_ASSIGN(FileStat lagging, client_->Stat("p", "f", false));
  EXPECT_EQ(lagging.length, 2 * kChunk + 1) << "the last flush was not committed";
  ASSERT_OK(w->Close());  // commits
  ASSERT_OK_AND_ASSIGN(FileStat closed, client_->Stat("p", "f", false));
  EXPECT_EQ(closed.length, flushed);
  EXPECT_FALSE(closed.open);
  ExpectContents("p", "f", data);
}

// A reader taking small, odd-sized pieces in order (one stream per chunk; 1 MiB frames handed
// out piece by piece; chunk boundaries crossed inside a piece) gets exactly the file.
TEST_F(ClusterTest, SmallSequentialReadsReturnExactlyTheFile) {
  ASSERT_OK(client_->CreateProject("p"));
  const std::string data = RandomBytes((3 << 20) + 12345, 7);
  WriteFile("p", "f", data, /*chunk_size=*/1 << 20);
  ASSERT_OK_AND_ASSIGN(auto r, client_->Open("p", "f"));
  std::string all, piece;
  for (uint64_t off = 0; off < data.size(); off += piece.size()) {
    ASSERT_OK(r->ReadAt(off, 40'009, &piece));
    ASSERT_FALSE(piece.empty()) << off;
    all += piece;
  }
  EXPECT_TRUE(all == data);
}

TEST_F(ClusterTest, SmallAppendsListAndDelete) {
  ASSERT_OK(client_->CreateProject("logs"));
  ASSERT_OK_AND_ASSIGN(auto w, client_->Create("logs", "app/day1", {.chunk_size = 1 << 20}));
  std::string all;
  for (int i = 0; i < 300; ++i) {
    std::string rec = absl::StrFormat("record %05d %s\n", i, std::string(i % 50, 'x'));
    ASSERT_OK(w->Append(rec));
    if (i % 10 == 0) ASSERT_OK(w->Flush());
    all += rec;
  }
  ASSERT_OK(w->Seal());
  ExpectContents("logs", "app/day1", all);
  EXPECT_EQ(client_->OpenForAppend("logs", "app/day1").status().code(),
            absl::StatusCode::kFailedPrecondition);  // sealed

  // A released (not sealed) file can be appended to by the next writer.
  WriteFile("logs", "app/day2", "first ");
  ASSERT_OK_AND_ASSIGN(auto w2, client_->OpenForAppend("logs", "app/day2"));
  ASSERT_OK(w2->Append("second"));
  ASSERT_OK(w2->Close());
  ExpectContents("logs", "app/day2", "first second");

  ASSERT_OK_AND_ASSIGN(auto files, client_->List("logs", "app/"));
  ASSERT_EQ(files.size(), 2u);
  EXPECT_TRUE(files[0].sealed);
  ASSERT_OK(client_->Delete("logs", "app/day1"));
  EXPECT_EQ(client_->Open("logs", "app/day1").status().code(), absl::StatusCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(files, client_->List("logs", ""));
  EXPECT_EQ(files.size(), 1u);
}

}  // namespace
}  // namespace ternion
