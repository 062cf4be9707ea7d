#include "common/crl.h"

#include <fcntl.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <ctime>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "common/metrics.h"
#include "common/openssl_ptr.h"
#include "common/rich_status.h"
#include "common/status_macros.h"
#include "common/tls.h"

namespace onceonly {
namespace {

// Far above any real CRL or CA bundle; bounds memory if the path points somewhere odd.
constexpr int64_t kMaxFileSize = 64 << 20;
constexpr size_t kMaxCertificatePemSize = 1 << 20;

absl::Status OsError(absl::string_view what, const std::string& path, int error) {
  std::string message = absl::StrCat(what, " ", path, ": ", std::strerror(error));
  switch (error) {
    case ENOENT:
      return absl::NotFoundError(message);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(message);
    default:
      return absl::InternalError(message);
  }
}

struct FileContents {
  struct stat st;
  std::string data;
};

// Reads the file through one descriptor, so that the stat describes exactly the bytes read
// even if the file is renamed over meanwhile.
absl::StatusOr<FileContents> ReadFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return OsError("cannot open", path, errno);
  FileContents contents;
  absl::Status status;
  if (::fstat(fd, &contents.st) != 0) {
    status = OsError("cannot stat", path, errno);
  } else if (!S_ISREG(contents.st.st_mode)) {
    status = absl::InvalidArgumentError(absl::StrCat(path, " is not a regular file"));
  } else if (contents.st.st_size > kMaxFileSize) {
    status =
        absl::InvalidArgumentError(absl::StrCat(path, " is larger than ", kMaxFileSize, " bytes"));
  }
  char buffer[65536];
  while (status.ok()) {
    ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      status = OsError("cannot read", path, errno);
    } else if (n == 0) {
      break;
    } else if (contents.data.size() + static_cast<size_t>(n) > kMaxFileSize) {
      status = absl::InvalidArgumentError(
          absl::StrCat(path, " is larger than ", kMaxFileSize, " bytes"));
    } else {
      contents.data.append(buffer, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  if (!status.ok()) return status;
  return contents;
}

int64_t Nanoseconds(const struct timespec& ts) {
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

absl::StatusOr<absl::Time> Asn1TimeToTime(const ASN1_TIME* time) {
  struct tm tm;
  std::memset(&tm, 0, sizeof(tm));
  if (time == nullptr || ASN1_TIME_to_tm(time, &tm) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError("malformed time");
  }
  return absl::FromTM(tm, absl::UTCTimeZone());
}

std::string Rfc3339(absl::Time time) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", time, absl::UTCTimeZone());
}

// Uppercase hex without leading zeros ("-" prefix for the invalid negative serials), the form
// `openssl x509 -serial` prints.
absl::StatusOr<std::string> SerialHex(const ASN1_INTEGER* serial) {
  BignumPtr bn(ASN1_INTEGER_to_BN(serial, nullptr));
  if (!bn) return absl::InvalidArgumentError("malformed serial number");
  char* hex = BN_bn2hex(bn.get());
  if (hex == nullptr) return absl::InternalError("cannot format serial number");
  std::string result(hex);
  OPENSSL_free(hex);
  return result;
}

std::string NameText(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) {
    ERR_clear_error();
    return "(unprintable name)";
  }
  char* data = nullptr;
  long length = BIO_get_mem_data(bio.get(), &data);
  if (length <= 0 || data == nullptr) return "";
  return std::string(data, static_cast<size_t>(length));
}

// A CRL Number in decimal, the way operators count CRLs.
std::string DecimalText(const BIGNUM* number) {
  char* text = BN_bn2dec(number);
  if (text == nullptr) {
    ERR_clear_error();
    return "(unprintable number)";
  }
  std::string result(text);
  OPENSSL_free(text);
  return result;
}

// RFC 5280 5.3.1 CRLReason names.
std::string ReasonName(long reason) {
  static const char* const kNames[] = {
      "unspecified",   "keyCompromise",        "cACompromise",    "affiliationChanged",
      "superseded",    "cessationOfOperation", "certificateHold", "(unused)",
      "removeFromCRL", "privilegeWithdrawn",   "aACompromise"};
  if (reason >= 0 && reason < static_cast<long>(std::size(kNames))) return kNames[reason];
  return absl::StrCat("reason ", reason);
}

}  // namespace

struct RevocationList::CaSet {
  std::vector<X509Ptr> certificates;
};

struct RevocationList::Snapshot {
  struct Entry {
    absl::Time revocation_date;
    std::string reason;  // Empty if the CRL gives none.
  };
  struct IssuerCrl {
    X509NamePtr issuer;
    std::string issuer_text;
    // By SerialHex().
    std::map<std::string, Entry> revoked;
    // Of the highest-numbered CRL of this issuer in the file.
    BignumPtr number;
    std::string number_text;
    std::string sha256;  // of its DER, to tell a re-published CRL from a different one
    absl::Time this_update;
  };
  // nullptr if no CRL of `issuer` is in force.
  const IssuerCrl* Find(const X509_NAME* issuer) const;
  // OK if this list may replace `in_force` (see "No silent un-revocation" in crl.h).
  absl::Status CheckSupersedes(const Snapshot& in_force, absl::string_view where) const;

  std::vector<IssuerCrl> crls;  // At most one per issuer name: same-issuer CRLs are merged.
  absl::Time next_update = absl::InfiniteFuture();  // the earliest over its CRLs
  absl::Time oldest_this_update = absl::InfiniteFuture();
};

const RevocationList::Snapshot::IssuerCrl* RevocationList::Snapshot::Find(
    const X509_NAME* issuer) const {
  for (const IssuerCrl& crl : crls) {
    if (X509_NAME_cmp(crl.issuer.get(), issuer) == 0) return &crl;
  }
  return nullptr;
}

absl::Status RevocationList::Snapshot::CheckSupersedes(const Snapshot& in_force,
                                                       absl::string_view where) const {
  for (const IssuerCrl& candidate : crls) {
    const IssuerCrl* current = in_force.Find(candidate.issuer.get());
    // An issuer new to the list has nothing to undo.
    if (current == nullptr) continue;
    const int order = BN_cmp(candidate.number.get(), current->number.get());
    if (order < 0) {
      return absl::FailedPreconditionError(
          absl::StrCat(where, ": the CRL of issuer ", candidate.issuer_text, " has CRL Number ",
                       candidate.number_text, ", below the CRL Number ", current->number_text,
                       " in force; an older CRL (replayed, or published out of order) would undo "
                       "revocations; publish one numbered above ",
                       current->number_text));
    }
    if (order == 0 && candidate.sha256 != current->sha256) {
      return absl::FailedPreconditionError(
          absl::StrCat(where, ": the CRL of issuer ", candidate.issuer_text, " has CRL Number ",
                       candidate.number_text,
                       ", the number of the CRL in force, but different contents; "
                       "a CA numbers every new CRL above the last: publish one numbered above ",
                       current->number_text));
    }
  }
  return absl::OkStatus();
}

RevocationList::RevocationList(std::string crl_file, std::unique_ptr<const CaSet> cas,
                               const Clock& clock, RevocationListOptions options)
    : crl_file_(std::move(crl_file)), cas_(std::move(cas)), clock_(clock), options_(options) {}

RevocationList::~RevocationList() = default;

absl::StatusOr<std::unique_ptr<RevocationList>> RevocationList::Open(
    const std::string& crl_file, const std::string& ca_file, const Clock& clock,
    RevocationListOptions options) {
  ERR_clear_error();
  if (options.recheck < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "CRL recheck interval ", absl::FormatDuration(options.recheck), " is negative"));
  }
  if (options.stale_grace.has_value() && *options.stale_grace < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "CRL stale grace ", absl::FormatDuration(*options.stale_grace), " is negative"));
  }
  ASSIGN_OR_RETURN(FileContents ca_contents, ReadFile(ca_file));
  auto cas = std::make_unique<CaSet>();
  BioPtr bio(BIO_new_mem_buf(ca_contents.data.data(), static_cast<int>(ca_contents.data.size())));
  if (!bio) return absl::InternalError(absl::StrCat(ca_file, ": cannot allocate BIO"));
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    cas->certificates.emplace_back(cert);
  }
  const unsigned long end = ERR_peek_last_error();
  if (cas->certificates.empty() || ERR_GET_LIB(end) != ERR_LIB_PEM ||
      ERR_GET_REASON(end) != PEM_R_NO_START_LINE) {
    return absl::InvalidArgumentError(absl::StrCat(
        "CA file ", ca_file, ": not a list of PEM certificates: ", DrainOpenSslErrors()));
  }
  ERR_clear_error();

  std::unique_ptr<RevocationList> list(
      new RevocationList(crl_file, std::move(cas), clock, options));
  ASSIGN_OR_RETURN(auto loaded, list->Load());
  {
    absl::MutexLock lock(&list->mu_);
    list->loaded_version_ = loaded.first;
    list->snapshot_ = std::move(loaded.second);
    list->next_recheck_ = clock.Now() + options.recheck;
  }
  const RevocationList* raw = list.get();
  list->age_collection_ = DefaultMetrics().AddCollector([raw] { raw->PublishAge(); });
  return list;
}

absl::StatusOr<
    std::pair<RevocationList::FileVersion, std::shared_ptr<const RevocationList::Snapshot>>>
RevocationList::Load() const {
  ERR_clear_error();
  const std::string where = absl::StrCat("CRL file ", crl_file_);
  ASSIGN_OR_RETURN(FileContents contents, ReadFile(crl_file_));
  FileVersion version;
  version.mtime_ns = Nanoseconds(contents.st.st_mtim);
  version.ctime_ns = Nanoseconds(contents.st.st_ctim);
  version.size = contents.st.st_size;
  version.inode = contents.st.st_ino;
  version.device = contents.st.st_dev;

  std::vector<X509CrlPtr> crls;
  BioPtr bio(BIO_new_mem_buf(contents.data.data(), static_cast<int>(contents.data.size())));
  if (!bio) return absl::InternalError(absl::StrCat(where, ": cannot allocate BIO"));
  while (X509_CRL* crl = PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr)) {
    crls.emplace_back(crl);
  }
  const unsigned long end = ERR_peek_last_error();
  if (crls.empty() || ERR_GET_LIB(end) != ERR_LIB_PEM ||
      ERR_GET_REASON(end) != PEM_R_NO_START_LINE) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": not a list of PEM CRLs: ", DrainOpenSslErrors()));
  }
  ERR_clear_error();

  const absl::Time now = clock_.Now();
  auto snapshot = std::make_shared<Snapshot>();
  for (size_t i = 0; i < crls.size(); ++i) {
    X509_CRL* crl = crls[i].get();
    const X509_NAME* issuer = X509_CRL_get_issuer(crl);
    const std::string issuer_text = NameText(issuer);
    const std::string which = absl::StrCat(where, ": CRL #", i + 1, " (issuer ", issuer_text, ")");

    // Only complete, direct CRLs: in a delta CRL an absent serial does not mean "not revoked"
    // relative to anything we hold, and indirect entries name other issuers.
    if (X509_CRL_get_ext_by_NID(crl, NID_delta_crl, -1) >= 0) {
      return absl::FailedPreconditionError(absl::StrCat(which, " is a delta CRL (unsupported)"));
    }
    int critical = -1;
    IssuingDistPointPtr idp(static_cast<ISSUING_DIST_POINT*>(
        X509_CRL_get_ext_d2i(crl, NID_issuing_distribution_point, &critical, nullptr)));
    if (idp == nullptr && critical != -1) {
      return absl::InvalidArgumentError(
          absl::StrCat(which, ": malformed issuingDistributionPoint"));
    }
    if (idp != nullptr && idp->indirectCRL) {
      return absl::FailedPreconditionError(
          absl::StrCat(which, " is an indirect CRL (unsupported)"));
    }

    bool issuer_known = false;
    bool verified = false;
    for (const X509Ptr& ca : cas_->certificates) {
      if (X509_NAME_cmp(X509_get_subject_name(ca.get()), issuer) != 0) continue;
      issuer_known = true;
      // A CA whose key usage excludes cRLSign must not vouch for CRLs.
      if ((X509_get_extension_flags(ca.get()) & EXFLAG_KUSAGE) != 0 &&
          (X509_get_key_usage(ca.get()) & KU_CRL_SIGN) == 0) {
        continue;
      }
      EVP_PKEY* key = X509_get0_pubkey(ca.get());
      if (key != nullptr && X509_CRL_verify(crl, key) == 1) {
        verified = true;
        break;
      }
    }
    ERR_clear_error();
    if (!issuer_known) {
      return absl::FailedPreconditionError(
          absl::StrCat(which, " is not issued by a CA certificate of the CA file"));
    }
    if (!verified) {
      return absl::FailedPreconditionError(absl::StrCat(
          which, ": signature does not verify against the CA certificate(s) of that name"));
    }

    const ASN1_TIME* next_update_asn1 = X509_CRL_get0_nextUpdate(crl);
    if (next_update_asn1 == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat(which, " has no nextUpdate"));
    }
    absl::StatusOr<absl::Time> next_update = Asn1TimeToTime(next_update_asn1);
    if (!next_update.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(which, ": malformed nextUpdate"));
    }
    if (*next_update <= now) {
      return absl::FailedPreconditionError(
          absl::StrCat(which, " expired at ", Rfc3339(*next_update), " (nextUpdate)"));
    }
    snapshot->next_update = std::min(snapshot->next_update, *next_update);
    absl::StatusOr<absl::Time> this_update = Asn1TimeToTime(X509_CRL_get0_lastUpdate(crl));
    if (!this_update.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(which, ": malformed thisUpdate"));
    }

    // Without a number a replayed older CRL cannot be told from a newer one (RFC 5280
    // 5.2.3 makes it mandatory).
    int number_critical = -1;
    Asn1IntegerPtr number_asn1(static_cast<ASN1_INTEGER*>(
        X509_CRL_get_ext_d2i(crl, NID_crl_number, &number_critical, nullptr)));
    if (number_asn1 == nullptr && number_critical == -1) {
      return absl::FailedPreconditionError(
          absl::StrCat(which,
                       " has no CRL Number (cRLNumber extension, RFC 5280 5.2.3): without one an "
                       "older CRL cannot be told from a newer one; have the CA number its CRLs"));
    }
    BignumPtr number(number_asn1 == nullptr ? nullptr
                                            : ASN1_INTEGER_to_BN(number_asn1.get(), nullptr));
    if (number == nullptr || BN_is_negative(number.get())) {
      ERR_clear_error();
      return absl::InvalidArgumentError(absl::StrCat(which, ": malformed CRL Number"));
    }
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_size = 0;
    if (X509_CRL_digest(crl, EVP_sha256(), digest, &digest_size) != 1) {
      return absl::InternalError(absl::StrCat(which, ": ", DrainOpenSslErrors()));
    }
    std::string sha256(reinterpret_cast<const char*>(digest), digest_size);

    Snapshot::IssuerCrl* target = nullptr;
    for (Snapshot::IssuerCrl& existing : snapshot->crls) {
      if (X509_NAME_cmp(existing.issuer.get(), issuer) == 0) target = &existing;
    }
    if (target != nullptr) {
      const int order = BN_cmp(number.get(), target->number.get());
      if (order == 0 && sha256 != target->sha256) {
        return absl::FailedPreconditionError(
            absl::StrCat(which,
                         ": another, different CRL of that issuer in the file has the "
                         "same CRL Number ",
                         target->number_text));
      }
      // The merged list answers for the issuer with its highest number.
      if (order > 0) {
        target->number = std::move(number);
        target->number_text = DecimalText(target->number.get());
        target->sha256 = std::move(sha256);
        target->this_update = *this_update;
      }
    }
    if (target == nullptr) {
      Snapshot::IssuerCrl fresh;
      // dup re-decodes the name, which caches its canonical form: later X509_NAME_cmp calls
      // from concurrent Check()s then only read it.
      fresh.issuer.reset(X509_NAME_dup(issuer));
      if (!fresh.issuer) {
        return absl::InternalError(absl::StrCat(which, ": ", DrainOpenSslErrors()));
      }
      fresh.issuer_text = issuer_text;
      fresh.number = std::move(number);
      fresh.number_text = DecimalText(fresh.number.get());
      fresh.sha256 = std::move(sha256);
      fresh.this_update = *this_update;
      snapshot->crls.push_back(std::move(fresh));
      target = &snapshot->crls.back();
    }

    STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl);
    for (int j = 0; j < sk_X509_REVOKED_num(revoked); ++j) {
      const X509_REVOKED* entry = sk_X509_REVOKED_value(revoked, j);
      if (X509_REVOKED_get_ext_by_NID(entry, NID_certificate_issuer, -1) >= 0) {
        return absl::FailedPreconditionError(
            absl::StrCat(which, ": entry with certificateIssuer (indirect CRL, unsupported)"));
      }
      absl::StatusOr<std::string> serial = SerialHex(X509_REVOKED_get0_serialNumber(entry));
      absl::StatusOr<absl::Time> date = Asn1TimeToTime(X509_REVOKED_get0_revocationDate(entry));
      if (!serial.ok() || !date.ok()) {
        ERR_clear_error();
        return absl::InvalidArgumentError(absl::StrCat(which, ": malformed entry #", j + 1));
      }
      Snapshot::Entry value;
      value.revocation_date = *date;
      int reason_critical = -1;
      Asn1EnumeratedPtr reason(static_cast<ASN1_ENUMERATED*>(
          X509_REVOKED_get_ext_d2i(entry, NID_crl_reason, &reason_critical, nullptr)));
      if (reason != nullptr) value.reason = ReasonName(ASN1_ENUMERATED_get(reason.get()));
      ERR_clear_error();
      // Two CRLs of one issuer listing a serial: keep the earlier date.
      auto [it, inserted] = target->revoked.emplace(*serial, value);
      if (!inserted && value.revocation_date < it->second.revocation_date) it->second = value;
    }
  }
  for (const Snapshot::IssuerCrl& crl : snapshot->crls) {
    snapshot->oldest_this_update = std::min(snapshot->oldest_this_update, crl.this_update);
  }
  return std::make_pair(version, std::shared_ptr<const Snapshot>(std::move(snapshot)));
}

absl::Status RevocationList::ReloadIfChangedLocked() {
  struct stat st;
  if (::stat(crl_file_.c_str(), &st) != 0) {
    return OsError("CRL file: cannot stat", crl_file_, errno);
  }
  FileVersion current;
  current.mtime_ns = Nanoseconds(st.st_mtim);
  current.ctime_ns = Nanoseconds(st.st_ctim);
  current.size = st.st_size;
  current.inode = st.st_ino;
  current.device = st.st_dev;

  if (current == loaded_version_) {
    if (snapshot_->next_update <= clock_.Now()) {
      std::string message =
          absl::StrCat("CRL file ", crl_file_, " expired at ", Rfc3339(snapshot_->next_update),
                       " (nextUpdate) and has not been replaced; still enforcing it");
      if (options_.stale_grace.has_value()) {
        absl::StrAppend(&message, ", and from ",
                        Rfc3339(snapshot_->next_update + *options_.stale_grace),
                        " on (stale grace ", absl::FormatDuration(*options_.stale_grace),
                        ") refusing every certificate it does not revoke");
      }
      return absl::FailedPreconditionError(message);
    }
    return absl::OkStatus();
  }
  if (current == failed_version_) return failed_status_;

  absl::StatusOr<std::pair<FileVersion, std::shared_ptr<const Snapshot>>> loaded = Load();
  absl::Status supersedes = loaded.ok() ? loaded->second->CheckSupersedes(
                                              *snapshot_, absl::StrCat("CRL file ", crl_file_))
                                        : loaded.status();
  if (!supersedes.ok()) {
    failed_version_ = current;
    failed_status_ =
        absl::Status(supersedes.code(),
                     absl::StrCat(supersedes.message(), "; keeping the previously loaded CRLs"));
    return failed_status_;
  }
  loaded_version_ = loaded->first;
  snapshot_ = std::move(loaded->second);
  failed_version_ = FileVersion();
  failed_status_ = absl::OkStatus();
  return absl::OkStatus();
}

absl::Status RevocationList::ReloadIfChanged() {
  absl::MutexLock lock(&mu_);
  next_recheck_ = clock_.Now() + options_.recheck;
  return ReloadIfChangedLocked();
}

absl::Time RevocationList::next_update() const {
  absl::MutexLock lock(&mu_);
  return snapshot_->next_update;
}

absl::Status RevocationList::Check(absl::string_view certificate_pem) {
  if (certificate_pem.size() > kMaxCertificatePemSize) {
    return absl::InvalidArgumentError("peer certificate PEM too large");
  }
  // The gateway has parsed this certificate for its identity already: share that parse.
  absl::StatusOr<std::shared_ptr<const ParsedCertificate>> parsed =
      ParseCertificateCached(certificate_pem);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("peer certificate is not PEM: ", parsed.status().message()));
  }
  X509* cert = (*parsed)->certificate;

  std::shared_ptr<const Snapshot> snapshot;
  absl::Time now;
  {
    absl::MutexLock lock(&mu_);
    now = clock_.Now();
    if (now >= next_recheck_) {
      next_recheck_ = now + options_.recheck;
      // A failure keeps the list in force; ReloadIfChanged() reports it.
      ReloadIfChangedLocked().IgnoreError();
    }
    snapshot = snapshot_;
  }

  const X509_NAME* issuer = X509_get_issuer_name(cert);
  absl::StatusOr<std::string> serial = SerialHex(X509_get0_serialNumber(cert));
  if (!serial.ok()) {
    ERR_clear_error();
    return absl::InvalidArgumentError("peer certificate has a malformed serial number");
  }
  const Snapshot::IssuerCrl* crl = snapshot->Find(issuer);
  // A stale list still proves the revocations it lists: those keep their precise answer.
  if (crl != nullptr) {
    auto it = crl->revoked.find(*serial);
    if (it != crl->revoked.end()) {
      std::map<std::string, std::string> metadata = {
          {"serial", *serial},
          {"revocation_date", Rfc3339(it->second.revocation_date)},
          {"issuer", crl->issuer_text}};
      std::string message =
          absl::StrCat("certificate serial ", *serial, " issued by ", crl->issuer_text,
                       " was revoked at ", metadata["revocation_date"]);
      if (!it->second.reason.empty()) {
        metadata["revocation_reason"] = it->second.reason;
        absl::StrAppend(&message, " (", it->second.reason, ")");
      }
      absl::StrAppend(&message, " according to ", crl_file_);
      return ErrorWithReason(absl::StatusCode::kPermissionDenied, kCertificateRevokedReason,
                             message, metadata);
    }
  }
  if (options_.stale_grace.has_value() && now >= snapshot->next_update + *options_.stale_grace) {
    const std::string next_update = Rfc3339(snapshot->next_update);
    const std::string refused_since = Rfc3339(snapshot->next_update + *options_.stale_grace);
    return ErrorWithReason(
        absl::StatusCode::kPermissionDenied, kRevocationUnknownReason,
        absl::StrCat("the CRLs in force (", crl_file_, ") are stale: their nextUpdate was ",
                     next_update, " and the stale grace of ",
                     absl::FormatDuration(*options_.stale_grace), " ended at ", refused_since,
                     "; certificate serial ", *serial,
                     " cannot be checked until a current CRL is published"),
        {{"serial", *serial}, {"next_update", next_update}, {"refused_since", refused_since}});
  }
  if (crl != nullptr) return absl::OkStatus();
  const std::string issuer_text = NameText(issuer);
  return ErrorWithReason(absl::StatusCode::kPermissionDenied, kRevocationUnknownReason,
                         absl::StrCat("no CRL for the issuer ", issuer_text,
                                      " of certificate serial ", *serial, " in ", crl_file_),
                         {{"serial", *serial}, {"issuer", issuer_text}});
}

void RevocationList::PublishAge() const {
  static Gauge& age = DefaultMetrics().gauge(
      "onceonly_crl_age_seconds",
      "Seconds since the thisUpdate of the oldest CRL in force (the CRL file's age)", {});
  static Gauge& next_update = DefaultMetrics().gauge(
      "onceonly_crl_next_update_seconds",
      "Seconds until the earliest nextUpdate of the CRLs in force; negative once past", {});
  std::shared_ptr<const Snapshot> snapshot;
  {
    absl::MutexLock lock(&mu_);
    snapshot = snapshot_;
  }
  const absl::Time now = clock_.Now();
  age.Set({}, absl::ToDoubleSeconds(now - snapshot->oldest_this_update));
  next_update.Set({}, absl::ToDoubleSeconds(snapshot->next_update - now));
}

}  // namespace onceonly
