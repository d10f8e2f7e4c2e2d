#pragma once

// Process plumbing shared by the daemons' main()s.

#include <string>

#include "absl/status/status.h"

namespace ternion {

// Blocks SIGINT and SIGTERM in the calling thread and every thread it starts afterwards.
// Call first thing in main().
void BlockTerminationSignals();

// Keeps freed large buffers (1 MiB frames, gRPC slices) in the heap for reuse instead of
// returning them to the kernel: on VMs where first touch of fresh memory is slow, mmap/munmap
// churn of 1 MiB buffers cost more CPU than the copies themselves. For our own processes only;
// the client library leaves the host process's allocator alone.
void KeepLargeBuffersInHeap();

// Debian's Abseil is built with Mutex deadlock detection on: it records a lock-order graph on
// every acquisition (measured: ~2% of the master's CPU per lookup). Daemons turn it off; tests
// keep it.
void DisableMutexDeadlockDetection();

// Waits until SIGINT or SIGTERM arrives; returns the signal number.
int WaitForTerminationSignal();

// Tells systemd (a Type=notify unit) the daemon's state, e.g. "READY=1" once it serves and
// "STOPPING=1" when it begins to stop. Does nothing when not started by systemd.
void NotifyServiceManager(const char* state);

// Publishes a small JSON document telling a launcher the daemon is serving, and where:
// {"pid":..,"address":"host:port","metrics_port":..,"server_id":".."}.
absl::Status WriteReadyFile(const std::string& path, const std::string& address,
                            int metrics_port, const std::string& server_id);

}  // namespace ternion
