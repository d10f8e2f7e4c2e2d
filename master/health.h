#pragma once

// AssessHealth gives the cluster's health verdict (HEALTH_OK, HEALTH_WARN or HEALTH_ERR, with
// the reasons), as Ceph's `ceph health detail` and HDFS's `dfsadmin -report` do: pure, over the
// cluster status the master reports, so every rule is unit-tested from hand-built statuses.
//
// ERR: data is unreadable now (lost or corrupt chunks). WARN: the cluster works but something
// needs an operator, or will soon: dead, suspect or stopped servers, under-replicated or
// rack-unsafe chunks, disks failed or near full, replication paused, maintenance (and
// maintenance of a silent server about to end, which starts its re-replication), quarantined
// orphans or reports held by the deletion valve, and clocks that disagree with the master's.

#include <cstdint>
#include <vector>

#include "absl/time/time.h"
#include "ternion/v1/master.pb.h"

namespace ternion::master {

// Every check's code, in the order checks are reported (errors first).
inline constexpr const char* kHealthCodes[] = {"CHUNKS_LOST",
                                               "CHUNKS_CORRUPT",
                                               "DISK_FULL",
                                               "SERVER_DEAD",
                                               "SERVER_SUSPECT",
                                               "SERVER_STOPPING",
                                               "CHUNKS_UNDER_REPLICATED",
                                               "CHUNKS_RACK_UNSAFE",
                                               "DISK_NEAR_FULL",
                                               "DISK_FAILED",
                                               "REPLICATION_PAUSED",
                                               "MAINTENANCE",
                                               "MAINTENANCE_ENDING",
                                               "ORPHANS_QUARANTINED",
                                               "DELETION_VALVE",
                                               "CLOCK_SKEW"};

struct HealthRules {
  double disk_full_warn = 0.85;  // fraction of a disk's (or server's) capacity used
  double disk_full_err = 0.95;
  absl::Duration maintenance_ending = absl::Minutes(15);  // warned about before its end
  absl::Duration clock_skew = absl::Seconds(2);           // tokens and leases tolerate less
  size_t examples = 5;                                    // chunk ids or servers named per check
};

// Chunk ids to name as examples, by problem (the first few found).
struct HealthExamples {
  std::vector<uint64_t> lost, corrupt, under_replicated, rack_unsafe;
};

ternion::v1::HealthReport AssessHealth(const ternion::v1::ClusterStatusResponse& status,
                                       const HealthExamples& examples,
                                       const HealthRules& rules = {});

}  // namespace ternion::master
