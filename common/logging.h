#pragma once

// A minimal leveled logger writing one line per message to stderr (Debian 12's Abseil has no
// absl/log). Thread-safe: each message is written with a single write(2).
//   TLOG(INFO) << "chunkserver " << id << " registered";

#include <sstream>

namespace ternion {

enum class LogLevel { kInfo, kWarning, kError, kFatal };

class LogMessage {
 public:
  LogMessage(LogLevel level, const char* file, int line);
  ~LogMessage();  // writes the line; aborts for kFatal
  std::ostream& stream() { return stream_; }

 private:
  LogLevel level_;
  std::ostringstream stream_;
};

// Sets a prefix naming the process (e.g. "master"), shown on every line.
void SetLogProcessName(const char* name);

}  // namespace ternion

#define TERNION_LOG_INFO ::ternion::LogLevel::kInfo
#define TERNION_LOG_WARNING ::ternion::LogLevel::kWarning
#define TERNION_LOG_ERROR ::ternion::LogLevel::kError
#define TERNION_LOG_FATAL ::ternion::LogLevel::kFatal
#define TLOG(level) ::ternion::LogMessage(TERNION_LOG_##level, __FILE__, __LINE__).stream()
