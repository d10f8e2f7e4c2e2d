#pragma once

// Ceiling sinks: copies of the benchmark binary run as separate processes (as chunkservers
// are), each handed a loopback socket that already listens, so the ceilings cross processes
// and the kernel's TCP stack as Ternion's writes do.

#include <sys/types.h>

#include <string>
#include <vector>

namespace ternion::bench {

struct SinkProcess {
  int port = 0;
  pid_t pid = 0;
  std::string path;  // the file it writes
};

// Starts `count` sinks of `kind`: this binary run as `--sink-kind <kind> --sink-fd <listening
// socket> --sink-path <dir>/<kind><i>`. Safe in a process with threads (the child only execs).
std::vector<SinkProcess> StartSinkProcesses(const std::string& dir, int count,
                                            const std::string& kind);

// Connects to a sink on loopback, with Nagle off (as gRPC does); exits the program on failure.
int ConnectToSink(const SinkProcess& sink);

}  // namespace ternion::bench
