#pragma once

// Transport security (docs/security.md): TLS 1.2+ on every connection, mutual TLS between
// daemons, plaintext only when asked for by name (`--insecure`).
//
// Certificates come from the cluster's own CA (`ternion certs init`). Each names its role in a
// DNS subject-alternative name, and every connection checks that name instead of the address
// dialled: a channel to the master accepts only a certificate naming `ternion-master`, a
// channel to a chunkserver only one naming `ternion-chunkserver`, so a chunkserver's
// certificate cannot pass for the master's. A chunkserver certificate's common name is the
// server's id; the master accepts registration, heartbeats and replica reports only from a
// peer whose verified certificate names that id.

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/client_interceptor.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "security/credentials.h"

namespace ternion::security {

inline constexpr char kMasterTlsName[] = "ternion-master";
inline constexpr char kChunkserverTlsName[] = "ternion-chunkserver";

// PEM files. A daemon needs all three; a client needs only the CA (none: the system's roots).
struct TlsFiles {
  std::string ca;
  std::string cert;
  std::string key;
};

class TlsConfig {
 public:
  // Plaintext: every channel and server insecure.
  static TlsConfig Insecure();
  // TLS with the certificates in `files` (read now). INVALID_ARGUMENT when a certificate is
  // given without its key or the reverse; NOT_FOUND naming an unreadable file.
  static absl::StatusOr<TlsConfig> Load(const TlsFiles& files);

  bool insecure() const { return insecure_; }
  // The common name of this process's own certificate; empty when it has none.
  const std::string& common_name() const { return common_name_; }

  // Server credentials: TLS with this process's certificate; a client certificate is asked for
  // and, when offered, verified against the CA (clients authenticate by signed requests, daemons
  // by their certificates).
  std::shared_ptr<grpc::ServerCredentials> ServerCredentials() const;

  // A channel to the peer at `address` whose certificate must name `peer_name`
  // (kMasterTlsName or kChunkserverTlsName), presenting this process's certificate if any.
  std::shared_ptr<grpc::Channel> NewChannel(
      const std::string& address, const char* peer_name, grpc::ChannelArguments args = {},
      std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>>
          interceptors = {}) const;

 private:
  bool insecure_ = true;
  std::string ca_pem_, cert_pem_, key_pem_;
  std::string common_name_;
};

// A daemon's transport: plaintext only when `insecure`; else TLS needs all three files.
// INVALID_ARGUMENT saying what is missing.
absl::StatusOr<TlsConfig> DaemonTlsConfig(const TlsFiles& files, bool insecure);

// A client's transport: plaintext when its credentials say insecure, else TLS trusting their CA
// (none: the system's roots).
absl::StatusOr<TlsConfig> ClientTlsConfig(const Credentials& credentials);

// The verified certificate a call's peer presented; nullopt when it presented none (or the
// server is plaintext).
struct PeerCertificate {
  std::string common_name;
  std::vector<std::string> dns_names;  // subject-alternative DNS names
  bool Names(const std::string& dns_name) const;
};
std::optional<PeerCertificate> PeerCertificateOf(const grpc::ServerContext& ctx);

// The common name of the first certificate in `pem`. INVALID_ARGUMENT when it holds none.
absl::StatusOr<std::string> CertificateCommonName(const std::string& pem);

}  // namespace ternion::security
