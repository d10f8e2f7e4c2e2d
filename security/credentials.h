#pragma once

// An AccessKey as a client holds it, and the profile file that keeps one (mode 0600):
//
//   # Ternion credentials: keep this file private
//   access_key_id = TK0123456789ABCDEF0123
//   access_key_secret = ...
//   master = 127.0.0.1:7000        (optional)
//   ca = /etc/ternion/tls/ca.crt    (optional: the cluster's CA certificate)
//   insecure = true                 (optional: the cluster runs without TLS)
//
// Lines are `name = value`; blank lines and lines starting with '#' are ignored.

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ternion::security {

struct Credentials {
  std::string key_id;
  std::string secret;
  std::string master;  // from a profile, when it names one
  std::string ca;      // the cluster's CA certificate file; empty: the system's roots
  bool insecure = false;  // plaintext (a cluster started with --insecure)
  bool empty() const { return key_id.empty(); }
};

inline constexpr char kAccessKeyIdEnv[] = "TERNION_ACCESS_KEY_ID";
inline constexpr char kAccessKeySecretEnv[] = "TERNION_ACCESS_KEY_SECRET";
inline constexpr char kProfileEnv[] = "TERNION_PROFILE";
inline constexpr char kCaEnv[] = "TERNION_CA";              // when the profile names no CA
inline constexpr char kInsecureEnv[] = "TERNION_INSECURE";  // "1": plaintext

std::string FormatProfile(const Credentials& c);
// INVALID_ARGUMENT naming the line when the text is not a profile with a key id and a secret.
absl::StatusOr<Credentials> ParseProfile(absl::string_view text);
// Reads a profile file; refused when others may read it (mode & 077), as ssh does a key.
absl::StatusOr<Credentials> ReadProfile(const std::string& path);
// Writes a profile file with mode 0600, atomically.
absl::Status WriteProfile(const std::string& path, const Credentials& c);

// The caller's credentials: the profile `profile_path` when given; else the environment
// (TERNION_ACCESS_KEY_ID and TERNION_ACCESS_KEY_SECRET, then the file TERNION_PROFILE names);
// else ~/.ternion/profile when it exists; else none (empty: requests go unsigned, and the master
// refuses them). TERNION_CA and TERNION_INSECURE fill what the source does not say.
absl::StatusOr<Credentials> FindCredentials(const std::string& profile_path);

}  // namespace ternion::security
