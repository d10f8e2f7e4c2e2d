#pragma once

// Tables of encrypted rows (docs/security.md, "Row encryption"; format in docs/formats.md).
//
//   auto writer = client->CreateTable("proj", "events",
//                                     {{{"user", ternion::ColumnType::kString},
//                                       {"amount", ternion::ColumnType::kInt64}}});
//   (*writer)->Append({std::string("ann"), int64_t{42}});  // row 0
//   (*writer)->Flush();   // every appended row durable on three chunkservers
//   (*writer)->Close();
//   auto reader = client->OpenTable("proj", "events");
//   ternion::Row row;
//   while (*(*reader)->Next(&row)) { ... }
//
// Every row is encrypted in this process (AES-256-GCM) before it leaves it, under keys the
// master derives for this table and hands out only to callers allowed to use them: each column
// has its own key, so a column labelled above a reader's clearance cannot be decrypted by it,
// whatever its client does. Rows are numbered from 0 in the order they were appended; a table
// is a file underneath (snapshots, renames, deletion and wiping apply to it as to any file).

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ternion {

enum class ColumnType : uint8_t { kBytes = 1, kString = 2, kInt64 = 3, kDouble = 4, kBool = 5 };

struct ColumnSpec {
  std::string name;  // 1-128 of [A-Za-z0-9_]
  ColumnType type = ColumnType::kBytes;
  bool operator==(const ColumnSpec&) const = default;
};

struct TableSchema {
  std::vector<ColumnSpec> columns;  // 1-1000, distinct names
  bool operator==(const TableSchema&) const = default;
};

// A column's value: null, or the value of the column's type (bytes and strings are both held
// in a std::string).
using Value = std::variant<std::monostate, std::string, int64_t, double, bool>;

struct Row {
  uint64_t id = 0;
  std::vector<Value> values;  // one per schema column; columns not read are null
};

// Appends rows to one table under the file's single-writer lease.
class TableWriter {
 public:
  virtual ~TableWriter() = default;
  // Encrypts and buffers one row (values in schema order, each null or of its column's type);
  // returns its row id. Full blocks of rows are sent to the chunkservers as they fill.
  virtual absl::StatusOr<uint64_t> Append(std::vector<Value> values) = 0;
  // Returns once every appended row is durable on three chunkservers.
  virtual absl::Status Flush() = 0;
  // Flush, then release the lease.
  virtual absl::Status Close() = 0;
  // The id the next appended row gets (the number of rows in the table).
  virtual uint64_t next_row_id() const = 0;
  virtual const TableSchema& schema() const = 0;
};

// Scans one table, decrypting and authenticating every block it returns rows from: a row that
// was altered, moved, swapped, replayed or copied from another table or project is reported as
// a DATA_LOSS error, never returned.
class TableReader {
 public:
  virtual ~TableReader() = default;
  virtual const TableSchema& schema() const = 0;
  // The next row, or false after the last row flushed when the table was opened (or last
  // refreshed).
  virtual absl::StatusOr<bool> Next(Row* row) = 0;
  // Moves to row id `row_id`; finds its block with a few small reads (docs/formats.md), not by
  // reading the table from the start. Seeking to the end is allowed.
  virtual absl::Status Seek(uint64_t row_id) = 0;
  // Sees the rows flushed since the table was opened; the position is kept.
  virtual absl::Status Refresh() = 0;
};

}  // namespace ternion
