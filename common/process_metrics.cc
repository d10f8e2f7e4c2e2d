#include "common/process_metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "common/version.h"

namespace ternion {

namespace {

// The fields of /proc/self/stat this needs (proc(5)): utime, stime and starttime in clock
// ticks, vsize in bytes, rss in pages.
struct ProcStat {
  double utime = 0, stime = 0, starttime = 0, vsize = 0, rss = 0;
};

bool ReadProcStat(ProcStat* out) {
  std::ifstream in("/proc/self/stat");
  std::string line;
  if (!std::getline(in, line)) return false;
  // The command name (field 2) may hold spaces: fields are counted after its closing ')'.
  const size_t close = line.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream fields(line.substr(close + 2));
  std::string f;
  for (int n = 3; fields >> f; ++n) {
    switch (n) {
      case 14:
        out->utime = std::stod(f);
        break;
      case 15:
        out->stime = std::stod(f);
        break;
      case 22:
        out->starttime = std::stod(f);
        break;
      case 23:
        out->vsize = std::stod(f);
        break;
      case 24:
        out->rss = std::stod(f);
        return true;
      default:
        break;
    }
  }
  return false;
}

// The machine's boot time, seconds since the epoch (/proc/stat's btime).
double BootTime() {
  std::ifstream in("/proc/stat");
  std::string key;
  double value = 0;
  while (in >> key) {
    if (key == "btime" && in >> value) return value;
    in.ignore(1 << 20, '\n');
  }
  return 0;
}

}  // namespace

void ExportProcessMetrics() {
  GetGauge("ternion_build_info", "Always 1; the labels say which build this is.",
           {{"version", TernionVersion()}, {"commit", TernionCommit()}})
      ->Set(1);
  prometheus::Counter* cpu =
      GetCounter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.");
  prometheus::Gauge* resident =
      GetGauge("process_resident_memory_bytes", "Resident memory size in bytes.");
  prometheus::Gauge* virtual_memory =
      GetGauge("process_virtual_memory_bytes", "Virtual memory size in bytes.");
  prometheus::Gauge* open_fds = GetGauge("process_open_fds", "Number of open file descriptors.");
  prometheus::Gauge* max_fds =
      GetGauge("process_max_fds", "Maximum number of open file descriptors.");
  prometheus::Gauge* start = GetGauge("process_start_time_seconds",
                                      "Start time of the process since unix epoch in seconds.");
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  const double boot = BootTime();
  AddMetricsCollector([=] {
    ProcStat st;
    if (ReadProcStat(&st)) {
      AdvanceCounterTo(cpu, (st.utime + st.stime) / ticks);
      resident->Set(st.rss * page);
      virtual_memory->Set(st.vsize);
      start->Set(boot + st.starttime / ticks);
    }
    std::error_code ec;
    double fds = 0;
    for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
      ++fds;
    }
    open_fds->Set(fds);
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0) max_fds->Set(static_cast<double>(limit.rlim_cur));
  });
}

}  // namespace ternion
