#pragma once

// The row-encryption part of ternion-bench: tables of 100-byte and 4 KiB rows written and
// scanned encrypted (TableWriter/TableReader) and the same rows written and scanned as plain
// length-prefixed records in a file, on the same cluster in the same run; and, as the ceiling,
// this machine's raw AES-256-GCM rate on one core, beside the rate at which one core encodes
// and seals rows in memory (where the client's encryption time goes).

#include <cstdint>
#include <vector>

#include "nlohmann/json.hpp"
#include "ternion/client.h"

namespace ternion::bench {

// How fast rows went: by the wall clock (bound by the three-way durable write and this
// machine's disk noise), and per second of this process's CPU time, every client thread (the
// plain path does the encrypted path's work but the encryption, so it bounds it in CPU).
struct RowRate {
  double rows_s = 0;
  double rows_per_cpu_s = 0;
};

struct RowSizeFigures {
  size_t row_bytes = 0;
  uint64_t rows = 0;
  RowRate encrypted_write, plain_write, encrypted_scan, plain_scan;
  double seal_rows_s = 0;  // one core, in memory: encode and seal, no I/O
};

struct RowFigures {
  double aes_gcm_mib_s = 0;  // the ceiling: one core sealing 64 KiB buffers
  std::vector<RowSizeFigures> sizes;
};

// Writes about `bytes_per_size` of rows of each size into project `project` (which exists).
RowFigures MeasureRows(Client* client, const std::string& project, uint64_t bytes_per_size);

// The figures as JSON fields, and as lines for a person.
void AddRowFigures(const RowFigures& f, nlohmann::json* j);
std::string FormatRowFigures(const RowFigures& f);

}  // namespace ternion::bench
