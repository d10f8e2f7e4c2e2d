#include "bench/row_bench.h"

#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "client/table_format.h"
#include "security/row_crypto.h"

namespace ternion::bench {
namespace {

namespace tf = client::table_format;

[[noreturn]] void Die(const std::string& what, const absl::Status& s) {
  std::fprintf(stderr, "ternion-bench: rows: %s: %s\n", what.c_str(),
               std::string(s.message()).c_str());
  std::exit(1);
}

void Check(const absl::Status& s, const std::string& what) {
  if (!s.ok()) Die(what, s);
}

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

const TableSchema kSchema = {{{"payload", ColumnType::kBytes}}};

// Splits the plain record at *at off `buf` (a presence byte, a varint length, the bytes, as a
// table encodes a value); false when `buf` ends inside it.
bool NextRecord(const std::string& buf, size_t* at, std::string* value) {
  size_t p = *at + 1;
  uint64_t len = 0;
  for (int shift = 0;; shift += 7) {
    if (p >= buf.size() || shift > 63) return false;
    const auto b = static_cast<uint8_t>(buf[p++]);
    len |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) break;
  }
  if (p + len > buf.size()) return false;
  value->assign(buf, p, len);
  *at = p + len;
  return true;
}

std::string RowBytes(size_t n, uint64_t i) {
  std::string s(n, '\0');
  for (size_t k = 0; k < n; ++k) s[k] = static_cast<char>((i * 131 + k * 7) & 0xff);
  return s;
}

// One core sealing 64 KiB buffers under one key, as a table writer seals a block's column.
double AesGcmMibPerSecond() {
  absl::StatusOr<security::AesGcm> gcm = security::AesGcm::New(security::SecretBytes::Random(32));
  Check(gcm.status(), "AES-GCM");
  const std::string plain = RowBytes(64 << 10, 1);
  const std::string nonce(12, 'n');
  std::string out;
  uint64_t bytes = 0;
  const absl::Time start = absl::Now();
  while (absl::Now() - start < absl::Seconds(1)) {
    for (int i = 0; i < 64; ++i) {
      out.clear();
      Check(gcm->Seal(nonce, "aad", plain, &out), "seal");
      bytes += plain.size();
    }
  }
  return static_cast<double>(bytes) / (1 << 20) / absl::ToDoubleSeconds(absl::Now() - start);
}

// One core encoding and sealing rows of `n` bytes into blocks in memory (no I/O).
double SealRowsPerSecond(size_t n) {
  absl::StatusOr<security::AesGcm> gcm = security::AesGcm::New(security::SecretBytes::Random(32));
  Check(gcm.status(), "AES-GCM");
  const std::vector<security::AesGcm*> ciphers = {&*gcm};
  const tf::TableContext table{
      .project = "bench", .table_id = 1, .schema_hash = std::string(32, 'h')};
  const std::string payload = RowBytes(n, 3);
  std::vector<std::string> columns(1);
  uint64_t rows = 0, block_first = 0;
  const absl::Time start = absl::Now();
  while (absl::Now() - start < absl::Seconds(1)) {
    for (int i = 0; i < 1000; ++i) {
      Check(tf::EncodeRow(kSchema, {payload}, &columns), "encode");
      ++rows;
      if (columns[0].size() >= tf::kBlockTargetBytes) {
        absl::StatusOr<std::string> body = tf::SealBlock(
            table, 1, block_first, static_cast<uint32_t>(rows - block_first), columns, ciphers);
        Check(body.status(), "seal");
        columns[0].clear();
        block_first = rows;
      }
    }
  }
  return static_cast<double>(rows) / absl::ToDoubleSeconds(absl::Now() - start);
}

// Keeps in `best` the better of its rates and those of `f`, which handles `rows` rows.
template <typename F>
void Measure(uint64_t rows, F f, RowRate* best) {
  const double cpu = CpuSeconds();
  const absl::Time start = absl::Now();
  f();
  const double n = static_cast<double>(rows);
  best->rows_s = std::max(best->rows_s, n / absl::ToDoubleSeconds(absl::Now() - start));
  best->rows_per_cpu_s = std::max(best->rows_per_cpu_s, n / (CpuSeconds() - cpu));
}

// Each figure is the best of three rounds, encrypted and plain alternating, so the noise of this
// machine's disk favours neither.
RowSizeFigures MeasureSize(Client* client, const std::string& project, size_t n, uint64_t bytes) {
  constexpr int kRounds = 3;
  RowSizeFigures f{.row_bytes = n, .rows = std::max<uint64_t>(1, bytes / n)};
  const std::string enc = absl::StrCat("rows/encrypted-", n);
  const std::string plain = absl::StrCat("rows/plain-", n);
  std::vector<std::string> payloads;
  for (uint64_t i = 0; i < 64; ++i) payloads.push_back(RowBytes(n, i));

  // Encrypted: the table writer encodes, seals and sends.
  auto write_encrypted = [&] {
    absl::StatusOr<std::unique_ptr<TableWriter>> w = client->CreateTable(project, enc, kSchema);
    Check(w.status(), "create table");
    for (uint64_t i = 0; i < f.rows; ++i) {
      Check((*w)->Append({payloads[i % payloads.size()]}).status(), "append row");
    }
    Check((*w)->Close(), "close table");
  };
  // Plain: the same rows as length-prefixed records (the encoding a table uses), unencrypted.
  auto write_plain = [&] {
    absl::StatusOr<std::unique_ptr<FileWriter>> w = client->Create(project, plain);
    Check(w.status(), "create file");
    std::string buf;
    std::vector<std::string> column(1);
    for (uint64_t i = 0; i < f.rows; ++i) {
      Check(tf::EncodeRow(kSchema, {payloads[i % payloads.size()]}, &column), "encode");
      if (column[0].size() >= tf::kBlockTargetBytes) {
        Check((*w)->Append(column[0]), "append");
        column[0].clear();
      }
    }
    Check((*w)->Append(column[0]), "append");
    Check((*w)->Close(), "close file");
  };
  // Scans: every row decrypted and checked, against the plain records read and split.
  auto scan_encrypted = [&] {
    absl::StatusOr<std::unique_ptr<TableReader>> r = client->OpenTable(project, enc);
    Check(r.status(), "open table");
    Row row;
    uint64_t rows = 0;
    for (;;) {
      absl::StatusOr<bool> more = (*r)->Next(&row);
      Check(more.status(), "scan");
      if (!*more) break;
      ++rows;
    }
    if (rows != f.rows) Die("scan", absl::DataLossError("rows missing"));
  };
  auto scan_plain = [&] {
    absl::StatusOr<std::unique_ptr<FileReader>> r = client->Open(project, plain);
    Check(r.status(), "open file");
    uint64_t rows = 0;
    std::string buf, value;
    size_t at = 0;
    for (uint64_t off = 0; off < (*r)->length(); off += 1 << 20) {
      std::string piece;
      Check((*r)->ReadAt(off, 1 << 20, &piece), "read");
      buf.erase(0, at);
      at = 0;
      buf += piece;
      while (NextRecord(buf, &at, &value)) ++rows;
    }
    if (rows != f.rows) Die("plain scan", absl::DataLossError("rows missing"));
  };
  for (int round = 0; round < kRounds; ++round) {
    (void)client->Delete(project, enc, true);
    (void)client->Delete(project, plain, true);
    Measure(f.rows, write_encrypted, &f.encrypted_write);
    Measure(f.rows, write_plain, &f.plain_write);
    Measure(f.rows, scan_encrypted, &f.encrypted_scan);
    Measure(f.rows, scan_plain, &f.plain_scan);
  }
  f.seal_rows_s = SealRowsPerSecond(n);
  (void)client->Delete(project, enc, true);
  (void)client->Delete(project, plain, true);
  return f;
}

}  // namespace

RowFigures MeasureRows(Client* client, const std::string& project, uint64_t bytes_per_size) {
  RowFigures f;
  f.aes_gcm_mib_s = AesGcmMibPerSecond();
  for (size_t n : {size_t{100}, size_t{4096}}) {
    f.sizes.push_back(MeasureSize(client, project, n, bytes_per_size));
  }
  f.aes_gcm_mib_s = std::max(f.aes_gcm_mib_s, AesGcmMibPerSecond());  // the better counts
  return f;
}

void AddRowFigures(const RowFigures& f, nlohmann::json* j) {
  (*j)["aes_gcm_ceiling_mib_s"] = f.aes_gcm_mib_s;
  for (const RowSizeFigures& s : f.sizes) {
    const std::string p = absl::StrCat("rows_", s.row_bytes, "b_");
    // The ceiling of sealing rows: AES-GCM over each row's encoded bytes (2 bytes more).
    const double ceiling = f.aes_gcm_mib_s * (1 << 20) / static_cast<double>(s.row_bytes + 2);
    for (const auto& [name, rate] : {std::pair{"encrypted_write", s.encrypted_write},
                                     {"plain_write", s.plain_write},
                                     {"encrypted_scan", s.encrypted_scan},
                                     {"plain_scan", s.plain_scan}}) {
      (*j)[absl::StrCat(p, name, "_rows_s")] = rate.rows_s;
      (*j)[absl::StrCat(p, name, "_rows_per_cpu_s")] = rate.rows_per_cpu_s;
    }
    (*j)[p + "write_cpu_ratio"] = s.encrypted_write.rows_per_cpu_s / s.plain_write.rows_per_cpu_s;
    (*j)[p + "scan_cpu_ratio"] = s.encrypted_scan.rows_per_cpu_s / s.plain_scan.rows_per_cpu_s;
    (*j)[p + "seal_rows_s"] = s.seal_rows_s;
    (*j)[p + "seal_ratio_to_aes_gcm"] = s.seal_rows_s / ceiling;
  }
}

std::string FormatRowFigures(const RowFigures& f) {
  std::string out = absl::StrFormat("  raw AES-256-GCM, one core (ceiling)          %8.1f MiB/s\n",
                                    f.aes_gcm_mib_s);
  for (const RowSizeFigures& s : f.sizes) {
    const double ceiling = f.aes_gcm_mib_s * (1 << 20) / static_cast<double>(s.row_bytes + 2);
    absl::StrAppendFormat(&out,
                          "  %4d-byte rows (%d), rows/s by the clock and per client CPU-second:\n",
                          s.row_bytes, s.rows);
    for (const auto& [name, enc, plain] : {std::tuple{"write", s.encrypted_write, s.plain_write},
                                           {"scan ", s.encrypted_scan, s.plain_scan}}) {
      absl::StrAppendFormat(
          &out,
          "    %s encrypted %9.0f /s, %9.0f /CPU-s; plain %9.0f /s, %9.0f /CPU-s; "
          "per CPU-s = %.2f of plain\n",
          name, enc.rows_s, enc.rows_per_cpu_s, plain.rows_s, plain.rows_per_cpu_s,
          enc.rows_per_cpu_s / plain.rows_per_cpu_s);
    }
    absl::StrAppendFormat(&out,
                          "    encode+seal in memory, one core %9.0f rows/s = %.2f of AES-GCM\n",
                          s.seal_rows_s, s.seal_rows_s / ceiling);
  }
  return out;
}

}  // namespace ternion::bench
