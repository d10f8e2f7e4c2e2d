#pragma once

// The topology as YAML, for `ternion topology import|export`:
//
//   datacenters:
//     - name: dc1
//       power_domains:
//         - name: pd-a
//           racks:
//             - name: rack-1
//               servers: [cs-1, cs-2]
//
// Parsing checks the shape (required fields, types, duplicate racks and servers, unknown keys)
// and returns the request the master validates as a whole; export writes the same shape.

#include <string>

#include "absl/status/statusor.h"
#include "ternion/v1/master.pb.h"

namespace ternion::cli {

absl::StatusOr<ternion::v1::ImportTopologyRequest> ParseTopologyYaml(const std::string& text);

// Racks with a power domain (the administered topology), grouped by data centre and power
// domain, each with the servers now in it.
std::string TopologyToYaml(const ternion::v1::GetTopologyResponse& topology);

}  // namespace ternion::cli
