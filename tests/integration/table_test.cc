// Tables of encrypted rows on a real cluster: rows round-trip through the client library across
// blocks and chunks; readers see what writers flushed; no disk or backup holds a row or a key;
// keys go only to callers allowed to use them (per column, by clearance); rows altered, moved,
// swapped or replayed on the chunkservers' disks are authentication errors, never data; key
// rotation and crypto-shredding act on rows as documented.

#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "chunkserver/replica_meta.h"
#include "client/master_channel.h"
#include "client/table_format.h"
#include "common/crc32c.h"
#include "ternion/v1/master.grpc.pb.h"
#include "tests/testutil/cluster_fixture.h"

namespace ternion {
namespace {

namespace tf = client::table_format;
namespace v1 = ::ternion::v1;

const TableSchema kSchema = {
    {{"name", ColumnType::kString}, {"payload", ColumnType::kBytes}, {"n", ColumnType::kInt64}}};

std::vector<Value> RowValues(uint64_t i, size_t payload) {
  return {absl::StrFormat("r%06d", i), std::string(payload, static_cast<char>('a' + i % 26)),
          static_cast<int64_t>(i) * 3};
}

// The rows a scan returned before it ended, and how it ended.
struct Scan {
  std::vector<Row> rows;
  absl::Status status;
};

Scan ScanTable(Client* client, const std::string& project, const std::string& path,
               const std::vector<std::string>& columns = {},
               std::optional<uint64_t> from = std::nullopt) {
  Scan out;
  absl::StatusOr<std::unique_ptr<TableReader>> reader = client->OpenTable(project, path, columns);
  if (!reader.ok()) {
    out.status = reader.status();
    return out;
  }
  if (from.has_value()) {
    out.status = (*reader)->Seek(*from);
    if (!out.status.ok()) return out;
  }
  for (int guard = 0; guard < 1'000'000; ++guard) {
    Row row;
    absl::StatusOr<bool> more = (*reader)->Next(&row);
    if (!more.ok() || !*more) {
      out.status = more.status();
      return out;
    }
    out.rows.push_back(std::move(row));
  }
  out.status = absl::InternalError("scan did not end");
  return out;
}

class TableTest : public testing::ClusterFixture {
 protected:
  void Configure(local::LocalClusterOptions* o) override {
    o->racks = 3;
    o->per_rack = 1;  // every chunk on every chunkserver
  }

  void Ok(const std::string& profile, const std::string& args) {
    int rc = 0;
    const std::string out = RunAs(profile, args, &rc);
    EXPECT_EQ(rc, 0) << args << ": " << out;
  }

  std::unique_ptr<Client> ClientAs(const std::string& profile) {
    ClientOptions opts;
    opts.master_address = cluster_.master_address;
    EXPECT_OK(LoadCredentials(profile, &opts));
    absl::StatusOr<std::unique_ptr<Client>> c = Client::Connect(opts);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? std::move(*c) : nullptr;
  }

  // A signed stub as the user of `profile`: a client that skips the library's own checks.
  std::unique_ptr<v1::MasterService::Stub> RawMasterAs(const std::string& profile) {
    ClientOptions opts;
    EXPECT_OK(LoadCredentials(profile, &opts));
    absl::StatusOr<security::TlsConfig> tls = security::ClientTlsConfig({.ca = opts.ca_file});
    EXPECT_TRUE(tls.ok()) << tls.status();
    return v1::MasterService::NewStub(
        NewMasterChannel(cluster_.master_address,
                         {.key_id = opts.access_key_id, .secret = opts.access_key_secret}, *tls));
  }

  static grpc::Status GetKeys(v1::MasterService::Stub* master, const std::string& project,
                              const std::string& path, std::vector<std::string> columns,
                              bool for_write, v1::TableKeysResponse* resp) {
    grpc::ClientContext ctx;
    v1::TableKeysRequest req;
    req.set_project(project);
    req.set_path(path);
    req.set_for_write(for_write);
    for (std::string& c : columns) req.add_columns(std::move(c));
    return master->GetTableKeys(&ctx, req, resp);
  }

  // Writes `blocks` blocks of `rows` rows (payload bytes each) to a new table, one flush per block.
  void WriteTable(Client* client, const std::string& project, const std::string& path, int blocks,
                  int rows, size_t payload, uint64_t chunk_size = 0) {
    ASSERT_OK_AND_ASSIGN(auto w,
                         client->CreateTable(project, path, kSchema, {.chunk_size = chunk_size}));
    for (int b = 0; b < blocks; ++b) {
      for (int r = 0; r < rows; ++r) {
        ASSERT_OK_AND_ASSIGN(uint64_t id, w->Append(RowValues(w->next_row_id(), payload)));
        (void)id;
      }
      ASSERT_OK(w->Flush());
    }
    ASSERT_OK(w->Close());
  }

  static void ExpectRows(const std::vector<Row>& rows, uint64_t first, size_t payload) {
    for (size_t i = 0; i < rows.size(); ++i) {
      ASSERT_EQ(rows[i].id, first + i);
      ASSERT_EQ(rows[i].values, RowValues(first + i, payload)) << "row " << first + i;
    }
  }

  // Every file under the cluster's directory (disks, master store, backups, logs).
  std::vector<std::string> ClusterFilesContaining(const std::string& needle) {
    std::vector<std::string> found;
    for (const auto& e : std::filesystem::recursive_directory_iterator(cluster_.dir)) {
      if (!e.is_regular_file()) continue;
      std::ifstream in(e.path(), std::ios::binary);
      std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (bytes.find(needle) != std::string::npos) found.push_back(e.path());
    }
    return found;
  }

  // Rewrites, on every chunkserver's disk, the bytes of the one chunk of each table in `edits`
  // (same length) and the chunk checksums with them, as an attacker holding the disks could,
  // while the chunkservers are down.
  void TamperOnDisks(
      const std::string& project,
      const std::map<std::string, std::function<std::string(const std::string&)>>& edits) {
    struct Chunk {
      uint64_t length;  // the file's bytes (a replica's data file may be longer)
      const std::function<std::string(const std::string&)>* edit;
    };
    std::map<uint64_t, Chunk> by_chunk;
    for (const auto& [path, edit] : edits) {
      ASSERT_OK_AND_ASSIGN(FileStat st, client_->Stat(project, path, true));
      ASSERT_EQ(st.chunks.size(), 1u) << path;
      by_chunk[st.chunks[0].chunk_id] = {st.length, &edit};
    }
    const auto dirs = ServerDirs();
    // The replica files hold every row once the journals are applied (a journal replayed at
    // restart would put back the bytes edited below).
    ASSERT_TRUE(WaitForJournalsApplied());
    for (const auto& [server, disks] : dirs)
      ASSERT_OK(local::KillProcess(cluster_.dir, ProcessNameOf(server)));
    int rewritten = 0;
    for (const auto& [server, disks] : dirs) {
      for (const std::string& disk : disks) {
        for (const auto& [chunk, c] : by_chunk) {
          const std::string base = absl::StrFormat("%s/chunks/%s/%016x", disk, project, chunk);
          if (!std::filesystem::exists(base + ".data")) continue;
          ASSERT_OK_AND_ASSIGN(std::string data, ReadFileToString(base + ".data"));
          ASSERT_GE(data.size(), c.length);
          std::string edited = (*c.edit)(data.substr(0, c.length));
          ASSERT_EQ(edited.size(), c.length);
          ASSERT_OK_AND_ASSIGN(std::string meta, ReadFileToString(base + ".meta"));
          for (uint64_t b = 0; b * chunkserver::kBlockSize < c.length; ++b) {
            const uint32_t crc = Crc32c(absl::string_view(edited).substr(
                b * chunkserver::kBlockSize, chunkserver::kBlockSize));
            std::memcpy(&meta[chunkserver::kMetaHeaderSize + 4 * b], &crc, 4);  // little-endian
          }
          edited += data.substr(c.length);
          std::ofstream(base + ".data", std::ios::binary | std::ios::trunc) << edited;
          std::ofstream(base + ".meta", std::ios::binary | std::ios::trunc) << meta;
          ++rewritten;
        }
      }
    }
    EXPECT_EQ(rewritten, 3 * static_cast<int>(by_chunk.size()));
    for (const auto& [server, disks] : dirs) {
      ASSERT_OK(local::RestartProcess(cluster_.dir, ProcessNameOf(server)));
    }
    ASSERT_OK(local::WaitForLiveServers(cluster_, 3, 60));
  }
};

// The records of a table file, and the file made from (edited) records again.
std::vector<std::string> Records(const std::string& bytes) {
  tf::RecordReader reader(
      [&](uint64_t offset, size_t n, std::string* out) {
        out->assign(bytes.substr(offset, n));
        return absl::OkStatus();
      },
      bytes.size());
  std::vector<std::string> out;
  uint64_t at = tf::kPreambleBytes;
  for (;;) {
    absl::StatusOr<std::optional<tf::RecordReader::Record>> r = reader.ReadFrom(at);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok() || !r->has_value()) return out;
    out.push_back((*r)->body);
    at = (*r)->next;
  }
}
std::string Frame(const std::vector<std::string>& records) {
  std::string out;
  tf::FrameWriter w(0);
  for (const std::string& r : records) w.Add(r, &out);
  return out;
}

TEST_F(TableTest, RowsRoundTripAcrossBlocksAndChunksAndScansStartAnywhere) {
  ASSERT_OK(client_->CreateProject("p"));
  std::vector<size_t> payloads;
  {
    ASSERT_OK_AND_ASSIGN(auto w, client_->CreateTable("p", "t", kSchema, {.chunk_size = 1 << 20}));
    EXPECT_EQ(w->schema(), kSchema);
    // Rows of 0, 1 and 100 bytes (thousands: several blocks and chunks), and of 1 MiB.
    for (auto [count, payload] : std::vector<std::pair<int, size_t>>{
             {3, 0}, {1, 1}, {30000, 100}, {3, 1 << 20}, {10, 100}}) {
      for (int i = 0; i < count; ++i) {
        ASSERT_OK_AND_ASSIGN(uint64_t id, w->Append(RowValues(payloads.size(), payload)));
        ASSERT_EQ(id, payloads.size());
        payloads.push_back(payload);
      }
    }
    EXPECT_EQ(w->Append({std::string("x")}).status().code(), absl::StatusCode::kInvalidArgument);
    ASSERT_OK(w->Close());
  }
  ASSERT_OK_AND_ASSIGN(FileStat st, client_->Stat("p", "t"));
  EXPECT_GT(st.length, 5u << 20);  // several chunks
  Scan all = ScanTable(client_.get(), "p", "t");
  ASSERT_OK(all.status);
  ASSERT_EQ(all.rows.size(), payloads.size());
  for (const Row& r : all.rows) ASSERT_EQ(r.values, RowValues(r.id, payloads[r.id])) << r.id;

  // From the middle, from a 1 MiB row, at the end, past the end.
  for (uint64_t from : {uint64_t{15000}, uint64_t{30005}, uint64_t{30016}}) {
    Scan part = ScanTable(client_.get(), "p", "t", {}, from);
    ASSERT_OK(part.status);
    ASSERT_EQ(part.rows.size(), payloads.size() - from) << from;
    if (!part.rows.empty()) EXPECT_EQ(part.rows.front().id, from);
  }
  EXPECT_EQ(ScanTable(client_.get(), "p", "t", {}, 30018).status.code(),
            absl::StatusCode::kOutOfRange);

  // A projection: the other columns are null.
  Scan n = ScanTable(client_.get(), "p", "t", {"n"}, 29990);
  ASSERT_OK(n.status);
  ASSERT_FALSE(n.rows.empty());
  EXPECT_EQ(n.rows[0].values, (std::vector<Value>{Value{}, Value{}, int64_t{29990 * 3}}));
  EXPECT_EQ(ScanTable(client_.get(), "p", "t", {"nope"}).status.code(),
            absl::StatusCode::kInvalidArgument);

  // A table is a file: a snapshot reads the same rows; a plain file is no table.
  ASSERT_OK(client_->Snapshot("p", "t", "t.snap"));
  Scan snap = ScanTable(client_.get(), "p", "t.snap", {}, 30000);
  ASSERT_OK(snap.status);
  EXPECT_EQ(snap.rows.size(), 17u);
  WriteFile("p", "plain", "not rows");
  EXPECT_EQ(ScanTable(client_.get(), "p", "plain").status.code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(TableTest, ReadersSeeFlushedRowsAndWritersAppendWhereRowsEnd) {
  ASSERT_OK(client_->CreateProject("p"));
  ASSERT_OK_AND_ASSIGN(auto w, client_->CreateTable("p", "t", kSchema));
  for (int i = 0; i < 1000; ++i) ASSERT_OK(w->Append(RowValues(i, 50)).status());
  ASSERT_OK(w->Flush());
  ASSERT_OK_AND_ASSIGN(auto reader, client_->OpenTable("p", "t"));
  Row row;
  uint64_t seen = 0;
  while (*reader->Next(&row)) ASSERT_EQ(row.id, seen++);
  EXPECT_EQ(seen, 1000u);
  for (int i = 1000; i < 1500; ++i) ASSERT_OK(w->Append(RowValues(i, 50)).status());
  ASSERT_OK(w->Flush());
  ASSERT_OK_AND_ASSIGN(bool more, reader->Next(&row));
  EXPECT_FALSE(more);  // not until it looks again
  ASSERT_OK(reader->Refresh());
  while (*reader->Next(&row)) ASSERT_EQ(row.id, seen++);
  EXPECT_EQ(seen, 1500u);
  ASSERT_OK(w->Close());

  ASSERT_OK_AND_ASSIGN(auto again, client_->OpenTableForAppend("p", "t"));
  EXPECT_EQ(again->next_row_id(), 1500u);
  EXPECT_EQ(again->schema(), kSchema);
  for (int i = 1500; i < 1510; ++i) ASSERT_OK(again->Append(RowValues(i, 50)).status());
  ASSERT_OK(again->Close());
  Scan all = ScanTable(client_.get(), "p", "t");
  ASSERT_OK(all.status);
  ASSERT_EQ(all.rows.size(), 1510u);
  ExpectRows(all.rows, 0, 50);
}

// A writer that died in the middle of a block leaves part of a record at the end of the table;
// the next writer restarts after it, and readers skip it.
TEST_F(TableTest, AWriterAfterADeadOneRestartsAfterItsIncompleteBlock) {
  ASSERT_OK(client_->CreateProject("p"));
  WriteTable(client_.get(), "p", "t", 1, 100, 100);
  std::string bytes;
  {
    ASSERT_OK_AND_ASSIGN(auto r, client_->Open("p", "t"));
    ASSERT_OK(r->ReadAt(0, r->length(), &bytes));
  }
  // The dead writer's bytes: the start of a block record, cut short.
  const std::vector<std::string> records = Records(bytes);
  ASSERT_EQ(records.size(), 2u);
  std::string partial;
  tf::FrameWriter(bytes.size()).Add(records[1], &partial);
  {
    ASSERT_OK_AND_ASSIGN(auto raw, client_->OpenForAppend("p", "t"));
    ASSERT_OK(raw->Append(partial.substr(0, partial.size() / 2)));
    ASSERT_OK(raw->Close());
  }
  Scan before = ScanTable(client_.get(), "p", "t");
  ASSERT_OK(before.status);
  EXPECT_EQ(before.rows.size(), 100u);  // the incomplete block is not there yet

  ASSERT_OK_AND_ASSIGN(auto w, client_->OpenTableForAppend("p", "t"));
  EXPECT_EQ(w->next_row_id(), 100u);
  for (int i = 100; i < 150; ++i) ASSERT_OK(w->Append(RowValues(i, 100)).status());
  ASSERT_OK(w->Close());
  Scan after = ScanTable(client_.get(), "p", "t");
  ASSERT_OK(after.status);
  ASSERT_EQ(after.rows.size(), 150u);
  ExpectRows(after.rows, 0, 100);
  Scan tail = ScanTable(client_.get(), "p", "t", {}, 120);
  ASSERT_OK(tail.status);
  ASSERT_EQ(tail.rows.size(), 30u);
  EXPECT_EQ(tail.rows[0].id, 120u);
}

TEST_F(TableTest, NoDiskStoreOrBackupHoldsARowOrAKey) {
  ASSERT_OK(client_->CreateProject("p"));
  ASSERT_OK_AND_ASSIGN(auto w, client_->CreateTable("p", "t", kSchema));
  for (int i = 0; i < 2000; ++i) {
    ASSERT_OK(w->Append({absl::StrCat("PLAINTEXT-NAME-", i), std::string("PLAINTEXT-PAYLOAD"),
                         int64_t{0x5eC7e75eC7e7}})
                  .status());
  }
  ASSERT_OK(w->Close());
  ASSERT_EQ(ScanTable(client_.get(), "p", "t").rows.size(), 2000u);
  // The column keys, as the master hands them to the owner.
  auto master = RawMasterAs(cluster_.profile);
  v1::TableKeysResponse keys;
  ASSERT_TRUE(GetKeys(master.get(), "p", "t", {"name", "payload", "n"}, false, &keys).ok());
  ASSERT_EQ(keys.keys_size(), 3);
  Ok(cluster_.profile, "admin backup " + cluster_.dir + "/backups/b1");
  ASSERT_TRUE(std::filesystem::exists(cluster_.dir + "/backups/b1"));

  EXPECT_EQ(ClusterFilesContaining("PLAINTEXT-"), std::vector<std::string>{});
  char n_bytes[8];
  const uint64_t n = 0x5eC7e75eC7e7;
  std::memcpy(n_bytes, &n, 8);
  EXPECT_EQ(ClusterFilesContaining(std::string(n_bytes, 8)), std::vector<std::string>{});
  for (const std::string& key : keys.keys()) {
    ASSERT_EQ(key.size(), 32u);
    EXPECT_EQ(ClusterFilesContaining(key), std::vector<std::string>{});
  }
  // The search finds what is there: the table's schema is stored in the clear.
  EXPECT_FALSE(FilesContaining("payload").empty());
}

TEST_F(TableTest, KeysGoOnlyToCallersAllowedToUseThem) {
  const std::string ann = NewUser("ann"), bob = NewUser("bob");
  auto ann_client = ClientAs(ann);
  auto bob_client = ClientAs(bob);
  ASSERT_OK(ann_client->CreateProject("p"));
  ASSERT_OK(ann_client->CreateProject("q"));
  WriteTable(ann_client.get(), "p", "t", 2, 10, 20);
  auto bob_raw = RawMasterAs(bob);
  v1::TableKeysResponse keys;

  // Not a member: no rows, no keys.
  EXPECT_EQ(ScanTable(bob_client.get(), "p", "t").status.code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(GetKeys(bob_raw.get(), "p", "t", {"name"}, false, &keys).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // A member with read: the rows.
  Ok(ann, "project add-member p bob");
  Ok(ann, "grant read on p to bob");
  Scan read = ScanTable(bob_client.get(), "p", "t");
  ASSERT_OK(read.status);
  ExpectRows(read.rows, 0, 20);
  // ... but no key for writing.
  EXPECT_EQ(GetKeys(bob_raw.get(), "p", "t", {"name"}, true, &keys).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  // Label security: payload at level 2, bob cleared to 1. A scan of every column is refused;
  // one without payload reads; a patched client asking for payload's key gets none, to read or
  // to write.
  for (const char* cmd : {"label security p on", "label set p/t 2 --column payload",
                          "label clearance p bob 1", "grant write on p to bob"}) {
    Ok(ann, cmd);
  }
  Scan all = ScanTable(bob_client.get(), "p", "t");
  EXPECT_EQ(all.status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(absl::StrContains(all.status.message(), "column payload")) << all.status;
  Scan some = ScanTable(bob_client.get(), "p", "t", {"name", "n"});
  ASSERT_OK(some.status);
  ASSERT_EQ(some.rows.size(), 20u);
  EXPECT_EQ(some.rows[3].values[1], Value{});
  for (bool write : {false, true}) {
    grpc::Status s = GetKeys(bob_raw.get(), "p", "t", {"payload"}, write, &keys);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << write;
    EXPECT_TRUE(absl::StrContains(s.error_message(), "(rule: label)")) << s.error_message();
  }
  EXPECT_TRUE(GetKeys(bob_raw.get(), "p", "t", {"name", "n"}, false, &keys).ok());
  Ok(ann, "label clearance p bob 2");
  EXPECT_TRUE(GetKeys(bob_raw.get(), "p", "t", {"payload"}, false, &keys).ok());

  // Each key belongs to one table: another table's column key differs, as does another
  // project's; a plain file has none.
  WriteTable(ann_client.get(), "q", "t", 1, 1, 1);
  WriteFile("p", "plain", "x");
  auto ann_raw = RawMasterAs(ann);
  v1::TableKeysResponse p_keys, q_keys, plain;
  ASSERT_TRUE(GetKeys(ann_raw.get(), "p", "t", {"name"}, false, &p_keys).ok());
  ASSERT_TRUE(GetKeys(ann_raw.get(), "q", "t", {"name"}, false, &q_keys).ok());
  EXPECT_NE(p_keys.keys(0), q_keys.keys(0));
  EXPECT_EQ(GetKeys(ann_raw.get(), "p", "plain", {"name"}, false, &plain).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);

  // Every fetch is audited, without a key.
  const nlohmann::json records = CliJson("audit query --limit 100000");
  int fetches = 0;
  for (const auto& r : records) {
    fetches += r["action"] == "GetTableKeys";
    for (const std::string& k : p_keys.keys()) {
      EXPECT_FALSE(absl::StrContains(r.dump(), k));
    }
  }
  EXPECT_GT(fetches, 8);
}

TEST_F(TableTest, RowsAlteredMovedOrReplayedOnTheDisksAreAuthenticationErrors) {
  ASSERT_OK(client_->CreateProject("p"));
  ASSERT_OK(client_->CreateProject("q"));
  // Tables of three equal blocks of 50 rows: block k holds rows 50k to 50k+49.
  for (const char* t : {"flip", "swap", "cut", "count", "copy", "other", "replay", "source"}) {
    WriteTable(client_.get(), "p", t, 3, 50, 500);
  }
  WriteTable(client_.get(), "q", "source", 3, 50, 500);
  auto raw = [&](const std::string& project, const std::string& path) {
    std::string bytes;
    auto r = client_->Open(project, path);
    EXPECT_TRUE(r.ok());
    EXPECT_OK((*r)->ReadAt(0, (*r)->length(), &bytes));
    return bytes;
  };
  const std::vector<std::string> source = Records(raw("p", "source"));
  const std::vector<std::string> elsewhere = Records(raw("q", "source"));
  ASSERT_EQ(source.size(), 4u);  // the schema and three blocks
  auto edit = [](std::function<void(std::vector<std::string>*)> f) {
    return [f](const std::string& bytes) {
      std::vector<std::string> records = Records(bytes);
      f(&records);
      return Frame(records);
    };
  };
  TamperOnDisks(
      "p", {{"flip", edit([](auto* r) { (*r)[2][(*r)[2].size() / 2] ^= 0x10; })},
            {"swap", edit([](auto* r) { std::swap((*r)[2], (*r)[3]); })},
            // The end of block 1 lost (zeroed).
            {"cut", edit([](auto* r) { std::fill((*r)[2].end() - 100, (*r)[2].end(), '\0'); })},
            {"count", edit([](auto* r) { (*r)[2][13] = 40; })},  // row_count: 50 -> 40
            {"copy", edit([&](auto* r) { (*r)[2] = source[2]; })},
            {"other", edit([&](auto* r) { (*r)[2] = elsewhere[2]; })},
            {"replay", edit([](auto* r) { (*r)[3] = (*r)[2]; })}});

  for (const char* t : {"flip", "swap", "cut", "count", "copy", "other", "replay"}) {
    SCOPED_TRACE(t);
    Scan s = ScanTable(client_.get(), "p", t);
    EXPECT_EQ(s.status.code(), absl::StatusCode::kDataLoss) << s.status;
    // Only authentic rows came back, in order, before the damage.
    const size_t good = std::string(t) == "replay" ? 100 : 50;
    EXPECT_EQ(s.rows.size(), good);
    ExpectRows(s.rows, 0, 500);
    const bool reordered = std::string(t) == "swap" || std::string(t) == "replay";
    EXPECT_TRUE(absl::StrContains(
        s.status.message(), reordered ? "removed, reordered or replayed" : "authentication failed"))
        << s.status;
  }
  // The untouched source still reads.
  ASSERT_OK(ScanTable(client_.get(), "p", "source").status);
}

TEST_F(TableTest, RotationKeepsOldRowsReadableAndShreddingEndsThem) {
  ASSERT_OK(client_->CreateProject("p"));
  WriteTable(client_.get(), "p", "t", 2, 50, 10);  // data key version 1 (made for the writer)
  CliJson("key rotate-data p");
  {
    ASSERT_OK_AND_ASSIGN(auto w, client_->OpenTableForAppend("p", "t"));
    for (int i = 100; i < 200; ++i) ASSERT_OK(w->Append(RowValues(i, 10)).status());
    ASSERT_OK(w->Close());  // under version 2
  }
  Scan all = ScanTable(client_.get(), "p", "t");
  ASSERT_OK(all.status);
  ASSERT_EQ(all.rows.size(), 200u);
  ExpectRows(all.rows, 0, 10);

  Ok(cluster_.profile, "key destroy-data p 1 --yes-destroy");
  Scan old = ScanTable(client_.get(), "p", "t");
  EXPECT_EQ(old.status.code(), absl::StatusCode::kFailedPrecondition) << old.status;
  EXPECT_TRUE(
      absl::StrContains(old.status.message(), "data key version 1 of project p was destroyed"))
      << old.status;
  EXPECT_TRUE(old.rows.empty());
  Scan newer = ScanTable(client_.get(), "p", "t", {}, 100);
  ASSERT_OK(newer.status);
  ASSERT_EQ(newer.rows.size(), 100u);
  ExpectRows(newer.rows, 100, 10);
}

TEST_F(TableTest, MasterKeyRotationKeepsEveryRowSecretAndToken) {
  ASSERT_OK(client_->CreateProject("p"));
  WriteTable(client_.get(), "p", "t", 2, 10, 20);
  const std::string new_key = tmp_.path() + "/new.key";
  int rc = 0;
  std::string out = RunCommand(
      std::string(TERNION_BIN_DIR) + "/ternion-master --create-master-key " + new_key, &rc);
  ASSERT_EQ(rc, 0) << out;

  // With the master stopped, every secret is wrapped by the new key; then it runs with it.
  ASSERT_OK(local::KillProcess(cluster_.dir, "master"));
  ASSERT_OK_AND_ASSIGN(local::LocalCluster recorded, local::LoadLocalCluster(cluster_.dir));
  std::string master_cmd;
  for (const local::LocalProcess& p : recorded.processes) {
    if (p.name == "master") master_cmd = absl::StrJoin(p.argv, " ");
  }
  ASSERT_TRUE(absl::StrContains(master_cmd, "--master-key-file " + cluster_.dir + "/master.key"))
      << master_cmd;
  out = RunCommand(master_cmd + " --rewrap-master-key " + new_key, &rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_TRUE(absl::StrContains(out, "every secret is now wrapped by the key in")) << out;
  // The old key opens nothing now.
  out = RunCommand(master_cmd + " --rewrap-master-key " + new_key, &rc);
  EXPECT_NE(rc, 0) << out;
  std::filesystem::copy_file(new_key, cluster_.dir + "/master.key",
                             std::filesystem::copy_options::overwrite_existing);
  ASSERT_OK(local::RestartProcess(cluster_.dir, "master"));
  ASSERT_OK(local::WaitForLiveServers(cluster_, 3, 60));

  // The admin's AccessKey signs, chunk tokens verify, and every row reads under the same keys.
  Scan s = ScanTable(client_.get(), "p", "t");
  ASSERT_OK(s.status);
  ExpectRows(s.rows, 0, 20);
  EXPECT_EQ(s.rows.size(), 20u);
  bool audited = false;
  for (const auto& r : CliJson("audit query --limit 100000")) {
    audited |= absl::StrContains(r["detail"].get<std::string>(), "master key rotated by operator");
  }
  EXPECT_TRUE(audited);
}

TEST_F(TableTest, TheCliWritesAndScansJsonLinesAndReencryptsOnline) {
  ASSERT_OK(client_->CreateProject("p"));
  const std::string admin = cluster_.profile;
  Ok(admin, "table create p/cli --column name:string --column payload:bytes --column n:int64");
  int rc = 0;
  EXPECT_EQ(RunAs(admin, "table schema p/cli", &rc), "name string\npayload bytes\nn int64\n");
  const std::string rows = tmp_.path() + "/rows.jsonl";
  std::ofstream(rows) << R"({"name":"ann","payload":"AAEC","n":1})"
                      << "\n"
                      << R"({"name":"bob","n":-2})"
                      << "\n\n"
                      << R"({"n":3,"name":null})"
                      << "\n";
  std::string out = RunAs(admin, "table put p/cli --file " + rows, &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_TRUE(absl::StrContains(out, "appended 3 rows to p/cli (row ids 0-2)")) << out;
  EXPECT_EQ(RunAs(admin, "table scan p/cli", &rc),
            "{\"_row\":0,\"name\":\"ann\",\"payload\":\"AAEC\",\"n\":1}\n"
            "{\"_row\":1,\"name\":\"bob\",\"payload\":null,\"n\":-2}\n"
            "{\"_row\":2,\"name\":null,\"payload\":null,\"n\":3}\n");
  EXPECT_EQ(RunAs(admin, "--columns n table scan p/cli --from 1 --limit 1", &rc),
            "{\"_row\":1,\"n\":-2}\n");
  // A bad line: refused with its number; the rows before it stay.
  std::ofstream(rows) << R"({"n":4})"
                      << "\n"
                      << R"({"n":"five"})"
                      << "\n";
  out = RunAs(admin, "table put p/cli --file " + rows, &rc);
  EXPECT_NE(rc, 0);
  EXPECT_TRUE(absl::StrContains(out, "line 2: column n holds int64 values")) << out;
  EXPECT_TRUE(absl::StrContains(RunAs(admin, "table scan p/cli --from 3", &rc), R"("n":4)"));
  EXPECT_NE(RunAs(admin, "table create p/bad --column x:float", &rc).find("NAME:TYPE"),
            std::string::npos);

  // Re-encryption, online: a reader that opened before reads on across the swap, at the same
  // row ids, even once the old copy's chunks are wiped; after it, the older key version can go.
  // 3 MiB in chunks of 1 MiB: a reader opens each chunk as it gets there.
  WriteTable(client_.get(), "p", "big", 3, 1000, 1000, 1 << 20);
  Ok(admin, "key rotate-data p");
  ASSERT_OK_AND_ASSIGN(auto reader, client_->OpenTable("p", "big"));
  Row row;
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(*reader->Next(&row));
  out = RunAs(admin, "table reencrypt p/big", &rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_TRUE(absl::StrContains(out, "re-encrypted 3000 rows of p/big")) << out;
  EXPECT_EQ(RunAs(admin, "ls p", &rc).find("reencrypt"), std::string::npos);  // no copy left
  ASSERT_TRUE(WaitUntil([&] { return CliJson("gc status")["chunks_pending"] == 0; }));
  uint64_t read = 10;
  for (;;) {
    absl::StatusOr<bool> more = reader->Next(&row);
    ASSERT_OK(more.status());
    if (!*more) break;
    ASSERT_EQ(row.id, read);
    ASSERT_EQ(row.values, RowValues(read, 1000));
    ++read;
  }
  EXPECT_EQ(read, 3000u);
  Ok(admin, "key destroy-data p 1 --yes-destroy");
  Scan all = ScanTable(client_.get(), "p", "big");
  ASSERT_OK(all.status);
  EXPECT_EQ(all.rows.size(), 3000u);
  ExpectRows(all.rows, 0, 1000);
}

}  // namespace
}  // namespace ternion
