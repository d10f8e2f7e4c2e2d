#pragma once

// The cluster a chunkserver's data directories belong to. The first registration with a master
// stamps the master's cluster id into every data directory (`<dir>/cluster`, format in
// docs/formats.md, written atomically); from then on the server joins only that cluster, so a
// master started on the wrong metadata can never tell it to wipe its replicas.

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace ternion::chunkserver {

// The cluster id stamped in `dirs`: empty when none is stamped. Fails (FAILED_PRECONDITION,
// naming the directories) when two directories carry different ids, and (DATA_LOSS) on a stamp
// that cannot be parsed; such a server must not start.
absl::StatusOr<std::string> ReadClusterStamp(const std::vector<std::string>& dirs);

// Stamps `cluster_id` into every directory of `dirs` that has no stamp yet (durably).
absl::Status StampCluster(const std::vector<std::string>& dirs, const std::string& cluster_id);

}  // namespace ternion::chunkserver
