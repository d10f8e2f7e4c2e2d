#include "security/credentials.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/file_util.h"

namespace ternion::security {

std::string FormatProfile(const Credentials& c) {
  std::string out = absl::StrCat("# Ternion credentials: keep this file private\n",
                                 "access_key_id = ", c.key_id, "\n",
                                 "access_key_secret = ", c.secret, "\n");
  if (!c.master.empty()) absl::StrAppend(&out, "master = ", c.master, "\n");
  if (!c.ca.empty()) absl::StrAppend(&out, "ca = ", c.ca, "\n");
  if (c.insecure) absl::StrAppend(&out, "insecure = true\n");
  return out;
}

absl::StatusOr<Credentials> ParseProfile(absl::string_view text) {
  Credentials c;
  int n = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++n;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    const size_t eq = line.find('=');
    if (eq == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("profile line ", n, " is not name = value"));
    }
    absl::string_view name = absl::StripAsciiWhitespace(line.substr(0, eq));
    std::string value(absl::StripAsciiWhitespace(line.substr(eq + 1)));
    if (name == "access_key_id") {
      c.key_id = std::move(value);
    } else if (name == "access_key_secret") {
      c.secret = std::move(value);
    } else if (name == "master") {
      c.master = std::move(value);
    } else if (name == "ca") {
      c.ca = std::move(value);
    } else if (name == "insecure") {
      if (value != "true" && value != "false") {
        return absl::InvalidArgumentError(
            absl::StrCat("profile line ", n, ": insecure is true or false"));
      }
      c.insecure = value == "true";
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("profile line ", n, ": unknown name ", std::string(name)));
    }
  }
  if (c.key_id.empty() || c.secret.empty()) {
    return absl::InvalidArgumentError("a profile needs access_key_id and access_key_secret");
  }
  return c;
}

absl::StatusOr<Credentials> ReadProfile(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ErrnoToStatus(errno, absl::StrCat("profile ", path));
  if ((st.st_mode & 077) != 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("profile ", path, " may be read by others; chmod 600 ", path));
  }
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) return text.status();
  absl::StatusOr<Credentials> c = ParseProfile(*text);
  if (!c.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": ", c.status().message()));
  return c;
}

absl::Status WriteProfile(const std::string& path, const Credentials& c) {
  return WriteFileAtomically(path, FormatProfile(c), 0600);
}

namespace {

absl::StatusOr<Credentials> FindKey(const std::string& profile_path) {
  if (!profile_path.empty()) return ReadProfile(profile_path);
  const char* id = std::getenv(kAccessKeyIdEnv);
  const char* secret = std::getenv(kAccessKeySecretEnv);
  if (id != nullptr && *id != '\0') {
    if (secret == nullptr || *secret == '\0') {
      return absl::InvalidArgumentError(
          absl::StrCat(kAccessKeyIdEnv, " is set but ", kAccessKeySecretEnv, " is not"));
    }
    return Credentials{.key_id = id, .secret = secret};
  }
  if (const char* p = std::getenv(kProfileEnv); p != nullptr && *p != '\0') return ReadProfile(p);
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    const std::string path = absl::StrCat(home, "/.ternion/profile");
    struct stat st;
    if (::stat(path.c_str(), &st) == 0) return ReadProfile(path);
  }
  return Credentials{};
}

}  // namespace

absl::StatusOr<Credentials> FindCredentials(const std::string& profile_path) {
  absl::StatusOr<Credentials> c = FindKey(profile_path);
  if (!c.ok()) return c;
  if (const char* ca = std::getenv(kCaEnv); c->ca.empty() && ca != nullptr) c->ca = ca;
  if (const char* insecure = std::getenv(kInsecureEnv); insecure != nullptr) {
    c->insecure |= std::string(insecure) == "1";
  }
  return c;
}

}  // namespace ternion::security
