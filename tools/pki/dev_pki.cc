#include "tools/pki/dev_pki.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/openssl_ptr.h"
#include "common/output_file.h"
#include "common/status_macros.h"

namespace onceonly {
namespace {

constexpr absl::Duration kBackdate = absl::Hours(1);
constexpr absl::Duration kMaxValidity = absl::Hours(24 * 366 * 100);
constexpr size_t kMaxNameLength = 63;

absl::Status OpenSslError(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", DrainOpenSslErrors()));
}

absl::Status OsError(absl::string_view what, const std::string& path, int error) {
  std::string message = absl::StrCat(what, " ", path, ": ", std::strerror(error));
  switch (error) {
    case ENOENT:
      return absl::NotFoundError(message);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(message);
    case EEXIST:
      return absl::AlreadyExistsError(message);
    default:
      return absl::InternalError(message);
  }
}

// ---------------------------------------------------------------------------------------------
// Input validation.

bool IsIdentifierChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

absl::Status ValidateIdentifier(absl::string_view kind, absl::string_view value) {
  bool ok = !value.empty() && value.size() <= kMaxNameLength && IsIdentifierChar(value[0]);
  for (char c : value) ok = ok && (IsIdentifierChar(c) || c == '-');
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("invalid ", kind, " \"", absl::CHexEscape(value), "\": must match ",
                   "[a-z0-9][a-z0-9-]* and be at most ", kMaxNameLength, " characters"));
}

absl::Status ValidateOptions(const DevPkiOptions& options) {
  bool td_ok = !options.trust_domain.empty() && options.trust_domain.size() <= 255;
  for (char c : options.trust_domain) {
    td_ok = td_ok && (IsIdentifierChar(c) || c == '.' || c == '-' || c == '_');
  }
  if (!td_ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid trust domain \"", absl::CHexEscape(options.trust_domain),
        "\": must be 1-255 characters of lowercase letters, digits, '.', '-' or '_'"));
  }
  for (const std::string& dns : options.server_dns_names) {
    bool dns_ok = !dns.empty() && dns.size() <= 253;
    for (char c : dns) {
      dns_ok = dns_ok && (IsIdentifierChar(c) || (c >= 'A' && c <= 'Z') || c == '.' ||
                          c == '-' || c == '*');
    }
    if (!dns_ok) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid server DNS name \"", absl::CHexEscape(dns), "\""));
    }
  }
  if (options.server_dns_names.empty() && options.server_ips.empty()) {
    return absl::InvalidArgumentError("server certificates need at least one DNS name or IP");
  }
  if (options.validity <= absl::ZeroDuration() || options.validity > kMaxValidity) {
    return absl::InvalidArgumentError(
        absl::StrCat("validity ", absl::FormatDuration(options.validity),
                     " must be positive and at most 100 years"));
  }
  if (options.crl_validity <= absl::ZeroDuration() || options.crl_validity > kMaxValidity) {
    return absl::InvalidArgumentError(
        absl::StrCat("CRL validity ", absl::FormatDuration(options.crl_validity),
                     " must be positive and at most 100 years"));
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// Files.

std::string JoinPath(const std::string& dir, absl::string_view name) {
  return (std::filesystem::path(dir) / std::string(name)).string();
}

absl::Status MakeDirectories(const std::string& dir) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    return absl::InternalError(
        absl::StrCat("cannot create directory ", dir, ": ", error.message()));
  }
  return absl::OkStatus();
}

bool FileExists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

// Keys and certificates are documented to be rewritten (re-issue, `pki init --force`, each
// revocation's CRL): the new file replaces the old one whole, with `mode` whatever the umask.
absl::Status WriteReplacing(const std::string& path, absl::string_view contents, mode_t mode) {
  OutputFileOptions options;
  options.mode = mode;
  options.if_exists = IfExists::kReplace;
  return WriteOutputFile(path, contents, options);
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return OsError("cannot open", path, errno);
  std::string contents((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return absl::InternalError(absl::StrCat("cannot read ", path));
  return contents;
}

// ---------------------------------------------------------------------------------------------
// PEM.

absl::StatusOr<std::string> BioContents(BIO* bio, absl::string_view what) {
  char* data = nullptr;
  long length = BIO_get_mem_data(bio, &data);
  if (length < 0 || data == nullptr) return OpenSslError(what);
  return std::string(data, static_cast<size_t>(length));
}

absl::StatusOr<std::string> CertificateToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) {
    return OpenSslError("cannot encode certificate as PEM");
  }
  return BioContents(bio.get(), "cannot encode certificate as PEM");
}

absl::StatusOr<std::string> PrivateKeyToPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return OpenSslError("cannot encode private key as PEM");
  }
  return BioContents(bio.get(), "cannot encode private key as PEM");
}

absl::StatusOr<std::string> PublicKeyToPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key) != 1) {
    return OpenSslError("cannot encode public key as PEM");
  }
  return BioContents(bio.get(), "cannot encode public key as PEM");
}

absl::StatusOr<X509Ptr> ParseCertificatePem(absl::string_view pem, absl::string_view source) {
  if (pem.size() > static_cast<size_t>(INT32_MAX)) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": certificate too large"));
  }
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return OpenSslError(absl::StrCat(source, ": cannot allocate BIO"));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": not a PEM certificate: ", DrainOpenSslErrors()));
  }
  return cert;
}

absl::StatusOr<X509Ptr> ReadCertificateFile(const std::string& path) {
  ASSIGN_OR_RETURN(std::string pem, ReadFile(path));
  return ParseCertificatePem(pem, path);
}

absl::StatusOr<EvpPkeyPtr> ReadPrivateKeyFile(const std::string& path) {
  ASSIGN_OR_RETURN(std::string pem, ReadFile(path));
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return OpenSslError(absl::StrCat(path, ": cannot allocate BIO"));
  // A null password callback with a null u would prompt on the terminal for encrypted keys;
  // an empty passphrase makes encrypted keys fail instead.
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, const_cast<char*>("")));
  if (!key) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not an unencrypted PEM private key: ", DrainOpenSslErrors()));
  }
  return key;
}

// ---------------------------------------------------------------------------------------------
// Certificates.

absl::StatusOr<EvpPkeyPtr> GenerateP256Key() {
  EvpPkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return OpenSslError("cannot generate ECDSA P-256 key");
  return key;
}

absl::StatusOr<EvpPkeyPtr> GenerateEd25519Key() {
  EvpPkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  if (!key) return OpenSslError("cannot generate Ed25519 key");
  return key;
}

absl::Status SetRandomSerial(X509* cert) {
  BignumPtr serial(BN_new());
  // 128 random bits; retry the (2^-128) zero so the serial is a positive integer (RFC 5280).
  do {
    if (!serial || BN_rand(serial.get(), 128, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1) {
      return OpenSslError("cannot generate serial number");
    }
  } while (BN_is_zero(serial.get()));
  if (BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert)) == nullptr) {
    return OpenSslError("cannot set serial number");
  }
  return absl::OkStatus();
}

absl::Status SetValidity(X509* cert, absl::Duration validity) {
  const time_t now = absl::ToTimeT(absl::Now());
  const int64_t seconds = absl::ToInt64Seconds(validity);
  if (ASN1_TIME_adj(X509_getm_notBefore(cert), now, 0,
                    -static_cast<long>(absl::ToInt64Seconds(kBackdate))) == nullptr ||
      ASN1_TIME_adj(X509_getm_notAfter(cert), now, static_cast<int>(seconds / 86400),
                    static_cast<long>(seconds % 86400)) == nullptr) {
    return OpenSslError("cannot set validity");
  }
  return absl::OkStatus();
}

absl::Status AddNameEntry(X509_NAME* name, const char* field, absl::string_view value) {
  if (X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(value.data()),
                                 static_cast<int>(value.size()), -1, 0) != 1) {
    return OpenSslError(absl::StrCat("cannot set subject ", field, "=", value));
  }
  return absl::OkStatus();
}

// Adds an extension given in openssl.cnf syntax, e.g. "critical,CA:TRUE".
absl::Status AddConfExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509ExtensionPtr extension(X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value));
  if (!extension || X509_add_ext(cert, extension.get(), -1) != 1) {
    return OpenSslError(absl::StrCat("cannot add extension ", OBJ_nid2sn(nid), "=", value));
  }
  return absl::OkStatus();
}

struct SubjectAltNames {
  std::vector<std::string> dns;
  std::vector<std::string> ips;
  std::vector<std::string> uris;
};

absl::Status AddIa5Name(GENERAL_NAMES* names, int type, const std::string& value) {
  ASN1_IA5STRING* ia5 = ASN1_IA5STRING_new();
  GENERAL_NAME* name = GENERAL_NAME_new();
  if (ia5 == nullptr || name == nullptr ||
      ASN1_STRING_set(ia5, value.data(), static_cast<int>(value.size())) != 1) {
    ASN1_IA5STRING_free(ia5);
    GENERAL_NAME_free(name);
    return OpenSslError(absl::StrCat("cannot encode SAN ", value));
  }
  GENERAL_NAME_set0_value(name, type, ia5);
  if (sk_GENERAL_NAME_push(names, name) == 0) {
    GENERAL_NAME_free(name);
    return OpenSslError(absl::StrCat("cannot add SAN ", value));
  }
  return absl::OkStatus();
}

// Builds the SAN extension from typed names rather than an openssl.cnf string, so a value
// containing ',' can never smuggle in an extra name.
absl::Status AddSubjectAltNames(X509* cert, const SubjectAltNames& sans) {
  GeneralNamesPtr names(sk_GENERAL_NAME_new_null());
  if (!names) return OpenSslError("cannot allocate SAN list");
  for (const std::string& dns : sans.dns) RETURN_IF_ERROR(AddIa5Name(names.get(), GEN_DNS, dns));
  for (const std::string& uri : sans.uris) {
    RETURN_IF_ERROR(AddIa5Name(names.get(), GEN_URI, uri));
  }
  for (const std::string& ip : sans.ips) {
    ASN1_OCTET_STRING* address = a2i_IPADDRESS(ip.c_str());
    if (address == nullptr) {
      ERR_clear_error();
      return absl::InvalidArgumentError(
          absl::StrCat("invalid server IP address \"", absl::CHexEscape(ip), "\""));
    }
    GENERAL_NAME* name = GENERAL_NAME_new();
    if (name == nullptr) {
      ASN1_OCTET_STRING_free(address);
      return OpenSslError("cannot allocate SAN");
    }
    GENERAL_NAME_set0_value(name, GEN_IPADD, address);
    if (sk_GENERAL_NAME_push(names.get(), name) == 0) {
      GENERAL_NAME_free(name);
      return OpenSslError(absl::StrCat("cannot add SAN ", ip));
    }
  }
  // Not critical: every certificate here has a non-empty subject.
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_REPLACE) != 1) {
    return OpenSslError("cannot add subjectAltName extension");
  }
  return absl::OkStatus();
}

absl::StatusOr<X509Ptr> NewCertificate(EVP_PKEY* subject_key, absl::Duration validity) {
  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
      X509_set_pubkey(cert.get(), subject_key) != 1) {
    return OpenSslError("cannot create certificate");
  }
  RETURN_IF_ERROR(SetRandomSerial(cert.get()));
  RETURN_IF_ERROR(SetValidity(cert.get(), validity));
  return cert;
}

absl::Status Sign(X509* cert, EVP_PKEY* issuer_key) {
  if (X509_sign(cert, issuer_key, EVP_sha256()) <= 0) {
    return OpenSslError("cannot sign certificate");
  }
  return absl::OkStatus();
}

struct KeyPairPem {
  std::string certificate;
  std::string private_key;
};

absl::StatusOr<std::pair<X509Ptr, EvpPkeyPtr>> CreateCa(const DevPkiOptions& options) {
  ASSIGN_OR_RETURN(EvpPkeyPtr key, GenerateP256Key());
  ASSIGN_OR_RETURN(X509Ptr cert, NewCertificate(key.get(), options.validity));
  X509_NAME* name = X509_get_subject_name(cert.get());
  RETURN_IF_ERROR(AddNameEntry(name, "O", options.trust_domain));
  RETURN_IF_ERROR(AddNameEntry(name, "CN", "onceonly development CA"));
  if (X509_set_issuer_name(cert.get(), name) != 1) return OpenSslError("cannot set CA issuer");
  RETURN_IF_ERROR(AddConfExtension(cert.get(), cert.get(), NID_basic_constraints,
                                   "critical,CA:TRUE,pathlen:0"));
  RETURN_IF_ERROR(
      AddConfExtension(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign"));
  RETURN_IF_ERROR(AddConfExtension(cert.get(), cert.get(), NID_subject_key_identifier, "hash"));
  RETURN_IF_ERROR(Sign(cert.get(), key.get()));
  return std::make_pair(std::move(cert), std::move(key));
}

struct LeafProfile {
  std::string common_name;
  SubjectAltNames sans;
  bool server_auth = false;
};

absl::StatusOr<KeyPairPem> IssueLeaf(X509* ca_cert, EVP_PKEY* ca_key, const LeafProfile& profile,
                                     const DevPkiOptions& options) {
  ASSIGN_OR_RETURN(EvpPkeyPtr key, GenerateP256Key());
  ASSIGN_OR_RETURN(X509Ptr cert, NewCertificate(key.get(), options.validity));
  X509_NAME* name = X509_get_subject_name(cert.get());
  RETURN_IF_ERROR(AddNameEntry(name, "O", options.trust_domain));
  RETURN_IF_ERROR(AddNameEntry(name, "CN", profile.common_name));
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert)) != 1) {
    return OpenSslError("cannot set issuer");
  }
  RETURN_IF_ERROR(
      AddConfExtension(cert.get(), ca_cert, NID_basic_constraints, "critical,CA:FALSE"));
  RETURN_IF_ERROR(AddConfExtension(cert.get(), ca_cert, NID_key_usage,
                                   "critical,digitalSignature,keyAgreement"));
  RETURN_IF_ERROR(AddConfExtension(cert.get(), ca_cert, NID_ext_key_usage,
                                   profile.server_auth ? "serverAuth,clientAuth" : "clientAuth"));
  RETURN_IF_ERROR(AddConfExtension(cert.get(), ca_cert, NID_subject_key_identifier, "hash"));
  RETURN_IF_ERROR(
      AddConfExtension(cert.get(), ca_cert, NID_authority_key_identifier, "keyid:always"));
  RETURN_IF_ERROR(AddSubjectAltNames(cert.get(), profile.sans));
  RETURN_IF_ERROR(Sign(cert.get(), ca_key));
  KeyPairPem pem;
  ASSIGN_OR_RETURN(pem.certificate, CertificateToPem(cert.get()));
  ASSIGN_OR_RETURN(pem.private_key, PrivateKeyToPem(key.get()));
  return pem;
}

LeafProfile ServerProfile(const DevPkiOptions& options, std::string spiffe_path) {
  LeafProfile profile;
  profile.common_name =
      options.server_dns_names.empty() ? options.server_ips.front() : options.server_dns_names[0];
  profile.sans.dns = options.server_dns_names;
  profile.sans.ips = options.server_ips;
  profile.sans.uris = {absl::StrCat("spiffe://", options.trust_domain, "/", spiffe_path)};
  profile.server_auth = true;
  return profile;
}

// Loads dir/ca.crt and dir/ca.key and checks that they belong together and form a CA.
absl::StatusOr<std::pair<X509Ptr, EvpPkeyPtr>> LoadCa(const std::string& dir) {
  const std::string cert_path = JoinPath(dir, "ca.crt");
  const std::string key_path = JoinPath(dir, "ca.key");
  ASSIGN_OR_RETURN(X509Ptr cert, ReadCertificateFile(cert_path));
  ASSIGN_OR_RETURN(EvpPkeyPtr key, ReadPrivateKeyFile(key_path));
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    return absl::FailedPreconditionError(absl::StrCat(
        key_path, " does not match ", cert_path, ": ", DrainOpenSslErrors()));
  }
  if (X509_check_ca(cert.get()) < 1) {
    return absl::FailedPreconditionError(absl::StrCat(cert_path, " is not a CA certificate"));
  }
  return std::make_pair(std::move(cert), std::move(key));
}

// ---------------------------------------------------------------------------------------------
// CRLs.

absl::StatusOr<std::string> CrlToPem(X509_CRL* crl) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509_CRL(bio.get(), crl) != 1) {
    return OpenSslError("cannot encode CRL as PEM");
  }
  return BioContents(bio.get(), "cannot encode CRL as PEM");
}

// A v2 CRL of `ca_cert` listing copies of `entries`, numbered `number`, valid from now for
// options.crl_validity, signed with `ca_key`.
absl::StatusOr<std::string> SignCrl(X509* ca_cert, EVP_PKEY* ca_key,
                                    const std::vector<const X509_REVOKED*>& entries,
                                    const BIGNUM* number, const DevPkiOptions& options) {
  X509CrlPtr crl(X509_CRL_new());
  if (!crl || X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2) != 1 ||
      X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(ca_cert)) != 1) {
    return OpenSslError("cannot create CRL");
  }
  const time_t now = absl::ToTimeT(absl::Now());
  const int64_t seconds = absl::ToInt64Seconds(options.crl_validity);
  Asn1TimePtr this_update(ASN1_TIME_set(nullptr, now));
  Asn1TimePtr next_update(ASN1_TIME_adj(nullptr, now, static_cast<int>(seconds / 86400),
                                        static_cast<long>(seconds % 86400)));
  if (!this_update || !next_update ||
      X509_CRL_set1_lastUpdate(crl.get(), this_update.get()) != 1 ||
      X509_CRL_set1_nextUpdate(crl.get(), next_update.get()) != 1) {
    return OpenSslError("cannot set CRL validity");
  }
  for (const X509_REVOKED* entry : entries) {
    X509RevokedPtr copy(X509_REVOKED_dup(entry));
    if (!copy || X509_CRL_add0_revoked(crl.get(), copy.get()) != 1) {
      return OpenSslError("cannot add CRL entry");
    }
    copy.release();  // Owned by the CRL now.
  }
  Asn1IntegerPtr crl_number(BN_to_ASN1_INTEGER(number, nullptr));
  if (!crl_number ||
      X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, crl_number.get(), 0, 0) != 1) {
    return OpenSslError("cannot set CRL number");
  }
  // Lets verifiers pick the right key if the CA is ever re-keyed under the same name.
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, ca_cert, nullptr, nullptr, crl.get(), 0);
  X509ExtensionPtr akid(
      X509V3_EXT_nconf_nid(nullptr, &ctx, NID_authority_key_identifier, "keyid:always"));
  if (!akid || X509_CRL_add_ext(crl.get(), akid.get(), -1) != 1) {
    return OpenSslError("cannot add authorityKeyIdentifier to CRL");
  }
  if (X509_CRL_sort(crl.get()) != 1 || X509_CRL_sign(crl.get(), ca_key, EVP_sha256()) <= 0) {
    return OpenSslError("cannot sign CRL");
  }
  return CrlToPem(crl.get());
}

absl::StatusOr<X509CrlPtr> ReadCrlFile(const std::string& path, X509* ca_cert) {
  ASSIGN_OR_RETURN(std::string pem, ReadFile(path));
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return OpenSslError(absl::StrCat(path, ": cannot allocate BIO"));
  X509CrlPtr crl(PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr));
  if (!crl) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a PEM CRL: ", DrainOpenSslErrors()));
  }
  if (X509_NAME_cmp(X509_CRL_get_issuer(crl.get()), X509_get_subject_name(ca_cert)) != 0 ||
      X509_CRL_verify(crl.get(), X509_get0_pubkey(ca_cert)) != 1) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, " is not a CRL signed by this PKI's ca.crt: ", DrainOpenSslErrors(),
        "; move it away to start a new CRL"));
  }
  return crl;
}

absl::StatusOr<std::string> WriteLeaf(const std::string& subdir, const std::string& base,
                                      const KeyPairPem& pem) {
  RETURN_IF_ERROR(MakeDirectories(subdir));
  const std::string cert_path = JoinPath(subdir, base + ".crt");
  RETURN_IF_ERROR(WriteReplacing(JoinPath(subdir, base + ".key"), pem.private_key, 0600));
  RETURN_IF_ERROR(WriteReplacing(cert_path, pem.certificate, 0644));
  return cert_path;
}

}  // namespace

absl::Status InitDevPki(const std::string& dir, const DevPkiOptions& options, bool overwrite) {
  ERR_clear_error();
  RETURN_IF_ERROR(ValidateOptions(options));
  // ca.key last: its presence marks a complete PKI, and it is the file the caller asked about.
  const char* const kOutputs[] = {"ca.crt",         "server.crt", "server.key", "checkpoint.pub",
                                  "checkpoint.key", "crl.pem",    "ca.key"};
  if (!overwrite) {
    for (const char* file : {"ca.key", "ca.crt", "server.crt", "server.key", "checkpoint.pub",
                             "checkpoint.key", "crl.pem"}) {
      const std::string path = JoinPath(dir, file);
      if (FileExists(path)) {
        return absl::AlreadyExistsError(
            absl::StrCat(path, " already exists; replace the development PKI only on purpose (onceonly pki init --force)"));
      }
    }
  }

  // Generate everything in memory first, so an OpenSSL failure writes nothing.
  ASSIGN_OR_RETURN(auto ca, CreateCa(options));
  ASSIGN_OR_RETURN(KeyPairPem server, IssueLeaf(ca.first.get(), ca.second.get(),
                                                ServerProfile(options, "gateway"), options));
  ASSIGN_OR_RETURN(EvpPkeyPtr checkpoint, GenerateEd25519Key());

  std::vector<std::string> contents(std::size(kOutputs));
  ASSIGN_OR_RETURN(contents[0], CertificateToPem(ca.first.get()));
  contents[1] = server.certificate;
  contents[2] = server.private_key;
  ASSIGN_OR_RETURN(contents[3], PublicKeyToPem(checkpoint.get()));
  ASSIGN_OR_RETURN(contents[4], PrivateKeyToPem(checkpoint.get()));
  BignumPtr first_crl_number(BN_new());
  if (!first_crl_number || BN_set_word(first_crl_number.get(), 1) != 1) {
    return OpenSslError("cannot set CRL number");
  }
  ASSIGN_OR_RETURN(contents[5], SignCrl(ca.first.get(), ca.second.get(), {},
                                        first_crl_number.get(), options));
  ASSIGN_OR_RETURN(contents[6], PrivateKeyToPem(ca.second.get()));
  const mode_t kModes[] = {0644, 0644, 0600, 0644, 0600, 0644, 0600};
  static_assert(std::size(kModes) == std::size(kOutputs));

  RETURN_IF_ERROR(MakeDirectories(dir));
  for (size_t i = 0; i < std::size(kOutputs); ++i) {
    RETURN_IF_ERROR(WriteReplacing(JoinPath(dir, kOutputs[i]), contents[i], kModes[i]));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> IssueMemberCertificate(const std::string& dir,
                                                   const std::string& member_id,
                                                   const std::string& subsystem,
                                                   const DevPkiOptions& options) {
  ERR_clear_error();
  RETURN_IF_ERROR(ValidateIdentifier("member id", member_id));
  if (!subsystem.empty()) RETURN_IF_ERROR(ValidateIdentifier("subsystem", subsystem));
  RETURN_IF_ERROR(ValidateOptions(options));
  ASSIGN_OR_RETURN(auto ca, LoadCa(dir));

  LeafProfile profile;
  profile.common_name = member_id;
  std::string spiffe_id = absl::StrCat("spiffe://", options.trust_domain, "/member/", member_id);
  std::string base = member_id;
  if (!subsystem.empty()) {
    absl::StrAppend(&spiffe_id, "/", subsystem);
    absl::StrAppend(&base, "-", subsystem);
  }
  profile.sans.uris = {spiffe_id};
  ASSIGN_OR_RETURN(KeyPairPem pem, IssueLeaf(ca.first.get(), ca.second.get(), profile, options));
  return WriteLeaf(JoinPath(dir, "members"), base, pem);
}

absl::StatusOr<std::string> IssueServerCertificate(const std::string& dir, const std::string& name,
                                                   const DevPkiOptions& options) {
  ERR_clear_error();
  RETURN_IF_ERROR(ValidateIdentifier("server name", name));
  RETURN_IF_ERROR(ValidateOptions(options));
  ASSIGN_OR_RETURN(auto ca, LoadCa(dir));
  ASSIGN_OR_RETURN(KeyPairPem pem,
                   IssueLeaf(ca.first.get(), ca.second.get(),
                             ServerProfile(options, absl::StrCat("registry/", name)), options));
  return WriteLeaf(JoinPath(dir, "servers"), name, pem);
}

absl::StatusOr<std::string> RevokeCertificate(const std::string& dir, const std::string& cert_path,
                                              const DevPkiOptions& options) {
  ERR_clear_error();
  RETURN_IF_ERROR(ValidateOptions(options));
  ASSIGN_OR_RETURN(auto ca, LoadCa(dir));
  X509* ca_cert = ca.first.get();
  ASSIGN_OR_RETURN(X509Ptr cert, ReadCertificateFile(cert_path));
  if (X509_NAME_cmp(X509_get_issuer_name(cert.get()), X509_get_subject_name(ca_cert)) != 0 ||
      X509_verify(cert.get(), X509_get0_pubkey(ca_cert)) != 1) {
    ERR_clear_error();
    return absl::FailedPreconditionError(absl::StrCat(
        cert_path, " was not issued by ", JoinPath(dir, "ca.crt"), "; nothing to revoke"));
  }
  const ASN1_INTEGER* serial = X509_get0_serialNumber(cert.get());

  const std::string crl_path = JoinPath(dir, "crl.pem");
  X509CrlPtr previous;
  BignumPtr number(BN_new());
  if (!number) return OpenSslError("cannot allocate CRL number");
  if (FileExists(crl_path)) {
    ASSIGN_OR_RETURN(previous, ReadCrlFile(crl_path, ca_cert));
    int critical = -1;
    Asn1IntegerPtr previous_number(static_cast<ASN1_INTEGER*>(
        X509_CRL_get_ext_d2i(previous.get(), NID_crl_number, &critical, nullptr)));
    if (previous_number && ASN1_INTEGER_to_BN(previous_number.get(), number.get()) == nullptr) {
      return OpenSslError(absl::StrCat(crl_path, ": malformed CRL number"));
    }
    ERR_clear_error();
  }
  if (BN_add_word(number.get(), 1) != 1) return OpenSslError("cannot increment CRL number");

  std::vector<const X509_REVOKED*> entries;
  bool listed = false;
  if (previous) {
    STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(previous.get());
    for (int i = 0; i < sk_X509_REVOKED_num(revoked); ++i) {
      const X509_REVOKED* entry = sk_X509_REVOKED_value(revoked, i);
      listed = listed || ASN1_INTEGER_cmp(X509_REVOKED_get0_serialNumber(entry), serial) == 0;
      entries.push_back(entry);
    }
  }
  X509RevokedPtr added;
  if (!listed) {
    // No reason code: "unspecified" is what an absent reason means (RFC 5280 5.3.1).
    added.reset(X509_REVOKED_new());
    Asn1TimePtr now(ASN1_TIME_set(nullptr, absl::ToTimeT(absl::Now())));
    if (!added || !now || X509_REVOKED_set_serialNumber(added.get(),
                                      const_cast<ASN1_INTEGER*>(serial)) != 1 ||
        X509_REVOKED_set_revocationDate(added.get(), now.get()) != 1) {
      return OpenSslError("cannot create CRL entry");
    }
    entries.push_back(added.get());
  }
  ASSIGN_OR_RETURN(std::string pem, SignCrl(ca_cert, ca.second.get(), entries, number.get(),
                                            options));
  RETURN_IF_ERROR(WriteReplacing(crl_path, pem, 0644));
  return crl_path;
}

}  // namespace onceonly
