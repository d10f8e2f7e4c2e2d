#include "security/certificates.h"

#include <arpa/inet.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <filesystem>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/file_util.h"
#include "common/names.h"
#include "security/tls.h"

namespace ternion::security {
namespace {

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
};
using Key = std::unique_ptr<EVP_PKEY, Free>;
using Cert = std::unique_ptr<X509, Free>;
using Bio = std::unique_ptr<BIO, Free>;

absl::Status OpenSslError(const char* what) {
  return absl::InternalError(absl::StrCat("OpenSSL: ", what, " failed"));
}

std::string BioText(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return std::string(data, n);
}

absl::StatusOr<KeyAndCertificate> ToPem(EVP_PKEY* key, X509* cert) {
  Bio k(BIO_new(BIO_s_mem())), c(BIO_new(BIO_s_mem()));
  if (!k || !c ||
      PEM_write_bio_PrivateKey(k.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1 ||
      PEM_write_bio_X509(c.get(), cert) != 1) {
    return OpenSslError("writing PEM");
  }
  return KeyAndCertificate{.key_pem = BioText(k.get()), .cert_pem = BioText(c.get())};
}

// A certificate for `key` named `cn`, valid from an hour ago for `days`, not yet signed.
absl::StatusOr<Cert> NewCertificate(EVP_PKEY* key, const std::string& cn, int days) {
  Cert cert(X509_new());
  std::unique_ptr<BIGNUM, Free> serial(BN_new());
  if (!cert || !serial || X509_set_version(cert.get(), 2) != 1 ||
      BN_rand(serial.get(), 128, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr ||
      X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), int64_t{days} * 86400) == nullptr ||
      X509_set_pubkey(cert.get(), key) != 1 ||
      X509_NAME_add_entry_by_txt(X509_get_subject_name(cert.get()), "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                                 0) != 1) {
    return OpenSslError("making a certificate");
  }
  return cert;
}

// Adds the extension `name` = `value` (OpenSSL's configuration syntax) to `cert`.
absl::Status AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("bad certificate extension: ", value));
  }
  const int added = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return added == 1 ? absl::OkStatus() : OpenSslError("adding an extension");
}

}  // namespace

absl::StatusOr<KeyAndCertificate> MakeCertificateAuthority(const std::string& common_name,
                                                           int days) {
  Key key(EVP_EC_gen("P-256"));
  if (!key) return OpenSslError("making a key");
  absl::StatusOr<Cert> cert = NewCertificate(key.get(), common_name, days);
  if (!cert.ok()) return cert.status();
  X509* c = cert->get();
  if (X509_set_issuer_name(c, X509_get_subject_name(c)) != 1) return OpenSslError("issuer");
  for (auto [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:TRUE"},
                            std::pair{NID_key_usage, "critical,keyCertSign,cRLSign"},
                            std::pair{NID_subject_key_identifier, "hash"}}) {
    if (absl::Status s = AddExtension(c, c, nid, value); !s.ok()) return s;
  }
  if (X509_sign(c, key.get(), EVP_sha256()) == 0) return OpenSslError("signing");
  return ToPem(key.get(), c);
}

absl::StatusOr<KeyAndCertificate> IssueCertificate(const KeyAndCertificate& ca,
                                                   const CertificateRequest& request) {
  Bio ca_key_bio(BIO_new_mem_buf(ca.key_pem.data(), static_cast<int>(ca.key_pem.size())));
  Bio ca_cert_bio(BIO_new_mem_buf(ca.cert_pem.data(), static_cast<int>(ca.cert_pem.size())));
  Key ca_key(ca_key_bio ? PEM_read_bio_PrivateKey(ca_key_bio.get(), nullptr, nullptr, nullptr)
                        : nullptr);
  Cert ca_cert(ca_cert_bio ? PEM_read_bio_X509(ca_cert_bio.get(), nullptr, nullptr, nullptr)
                           : nullptr);
  if (!ca_key || !ca_cert || X509_check_private_key(ca_cert.get(), ca_key.get()) != 1) {
    return absl::InvalidArgumentError("the CA's key and certificate are unreadable or unrelated");
  }
  Key key(EVP_EC_gen("P-256"));
  if (!key) return OpenSslError("making a key");
  absl::StatusOr<Cert> cert = NewCertificate(key.get(), request.common_name, request.days);
  if (!cert.ok()) return cert.status();
  X509* c = cert->get();
  if (X509_set_issuer_name(c, X509_get_subject_name(ca_cert.get())) != 1) {
    return OpenSslError("issuer");
  }
  std::vector<std::string> names;
  for (const std::string& d : request.dns_names) names.push_back(absl::StrCat("DNS:", d));
  for (const std::string& ip : request.ips) names.push_back(absl::StrCat("IP:", ip));
  if (names.empty()) return absl::InvalidArgumentError("a certificate needs a name");
  for (auto [nid, value] :
       {std::pair{NID_basic_constraints, std::string("critical,CA:FALSE")},
        std::pair{NID_key_usage, std::string("critical,digitalSignature,keyEncipherment")},
        std::pair{NID_ext_key_usage, std::string("serverAuth,clientAuth")},
        std::pair{NID_subject_key_identifier, std::string("hash")},
        std::pair{NID_authority_key_identifier, std::string("keyid")},
        std::pair{NID_subject_alt_name, absl::StrJoin(names, ",")}}) {
    if (absl::Status s = AddExtension(c, ca_cert.get(), nid, value); !s.ok()) return s;
  }
  if (X509_sign(c, ca_key.get(), EVP_sha256()) == 0) return OpenSslError("signing");
  return ToPem(key.get(), c);
}

namespace {

bool IsIp(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

CertificateRequest RequestFor(const std::string& common_name, const char* role,
                              const std::vector<std::string>& hosts) {
  CertificateRequest r{.common_name = common_name, .dns_names = {role}};
  for (const std::string& h : hosts) (IsIp(h) ? r.ips : r.dns_names).push_back(h);
  return r;
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

absl::Status WritePair(const CertificateDir& d, const std::string& name,
                       const KeyAndCertificate& pair) {
  if (absl::Status s = WriteFileAtomically(d.key(name), pair.key_pem, 0600); !s.ok()) return s;
  return WriteFileAtomically(d.cert(name), pair.cert_pem, 0644);
}

absl::StatusOr<KeyAndCertificate> ReadCa(const CertificateDir& d) {
  absl::StatusOr<std::string> key = ReadFileToString(d.key("ca"));
  absl::StatusOr<std::string> cert = ReadFileToString(d.ca_cert());
  if (!key.ok()) return key.status();
  if (!cert.ok()) return cert.status();
  return KeyAndCertificate{.key_pem = *key, .cert_pem = *cert};
}

}  // namespace

absl::Status CertificateDir::Init(const std::vector<std::string>& hosts) const {
  if (Exists(key("ca"))) {
    return absl::AlreadyExistsError(
        absl::StrCat(key("ca"), " exists: a new CA would untrust every certificate issued by it"));
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot make ", dir, ": ", ec.message()));
  absl::StatusOr<KeyAndCertificate> ca = MakeCertificateAuthority("Ternion cluster CA");
  if (!ca.ok()) return ca.status();
  if (absl::Status s = WritePair(*this, "ca", *ca); !s.ok()) return s;
  absl::StatusOr<KeyAndCertificate> master =
      IssueCertificate(*ca, RequestFor(kMasterTlsName, kMasterTlsName, hosts));
  if (!master.ok()) return master.status();
  return WritePair(*this, "master", *master);
}

absl::Status CertificateDir::IssueChunkserver(const std::string& id,
                                              const std::vector<std::string>& hosts) const {
  if (absl::Status s = ValidateTopologyName(id, "server id"); !s.ok()) return s;
  if (id == "ca" || id == "master") {
    return absl::InvalidArgumentError(absl::StrCat("a chunkserver cannot be named ", id));
  }
  if (Exists(cert(id))) return absl::AlreadyExistsError(absl::StrCat(cert(id), " exists"));
  absl::StatusOr<KeyAndCertificate> ca = ReadCa(*this);
  if (!ca.ok()) return ca.status();
  absl::StatusOr<KeyAndCertificate> pair =
      IssueCertificate(*ca, RequestFor(id, kChunkserverTlsName, hosts));
  if (!pair.ok()) return pair.status();
  return WritePair(*this, id, *pair);
}

}  // namespace ternion::security
