// The table format without daemons: rows round-trip through sealed blocks and framed records
// (across frames, and from a row id found by bisection), a dead writer's tail is skipped after
// a restart, and any change to a sealed block, or its use in another table, project, position
// or schema, fails authentication.

#include "client/table_format.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace ternion::client::table_format {
namespace {

const TableSchema kSchema = {{{"name", ColumnType::kString},
                              {"payload", ColumnType::kBytes},
                              {"n", ColumnType::kInt64},
                              {"x", ColumnType::kDouble},
                              {"ok", ColumnType::kBool}}};

std::vector<security::AesGcm> Ciphers(const TableSchema& schema, absl::string_view seed) {
  std::vector<security::AesGcm> out;
  const security::SecretBytes root = security::SecretBytes::Copy(std::string(32, seed[0]));
  for (const ColumnSpec& c : schema.columns) {
    absl::StatusOr<security::SecretBytes> k = security::HkdfSha512(root, "test", c.name, 32);
    EXPECT_TRUE(k.ok());
    out.push_back(*security::AesGcm::New(*k));
  }
  return out;
}

std::vector<Value> RowOf(uint64_t i, size_t payload) {
  return {absl::StrCat("row-", i), std::string(payload, static_cast<char>('a' + i % 26)),
          static_cast<int64_t>(i) * -7, i * 0.5, i % 3 == 0 ? Value{} : Value{i % 2 == 0}};
}

// Writes tables into a string as a table writer writes them into a file.
class Image {
 public:
  explicit Image(TableContext table, const TableSchema& schema = kSchema, char seed = 'k')
      : table_(std::move(table)), schema_(schema), ciphers_(Ciphers(schema, {&seed, 1})) {
    const std::string body = EncodeSchema(schema_);
    table_.schema_hash = SchemaHash(body);
    frames_.Add(body, &bytes);
  }
  // A block of `n` rows of payload `payload` bytes each.
  void Block(uint64_t n, size_t payload, uint32_t version = 1) {
    std::vector<std::string> columns(schema_.columns.size());
    for (uint64_t i = 0; i < n; ++i) {
      ASSERT_TRUE(EncodeRow(schema_, RowOf(next_ + i, payload), &columns).ok());
    }
    std::vector<security::AesGcm*> ciphers;
    for (auto& c : ciphers_) ciphers.push_back(&c);
    absl::StatusOr<std::string> body =
        SealBlock(table_, version, next_, static_cast<uint32_t>(n), columns, ciphers);
    ASSERT_TRUE(body.ok()) << body.status();
    frames_.Add(*body, &bytes);
    next_ += n;
  }
  void Restart() { frames_.Restart(&bytes); }
  // Continues after bytes appended by someone else.
  void Resync() { frames_ = FrameWriter(bytes.size()); }
  const TableContext& table() const { return table_; }
  std::string bytes;

 private:
  TableContext table_;
  TableSchema schema_;
  std::vector<security::AesGcm> ciphers_;
  FrameWriter frames_{0};
  uint64_t next_ = 0;
};

RecordReader ReaderOf(const std::string* bytes, size_t* read_bytes = nullptr) {
  return RecordReader(
      [bytes, read_bytes](uint64_t offset, size_t n, std::string* out) {
        if (read_bytes != nullptr) *read_bytes += n;
        out->assign(bytes->substr(offset, n));
        return absl::OkStatus();
      },
      bytes->size());
}

// Every row from record start `from`, opened with `table`'s keys; checks row ids run on.
absl::StatusOr<std::vector<Row>> Scan(const std::string& bytes, const TableContext& table,
                                      uint64_t from = kPreambleBytes, char seed = 'k') {
  RecordReader reader = ReaderOf(&bytes);
  std::vector<security::AesGcm> ciphers = Ciphers(kSchema, {&seed, 1});
  std::vector<Row> rows;
  uint64_t at = from;
  for (;;) {
    absl::StatusOr<std::optional<RecordReader::Record>> r = reader.ReadFrom(at);
    if (!r.ok()) return r.status();
    if (!r->has_value()) return rows;
    at = (*r)->next;
    if (IsSchemaRecord((*r)->body)) continue;
    absl::StatusOr<BlockView> b = ParseBlock((*r)->body, kSchema.columns.size());
    if (!b.ok()) return b.status();
    if (!rows.empty() && b->first_row_id != rows.back().id + 1) {
      return absl::DataLossError("row ids do not run on");
    }
    std::vector<std::vector<Value>> columns(kSchema.columns.size());
    for (uint16_t c = 0; c < kSchema.columns.size(); ++c) {
      absl::Status s = OpenColumn(table, *b, c, kSchema.columns[c].type, &ciphers[c], &columns[c]);
      if (!s.ok()) return s;
    }
    for (uint32_t i = 0; i < b->row_count; ++i) {
      Row row{.id = b->first_row_id + i};
      for (auto& column : columns) row.values.push_back(column[i]);
      rows.push_back(std::move(row));
    }
  }
}

const TableContext kTable{.project = "p", .table_id = 7};

TEST(TableFormatTest, RowsOfEverySizeRoundTripAcrossFrames) {
  Image image(kTable);
  std::vector<size_t> payloads;
  // Blocks of 0-byte and 1-byte rows, one spanning two frames, a 1 MiB row (sixteen frames),
  // and rows larger than a frame.
  for (auto [rows, payload] : std::vector<std::pair<uint64_t, size_t>>{
           {3, 0}, {1, 1}, {1000, 100}, {1, 1 << 20}, {2, 70 << 10}}) {
    image.Block(rows, payload);
    payloads.insert(payloads.end(), rows, payload);
  }
  absl::StatusOr<std::vector<Row>> rows = Scan(image.bytes, image.table());
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), payloads.size());
  for (const Row& r : *rows) EXPECT_EQ(r.values, RowOf(r.id, payloads[r.id])) << r.id;
}

TEST(TableFormatTest, SchemaRoundTripsAndBadSchemasAreRefused) {
  absl::StatusOr<TableSchema> back = DecodeSchema(EncodeSchema(kSchema));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, kSchema);
  EXPECT_FALSE(ValidateSchema({}).ok());
  EXPECT_FALSE(ValidateSchema({{{"a", ColumnType::kBytes}, {"a", ColumnType::kInt64}}}).ok());
  EXPECT_FALSE(ValidateSchema({{{"a b", ColumnType::kBytes}}}).ok());
  EXPECT_FALSE(ValidateSchema({{{"a", static_cast<ColumnType>(9)}}}).ok());
  std::vector<std::string> columns(kSchema.columns.size());
  EXPECT_FALSE(EncodeRow(kSchema, {std::string("x")}, &columns).ok());  // too few values
  EXPECT_FALSE(
      EncodeRow(kSchema, {int64_t{1}, std::string(), int64_t{1}, 1.0, true}, &columns).ok());
  for (const std::string& c : columns) EXPECT_TRUE(c.empty());  // nothing half-appended
}

TEST(TableFormatTest, BisectionFindsARowWithAFewSmallReads) {
  Image image(kTable);
  for (int b = 0; b < 400; ++b) image.Block(500, 100);  // ~25 MiB, ~400 frames
  for (uint64_t target : {0ul, 1ul, 77777ul, 123456ul, 199999ul}) {
    size_t read_bytes = 0;
    RecordReader reader = ReaderOf(&image.bytes, &read_bytes);
    absl::StatusOr<uint64_t> start = reader.StartFor(target, kSchema.columns.size());
    ASSERT_TRUE(start.ok()) << start.status();
    absl::StatusOr<std::vector<Row>> rows = Scan(image.bytes, image.table(), *start);
    ASSERT_TRUE(rows.ok()) << rows.status();
    // The start is at most one frame of blocks before the row.
    ASSERT_FALSE(rows->empty());
    EXPECT_LE(rows->front().id, target);
    EXPECT_GT(rows->front().id + 2 * 500, target) << "start too early for " << target;
    // ~log2(400) probes of two frames each (the preamble's, then the record's): ~5% of 25 MiB.
    EXPECT_LE(read_bytes, 2 * 10 * kFrameBytes) << target;
    EXPECT_GT(image.bytes.size(), 24u << 20);
  }
}

TEST(TableFormatTest, AnIncompleteTailIsTheEndAndARestartSkipsIt) {
  Image image(kTable);
  image.Block(10, 100);
  const size_t clean = image.bytes.size();
  image.Block(700, 100);  // a dead writer's block, cut short
  image.bytes.resize(clean + 5000);
  absl::StatusOr<std::vector<Row>> rows = Scan(image.bytes, image.table());
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ(rows->size(), 10u);  // the cut block is not (yet) there

  // The next writer pads and restarts; its rows run on from row 10.
  Image next(kTable);
  next.Block(10, 100);
  next.bytes = image.bytes;
  next.Resync();
  next.Restart();
  next.Block(5, 100);
  // next's ids continue at 10 because it wrote 10 rows before.
  rows = Scan(next.bytes, next.table());
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 15u);
  EXPECT_EQ(rows->back().id, 14u);
}

TEST(TableFormatTest, AlteredOrMisplacedBlocksFailAuthentication) {
  Image image(kTable);
  image.Block(10, 100);
  const size_t first_end = image.bytes.size();
  image.Block(10, 100);
  ASSERT_TRUE(Scan(image.bytes, image.table()).ok());

  // A flipped bit: the record's CRC catches it (AuthenticatedFieldsCannotBeRewritten shows
  // what happens when the attacker fixes the CRC).
  std::string bad = image.bytes;
  bad[first_end - 40] ^= 1;
  EXPECT_EQ(Scan(bad, image.table()).status().code(), absl::StatusCode::kDataLoss);
  // The same bytes read as another table, another project, or under another key.
  TableContext other = image.table();
  other.table_id = 8;
  EXPECT_EQ(Scan(image.bytes, other).status().code(), absl::StatusCode::kDataLoss);
  other = image.table();
  other.project = "q";
  EXPECT_EQ(Scan(image.bytes, other).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(Scan(image.bytes, image.table(), kPreambleBytes, 'z').status().code(),
            absl::StatusCode::kDataLoss);
}

TEST(TableFormatTest, AuthenticatedFieldsCannotBeRewritten) {
  // Re-sealing is impossible without keys, but the plaintext header fields and CRCs are not:
  // rewrite them and re-frame the record as an attacker with disk access could.
  Image image(kTable);
  image.Block(4, 10);
  RecordReader reader = ReaderOf(&image.bytes);
  absl::StatusOr<std::optional<RecordReader::Record>> schema = reader.ReadFrom(kPreambleBytes);
  ASSERT_TRUE(schema.ok() && schema->has_value());
  absl::StatusOr<std::optional<RecordReader::Record>> block = reader.ReadFrom((*schema)->next);
  ASSERT_TRUE(block.ok() && block->has_value());
  auto reframed = [&](std::string body) {
    std::string out;
    FrameWriter w(0);
    w.Add((*schema)->body, &out);
    w.Add(body, &out);
    return out;
  };
  const std::string body = (*block)->body;
  ASSERT_TRUE(Scan(reframed(body), image.table()).ok());
  // Offsets in the block body: kind 1 | version 4 | first row 8 | count 4 | nonce 12 | ...
  for (size_t at : {1ul, 5ul, 13ul, 17ul, body.size() - 1}) {
    std::string bad = body;
    bad[at] ^= 1;
    absl::StatusOr<std::vector<Row>> rows = Scan(reframed(bad), image.table());
    EXPECT_FALSE(rows.ok()) << "byte " << at;
  }
  // Another schema with the same column types: every block is bound to the schema.
  TableContext renamed = image.table();
  renamed.schema_hash = SchemaHash("another schema");
  EXPECT_EQ(Scan(reframed(body), renamed).status().code(), absl::StatusCode::kDataLoss);
}

TEST(TableFormatTest, GarbageIsDataLossNeverRows) {
  std::string bytes = Image(kTable).bytes;
  bytes += std::string(3 * kFrameBytes, 'x');
  EXPECT_EQ(Scan(bytes, kTable).status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace ternion::client::table_format
