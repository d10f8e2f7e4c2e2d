#include "common/daemon.h"

#include <malloc.h>
#include <signal.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/file_util.h"

namespace ternion {
namespace {
sigset_t TerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}
}  // namespace

void BlockTerminationSignals() {
  sigset_t set = TerminationSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

void NotifyServiceManager(const char* state) {
  // A failure to notify is systemd's to report (the unit's start times out); the daemon runs on.
  (void)sd_notify(0, state);
}

void DisableMutexDeadlockDetection() {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

void KeepLargeBuffersInHeap() {
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
}

int WaitForTerminationSignal() {
  sigset_t set = TerminationSignals();
  int sig = 0;
  while (sigwait(&set, &sig) != 0) {
  }
  return sig;
}

absl::Status WriteReadyFile(const std::string& path, const std::string& address,
                            int metrics_port, const std::string& server_id) {
  std::string json = absl::StrCat("{\"pid\":", getpid(), ",\"address\":\"", address,
                                  "\",\"metrics_port\":", metrics_port, ",\"server_id\":\"",
                                  server_id, "\"}\n");
  return WriteFileAtomically(path, json);
}

}  // namespace ternion
