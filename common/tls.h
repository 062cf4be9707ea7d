// mTLS plumbing shared by the gateway, the registry server, the CLI and the tests: gRPC
// credentials from PEM files, and the caller's URI SANs from a call's auth context.
#ifndef ONCEONLY_COMMON_TLS_H_
#define ONCEONLY_COMMON_TLS_H_

#include <grpcpp/security/auth_context.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "onceonly/config/v1/config.pb.h"

struct x509_st;

namespace onceonly {

// Server credentials that require a client certificate chaining to tls.ca_file, and verify
// it during the handshake. There is deliberately no way to build a plaintext server here.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MutualTlsServerCredentials(
    const config::v1::TlsFiles& tls);

// Client credentials presenting tls.cert_file/key_file and trusting tls.ca_file.
// An empty cert_file gives a client without a certificate (used to test refusal).
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MutualTlsChannelCredentials(
    const config::v1::TlsFiles& tls);

// A channel to `address` over mTLS; `server_name` overrides the name checked in the
// server certificate (empty: the host of `address`).
absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateMutualTlsChannel(
    const std::string& address, const config::v1::TlsFiles& tls,
    const std::string& server_name = "");

// A peer certificate parsed once. Parsing a PEM costs ~100 µs with OpenSSL 3, so calls on the
// same connection share one parse through a small process-wide cache.
struct ParsedCertificate {
  ParsedCertificate() = default;
  ParsedCertificate(const ParsedCertificate&) = delete;
  ParsedCertificate& operator=(const ParsedCertificate&) = delete;
  ~ParsedCertificate();
  x509_st* certificate = nullptr;  // owned; read-only after parsing
  absl::StatusOr<std::vector<std::string>> uri_sans = std::vector<std::string>();
};
// InvalidArgument if the PEM does not parse. Thread-safe.
absl::StatusOr<std::shared_ptr<const ParsedCertificate>> ParseCertificateCached(
    absl::string_view pem);

// URI SANs of the first certificate in `pem`, in order (empty if it has none). Does not
// verify the certificate: the TLS stack has. InvalidArgument if the PEM does not parse, there
// are two SAN extensions, the extension does not decode, or a URI holds a NUL byte.
absl::StatusOr<std::vector<std::string>> CertificateUriSans(absl::string_view pem);

// URI SANs of the verified peer certificate of a call; Unauthenticated if there is none.
absl::StatusOr<std::vector<std::string>> PeerUriSans(const grpc::AuthContext& context);

}  // namespace onceonly

#endif  // ONCEONLY_COMMON_TLS_H_
