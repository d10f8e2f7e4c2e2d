#include "common/failpoint.h"

#include <signal.h>

#include <atomic>
#include <cerrno>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/strings/ascii.h"
#include "absl/synchronization/mutex.h"
#include "common/file_util.h"
#include "common/logging.h"

namespace ternion {
namespace {

struct Armed {
  enum Action { kCrash, kError, kShort } action = kError;
  int error = EIO;
  uint64_t first = 1;          // acts on hits first..last (1-based)
  uint64_t last = UINT64_MAX;
  uint64_t hits = 0;
};

std::atomic<bool> any_armed{false};
absl::Mutex mu;
absl::flat_hash_map<std::string, Armed>& Table() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
  static auto* table = new absl::flat_hash_map<std::string, Armed>();  // never destroyed
  return *table;
}

absl::StatusOr<Armed> Parse(absl::string_view action) {
  Armed a;
  uint64_t n = 0;
  if (size_t star = action.find('*'); star != absl::string_view::npos) {
    if (!absl::SimpleAtoi(action.substr(star + 1), &n) || n == 0) {
      return absl::InvalidArgumentError(absl::StrCat("bad count in failpoint action ", action));
    }
    a.last = n;
    action = action.substr(0, star);
  } else if (size_t at = action.find('@'); at != absl::string_view::npos) {
    if (!absl::SimpleAtoi(action.substr(at + 1), &n) || n == 0) {
      return absl::InvalidArgumentError(absl::StrCat("bad hit in failpoint action ", action));
    }
    a.first = a.last = n;
    action = action.substr(0, at);
  }
  if (action == "crash") {
    a.action = Armed::kCrash;
  } else if (action == "eio") {
    a.error = EIO;
  } else if (action == "enospc") {
    a.error = ENOSPC;
  } else if (action == "short") {
    a.action = Armed::kShort;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown failpoint action '", action, "' (crash, eio, enospc, short)"));
  }
  return a;
}

}  // namespace

absl::Status ArmFailpoints(absl::string_view spec) {
  absl::flat_hash_map<std::string, Armed> parsed;
  for (absl::string_view item : absl::StrSplit(spec, ',', absl::SkipWhitespace())) {
    item = absl::StripAsciiWhitespace(item);
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(item, '=');
    if (kv.first.empty() || kv.second.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("expected NAME=ACTION, got '", item, "'"));
    }
    absl::StatusOr<Armed> a = Parse(kv.second);
    if (!a.ok()) return a.status();
    parsed[kv.first] = *a;
  }
  absl::MutexLock lock(&mu);
  for (auto& [name, a] : parsed) {
    TLOG(WARNING) << "failpoint " << name << " armed";
    Table()[name] = a;
  }
  any_armed.store(!Table().empty(), std::memory_order_relaxed);
  return absl::OkStatus();
}

void DisarmFailpoints() {
  absl::MutexLock lock(&mu);
  Table().clear();
  any_armed.store(false, std::memory_order_relaxed);
}

absl::StatusOr<size_t> FailpointWrite(absl::string_view name, size_t n) {
  if (!any_armed.load(std::memory_order_relaxed)) return n;
  absl::MutexLock lock(&mu);
  auto it = Table().find(name);
  if (it == Table().end()) return n;
  Armed& a = it->second;
  ++a.hits;
  if (a.hits < a.first || a.hits > a.last) return n;
  switch (a.action) {
    case Armed::kCrash:
      TLOG(WARNING) << "failpoint " << name << ": crashing";
      ::raise(SIGKILL);
      return n;  // not reached
    case Armed::kShort:
      return n / 2;
    case Armed::kError:
      break;
  }
  return ErrnoToStatus(a.error, absl::StrCat("failpoint ", name));
}

absl::Status Failpoint(absl::string_view name) {
  absl::StatusOr<size_t> allowed = FailpointWrite(name, 2);
  if (!allowed.ok()) return allowed.status();
  if (*allowed < 2) return ErrnoToStatus(EIO, absl::StrCat("failpoint ", name, ": short"));
  return absl::OkStatus();
}

}  // namespace ternion
