// Fuzzes the table format's readers (client/table_format.h): a table file comes from
// chunkservers, which may be damaged or hostile. Whatever the bytes, reading records, seeking
// and opening blocks end in a row, the end, or DATA_LOSS / FAILED_PRECONDITION, never a crash;
// a seek lands on a record start inside the file; nothing opens without the key's tag.

#include <cstdint>
#include <cstring>
#include <string>

#include "client/table_format.h"

namespace tf = ternion::client::table_format;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  tf::RecordReader reader(
      [&](uint64_t offset, size_t n, std::string* out) {
        out->assign(bytes.substr(offset, n));
        return absl::OkStatus();
      },
      bytes.size());
  auto expected = [](const absl::Status& s) {
    if (s.code() != absl::StatusCode::kDataLoss &&
        s.code() != absl::StatusCode::kFailedPrecondition) {
      __builtin_trap();
    }
  };
  const ternion::TableSchema fallback = {{{"c", ternion::ColumnType::kBytes}}};
  ternion::TableSchema schema = fallback;
  absl::StatusOr<ternion::security::AesGcm> gcm =
      ternion::security::AesGcm::New(ternion::security::SecretBytes(32));
  if (!gcm.ok()) __builtin_trap();
  const tf::TableContext table{.project = "p", .table_id = 1, .schema_hash = tf::SchemaHash("")};
  uint64_t at = tf::kPreambleBytes;
  for (int i = 0; i < 64; ++i) {
    absl::StatusOr<std::optional<tf::RecordReader::Record>> r = reader.ReadFrom(at);
    if (!r.ok()) {
      expected(r.status());
      break;
    }
    if (!r->has_value()) break;
    if ((*r)->offset < at || (*r)->next <= (*r)->offset || (*r)->end > size) __builtin_trap();
    at = (*r)->next;
    if (tf::IsSchemaRecord((*r)->body)) {
      absl::StatusOr<ternion::TableSchema> s = tf::DecodeSchema((*r)->body);
      if (s.ok()) {
        schema = *s;
      } else {
        expected(s.status());
      }
      continue;
    }
    absl::StatusOr<tf::BlockView> b = tf::ParseBlock((*r)->body, schema.columns.size());
    if (!b.ok()) {
      expected(b.status());
      continue;
    }
    std::vector<ternion::Value> values;
    absl::Status opened = tf::OpenColumn(table, *b, 0, schema.columns[0].type, &*gcm, &values);
    if (opened.ok()) __builtin_trap();  // no tag made by this key can be in fuzzed bytes
    expected(opened);
  }
  uint64_t row = 0;
  if (size >= 8) std::memcpy(&row, data, 8);
  absl::StatusOr<uint64_t> start = reader.StartFor(row, schema.columns.size());
  if (!start.ok()) {
    expected(start.status());
  } else if (*start < tf::kPreambleBytes || (*start >= size && size > tf::kPreambleBytes)) {
    __builtin_trap();
  }
  return 0;
}
