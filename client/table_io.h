#pragma once

// Table writers and readers over the client's files and the master's key service
// (ternion/table.h); the format is client/table_format.h.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "security/row_crypto.h"
#include "ternion/client.h"
#include "ternion/table.h"

namespace ternion::client {

// Column keys as the master hands them out (GetTableKeys).
struct KeyGrant {
  uint64_t table_id = 0;
  uint32_t version = 0;
  std::vector<security::SecretBytes> keys;  // one per column asked for, in order
  absl::Time use_until;                     // then forgotten, and asked for again
};

// What tables need from the client.
class TableFiles {
 public:
  virtual ~TableFiles() = default;
  // Opens the file for reading, checked by the master for reading `columns` (empty: every
  // column).
  struct TableFile {
    std::unique_ptr<FileReader> reader;
    uint64_t file_id = 0;
    uint64_t table_id = 0;  // 0: not a table
    uint64_t chunk_size = 0;
  };
  virtual absl::StatusOr<TableFile> OpenTableFile(const std::string& project,
                                                  const std::string& path,
                                                  const std::vector<std::string>& columns) = 0;
  // Renames `from` over `to` provided `to` is still file `file_id` at `length` (ABORTED else).
  virtual absl::Status ReplaceFile(const std::string& project, const std::string& from,
                                   const std::string& to, uint64_t file_id, uint64_t length) = 0;
  // The keys of `columns` of the table at `path`, of data key `version` (0: the newest).
  virtual absl::StatusOr<KeyGrant> TableKeys(const std::string& project, const std::string& path,
                                             uint32_t version, bool for_write,
                                             const std::vector<std::string>& columns) = 0;
};

// A writer of a new table (`schema` set: the schema is written and flushed first) or of an
// existing one (`schema` null: the rows go on after the last complete one).
absl::StatusOr<std::unique_ptr<TableWriter>> NewTableWriter(
    TableFiles* files, const std::string& project, const std::string& path,
    std::unique_ptr<FileWriter> file, uint64_t table_id, const TableSchema* schema);

absl::StatusOr<std::unique_ptr<TableReader>> NewTableReader(
    TableFiles* files, const std::string& project, const std::string& path,
    const std::vector<std::string>& columns);

// Client::ReencryptTable: copies every row into a new table under the newest key version, and
// puts the copy in the table's place unless the table changed meanwhile.
absl::StatusOr<uint64_t> ReencryptTable(Client* client, TableFiles* files,
                                        const std::string& project, const std::string& path);

}  // namespace ternion::client
