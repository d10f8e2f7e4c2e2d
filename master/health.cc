#include "master/health.h"

#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace ternion::master {

namespace {

using ternion::v1::ChunkServerStatus;
using ternion::v1::HealthCheck;
using ternion::v1::HealthReport;

class Checks {
 public:
  explicit Checks(const HealthRules& rules) : rules_(rules) {}

  // Adds a check when `count` > 0: its summary "<count> <what>", and up to the rules' number
  // of details.
  void Add(const char* code, const char* severity, uint64_t count, const std::string& what,
           const std::vector<std::string>& details) {
    if (count == 0) return;
    HealthCheck* c = report_.add_checks();
    c->set_code(code);
    c->set_severity(severity);
    c->set_summary(absl::StrCat(count, " ", what));
    c->set_count(count);
    for (size_t i = 0; i < details.size() && i < rules_.examples; ++i) c->add_detail(details[i]);
    if (details.size() > rules_.examples) {
      c->add_detail(absl::StrCat("... and ", details.size() - rules_.examples, " more"));
    }
  }
  void AddChunks(const char* code, const char* severity, uint64_t count, const std::string& what,
                 const std::vector<uint64_t>& ids) {
    std::vector<std::string> details;
    for (uint64_t id : ids) details.push_back(absl::StrCat("chunk ", id));
    Add(code, severity, count, what, details);
  }
  HealthReport Finish() {
    bool err = false;
    for (const HealthCheck& c : report_.checks()) err |= c.severity() == "ERR";
    report_.set_level(report_.checks().empty() ? 0 : err ? 2 : 1);
    static const char* const kStatus[] = {"HEALTH_OK", "HEALTH_WARN", "HEALTH_ERR"};
    report_.set_status(kStatus[report_.level()]);
    return std::move(report_);
  }

 private:
  const HealthRules& rules_;
  HealthReport report_;
};

std::string Remaining(int64_t ms) {
  return absl::FormatDuration(absl::Seconds(std::round(ms / 1000.0)));
}

bool Retired(const ChunkServerStatus& s) {
  return s.admin_state() == "drained" || s.admin_state() == "decommissioned";
}

}  // namespace

HealthReport AssessHealth(const ternion::v1::ClusterStatusResponse& status,
                          const HealthExamples& examples, const HealthRules& rules) {
  Checks checks(rules);
  checks.AddChunks("CHUNKS_LOST", "ERR", status.chunks_lost(), "chunk(s) lost: no replica is live",
                   examples.lost);
  checks.AddChunks("CHUNKS_CORRUPT", "ERR", status.chunks_corrupt(),
                   "chunk(s) with no intact replica (damaged copies kept: ternion fsck)",
                   examples.corrupt);

  std::vector<std::string> dead, suspect, stopping, maintenance, ending, full_warn, full_err,
      failed_disks, skewed;
  for (const ChunkServerStatus& s : status.servers()) {
    const bool in_maintenance = s.maintenance_ends_in_ms() > 0;
    if (in_maintenance) {
      maintenance.push_back(absl::StrCat(s.server_id(), " (", s.state(), ", ends in ",
                                         Remaining(s.maintenance_ends_in_ms()), ")"));
      if (s.state() == "dead" &&
          absl::Milliseconds(s.maintenance_ends_in_ms()) <= rules.maintenance_ending) {
        ending.push_back(
            absl::StrCat(s.server_id(), " in ", Remaining(s.maintenance_ends_in_ms())));
      }
    } else if (s.state() == "dead" && !Retired(s)) {
      dead.push_back(absl::StrCat(s.server_id(), " (rack ", s.rack(), ", silent ",
                                  s.last_heartbeat_ms_ago() < 0
                                      ? std::string("since the master started")
                                      : Remaining(s.last_heartbeat_ms_ago()),
                                  ")"));
    }
    if (s.state() == "suspect") {
      suspect.push_back(
          absl::StrCat(s.server_id(), " (silent ", Remaining(s.last_heartbeat_ms_ago()), ")"));
    }
    if (s.state() == "stopping") stopping.push_back(s.server_id());
    if (s.state() == "dead") continue;  // its disks and clock are as last reported
    for (const auto& d : s.disks()) {
      if (d.failed()) {
        failed_disks.push_back(absl::StrCat(s.server_id(), ":", d.path()));
        continue;
      }
      if (d.capacity_bytes() == 0) continue;
      const double fill = static_cast<double>(d.used_bytes()) / d.capacity_bytes();
      const std::string line =
          absl::StrFormat("%s:%s %.0f%% used", s.server_id(), d.path(), 100 * fill);
      if (fill >= rules.disk_full_err) {
        full_err.push_back(line);
      } else if (fill >= rules.disk_full_warn) {
        full_warn.push_back(line);
      }
    }
    if (std::abs(s.clock_skew_ms()) > absl::ToInt64Milliseconds(rules.clock_skew)) {
      skewed.push_back(absl::StrCat(s.server_id(), " ", s.clock_skew_ms(), " ms"));
    }
  }
  checks.Add("DISK_FULL", "ERR", full_err.size(),
             absl::StrFormat("disk(s) at least %.0f%% full", 100 * rules.disk_full_err), full_err);
  checks.Add("SERVER_DEAD", "WARN", dead.size(),
             "chunkserver(s) dead: their replicas are being re-replicated", dead);
  checks.Add("SERVER_SUSPECT", "WARN", suspect.size(),
             "chunkserver(s) suspect (heartbeats missed): no new replicas go to them", suspect);
  checks.Add("SERVER_STOPPING", "WARN", stopping.size(),
             "chunkserver(s) stopped gracefully: not re-replicated during the grace period",
             stopping);
  checks.AddChunks("CHUNKS_UNDER_REPLICATED", "WARN", status.chunks_under_replicated(),
                   "chunk(s) with fewer live replicas than wanted", examples.under_replicated);
  checks.AddChunks("CHUNKS_RACK_UNSAFE", "WARN", status.chunks_rack_unsafe(),
                   "chunk(s) with replicas sharing a rack", examples.rack_unsafe);
  checks.Add("DISK_NEAR_FULL", "WARN", full_warn.size(),
             absl::StrFormat("disk(s) at least %.0f%% full", 100 * rules.disk_full_warn),
             full_warn);
  checks.Add("DISK_FAILED", "WARN", failed_disks.size(),
             "failed disk(s): their replicas are re-replicated", failed_disks);
  checks.Add("REPLICATION_PAUSED", "WARN", status.replication_paused(),
             "replication paused: nothing is re-replicated (ternion admin replication resume)", {});
  checks.Add("MAINTENANCE", "WARN", maintenance.size(),
             "chunkserver(s) in maintenance: their replicas are not re-replicated", maintenance);
  checks.Add("MAINTENANCE_ENDING", "WARN", ending.size(),
             "silent chunkserver(s) whose maintenance ends soon: then re-replicated", ending);
  checks.Add("ORPHANS_QUARANTINED", "WARN", status.orphans_quarantined(),
             "replica(s) of unknown chunks quarantined (ternion admin orphans ls)", {});
  checks.Add("DELETION_VALVE", "WARN", status.deletion_valve_held_servers(),
             "chunkserver report(s) held by the deletion valve (ternion admin orphans ls)", {});
  checks.Add("CLOCK_SKEW", "WARN", skewed.size(),
             absl::StrCat("chunkserver clock(s) more than ", absl::FormatDuration(rules.clock_skew),
                          " from the master's"),
             skewed);
  return checks.Finish();
}

}  // namespace ternion::master
