#pragma once

// Named failpoints at durability edges, in the spirit of RocksDB's SyncPoint and FreeBSD's
// fail(9): code that makes data durable calls Failpoint("chunk_store.sync.after_data_sync")
// at each edge, and a test arms the ones it wants, in process (ArmFailpoints) or in a daemon
// (its --failpoints flag), to make that edge fail with an I/O error or the process die there
// as kill -9 would. Unarmed, a failpoint costs one relaxed atomic load.
//
// Spec: NAME=ACTION[,NAME=ACTION...], ACTION one of
//   crash      the process dies at once (SIGKILL: no destructors, nothing flushed)
//   eio        the call fails with EIO (INTERNAL)        enospc  ... with ENOSPC
//   short      a write (FailpointWrite) writes half of its bytes, then fails
//   ...and a count: ACTION*N acts on the first N hits only, ACTION@N on the N-th hit only.
// The names in use are listed in docs/operations.md (Fault injection).

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ternion {

// Arms the failpoints of `spec` (adding to those armed). INVALID_ARGUMENT on a bad spec.
absl::Status ArmFailpoints(absl::string_view spec);
void DisarmFailpoints();

// OK unless `name` is armed and acts on this hit: then the injected error, or no return.
absl::Status Failpoint(absl::string_view name);

// For a write of `n` bytes at `name`: how many of them to write (n, or n / 2 for `short`, after
// which the caller fails the write as short), or the injected error.
absl::StatusOr<size_t> FailpointWrite(absl::string_view name, size_t n);

}  // namespace ternion
