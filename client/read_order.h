#pragma once

// Which replica a reader tries first: the nearest, then the least loaded (HDFS sorts a block's
// locations by network distance the same way). Pure, so it is tested without daemons.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"

namespace ternion::client {

struct ReadCandidate {
  std::string host;  // of the replica's address
  std::string rack;
  bool live = true;  // the master hears its heartbeats
  uint32_t active_streams = 0;
};

struct ReaderPlace {
  absl::flat_hash_set<std::string> hosts;  // this machine's names and addresses
  std::string rack;                        // the reader's rack; empty: unknown
};

// The order to try `replicas` in (indices): servers the master hears first; among them, those
// on the reader's host, then those in its rack, then the rest; within each, the least loaded
// first; ties keep the master's order.
std::vector<size_t> ReadOrder(const std::vector<ReadCandidate>& replicas, const ReaderPlace& here);

// The host part of "host:port" or "[v6]:port".
std::string HostOf(const std::string& address);

// This machine's host name and interface addresses (loopback included).
absl::flat_hash_set<std::string> LocalHosts();

}  // namespace ternion::client
