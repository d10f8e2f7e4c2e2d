#pragma once

// Small durable appends (4 KiB Append + Flush) against the disk's own limits measured in the
// same run: one writer at queue depth 1 against one 4 KiB pwrite + fdatasync, and many
// concurrent writers against the same many threads appending to one file with group commit
// (one fdatasync for every append that arrived while the previous one ran), the least any
// store making small appends durable on this disk has to do.

#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "ternion/client.h"

namespace ternion::bench {

struct AppendFigures {
  int appends = 0;  // timed at queue depth 1 (and per writer below)
  int writers = 0;  // concurrent writers
  // Ceilings: one thread, then `writers` threads group-committing to one file.
  double raw_p50_us = 0, raw_p99_us = 0;
  double raw_group_per_s = 0, raw_group_p99_us = 0;
  // Ternion: one writer, then `writers` writers of their own files.
  double p50_us = 0, p99_us = 0;
  double many_per_s = 0, many_p99_us = 0;
};

// p50 and p99 of one writer's 4 KiB Append + Flush, `appends` times (after 50 to warm up).
std::pair<double, double> AppendLatency(Client* client, const std::string& project, int appends);

// Runs both ceilings in `dir` (a file per run, removed after) and Ternion's appends in
// `project` (files appends/...).
AppendFigures MeasureAppends(Client* client, const std::string& project, const std::string& dir,
                             int appends, int writers);
void AddAppendFigures(const AppendFigures& f, nlohmann::json* j);
std::string FormatAppendFigures(const AppendFigures& f);

}  // namespace ternion::bench
