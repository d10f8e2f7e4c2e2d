#pragma once

// The cluster's own certificate authority (`ternion certs`): a CA, and certificates it issues
// for the master and for each chunkserver (security/tls.h says what their names mean). Keys are
// ECDSA P-256, signatures SHA-256.

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace ternion::security {

struct KeyAndCertificate {
  std::string key_pem;
  std::string cert_pem;
};

struct CertificateRequest {
  std::string common_name;             // "ternion-master", or a chunkserver's id
  std::vector<std::string> dns_names;  // subject-alternative DNS names
  std::vector<std::string> ips;        // subject-alternative IP addresses
  int days = 825;
};

// A new self-signed CA named `common_name`.
absl::StatusOr<KeyAndCertificate> MakeCertificateAuthority(const std::string& common_name,
                                                           int days = 3650);

// A new key and a certificate for it signed by `ca`, usable as server and client certificate.
// INVALID_ARGUMENT naming a malformed IP address or an unreadable CA.
absl::StatusOr<KeyAndCertificate> IssueCertificate(const KeyAndCertificate& ca,
                                                   const CertificateRequest& request);

// A directory of certificates, as `ternion certs` and the local cluster keep them: ca.crt,
// ca.key, master.crt, master.key, and <id>.crt, <id>.key per chunkserver (keys mode 0600).
// `hosts` are the names and IP addresses the certificates also carry, for tools that check the
// address they dial (the daemons check the role names of security/tls.h instead).
// The names a certificate carries when none are given: this machine's loopback.
inline const std::vector<std::string> kLoopbackHosts = {"127.0.0.1", "::1", "localhost"};

struct CertificateDir {
  std::string dir;
  std::string ca_cert() const { return dir + "/ca.crt"; }
  std::string cert(const std::string& name) const { return dir + "/" + name + ".crt"; }
  std::string key(const std::string& name) const { return dir + "/" + name + ".key"; }

  // A new CA and the master's certificate. ALREADY_EXISTS when the directory holds a CA key:
  // certificates already issued by it would stop being trusted.
  absl::Status Init(const std::vector<std::string>& hosts) const;
  // A certificate for chunkserver `id` (its common name; a topology name), signed by the CA
  // here. ALREADY_EXISTS when one exists.
  absl::Status IssueChunkserver(const std::string& id, const std::vector<std::string>& hosts) const;
};

}  // namespace ternion::security
