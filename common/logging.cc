#include "common/logging.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace ternion {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};

spdlog::logger& Logger() {
  static spdlog::logger* const logger = [] {
    // Unbuffered stderr, one write per line; the time with its zone, e.g.
    // "2026-12-01T20:50:01.123+0000 I master[4242] master.cc:310] ...".
    auto* l = new spdlog::logger("ternion", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    l->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %v", spdlog::pattern_time_type::local);
    l->set_level(spdlog::level::trace);  // the filtering is LogEnabled's
    l->flush_on(spdlog::level::trace);
    return l;
  }();
  return *logger;
}

std::atomic<const char*> g_process_name{"ternion"};

constexpr const char* kNames[] = {"debug", "info", "warning", "error"};

}  // namespace

bool LogEnabled(LogLevel level) { return static_cast<int>(level) >= g_level.load(); }

void SetLogProcessName(const char* name) { g_process_name = name; }

// The index of `level` in kNames, or -1.
static int LevelIndex(const std::string& level) {
  for (int i = 0; i < 4; ++i) {
    if (level == kNames[i]) return i;
  }
  return -1;
}

absl::Status CheckLogLevel(const std::string& level) {
  if (LevelIndex(level) >= 0) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("unknown log level \"", level.substr(0, 32),
                                                 "\" (debug, info, warning or error)"));
}

absl::Status SetLogLevel(const std::string& level) {
  RETURN_IF_ERROR(CheckLogLevel(level));
  g_level = LevelIndex(level);
  return absl::OkStatus();
}

std::string LogLevelName() { return kNames[g_level.load()]; }

LogMessage::LogMessage(LogLevel level, const char* file, int line)
    : level_(level), file_(file), line_(line) {}

LogMessage::~LogMessage() {
  static const char kLetters[] = {'D', 'I', 'W', 'E', 'F'};
  const char* base = std::strrchr(file_, '/');
  static const spdlog::level::level_enum kLevels[] = {spdlog::level::debug, spdlog::level::info,
                                                      spdlog::level::warn, spdlog::level::err,
                                                      spdlog::level::critical};
  Logger().log(kLevels[static_cast<int>(level_)], "{} {}[{}] {}:{}] {}",
               kLetters[static_cast<int>(level_)], g_process_name.load(), getpid(),
               base ? base + 1 : file_, line_, stream_.str());
  if (level_ == LogLevel::kFatal) std::abort();
}

}  // namespace ternion
