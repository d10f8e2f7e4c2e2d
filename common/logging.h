#pragma once

// Leveled logging on spdlog: one line per message on stderr (systemd's journal keeps it), with a
// full timestamp and time zone, the level, the process and the source line.
//   TLOG(INFO) << "chunkserver " << id << " registered";
// Levels: DEBUG, INFO, WARNING, ERROR, FATAL (logs, then aborts). Messages below the level in
// force cost one comparison; the level changes at run time (SetLogLevel; `ternion admin
// log-level`). Thread-safe.

#include <sstream>
#include <string>

#include "absl/status/status.h"

namespace ternion {

enum class LogLevel { kDebug, kInfo, kWarning, kError, kFatal };

bool LogEnabled(LogLevel level);

class LogMessage {
 public:
  LogMessage(LogLevel level, const char* file, int line);
  ~LogMessage();  // writes the line; aborts for kFatal
  std::ostream& stream() { return stream_; }

 private:
  LogLevel level_;
  const char* file_;
  int line_;
  std::ostringstream stream_;
};

// Turns `stream() << ...` into void, so TLOG can be the second operand of ?:.
struct LogVoidify {
  void operator&(std::ostream&) {}
};

// Sets a prefix naming the process (e.g. "master"), shown on every line.
void SetLogProcessName(const char* name);

// The level below which messages are dropped: "debug", "info", "warning" or "error"
// (INVALID_ARGUMENT for anything else, and nothing changes).
absl::Status SetLogLevel(const std::string& level);
// OK when `level` is one SetLogLevel takes.
absl::Status CheckLogLevel(const std::string& level);
std::string LogLevelName();

}  // namespace ternion

#define TERNION_LOG_DEBUG ::ternion::LogLevel::kDebug
#define TERNION_LOG_INFO ::ternion::LogLevel::kInfo
#define TERNION_LOG_WARNING ::ternion::LogLevel::kWarning
#define TERNION_LOG_ERROR ::ternion::LogLevel::kError
#define TERNION_LOG_FATAL ::ternion::LogLevel::kFatal
// Not parenthesized on purpose: `TLOG(INFO) << x` must stream into the ?:'s second branch.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define TLOG(level)                           \
  !::ternion::LogEnabled(TERNION_LOG_##level) \
      ? (void)0                               \
      : ::ternion::LogVoidify() &             \
            ::ternion::LogMessage(TERNION_LOG_##level, __FILE__, __LINE__).stream()
// NOLINTEND(bugprone-macro-parentheses)
