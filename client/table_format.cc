#include "client/table_format.h"

#include <openssl/sha.h>
#include <sodium.h>

#include <cstring>
#include <set>

#include "absl/base/internal/endian.h"
#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "common/crc32c.h"
#include "common/names.h"
#include "common/status_macros.h"

namespace ternion::client::table_format {
namespace {

constexpr char kPreambleMagic[2] = {'T', 'F'};
constexpr uint8_t kFormatVersion = 1;
constexpr uint8_t kRestartFlag = 1;
constexpr uint16_t kNoRecord = 0xFFFF;
constexpr uint8_t kSchemaKind = 1;
constexpr uint8_t kBlockKind = 2;
constexpr size_t kBlockFixedBytes = 1 + 4 + 8 + 4 + security::AesGcm::kNonceBytes + 2;
// The CRC of a record is stored masked (as LevelDB does), so zeros never pass for a record.
constexpr uint32_t kCrcMask = 0xa282ead8u;
// A value's tag: null, or present.
constexpr uint8_t kNull = 0;
constexpr uint8_t kPresent = 1;

void PutU16(std::string* out, uint16_t v) {
  char b[2];
  absl::little_endian::Store16(b, v);
  out->append(b, 2);
}
void PutU32(std::string* out, uint32_t v) {
  char b[4];
  absl::little_endian::Store32(b, v);
  out->append(b, 4);
}
void PutU64(std::string* out, uint64_t v) {
  char b[8];
  absl::little_endian::Store64(b, v);
  out->append(b, 8);
}
void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

// Reads fixed-width fields off the front of untrusted bytes; every read is bounds-checked.
class Cursor {
 public:
  explicit Cursor(absl::string_view in) : in_(in) {}
  bool U8(uint8_t* v) {
    return Take(1, [&](const char* p) { *v = static_cast<uint8_t>(*p); });
  }
  bool U16(uint16_t* v) {
    return Take(2, [&](const char* p) { *v = absl::little_endian::Load16(p); });
  }
  bool U32(uint32_t* v) {
    return Take(4, [&](const char* p) { *v = absl::little_endian::Load32(p); });
  }
  bool U64(uint64_t* v) {
    return Take(8, [&](const char* p) { *v = absl::little_endian::Load64(p); });
  }
  bool Varint(uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      uint8_t b = 0;
      if (!U8(&b)) return false;
      *v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;
  }
  bool Bytes(size_t n, absl::string_view* v) {
    if (in_.size() < n) return false;
    *v = in_.substr(0, n);
    in_.remove_prefix(n);
    return true;
  }
  bool done() const { return in_.empty(); }

 private:
  template <typename F>
  bool Take(size_t n, F f) {
    if (in_.size() < n) return false;
    f(in_.data());
    in_.remove_prefix(n);
    return true;
  }
  absl::string_view in_;
};

bool KnownType(ColumnType t) { return t >= ColumnType::kBytes && t <= ColumnType::kBool; }

bool Fits(ColumnType type, const Value& v) {
  switch (type) {
    case ColumnType::kBytes:
    case ColumnType::kString:
      return std::holds_alternative<std::string>(v);
    case ColumnType::kInt64:
      return std::holds_alternative<int64_t>(v);
    case ColumnType::kDouble:
      return std::holds_alternative<double>(v);
    case ColumnType::kBool:
      return std::holds_alternative<bool>(v);
  }
  return false;
}

const char* TypeName(ColumnType t) {
  switch (t) {
    case ColumnType::kBytes:
      return "bytes";
    case ColumnType::kString:
      return "string";
    case ColumnType::kInt64:
      return "int64";
    case ColumnType::kDouble:
      return "double";
    case ColumnType::kBool:
      return "bool";
  }
  return "unknown";
}

void EncodeValue(const Value& v, std::string* out) {
  if (std::holds_alternative<std::monostate>(v)) {
    out->push_back(static_cast<char>(kNull));
    return;
  }
  out->push_back(static_cast<char>(kPresent));
  if (const auto* s = std::get_if<std::string>(&v)) {
    PutVarint(out, s->size());
    out->append(*s);
  } else if (const auto* i = std::get_if<int64_t>(&v)) {
    PutU64(out, static_cast<uint64_t>(*i));
  } else if (const auto* d = std::get_if<double>(&v)) {
    uint64_t bits = 0;
    std::memcpy(&bits, d, sizeof bits);
    PutU64(out, bits);
  } else {
    out->push_back(std::get<bool>(v) ? 1 : 0);
  }
}

// The associated data sealed with one column of one block.
std::string BlockAad(const TableContext& table, uint32_t key_version, uint64_t first_row_id,
                     uint32_t row_count, uint16_t column) {
  std::string aad = "ternion-table-v1";
  aad.push_back('\0');
  PutU32(&aad, static_cast<uint32_t>(table.project.size()));
  aad.append(table.project);
  PutU64(&aad, table.table_id);
  aad.append(table.schema_hash);
  PutU32(&aad, key_version);
  PutU64(&aad, first_row_id);
  PutU32(&aad, row_count);
  PutU16(&aad, column);
  return aad;
}

absl::Status Corrupt(absl::string_view what) {
  return absl::DataLossError(absl::StrCat("table data is corrupt: ", what));
}

}  // namespace

absl::Status ValidateSchema(const TableSchema& schema) {
  if (schema.columns.empty() || schema.columns.size() > kMaxColumns) {
    return absl::InvalidArgumentError(
        absl::StrCat("a table has 1 to ", kMaxColumns, " columns, not ", schema.columns.size()));
  }
  std::set<std::string> names;
  for (const ColumnSpec& c : schema.columns) {
    RETURN_IF_ERROR(ValidateColumnName(c.name));
    if (!KnownType(c.type)) {
      return absl::InvalidArgumentError(absl::StrCat("column ", c.name, " has no known type"));
    }
    if (!names.insert(c.name).second) {
      return absl::InvalidArgumentError(absl::StrCat("column ", c.name, " appears twice"));
    }
  }
  return absl::OkStatus();
}

std::string EncodeSchema(const TableSchema& schema) {
  std::string out;
  out.push_back(static_cast<char>(kSchemaKind));
  out.push_back(static_cast<char>(kFormatVersion));
  PutU16(&out, static_cast<uint16_t>(schema.columns.size()));
  for (const ColumnSpec& c : schema.columns) {
    out.push_back(static_cast<char>(c.type));
    PutU16(&out, static_cast<uint16_t>(c.name.size()));
    out.append(c.name);
  }
  return out;
}

absl::StatusOr<TableSchema> DecodeSchema(absl::string_view body) {
  Cursor in(body);
  uint8_t kind = 0, version = 0;
  uint16_t n = 0;
  if (!in.U8(&kind) || kind != kSchemaKind) return Corrupt("the first record is not a schema");
  if (!in.U8(&version) || version != kFormatVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat("table format version ", version, " is not one this client reads"));
  }
  if (!in.U16(&n)) return Corrupt("schema cut short");
  TableSchema schema;
  for (uint16_t i = 0; i < n; ++i) {
    uint8_t type = 0;
    uint16_t len = 0;
    absl::string_view name;
    if (!in.U8(&type) || !in.U16(&len) || !in.Bytes(len, &name)) {
      return Corrupt("schema cut short");
    }
    schema.columns.push_back({std::string(name), static_cast<ColumnType>(type)});
  }
  if (!in.done()) return Corrupt("bytes after the schema");
  if (absl::Status s = ValidateSchema(schema); !s.ok()) return Corrupt(s.message());
  return schema;
}

absl::Status EncodeRow(const TableSchema& schema, const std::vector<Value>& values,
                       std::vector<std::string>* columns) {
  if (values.size() != schema.columns.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a row of this table has ", schema.columns.size(), " values, not ", values.size()));
  }
  size_t bytes = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    const ColumnSpec& c = schema.columns[i];
    if (!std::holds_alternative<std::monostate>(values[i]) && !Fits(c.type, values[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("column ", c.name, " holds ", TypeName(c.type), " values"));
    }
    if (const auto* s = std::get_if<std::string>(&values[i])) bytes += s->size();
  }
  if (bytes > kMaxRowBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("a row holds at most ", kMaxRowBytes, " bytes, not ", bytes));
  }
  for (size_t i = 0; i < values.size(); ++i) EncodeValue(values[i], &(*columns)[i]);
  return absl::OkStatus();
}

std::string SchemaHash(absl::string_view schema_body) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(schema_body.data()), schema_body.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof digest);
}

absl::StatusOr<std::string> SealBlock(const TableContext& table, uint32_t key_version,
                                      uint64_t first_row_id, uint32_t row_count,
                                      const std::vector<std::string>& columns,
                                      const std::vector<security::AesGcm*>& ciphers) {
  if (columns.size() != ciphers.size()) {
    return absl::InternalError("one cipher per column is needed");
  }
  // One random nonce for the block: each column is sealed under its own key, so no key sees a
  // nonce twice (random 96-bit nonces stay safe to 2^32 blocks per column and key version).
  char nonce[security::AesGcm::kNonceBytes];
  randombytes_buf(nonce, sizeof nonce);
  std::string out;
  size_t total = kBlockFixedBytes;
  for (const std::string& c : columns) total += 6 + c.size() + security::AesGcm::kTagBytes;
  out.reserve(total);
  out.push_back(static_cast<char>(kBlockKind));
  PutU32(&out, key_version);
  PutU64(&out, first_row_id);
  PutU32(&out, row_count);
  out.append(nonce, sizeof nonce);
  PutU16(&out, static_cast<uint16_t>(columns.size()));
  for (size_t i = 0; i < columns.size(); ++i) {
    const uint16_t column = static_cast<uint16_t>(i);
    PutU16(&out, column);
    PutU32(&out, static_cast<uint32_t>(columns[i].size() + security::AesGcm::kTagBytes));
    RETURN_IF_ERROR(ciphers[i]->Seal(absl::string_view(nonce, sizeof nonce),
                                     BlockAad(table, key_version, first_row_id, row_count, column),
                                     columns[i], &out));
  }
  return out;
}

bool IsSchemaRecord(absl::string_view body) {
  return !body.empty() && static_cast<uint8_t>(body[0]) == kSchemaKind;
}

absl::StatusOr<BlockView> ParseBlock(absl::string_view body, size_t column_count) {
  Cursor in(body);
  BlockView b;
  uint8_t kind = 0;
  uint16_t groups = 0;
  if (!in.U8(&kind) || kind != kBlockKind) return Corrupt("a record is not a block of rows");
  if (!in.U32(&b.key_version) || !in.U64(&b.first_row_id) || !in.U32(&b.row_count) ||
      !in.Bytes(security::AesGcm::kNonceBytes, &b.nonce) || !in.U16(&groups)) {
    return Corrupt("block header cut short");
  }
  if (groups != column_count) {
    return Corrupt(absl::StrCat("a block holds ", groups, " columns, the schema ", column_count));
  }
  for (uint16_t i = 0; i < groups; ++i) {
    uint16_t column = 0;
    uint32_t len = 0;
    absl::string_view sealed;
    if (!in.U16(&column) || !in.U32(&len) || !in.Bytes(len, &sealed)) {
      return Corrupt("block cut short");
    }
    if (column != i) return Corrupt("a block's columns are out of order");
    b.sealed.push_back(sealed);
  }
  if (!in.done()) return Corrupt("bytes after a block's columns");
  return b;
}

absl::Status OpenColumn(const TableContext& table, const BlockView& block, uint16_t column,
                        ColumnType type, security::AesGcm* cipher, std::vector<Value>* values) {
  std::string plain;
  absl::Status opened = cipher->Open(
      block.nonce, BlockAad(table, block.key_version, block.first_row_id, block.row_count, column),
      block.sealed[column], &plain);
  if (!opened.ok()) {
    return absl::DataLossError(
        absl::StrCat("authentication failed for column ", column, " of rows ", block.first_row_id,
                     "-", block.first_row_id + block.row_count - 1, " of table ", table.project,
                     " (table id ", table.table_id, ", key version ", block.key_version,
                     "): the rows were altered, moved or copied from elsewhere"));
  }
  Cursor in(plain);
  values->clear();
  values->reserve(block.row_count);
  for (uint32_t r = 0; r < block.row_count; ++r) {
    uint8_t tag = 0;
    if (!in.U8(&tag) || tag > kPresent) return Corrupt("a sealed value is malformed");
    if (tag == kNull) {
      values->emplace_back();
      continue;
    }
    bool ok = false;
    switch (type) {
      case ColumnType::kBytes:
      case ColumnType::kString: {
        uint64_t len = 0;
        absl::string_view s;
        ok = in.Varint(&len) && in.Bytes(len, &s);
        if (ok) values->emplace_back(std::string(s));
        break;
      }
      case ColumnType::kInt64:
      case ColumnType::kDouble: {
        uint64_t bits = 0;
        ok = in.U64(&bits);
        if (ok && type == ColumnType::kInt64) values->emplace_back(static_cast<int64_t>(bits));
        if (ok && type == ColumnType::kDouble) {
          double d = 0;
          std::memcpy(&d, &bits, sizeof d);
          values->emplace_back(d);
        }
        break;
      }
      case ColumnType::kBool: {
        uint8_t b = 0;
        ok = in.U8(&b) && b <= 1;
        if (ok) values->emplace_back(b == 1);
        break;
      }
    }
    if (!ok) return Corrupt("a sealed value is malformed");
  }
  if (!in.done()) return Corrupt("bytes after a block's values");
  security::Wipe(&plain);
  return absl::OkStatus();
}

void FrameWriter::Preamble(uint16_t first_record, bool restart, std::string* out) {
  out->append(kPreambleMagic, 2);
  out->push_back(static_cast<char>(kFormatVersion));
  out->push_back(static_cast<char>(restart ? kRestartFlag : 0));
  PutU16(out, first_record);
  PutU16(out, 0);
  offset_ += kPreambleBytes;
}

void FrameWriter::Add(absl::string_view body, std::string* out) {
  std::string header;
  PutU32(&header, static_cast<uint32_t>(body.size()));
  PutU32(&header, Crc32c(body) ^ kCrcMask);
  const size_t total = header.size() + body.size();
  size_t written = 0;
  auto piece = [&](size_t at, size_t n) {
    // Bytes [at, at + n) of header + body.
    while (n > 0) {
      if (at < header.size()) {
        const size_t k = std::min(n, header.size() - at);
        out->append(header, at, k);
        at += k, n -= k;
      } else {
        const size_t k = std::min(n, total - at);
        out->append(body.data() + (at - header.size()), k);
        at += k, n -= k;
      }
    }
  };
  while (written < total) {
    if (offset_ % kFrameBytes == 0) {
      // The frame's first record: this one when it starts here, else the one after it, when
      // this one ends inside the frame.
      const size_t rest = total - written;
      uint16_t first = kNoRecord;
      if (written == 0) {
        first = kPreambleBytes;
      } else if (kPreambleBytes + rest < kFrameBytes) {
        first = static_cast<uint16_t>(kPreambleBytes + rest);
      }
      Preamble(first, false, out);
    }
    const size_t room = kFrameBytes - offset_ % kFrameBytes;
    const size_t n = std::min(room, total - written);
    piece(written, n);
    written += n;
    offset_ += n;
  }
}

void FrameWriter::Restart(std::string* out) {
  if (offset_ % kFrameBytes != 0) {
    const size_t pad = kFrameBytes - offset_ % kFrameBytes;
    out->append(pad, '\0');
    offset_ += pad;
  }
  Preamble(kPreambleBytes, true, out);
}

absl::StatusOr<absl::string_view> RecordReader::Physical(uint64_t offset, size_t n) {
  if (offset < window_offset_ || offset + n > window_offset_ + window_.size()) {
    window_offset_ = offset;
    window_.clear();
    const size_t want = std::min<uint64_t>(std::max(n, window_bytes_), length_ - offset);
    RETURN_IF_ERROR(read_(offset, want, &window_));
    if (window_.size() < n) return absl::DataLossError("table file shorter than its length");
  }
  return absl::string_view(window_).substr(offset - window_offset_, n);
}

absl::StatusOr<RecordReader::Got> RecordReader::Logical(uint64_t* offset, size_t n,
                                                        bool at_record_start, std::string* out) {
  out->clear();
  uint64_t at = *offset;
  while (out->size() < n) {
    if (at % kFrameBytes == 0) {
      if (at + kPreambleBytes > length_) return Got::kEnd;
      ASSIGN_OR_RETURN(absl::string_view p, Physical(at, kPreambleBytes));
      if (p[0] != kPreambleMagic[0] || p[1] != kPreambleMagic[1] ||
          static_cast<uint8_t>(p[2]) != kFormatVersion) {
        return Got::kBadPreamble;
      }
      if ((static_cast<uint8_t>(p[3]) & kRestartFlag) != 0 && !(at_record_start && out->empty())) {
        *offset = at;
        return Got::kRestart;
      }
      at += kPreambleBytes;
    }
    const uint64_t room = kFrameBytes - at % kFrameBytes;
    const uint64_t k = std::min<uint64_t>(room, n - out->size());
    if (at + k > length_) return Got::kEnd;
    ASSIGN_OR_RETURN(absl::string_view bytes, Physical(at, k));
    out->append(bytes.data(), bytes.size());
    at += k;
  }
  *offset = at;
  return Got::kAll;
}

absl::StatusOr<std::optional<RecordReader::Record>> RecordReader::ReadFrom(uint64_t offset) {
  for (;;) {
    if (offset >= length_) return std::nullopt;
    Record r{.offset = offset};
    uint64_t at = offset;
    std::string header;
    ASSIGN_OR_RETURN(Got got, Logical(&at, kRecordHeaderBytes, true, &header));
    uint32_t len = 0, crc = 0;
    if (got == Got::kAll) {
      len = absl::little_endian::Load32(header.data());
      crc = absl::little_endian::Load32(header.data() + 4);
      if (len != 0 && len <= kMaxRecordBytes) {
        ASSIGN_OR_RETURN(got, Logical(&at, len, false, &r.body));
      } else {
        got = Got::kBadPreamble;  // not a record: treated as corruption below
      }
    }
    switch (got) {
      case Got::kEnd:
        return std::nullopt;  // an incomplete record at the end: not flushed yet
      case Got::kRestart:
        offset = at + kPreambleBytes;
        continue;
      case Got::kAll:
        if ((Crc32c(r.body) ^ kCrcMask) == crc) {
          // A record ending at a frame boundary is followed by one after that frame's preamble.
          r.end = at;
          r.next = at % kFrameBytes == 0 ? at + kPreambleBytes : at;
          return r;
        }
        break;
      case Got::kBadPreamble:
        break;
    }
    // Not a record. Bytes a dead writer left are followed by a restart frame; anything else
    // is damage.
    bool restarted = false;
    for (uint64_t f = offset / kFrameBytes + 1; f < frames(); ++f) {
      const uint64_t start = f * kFrameBytes;
      if (start + kPreambleBytes > length_) break;
      ASSIGN_OR_RETURN(absl::string_view p, Physical(start, kPreambleBytes));
      if (p[0] == kPreambleMagic[0] && p[1] == kPreambleMagic[1] &&
          (static_cast<uint8_t>(p[3]) & kRestartFlag) != 0) {
        offset = start + kPreambleBytes;
        restarted = true;
        break;
      }
    }
    if (!restarted) return Corrupt(absl::StrCat("no valid record at offset ", offset));
  }
}

absl::StatusOr<std::optional<uint64_t>> RecordReader::FirstRecordIn(uint64_t frame) {
  const uint64_t start = frame * kFrameBytes;
  if (start + kPreambleBytes > length_) return std::nullopt;
  ASSIGN_OR_RETURN(absl::string_view p, Physical(start, kPreambleBytes));
  if (p[0] != kPreambleMagic[0] || p[1] != kPreambleMagic[1]) return std::nullopt;
  const uint16_t first = absl::little_endian::Load16(p.data() + 4);
  if (first == kNoRecord || first < kPreambleBytes || start + first >= length_) {
    return std::nullopt;
  }
  return start + first;
}

absl::StatusOr<uint64_t> RecordReader::StartFor(uint64_t row_id, size_t column_count) {
  // Invariant: reading on from `start` (in frame lo) reaches the row before any frame after
  // hi begins a block past it. Frame 0 starts with the schema.
  uint64_t lo = 0, hi = frames() == 0 ? 0 : frames() - 1, start = kPreambleBytes;
  // Probes read a frame at a time, not a scan's windows.
  window_bytes_ = kFrameBytes;
  absl::Cleanup scan_windows = [this] { window_bytes_ = kScanWindowBytes; };
  while (lo < hi) {
    const uint64_t mid = lo + (hi - lo + 1) / 2;
    std::optional<uint64_t> found;
    uint64_t frame = mid;
    for (; frame <= hi && !found.has_value(); ++frame) {
      ASSIGN_OR_RETURN(found, FirstRecordIn(frame));
    }
    std::optional<uint64_t> first_row;
    if (found.has_value()) {
      absl::StatusOr<std::optional<Record>> r = ReadFrom(*found);
      if (r.ok() && r->has_value()) {
        absl::StatusOr<BlockView> b = ParseBlock((*r)->body, column_count);
        if (b.ok()) first_row = b->first_row_id;
      }
    }
    // Untrusted navigation: a lie here costs reads, never rows (the reader checks row ids).
    if (first_row.has_value() && *first_row <= row_id) {
      lo = frame - 1;
      start = *found;
    } else {
      hi = mid - 1;
    }
  }
  return start;
}

}  // namespace ternion::client::table_format
