#include "security/tls.h"

#include <grpc/grpc_security_constants.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"

namespace ternion::security {

TlsConfig TlsConfig::Insecure() { return TlsConfig(); }

absl::StatusOr<TlsConfig> TlsConfig::Load(const TlsFiles& files) {
  if (files.cert.empty() != files.key.empty()) {
    return absl::InvalidArgumentError("a TLS certificate needs its key, and a key its certificate");
  }
  TlsConfig t;
  t.insecure_ = false;
  auto read = [](const std::string& path, std::string* out) -> absl::Status {
    if (path.empty()) return absl::OkStatus();
    absl::StatusOr<std::string> text = ReadFileToString(path);
    if (!text.ok()) {
      return absl::NotFoundError(absl::StrCat("cannot read ", path, ": ", text.status().message()));
    }
    *out = std::move(*text);
    return absl::OkStatus();
  };
  if (absl::Status s = read(files.ca, &t.ca_pem_); !s.ok()) return s;
  if (absl::Status s = read(files.cert, &t.cert_pem_); !s.ok()) return s;
  if (absl::Status s = read(files.key, &t.key_pem_); !s.ok()) return s;
  if (!t.cert_pem_.empty()) {
    absl::StatusOr<std::string> cn = CertificateCommonName(t.cert_pem_);
    if (!cn.ok())
      return absl::InvalidArgumentError(absl::StrCat(files.cert, ": ", cn.status().message()));
    t.common_name_ = *cn;
  }
  return t;
}

std::shared_ptr<grpc::ServerCredentials> TlsConfig::ServerCredentials() const {
  if (insecure_) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions o(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  o.pem_root_certs = ca_pem_;
  o.pem_key_cert_pairs.push_back({key_pem_, cert_pem_});
  return grpc::SslServerCredentials(o);
}

std::shared_ptr<grpc::Channel> TlsConfig::NewChannel(
    const std::string& address, const char* peer_name, grpc::ChannelArguments args,
    std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>>
        interceptors) const {
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (insecure_) {
    creds = grpc::InsecureChannelCredentials();
  } else {
    creds = grpc::SslCredentials(
        {.pem_root_certs = ca_pem_, .pem_private_key = key_pem_, .pem_cert_chain = cert_pem_});
    // The cluster's own CA: check the role the certificate names, not the address dialled.
    // With the system's roots (no CA given) the address must match as for any TLS server.
    if (!ca_pem_.empty()) args.SetSslTargetNameOverride(peer_name);
  }
  return grpc::experimental::CreateCustomChannelWithInterceptors(address, creds, args,
                                                                 std::move(interceptors));
}

absl::StatusOr<TlsConfig> DaemonTlsConfig(const TlsFiles& files, bool insecure) {
  if (insecure) {
    if (!files.ca.empty() || !files.cert.empty() || !files.key.empty()) {
      return absl::InvalidArgumentError("--insecure and TLS files together: choose one");
    }
    return TlsConfig::Insecure();
  }
  if (files.ca.empty() || files.cert.empty() || files.key.empty()) {
    return absl::InvalidArgumentError(
        "TLS needs --tls-ca, --tls-cert and --tls-key (make them with `ternion certs init`); "
        "--insecure runs in plaintext");
  }
  return TlsConfig::Load(files);
}

absl::StatusOr<TlsConfig> ClientTlsConfig(const Credentials& credentials) {
  if (credentials.insecure) return TlsConfig::Insecure();
  return TlsConfig::Load({.ca = credentials.ca});
}

bool PeerCertificate::Names(const std::string& dns_name) const {
  return std::find(dns_names.begin(), dns_names.end(), dns_name) != dns_names.end();
}

std::optional<PeerCertificate> PeerCertificateOf(const grpc::ServerContext& ctx) {
  std::shared_ptr<const grpc::AuthContext> auth = ctx.auth_context();
  if (auth == nullptr || !auth->IsPeerAuthenticated()) return std::nullopt;
  PeerCertificate peer;
  for (const grpc::string_ref& v : auth->FindPropertyValues(GRPC_X509_CN_PROPERTY_NAME)) {
    peer.common_name.assign(v.data(), v.size());
  }
  for (const grpc::string_ref& v : auth->FindPropertyValues(GRPC_PEER_DNS_PROPERTY_NAME)) {
    peer.dns_names.emplace_back(v.data(), v.size());
  }
  return peer;
}

absl::StatusOr<std::string> CertificateCommonName(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = bio == nullptr ? nullptr : PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (cert == nullptr) return absl::InvalidArgumentError("no PEM certificate");
  char cn[256] = {0};
  const int n =
      X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn));
  X509_free(cert);
  if (n <= 0) return absl::InvalidArgumentError("the certificate has no common name");
  return std::string(cn, n);
}

}  // namespace ternion::security
