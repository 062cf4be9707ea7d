#include "common/tls.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/server_credentials.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/status_macros.h"
#include "common/yaml_proto.h"

namespace onceonly {
namespace {

absl::StatusOr<std::string> ReadPem(const std::string& path, absl::string_view what) {
  if (path.empty()) return absl::InvalidArgumentError(absl::StrCat(what, " is not set"));
  absl::StatusOr<std::string> pem = ReadFileToString(path);
  if (!pem.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read ", what, ": ", pem.status().message()));
  }
  return pem;
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MutualTlsServerCredentials(
    const config::v1::TlsFiles& tls) {
  ASSIGN_OR_RETURN(std::string cert, ReadPem(tls.cert_file(), "tls.cert_file"));
  ASSIGN_OR_RETURN(std::string key, ReadPem(tls.key_file(), "tls.key_file"));
  ASSIGN_OR_RETURN(std::string ca, ReadPem(tls.ca_file(), "tls.ca_file"));
  grpc::SslServerCredentialsOptions options(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_root_certs = ca;
  options.pem_key_cert_pairs.push_back({key, cert});
  return grpc::SslServerCredentials(options);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MutualTlsChannelCredentials(
    const config::v1::TlsFiles& tls) {
  grpc::SslCredentialsOptions options;
  ASSIGN_OR_RETURN(options.pem_root_certs, ReadPem(tls.ca_file(), "tls.ca_file"));
  if (!tls.cert_file().empty()) {
    ASSIGN_OR_RETURN(options.pem_cert_chain, ReadPem(tls.cert_file(), "tls.cert_file"));
    ASSIGN_OR_RETURN(options.pem_private_key, ReadPem(tls.key_file(), "tls.key_file"));
  }
  return grpc::SslCredentials(options);
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateMutualTlsChannel(
    const std::string& address, const config::v1::TlsFiles& tls,
    const std::string& server_name) {
  ASSIGN_OR_RETURN(auto credentials, MutualTlsChannelCredentials(tls));
  grpc::ChannelArguments args;
  if (!server_name.empty()) args.SetSslTargetNameOverride(server_name);
  return grpc::CreateCustomChannel(address, credentials, args);
}

namespace {

absl::StatusOr<std::vector<std::string>> UriSans(X509* cert) {
  int critical = 0;
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, &critical, nullptr));
  std::vector<std::string> uris;
  if (names == nullptr) {
    ERR_clear_error();
    if (critical == -1) return uris;  // no SAN extension
    // Two SAN extensions could let a certificate say different things to different parsers.
    if (critical == -2) return absl::InvalidArgumentError("more than one subjectAltName");
    return absl::InvalidArgumentError("subjectAltName does not decode");
  }
  absl::Status status;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    if (name->type != GEN_URI) continue;
    const ASN1_IA5STRING* uri = name->d.uniformResourceIdentifier;
    std::string value(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                      static_cast<size_t>(ASN1_STRING_length(uri)));
    // An embedded NUL would make "spiffe://a/member/x\0evil" compare as another identity.
    if (value.find('\0') != std::string::npos) {
      status = absl::InvalidArgumentError("a URI SAN contains a NUL byte");
      break;
    }
    uris.push_back(std::move(value));
  }
  GENERAL_NAMES_free(names);
  if (!status.ok()) return status;
  return uris;
}

constexpr size_t kMaxCachedCertificates = 4096;

}  // namespace

ParsedCertificate::~ParsedCertificate() { X509_free(certificate); }

absl::StatusOr<std::shared_ptr<const ParsedCertificate>> ParseCertificateCached(
    absl::string_view pem) {
  static absl::Mutex mu;
  static auto* cache ABSL_GUARDED_BY(mu) =
      new absl::flat_hash_map<std::string, std::shared_ptr<const ParsedCertificate>>();
  {
    absl::MutexLock lock(&mu);
    auto it = cache->find(pem);
    if (it != cache->end()) return it->second;
  }
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (cert == nullptr) {
    ERR_clear_error();
    return absl::InvalidArgumentError("not a PEM certificate");
  }
  auto parsed = std::make_shared<ParsedCertificate>();
  parsed->certificate = cert;
  parsed->uri_sans = UriSans(cert);
  absl::MutexLock lock(&mu);
  if (cache->size() >= kMaxCachedCertificates) cache->clear();  // bounded, and simple
  cache->emplace(std::string(pem), parsed);
  return std::shared_ptr<const ParsedCertificate>(std::move(parsed));
}

absl::StatusOr<std::vector<std::string>> CertificateUriSans(absl::string_view pem) {
  ASSIGN_OR_RETURN(std::shared_ptr<const ParsedCertificate> parsed, ParseCertificateCached(pem));
  return parsed->uri_sans;
}

absl::StatusOr<std::vector<std::string>> PeerUriSans(const grpc::AuthContext& context) {
  std::vector<grpc::string_ref> pems = context.FindPropertyValues("x509_pem_cert");
  if (!context.IsPeerAuthenticated() || pems.empty()) {
    return absl::UnauthenticatedError("no verified client certificate");
  }
  return CertificateUriSans(absl::string_view(pems[0].data(), pems[0].size()));
}

}  // namespace onceonly
