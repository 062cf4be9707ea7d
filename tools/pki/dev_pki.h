// A development PKI for onceonly: a throw-away CA, the gateway's server certificate, member
// client certificates carrying SPIFFE IDs, and the Ed25519 key that signs audit checkpoints.
// Built on the OpenSSL 3 C API; never shells out to the openssl binary.
//
// Everything is on disk in one directory so that `pki issue` in a later process signs with the
// CA that `pki init` created:
//   DIR/ca.crt, DIR/ca.key                     ECDSA P-256 self-signed CA
//   DIR/server.crt, DIR/server.key             gateway certificate (serverAuth + clientAuth)
//   DIR/checkpoint.key, DIR/checkpoint.pub     Ed25519 key pair (PKCS#8 / SPKI PEM)
//   DIR/crl.pem                                v2 CRL signed by the CA (see RevokeCertificate)
//   DIR/members/<member>[-<subsystem>].crt/.key
//   DIR/servers/<name>.crt/.key                remote onceonly-registry certificates
// Private keys are unencrypted PEM with mode 0600; this is for development and tests only.
//
// Thread-safety: the functions share no state and may run concurrently on different
// directories. Two concurrent calls writing the same files race (last rename wins).
#ifndef ONCEONLY_TOOLS_PKI_DEV_PKI_H_
#define ONCEONLY_TOOLS_PKI_DEV_PKI_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace onceonly {

struct DevPkiOptions {
  // SPIFFE trust domain: lowercase letters, digits, '.', '-', '_'.
  std::string trust_domain = "onceonly.brussels";
  // SANs of the gateway / registry server certificates.
  std::vector<std::string> server_dns_names = {"localhost"};
  std::vector<std::string> server_ips = {"127.0.0.1", "::1"};
  // Certificates are valid from now - 1h (clock skew) to now + validity. Must be positive and
  // at most 100 years.
  absl::Duration validity = absl::Hours(24 * 365);
  // CRLs are valid (thisUpdate to nextUpdate) from now to now + crl_validity; after that the
  // gateway reports the CRL as expired. Must be positive and at most 100 years.
  absl::Duration crl_validity = absl::Hours(24 * 30);
};

// Creates `dir` (mkdir -p) with the CA, the gateway server certificate, the checkpoint key
// pair and an empty CRL (CRL number 1, valid for options.crl_validity). Server certificate
// SANs: options' DNS names and IPs plus URI spiffe://<trust_domain>/gateway; EKU serverAuth
// and clientAuth (the gateway is also a client of remote registries).
// Errors: AlreadyExists naming the file if any output file (ca.key included) already exists
// and !overwrite; InvalidArgument for bad options; Internal/PermissionDenied etc. naming the
// file and OpenSSL's or the OS error. ca.key is written last, so a failed run leaves no ca.key.
absl::Status InitDevPki(const std::string& dir, const DevPkiOptions& options,
                        bool overwrite = false);

// Issues dir/members/<member_id>[-<subsystem>].crt/.key, signed with dir/ca.crt + dir/ca.key:
// ECDSA P-256, CN = member_id, SAN URI spiffe://<trust_domain>/member/<member_id>[/<subsystem>],
// EKU clientAuth only. `subsystem` may be empty. Existing files for that member are replaced.
// member_id and subsystem must match [a-z0-9][a-z0-9-]* (at most 63 characters), else
// InvalidArgument. NotFound if the CA files are missing. Returns the certificate path.
absl::StatusOr<std::string> IssueMemberCertificate(const std::string& dir,
                                                   const std::string& member_id,
                                                   const std::string& subsystem,
                                                   const DevPkiOptions& options);

// Issues dir/servers/<name>.crt/.key for a remote onceonly-registry: SAN DNS names and IPs from
// options plus URI spiffe://<trust_domain>/registry/<name>; EKU serverAuth and clientAuth.
// `name` follows the member_id rules. Returns the certificate path.
absl::StatusOr<std::string> IssueServerCertificate(const std::string& dir, const std::string& name,
                                                   const DevPkiOptions& options);

// Revokes the certificate at `cert_path` (issued by dir/ca.crt, else FailedPrecondition):
// rewrites dir/crl.pem (atomically, mode 0644) as a v2 CRL signed with dir/ca.key that keeps
// the entries already there and adds the certificate's serial unless it is listed already
// (its first revocation date is kept). thisUpdate = now, nextUpdate = now +
// options.crl_validity, CRL number = previous + 1 (1 if there was no crl.pem), so revoking an
// already revoked certificate just re-signs the CRL with fresh dates.
// An existing crl.pem that does not parse or is not signed by the CA is an error (naming it)
// and is left alone. Returns the CRL path.
absl::StatusOr<std::string> RevokeCertificate(const std::string& dir, const std::string& cert_path,
                                              const DevPkiOptions& options);

}  // namespace onceonly

#endif  // ONCEONLY_TOOLS_PKI_DEV_PKI_H_
