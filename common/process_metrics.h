#pragma once

// The metrics every Prometheus client library exports about its process, read from /proc at
// every scrape (process_cpu_seconds_total, process_resident_memory_bytes,
// process_virtual_memory_bytes, process_open_fds, process_max_fds,
// process_start_time_seconds), and ternion_build_info{version,commit} = 1.

#include "common/metrics.h"

namespace ternion {

// Adds them to the process's metrics (a collector refreshes them before each scrape).
void ExportProcessMetrics();

}  // namespace ternion
