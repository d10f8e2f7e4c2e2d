#pragma once

// The on-disk format of a table (docs/formats.md, "Tables"): pure code over bytes, tested
// without daemons.
//
// A table file is a stream of records cut into frames of kFrameBytes; every frame opens with an
// 8-byte preamble naming where the first record starting in it begins, so a reader can enter
// the stream at any frame and find a row id by bisecting over frames (a few small reads, not a
// scan from the start). A record is `u32 body length | u32 masked CRC32C of the body | body`;
// the first is the table's schema, every later one a block of rows: for each column, the
// column's values of the block's rows sealed with AES-256-GCM under that column's key, with
// the project, table id, schema, key version, row ids and column as associated data.
//
// A writer that dies may leave an incomplete record at the end of the acknowledged bytes; the
// next writer pads to the next frame and marks its preamble "restart", so readers skip the
// abandoned bytes (no complete record is ever skipped: row ids must run on without a gap).

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "security/row_crypto.h"
#include "ternion/table.h"

namespace ternion::client::table_format {

inline constexpr uint64_t kFrameBytes = 64 << 10;
inline constexpr uint64_t kPreambleBytes = 8;
inline constexpr uint64_t kRecordHeaderBytes = 8;
inline constexpr uint64_t kMaxRecordBytes = 64 << 20;
// A writer seals a block once its rows' encoded values reach this many bytes.
inline constexpr size_t kBlockTargetBytes = 64 << 10;
// The largest encoded row (a block holds at least one row).
inline constexpr size_t kMaxRowBytes = 16 << 20;
inline constexpr size_t kMaxColumns = 1000;

// OK when the schema has 1-kMaxColumns columns with valid, distinct names and known types.
absl::Status ValidateSchema(const TableSchema& schema);

// The schema record's body, and back.
std::string EncodeSchema(const TableSchema& schema);
absl::StatusOr<TableSchema> DecodeSchema(absl::string_view body);

// Appends each value of the row to its column's buffer (`columns` has one per schema column);
// INVALID_ARGUMENT, appending nothing, when a value is not null or of its column's type, or
// the row is larger than kMaxRowBytes.
absl::Status EncodeRow(const TableSchema& schema, const std::vector<Value>& values,
                       std::vector<std::string>* columns);

// What every block of one table is bound to (the associated data of every seal).
struct TableContext {
  std::string project;
  uint64_t table_id = 0;
  std::string schema_hash;  // SHA-256 of the schema record's body
};
std::string SchemaHash(absl::string_view schema_body);

// A block record's fields as stored; nothing in it is trusted before its columns are opened.
struct BlockView {
  uint32_t key_version = 0;
  uint64_t first_row_id = 0;
  uint32_t row_count = 0;
  absl::string_view nonce;
  std::vector<absl::string_view> sealed;  // per schema column
};

// The body of a block of `row_count` rows from `first_row_id`, each column's encoded values
// (`columns`, as EncodeRow filled them) sealed by that column's cipher (`ciphers`, one per
// schema column, each under the column's key of `key_version`).
absl::StatusOr<std::string> SealBlock(const TableContext& table, uint32_t key_version,
                                      uint64_t first_row_id, uint32_t row_count,
                                      const std::vector<std::string>& columns,
                                      const std::vector<security::AesGcm*>& ciphers);

// The kind of a record body: the schema, or a block of rows.
bool IsSchemaRecord(absl::string_view body);
absl::StatusOr<BlockView> ParseBlock(absl::string_view body, size_t column_count);

// The values of column `column` (of type `type`) of the block's rows, authenticated and
// decrypted with `cipher`: DATA_LOSS when anything sealed or bound to it was altered.
absl::Status OpenColumn(const TableContext& table, const BlockView& block, uint16_t column,
                        ColumnType type, security::AesGcm* cipher, std::vector<Value>* values);

// Turns records into the bytes of the file: preambles at every frame boundary.
class FrameWriter {
 public:
  // `offset`: the file's length, at the end of a complete record (or 0).
  explicit FrameWriter(uint64_t offset) : offset_(offset) {}
  // Appends the record with `body` (its header added) to `out`.
  void Add(absl::string_view body, std::string* out);
  // Appends zeros up to the next frame boundary and opens that frame as a restart, for a file
  // whose acknowledged bytes end inside a record a writer left incomplete.
  void Restart(std::string* out);
  uint64_t offset() const { return offset_; }

 private:
  void Preamble(uint16_t first_record, bool restart, std::string* out);
  uint64_t offset_;
};

// Reads records from the first `length` bytes of a table file through `read` (a file reader's
// ReadAt), buffering large windows.
class RecordReader {
 public:
  using ReadFn = std::function<absl::Status(uint64_t offset, size_t n, std::string* out)>;
  RecordReader(ReadFn read, uint64_t length) : read_(std::move(read)), length_(length) {}

  struct Record {
    uint64_t offset = 0;  // where its header starts
    uint64_t end = 0;     // where its last byte ends
    uint64_t next = 0;    // where the record after it starts (past a preamble at `end`)
    std::string body;
  };
  // The first complete record at or after record start `offset`, skipping an abandoned tail
  // before a restart frame; nullopt at the end of the complete records. DATA_LOSS when the
  // bytes there are not records (and no restart follows).
  absl::StatusOr<std::optional<Record>> ReadFrom(uint64_t offset);
  // Where the first record starting in frame `frame` starts, as its preamble says; nullopt
  // when none does (or the preamble is unreadable).
  absl::StatusOr<std::optional<uint64_t>> FirstRecordIn(uint64_t frame);
  // A record start from which reading on reaches the block holding `row_id` soon: the start
  // of the last frame whose first block begins at or before it (bisection over frames).
  absl::StatusOr<uint64_t> StartFor(uint64_t row_id, size_t column_count);

  uint64_t length() const { return length_; }
  uint64_t frames() const { return (length_ + kFrameBytes - 1) / kFrameBytes; }

 private:
  enum class Got { kAll, kEnd, kRestart, kBadPreamble };
  // `n` record bytes from `*offset` on (preambles skipped), advancing `*offset`; kRestart sets
  // `*offset` to the restarting frame.
  absl::StatusOr<Got> Logical(uint64_t* offset, size_t n, bool at_record_start, std::string* out);
  // Physical bytes [offset, offset + n) of the file, through the window.
  absl::StatusOr<absl::string_view> Physical(uint64_t offset, size_t n);

  // A scan reads windows of 1 MiB (one read per MiB); a seek's probes, a frame at a time.
  static constexpr size_t kScanWindowBytes = 1 << 20;
  ReadFn read_;
  uint64_t length_;
  size_t window_bytes_ = kScanWindowBytes;
  uint64_t window_offset_ = 0;
  std::string window_;
};

}  // namespace ternion::client::table_format
