// Certificate revocation for mTLS peers: a PEM CRL file, checked call by call against the
// verified peer certificate and reloaded when the file changes, so that revoking a member
// certificate takes effect on that member's next call without restarting the gateway.
//
// Trust: every CRL in the file must be issued (issuer name) by a CA certificate in ca_file,
// verify against that CA's public key, carry a CRL Number, and not be expired (nextUpdate, by
// the injected clock); otherwise the whole file is rejected. A rejected file never replaces the
// list in force.
//
// No silent un-revocation: a reloaded file is refused if, for an issuer the list in force
// covers, its CRL Number is below the one in force, or equal to it on a CRL that differs.
// Revocations can be lifted (certificateHold) only by a CRL the CA numbered later. The numbers
// in force live in memory only: after a restart the first file loaded sets them again.
//
// Fail-closed: a certificate whose issuer has no CRL in the file is refused too, since nothing
// says it has not been revoked; so, optionally, is every certificate once the list in force is
// stale (see RevocationListOptions::stale_grace).
#ifndef ONCEONLY_COMMON_CRL_H_
#define ONCEONLY_COMMON_CRL_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/metrics.h"

namespace onceonly {

// ErrorInfo reasons of Check().
inline constexpr absl::string_view kCertificateRevokedReason = "CERTIFICATE_REVOKED";
inline constexpr absl::string_view kRevocationUnknownReason = "CERTIFICATE_REVOCATION_UNKNOWN";

struct RevocationListOptions {
  // Check() re-examines the file (stat: mtime, ctime, size, inode, device) at most this often.
  absl::Duration recheck = absl::Seconds(1);
  // Unset: a list past its nextUpdate keeps being enforced as it is (revocations are
  // permanent) and ReloadIfChanged() reports it. Set: from nextUpdate + stale_grace on, until
  // a current file is loaded, Check() refuses every certificate the list does not revoke with
  // CERTIFICATE_REVOCATION_UNKNOWN, as nothing says it has not been revoked since.
  std::optional<absl::Duration> stale_grace;
};

// Thread-safe. While a list is open it publishes, computed at each scrape of DefaultMetrics()
// from the injected clock, onceonly_crl_age_seconds (now - the oldest thisUpdate in force) and
// onceonly_crl_next_update_seconds (the earliest nextUpdate in force - now; negative once
// past). With several lists open in one process, the one opened last is published.
class RevocationList {
 public:
  // Loads `crl_file` (one or more PEM CRLs) issued by the CA certificate(s) in `ca_file`;
  // `clock` must outlive the list.
  // Errors, naming the file: NotFound/PermissionDenied/Internal for I/O, InvalidArgument if a
  // file does not parse or holds no CRL/CA or `options` are out of range (negative), and
  // FailedPrecondition if a CRL's issuer is not a CA of ca_file, its signature does not verify,
  // it is expired or has no nextUpdate, it has no CRL Number, or it is a delta or indirect CRL
  // (not supported).
  static absl::StatusOr<std::unique_ptr<RevocationList>> Open(const std::string& crl_file,
                                                              const std::string& ca_file,
                                                              const Clock& clock = Clock::Real(),
                                                              RevocationListOptions options = {});

  // OK if `certificate_pem` (the first certificate of a PEM string, e.g. the auth context's
  // "x509_pem_cert") is not revoked by the list in force. Otherwise:
  //   PermissionDenied, ErrorInfo reason CERTIFICATE_REVOKED, metadata "serial" (uppercase hex),
  //     "revocation_date" (RFC 3339 UTC), "issuer", and "revocation_reason" if the CRL has one;
  //   PermissionDenied, reason CERTIFICATE_REVOCATION_UNKNOWN, if no CRL covers its issuer
  //     (metadata "serial", "issuer"), or if the list is stale (options.stale_grace; metadata
  //     "serial", "next_update" and "refused_since", RFC 3339 UTC);
  //   InvalidArgument if the PEM does not parse.
  // Callers must refuse the call on any non-OK status. May reload the file first (see Open);
  // a failed reload keeps the previous list and is reported by ReloadIfChanged().
  absl::Status Check(absl::string_view certificate_pem);

  // Reloads now (regardless of the recheck interval) if the file changed since the list in
  // force was loaded. On failure the previous list stays in force and the error is returned,
  // also on later calls while the file stays as it is, so the caller can log it: as for Open,
  // or FailedPrecondition naming the file, the issuer and both numbers if a CRL Number does not
  // supersede the one in force (see the file comment).
  // Also FailedPrecondition if the list in force has expired and no newer file replaced it;
  // the expired list keeps being enforced (and, past options.stale_grace, refuses the rest).
  absl::Status ReloadIfChanged();

  // nextUpdate of the list in force: the earliest over its CRLs.
  absl::Time next_update() const;

  RevocationList(const RevocationList&) = delete;
  RevocationList& operator=(const RevocationList&) = delete;
  ~RevocationList();

 private:
  struct Snapshot;
  // Identity of one version of the file on disk. ctime too, so that e.g. fixing the file's
  // permissions after a failed load is noticed.
  struct FileVersion {
    int64_t mtime_ns = -1;
    int64_t ctime_ns = -1;
    int64_t size = -1;
    uint64_t inode = 0;
    uint64_t device = 0;
    bool operator==(const FileVersion& other) const {
      return mtime_ns == other.mtime_ns && ctime_ns == other.ctime_ns && size == other.size &&
             inode == other.inode && device == other.device;
    }
    bool operator!=(const FileVersion& other) const { return !(*this == other); }
  };
  struct CaSet;

  RevocationList(std::string crl_file, std::unique_ptr<const CaSet> cas, const Clock& clock,
                 RevocationListOptions options);

  // Loads crl_file_ as of now; returns the version it read and the parsed snapshot.
  absl::StatusOr<std::pair<FileVersion, std::shared_ptr<const Snapshot>>> Load() const;
  absl::Status ReloadIfChangedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sets the age gauges from the list in force, as of now.
  void PublishAge() const ABSL_LOCKS_EXCLUDED(mu_);

  // Constant after construction.
  const std::string crl_file_;
  const std::unique_ptr<const CaSet> cas_;
  const Clock& clock_;
  const RevocationListOptions options_;

  mutable absl::Mutex mu_;
  std::shared_ptr<const Snapshot> snapshot_ ABSL_GUARDED_BY(mu_);
  FileVersion loaded_version_ ABSL_GUARDED_BY(mu_);
  // The last version that failed to load, and why; not re-parsed until the file changes.
  FileVersion failed_version_ ABSL_GUARDED_BY(mu_);
  absl::Status failed_status_ ABSL_GUARDED_BY(mu_);
  absl::Time next_recheck_ ABSL_GUARDED_BY(mu_);

  // Last: ends collection before anything PublishAge() reads goes.
  std::unique_ptr<MetricsRegistry::Collection> age_collection_;
};

}  // namespace onceonly

#endif  // ONCEONLY_COMMON_CRL_H_
