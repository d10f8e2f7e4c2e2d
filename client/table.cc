// Table writers and readers: rows are encoded column by column, sealed a block at a time under
// the columns' keys, and framed into the table's file (client/table_format.h); readers check
// that every block they return rows from is authentic and that row ids run on without a gap.

#include <algorithm>
#include <deque>
#include <map>
#include <optional>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "client/table_format.h"
#include "client/table_io.h"
#include "common/status_macros.h"

namespace ternion::client {
namespace {

namespace tf = table_format;

// The ciphers of one key version: one per column asked for (the rest absent), and until when
// they may be used.
struct KeyEntry {
  std::vector<std::optional<security::AesGcm>> ciphers;  // per schema column
  absl::Time use_until;
};

// Fetches the keys of `version` (0: the newest) for the columns at `indexes` of `schema`.
absl::StatusOr<std::pair<uint32_t, KeyEntry>> FetchKeys(TableFiles* files,
                                                        const std::string& project,
                                                        const std::string& path, uint64_t table_id,
                                                        const TableSchema& schema,
                                                        const std::vector<size_t>& indexes,
                                                        uint32_t version, bool for_write) {
  std::vector<std::string> names;
  for (size_t i : indexes) names.push_back(schema.columns[i].name);
  ASSIGN_OR_RETURN(KeyGrant grant, files->TableKeys(project, path, version, for_write, names));
  if (grant.table_id != table_id) {
    return absl::AbortedError(
        absl::StrCat(project, "/", path, " is now another table (it was replaced); open it again"));
  }
  if (grant.keys.size() != indexes.size()) {
    return absl::InternalError("the master answered a different number of keys");
  }
  KeyEntry entry{.ciphers = std::vector<std::optional<security::AesGcm>>(schema.columns.size()),
                 .use_until = grant.use_until};
  for (size_t k = 0; k < indexes.size(); ++k) {
    ASSIGN_OR_RETURN(security::AesGcm cipher, security::AesGcm::New(grant.keys[k]));
    entry.ciphers[indexes[k]] = std::move(cipher);
  }
  return std::make_pair(grant.version, std::move(entry));
}

// Where a table's complete records end, and the row id after its last row.
struct Tail {
  TableSchema schema;
  std::string schema_body;
  uint64_t end = 0;          // physical end of the last complete record
  uint64_t next_row_id = 0;  // as the blocks' (unauthenticated) headers say
};

absl::StatusOr<Tail> ReadTail(tf::RecordReader* records) {
  ASSIGN_OR_RETURN(std::optional<tf::RecordReader::Record> first,
                   records->ReadFrom(tf::kPreambleBytes));
  if (!first.has_value()) {
    return absl::FailedPreconditionError("the table has no schema yet (its creator failed)");
  }
  Tail tail;
  ASSIGN_OR_RETURN(tail.schema, tf::DecodeSchema(first->body));
  tail.schema_body = first->body;
  tail.end = first->end;
  ASSIGN_OR_RETURN(uint64_t at, records->StartFor(UINT64_MAX, tail.schema.columns.size()));
  for (;;) {
    ASSIGN_OR_RETURN(std::optional<tf::RecordReader::Record> r, records->ReadFrom(at));
    if (!r.has_value()) return tail;
    at = r->next;
    tail.end = std::max(tail.end, r->end);
    if (tf::IsSchemaRecord(r->body)) continue;
    ASSIGN_OR_RETURN(tf::BlockView b, tf::ParseBlock(r->body, tail.schema.columns.size()));
    tail.next_row_id = b.first_row_id + b.row_count;
  }
}

class TableWriterImpl final : public TableWriter {
 public:
  TableWriterImpl(TableFiles* files, std::string project, std::string path,
                  std::unique_ptr<FileWriter> file, uint64_t table_id, TableSchema schema,
                  const std::string& schema_body, uint64_t offset, uint64_t next_row_id)
      : files_(files),
        path_(std::move(path)),
        file_(std::move(file)),
        schema_(std::move(schema)),
        table_{.project = std::move(project),
               .table_id = table_id,
               .schema_hash = tf::SchemaHash(schema_body)},
        frames_(offset),
        columns_(schema_.columns.size()),
        next_row_id_(next_row_id),
        pending_from_(next_row_id) {
    for (size_t i = 0; i < schema_.columns.size(); ++i) all_columns_.push_back(i);
  }
  ~TableWriterImpl() override { DropPlaintext(); }

  // Writes (and flushes) the schema of a new table, or restarts after an incomplete tail.
  absl::Status Begin(const std::string& schema_body, bool restart) {
    std::string out;
    if (restart) frames_.Restart(&out);
    if (!schema_body.empty()) frames_.Add(schema_body, &out);
    if (out.empty()) return absl::OkStatus();
    RETURN_IF_ERROR(file_->Append(out));
    return file_->Flush();
  }

  absl::StatusOr<uint64_t> Append(std::vector<Value> values) override {
    RETURN_IF_ERROR(failed_);
    RETURN_IF_ERROR(tf::EncodeRow(schema_, values, &columns_));
    const uint64_t id = next_row_id_++;
    if (PendingBytes() >= tf::kBlockTargetBytes) RETURN_IF_ERROR(SealPending());
    return id;
  }

  absl::Status Flush() override {
    RETURN_IF_ERROR(failed_);
    RETURN_IF_ERROR(SealPending());
    return Fail(file_->Flush());
  }

  absl::Status Close() override {
    RETURN_IF_ERROR(Flush());
    keys_.reset();
    return Fail(file_->Close());
  }

  uint64_t next_row_id() const override { return next_row_id_; }
  const TableSchema& schema() const override { return schema_; }

 private:
  size_t PendingBytes() const {
    size_t n = 0;
    for (const std::string& c : columns_) n += c.size();
    return n;
  }

  // Seals the rows appended since the last block into one block and hands it to the file.
  absl::Status SealPending() {
    const uint64_t rows = next_row_id_ - pending_from_;
    if (rows == 0) return absl::OkStatus();
    if (!keys_.has_value() || absl::Now() >= keys_->second.use_until) {
      // The newest key version: after a rotation, new blocks use it once these keys expire.
      keys_.reset();
      ASSIGN_OR_RETURN(auto fetched, FetchKeys(files_, table_.project, path_, table_.table_id,
                                               schema_, all_columns_, 0, /*for_write=*/true));
      keys_ = std::move(fetched);
    }
    std::vector<security::AesGcm*> ciphers;
    for (auto& c : keys_->second.ciphers) ciphers.push_back(&*c);
    absl::StatusOr<std::string> body = tf::SealBlock(
        table_, keys_->first, pending_from_, static_cast<uint32_t>(rows), columns_, ciphers);
    RETURN_IF_ERROR(Fail(body.status()));
    DropPlaintext();
    pending_from_ = next_row_id_;
    std::string out;
    frames_.Add(*body, &out);
    return Fail(file_->Append(out));
  }

  void DropPlaintext() {
    for (std::string& c : columns_) {
      security::Wipe(&c);
      c.clear();
    }
  }

  absl::Status Fail(absl::Status s) {
    if (failed_.ok() && !s.ok()) failed_ = s;
    return s;
  }

  TableFiles* const files_;
  const std::string path_;
  std::unique_ptr<FileWriter> file_;
  const TableSchema schema_;
  const tf::TableContext table_;
  tf::FrameWriter frames_;
  std::vector<size_t> all_columns_;
  std::vector<std::string> columns_;  // encoded values of the pending rows, per column
  uint64_t next_row_id_;
  uint64_t pending_from_;  // the first row not yet sealed
  std::optional<std::pair<uint32_t, KeyEntry>> keys_;
  absl::Status failed_;
};

class TableReaderImpl final : public TableReader {
 public:
  TableReaderImpl(TableFiles* files, std::string project, std::string path,
                  std::vector<std::string> columns)
      : files_(files),
        project_(std::move(project)),
        path_(std::move(path)),
        wanted_(std::move(columns)) {}

  // Opens the file (again, after a refresh; or the one given), reads its schema and picks the
  // columns read.
  absl::Status Open(std::optional<TableFiles::TableFile> given = std::nullopt) {
    if (!given.has_value()) {
      ASSIGN_OR_RETURN(given, files_->OpenTableFile(project_, path_, wanted_));
    }
    TableFiles::TableFile opened = *std::move(given);
    const uint64_t table_id = opened.table_id;
    std::unique_ptr<FileReader> file = std::move(opened.reader);
    if (table_id == 0) {
      return absl::FailedPreconditionError(
          absl::StrCat(project_, "/", path_, " is a file, not a table"));
    }
    const uint64_t length = file->length();
    file_ = std::move(file);
    records_ = std::make_unique<tf::RecordReader>(
        [f = file_.get()](uint64_t offset, size_t n, std::string* out) {
          return f->ReadAt(offset, n, out);
        },
        length);
    if (table_id == table_.table_id) return absl::OkStatus();  // the same table, longer
    ASSIGN_OR_RETURN(std::optional<tf::RecordReader::Record> first,
                     records_->ReadFrom(tf::kPreambleBytes));
    if (!first.has_value()) return absl::FailedPreconditionError("the table has no schema yet");
    ASSIGN_OR_RETURN(schema_, tf::DecodeSchema(first->body));
    table_ = {
        .project = project_, .table_id = table_id, .schema_hash = tf::SchemaHash(first->body)};
    keys_.clear();
    read_.clear();
    for (size_t i = 0; i < schema_.columns.size(); ++i) {
      if (wanted_.empty() ||
          std::find(wanted_.begin(), wanted_.end(), schema_.columns[i].name) != wanted_.end()) {
        read_.push_back(i);
      }
    }
    for (const std::string& w : wanted_) {
      if (std::none_of(schema_.columns.begin(), schema_.columns.end(),
                       [&](const ColumnSpec& c) { return c.name == w; })) {
        return absl::InvalidArgumentError(
            absl::StrCat("table ", project_, "/", path_, " has no column ", w));
      }
    }
    at_ = first->next;
    rows_.clear();
    return absl::OkStatus();
  }

  const TableSchema& schema() const override { return schema_; }

  absl::StatusOr<bool> Next(Row* row) override {
    while (rows_.empty()) {
      ASSIGN_OR_RETURN(bool more, ReadBlock());
      if (!more) return false;
    }
    *row = std::move(rows_.front());
    rows_.pop_front();
    next_row_id_ = row->id + 1;
    return true;
  }

  absl::Status Seek(uint64_t row_id) override {
    ASSIGN_OR_RETURN(at_, records_->StartFor(row_id, schema_.columns.size()));
    rows_.clear();
    seeking_ = row_id;
    next_row_id_ = row_id;
    passed_end_ = 0;
    return absl::OkStatus();
  }

  absl::Status Refresh() override {
    const uint64_t before = table_.table_id;
    RETURN_IF_ERROR(Open());
    // A table replaced by its re-encrypted copy has the same rows under the same ids.
    if (table_.table_id != before) return Seek(next_row_id_);
    return absl::OkStatus();
  }

 private:
  // Reads the next block at at_ into rows_; false at the end of the complete records.
  absl::StatusOr<bool> ReadBlock() {
    absl::StatusOr<std::optional<tf::RecordReader::Record>> read = records_->ReadFrom(at_);
    if (!read.ok() && read.status().code() != absl::StatusCode::kDataLoss) {
      // The table may have been replaced by its re-encrypted copy (the old file's chunks are
      // then deleted): the same rows are at the same ids in the new one.
      const uint64_t before = table_.table_id;
      if (Refresh().ok() && table_.table_id != before) return true;
    }
    ASSIGN_OR_RETURN(std::optional<tf::RecordReader::Record> r, std::move(read));
    if (!r.has_value()) {
      if (seeking_.has_value() && *seeking_ > passed_end_) {
        return absl::OutOfRangeError(absl::StrCat("table ", project_, "/", path_, " has ",
                                                  passed_end_, " rows, no row ", *seeking_));
      }
      return false;
    }
    at_ = r->next;
    if (tf::IsSchemaRecord(r->body)) {
      if (r->offset != tf::kPreambleBytes) return absl::DataLossError("a second schema record");
      return true;
    }
    ASSIGN_OR_RETURN(tf::BlockView b, tf::ParseBlock(r->body, schema_.columns.size()));
    const uint64_t end = b.first_row_id + b.row_count;
    if (b.row_count == 0 || end < b.first_row_id) {
      return absl::DataLossError("a block of rows with no rows");
    }
    if (seeking_.has_value()) {
      // Blocks before the row sought are passed over unread; the one holding it must begin
      // at or before it (a later one means rows were removed).
      if (end <= *seeking_) {
        passed_end_ = end;
        return true;
      }
      if (b.first_row_id > *seeking_) return Gap(*seeking_, b.first_row_id);
    } else if (b.first_row_id != next_row_id_) {
      return Gap(next_row_id_, b.first_row_id);
    }
    ASSIGN_OR_RETURN(KeyEntry * keys, KeysFor(b.key_version));
    std::vector<std::vector<Value>> values(schema_.columns.size());
    for (size_t c : read_) {
      RETURN_IF_ERROR(tf::OpenColumn(table_, b, static_cast<uint16_t>(c), schema_.columns[c].type,
                                     &*keys->ciphers[c], &values[c]));
    }
    const uint64_t from = seeking_.value_or(b.first_row_id);
    for (uint64_t id = from; id < end; ++id) {
      Row row{.id = id, .values = std::vector<Value>(schema_.columns.size())};
      for (size_t c : read_) row.values[c] = std::move(values[c][id - b.first_row_id]);
      rows_.push_back(std::move(row));
    }
    seeking_.reset();
    return true;
  }

  absl::Status Gap(uint64_t expected, uint64_t found) const {
    return absl::DataLossError(absl::StrCat("table ", project_, "/", path_, ": expected row ",
                                            expected, ", found a block from row ", found,
                                            " (blocks were removed, reordered or replayed)"));
  }

  absl::StatusOr<KeyEntry*> KeysFor(uint32_t version) {
    auto it = keys_.find(version);
    if (it != keys_.end() && absl::Now() < it->second.use_until) return &it->second;
    if (it != keys_.end()) keys_.erase(it);
    ASSIGN_OR_RETURN(auto fetched, FetchKeys(files_, project_, path_, table_.table_id, schema_,
                                             read_, version, /*for_write=*/false));
    if (fetched.first != version)
      return absl::InternalError("the master answered another key version");
    return &keys_.emplace(version, std::move(fetched.second)).first->second;
  }

  TableFiles* const files_;
  const std::string project_;
  const std::string path_;
  const std::vector<std::string> wanted_;
  std::unique_ptr<FileReader> file_;
  std::unique_ptr<tf::RecordReader> records_;
  TableSchema schema_;
  tf::TableContext table_;
  std::vector<size_t> read_;  // the schema columns read
  std::map<uint32_t, KeyEntry> keys_;
  uint64_t at_ = 0;  // the next record to read
  uint64_t next_row_id_ = 0;
  std::optional<uint64_t> seeking_;  // the row a seek looks for, until its block is read
  uint64_t passed_end_ = 0;          // the end of the last block a seek passed over
  std::deque<Row> rows_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<TableWriter>> NewTableWriter(
    TableFiles* files, const std::string& project, const std::string& path,
    std::unique_ptr<FileWriter> file, uint64_t table_id, const TableSchema* schema) {
  if (table_id == 0) {
    return absl::FailedPreconditionError(absl::StrCat(project, "/", path, " is not a table"));
  }
  if (schema != nullptr) {
    RETURN_IF_ERROR(tf::ValidateSchema(*schema));
    const std::string body = tf::EncodeSchema(*schema);
    auto w = std::make_unique<TableWriterImpl>(files, project, path, std::move(file), table_id,
                                               *schema, body, 0, 0);
    RETURN_IF_ERROR(w->Begin(body, /*restart=*/false));
    return std::unique_ptr<TableWriter>(std::move(w));
  }
  // Appending: find where the complete records end (the lease keeps that from moving).
  ASSIGN_OR_RETURN(TableFiles::TableFile opened, files->OpenTableFile(project, path, {}));
  std::unique_ptr<FileReader> reader = std::move(opened.reader);
  if (opened.table_id != table_id) {
    return absl::AbortedError("the table was replaced while opening it");
  }
  if (reader->length() != file->length()) {
    return absl::AbortedError("the table grew while opening it for append");
  }
  tf::RecordReader records(
      [f = reader.get()](uint64_t offset, size_t n, std::string* out) {
        return f->ReadAt(offset, n, out);
      },
      reader->length());
  ASSIGN_OR_RETURN(Tail tail, ReadTail(&records));
  const bool restart = tail.end != file->length();
  auto w = std::make_unique<TableWriterImpl>(
      files, project, path, std::move(file), table_id, tail.schema, tail.schema_body,
      restart ? records.length() : tail.end, tail.next_row_id);
  RETURN_IF_ERROR(w->Begin("", restart));
  return std::unique_ptr<TableWriter>(std::move(w));
}

absl::StatusOr<uint64_t> ReencryptTable(Client* client, TableFiles* files,
                                        const std::string& project, const std::string& path) {
  ASSIGN_OR_RETURN(TableFiles::TableFile source, files->OpenTableFile(project, path, {}));
  const uint64_t file_id = source.file_id;
  const uint64_t length = source.reader->length();
  const uint64_t chunk_size = source.chunk_size;
  TableReaderImpl reader(files, project, path, {});
  RETURN_IF_ERROR(reader.Open(std::move(source)));
  const std::string copy =
      absl::StrCat(path, ".reencrypt-", absl::Hex(absl::Uniform<uint64_t>(absl::BitGen())));
  absl::StatusOr<uint64_t> rows = [&]() -> absl::StatusOr<uint64_t> {
    ASSIGN_OR_RETURN(
        std::unique_ptr<TableWriter> writer,
        client->CreateTable(project, copy, reader.schema(), {.chunk_size = chunk_size}));
    Row row;
    for (;;) {
      ASSIGN_OR_RETURN(bool more, reader.Next(&row));
      if (!more) break;
      if (row.id != writer->next_row_id()) return absl::InternalError("row ids do not run on");
      RETURN_IF_ERROR(writer->Append(std::move(row.values)).status());
    }
    RETURN_IF_ERROR(writer->Close());
    RETURN_IF_ERROR(files->ReplaceFile(project, copy, path, file_id, length));
    return writer->next_row_id();
  }();
  if (!rows.ok()) {
    (void)client->Delete(project, copy, /*force=*/true);  // the copy this call made, if any
    if (rows.status().code() == absl::StatusCode::kAborted) {
      return absl::AbortedError(
          absl::StrCat(project, "/", path, " changed while it was re-encrypted; run again"));
    }
  }
  return rows;
}

absl::StatusOr<std::unique_ptr<TableReader>> NewTableReader(
    TableFiles* files, const std::string& project, const std::string& path,
    const std::vector<std::string>& columns) {
  auto r = std::make_unique<TableReaderImpl>(files, project, path, columns);
  RETURN_IF_ERROR(r->Open());
  return std::unique_ptr<TableReader>(std::move(r));
}

}  // namespace ternion::client
