#include "common/crl.h"

#include <fcntl.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "common/rich_status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace onceonly {
namespace {

using ::testing::HasSubstr;

struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct CrlFree {
  void operator()(X509_CRL* p) const { X509_CRL_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free_all(p); }
};
struct Asn1TimeFree {
  void operator()(ASN1_TIME* p) const { ASN1_TIME_free(p); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using CrlPtr = std::unique_ptr<X509_CRL, CrlFree>;
using Asn1TimePtr = std::unique_ptr<ASN1_TIME, Asn1TimeFree>;

const absl::Time kStart = absl::FromUnixSeconds(1700000000);  // 2023-11-14T22:13:20Z

Asn1TimePtr ToAsn1(absl::Time t) { return Asn1TimePtr(ASN1_TIME_set(nullptr, absl::ToTimeT(t))); }

template <typename T, int (*Write)(BIO*, const T*)>
std::string ToPem(const T* object) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  EXPECT_EQ(Write(bio.get(), object), 1);
  char* data = nullptr;
  long length = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(length));
}

// A minimal CA for the tests: self-signed, keyCertSign + cRLSign.
struct TestCa {
  PkeyPtr key;
  X509Ptr cert;
  std::string pem;
};

X509Ptr NewCert(EVP_PKEY* subject_key, uint64_t serial, const std::string& cn) {
  X509Ptr cert(X509_new());
  EXPECT_EQ(X509_set_version(cert.get(), X509_VERSION_3), 1);
  EXPECT_EQ(ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert.get()), serial), 1);
  EXPECT_EQ(X509_set_pubkey(cert.get(), subject_key), 1);
  Asn1TimePtr not_before = ToAsn1(kStart - absl::Hours(1));
  Asn1TimePtr not_after = ToAsn1(kStart + absl::Hours(24 * 365));
  EXPECT_EQ(X509_set1_notBefore(cert.get(), not_before.get()), 1);
  EXPECT_EQ(X509_set1_notAfter(cert.get(), not_after.get()), 1);
  X509_NAME* name = X509_get_subject_name(cert.get());
  EXPECT_EQ(
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0),
      1);
  return cert;
}

void AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value);
  ASSERT_NE(ext, nullptr);
  EXPECT_EQ(X509_add_ext(cert, ext, -1), 1);
  X509_EXTENSION_free(ext);
}

TestCa MakeCa(const std::string& cn, const char* key_usage = "critical,keyCertSign,cRLSign") {
  TestCa ca;
  ca.key.reset(EVP_EC_gen("P-256"));
  ca.cert = NewCert(ca.key.get(), 1, cn);
  X509_set_issuer_name(ca.cert.get(), X509_get_subject_name(ca.cert.get()));
  AddExtension(ca.cert.get(), ca.cert.get(), NID_basic_constraints, "critical,CA:TRUE");
  AddExtension(ca.cert.get(), ca.cert.get(), NID_key_usage, key_usage);
  EXPECT_GT(X509_sign(ca.cert.get(), ca.key.get(), EVP_sha256()), 0);
  ca.pem = ToPem<X509, PEM_write_bio_X509>(ca.cert.get());
  return ca;
}

std::string IssueLeaf(const TestCa& ca, uint64_t serial, const std::string& cn) {
  PkeyPtr key(EVP_EC_gen("P-256"));
  X509Ptr cert = NewCert(key.get(), serial, cn);
  X509_set_issuer_name(cert.get(), X509_get_subject_name(ca.cert.get()));
  EXPECT_GT(X509_sign(cert.get(), ca.key.get(), EVP_sha256()), 0);
  return ToPem<X509, PEM_write_bio_X509>(cert.get());
}

struct Revocation {
  uint64_t serial;
  int reason = -1;  // CRL_REASON_*, or -1 for none.
};

constexpr int64_t kNoCrlNumber = -1;

// A v2 CRL naming `issuer`'s subject, signed with `signer` (normally issuer's key), with CRL
// Number `number` (none if kNoCrlNumber).
std::string MakeCrl(const TestCa& issuer, EVP_PKEY* signer,
                    const std::vector<Revocation>& revocations, absl::Time this_update,
                    absl::Time next_update, int64_t number) {
  CrlPtr crl(X509_CRL_new());
  EXPECT_EQ(X509_CRL_set_version(crl.get(), 1), 1);
  EXPECT_EQ(X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(issuer.cert.get())), 1);
  Asn1TimePtr last = ToAsn1(this_update);
  Asn1TimePtr next = ToAsn1(next_update);
  EXPECT_EQ(X509_CRL_set1_lastUpdate(crl.get(), last.get()), 1);
  EXPECT_EQ(X509_CRL_set1_nextUpdate(crl.get(), next.get()), 1);
  for (const Revocation& revocation : revocations) {
    X509_REVOKED* entry = X509_REVOKED_new();
    ASN1_INTEGER* serial = ASN1_INTEGER_new();
    ASN1_INTEGER_set_uint64(serial, revocation.serial);
    EXPECT_EQ(X509_REVOKED_set_serialNumber(entry, serial), 1);
    ASN1_INTEGER_free(serial);
    Asn1TimePtr date = ToAsn1(this_update - absl::Minutes(5));
    EXPECT_EQ(X509_REVOKED_set_revocationDate(entry, date.get()), 1);
    if (revocation.reason >= 0) {
      ASN1_ENUMERATED* reason = ASN1_ENUMERATED_new();
      ASN1_ENUMERATED_set(reason, revocation.reason);
      EXPECT_EQ(X509_REVOKED_add1_ext_i2d(entry, NID_crl_reason, reason, 0, 0), 1);
      ASN1_ENUMERATED_free(reason);
    }
    EXPECT_EQ(X509_CRL_add0_revoked(crl.get(), entry), 1);
  }
  if (number != kNoCrlNumber) {
    ASN1_INTEGER* crl_number = ASN1_INTEGER_new();
    EXPECT_EQ(ASN1_INTEGER_set_int64(crl_number, number), 1);
    EXPECT_EQ(X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, crl_number, 0, 0), 1);
    ASN1_INTEGER_free(crl_number);
  }
  EXPECT_EQ(X509_CRL_sort(crl.get()), 1);
  EXPECT_GT(X509_CRL_sign(crl.get(), signer, EVP_sha256()), 0);
  return ToPem<X509_CRL, PEM_write_bio_X509_CRL>(crl.get());
}

constexpr uint64_t kFirstSerial = 0x0A1B2C3D4E5F6071;
constexpr uint64_t kSecondSerial = 0x42;

class RevocationListTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = ::testing::TempDir() + "crl_test.XXXXXX";
    ASSERT_NE(::mkdtemp(templ.data()), nullptr);
    dir_ = templ;
    crl_path_ = dir_ + "/crl.pem";
    ca_path_ = dir_ + "/ca.crt";
    ca_ = MakeCa("Test CA");
    first_ = IssueLeaf(ca_, kFirstSerial, "first");
    second_ = IssueLeaf(ca_, kSecondSerial, "second");
    Write(ca_path_, ca_.pem);
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  // Like a CA publishing a CRL: a new file renamed over the old one. Each version gets its own
  // mtime: file-system timestamps are coarse (a few ms) and a freed inode number may be reused
  // at once, so two quick writes of equal size could otherwise look like one version.
  void Write(const std::string& path, const std::string& contents) {
    const std::string temp = path + ".tmp";
    {
      std::ofstream out(temp, std::ios::binary | std::ios::trunc);
      out << contents;
      ASSERT_TRUE(out.good());
    }
    struct timespec times[2];
    times[0].tv_sec = times[1].tv_sec = 1600000000 + ++writes_;
    times[0].tv_nsec = times[1].tv_nsec = 0;
    ASSERT_EQ(::utimensat(AT_FDCWD, temp.c_str(), times, 0), 0);
    ASSERT_EQ(std::rename(temp.c_str(), path.c_str()), 0);
  }

  // The CA's next CRL: numbered one above the last.
  std::string Crl(const std::vector<Revocation>& revocations,
                  absl::Duration validity = absl::Hours(24)) {
    return MakeCrl(ca_, ca_.key.get(), revocations, clock_.Now(), clock_.Now() + validity,
                   ++crl_number_);
  }

  std::unique_ptr<RevocationList> OpenOrDie(RevocationListOptions options) {
    absl::StatusOr<std::unique_ptr<RevocationList>> list =
        RevocationList::Open(crl_path_, ca_path_, clock_, options);
    EXPECT_TRUE(list.ok()) << list.status();
    return list.ok() ? std::move(*list) : nullptr;
  }

  std::unique_ptr<RevocationList> OpenOrDie() { return OpenOrDie(RevocationListOptions()); }

  FakeClock clock_{kStart};
  std::string dir_, crl_path_, ca_path_;
  TestCa ca_;
  std::string first_, second_;
  int writes_ = 0;
  int64_t crl_number_ = 0;
};

TEST_F(RevocationListTest, RevokedCertificateIsRefusedOthersPass) {
  Write(crl_path_, Crl({{kFirstSerial, CRL_REASON_KEY_COMPROMISE}}));
  std::unique_ptr<RevocationList> list = OpenOrDie();
  ASSERT_NE(list, nullptr);

  absl::Status status = list->Check(first_);
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied) << status;
  EXPECT_EQ(ErrorReason(status), "CERTIFICATE_REVOKED");
  EXPECT_EQ(ErrorMetadata(status, "serial"), "0A1B2C3D4E5F6071");
  EXPECT_EQ(ErrorMetadata(status, "revocation_date"), "2023-11-14T22:08:20Z");
  EXPECT_EQ(ErrorMetadata(status, "revocation_reason"), "keyCompromise");
  EXPECT_EQ(ErrorMetadata(status, "issuer"), "CN=Test CA");
  EXPECT_THAT(std::string(status.message()), HasSubstr("0A1B2C3D4E5F6071"));
  EXPECT_THAT(std::string(status.message()), HasSubstr(crl_path_));

  EXPECT_TRUE(list->Check(second_).ok()) << list->Check(second_);
  EXPECT_EQ(list->next_update(), kStart + absl::Hours(24));
  EXPECT_TRUE(list->ReloadIfChanged().ok());
}

TEST_F(RevocationListTest, SameSerialFromAnotherIssuerIsNotRevoked) {
  Write(crl_path_, Crl({{kFirstSerial}}));
  std::unique_ptr<RevocationList> list = OpenOrDie();
  ASSERT_NE(list, nullptr);
  TestCa other = MakeCa("Other CA");
  absl::Status status = list->Check(IssueLeaf(other, kFirstSerial, "first"));
  // Not CERTIFICATE_REVOKED (issuer differs), but fail-closed: no CRL covers that issuer.
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied) << status;
  EXPECT_EQ(ErrorReason(status), "CERTIFICATE_REVOCATION_UNKNOWN");
  EXPECT_EQ(ErrorMetadata(status, "issuer"), "CN=Other CA");
}

TEST_F(RevocationListTest, SeveralCasAndCrlsInOneFile) {
  TestCa other = MakeCa("Other CA");
  Write(ca_path_, ca_.pem + other.pem);
  Write(crl_path_, Crl({{kFirstSerial}}) + MakeCrl(other, other.key.get(), {{kSecondSerial}},
                                                   kStart, kStart + absl::Hours(2), 1));
  std::unique_ptr<RevocationList> list = OpenOrDie();
  ASSERT_NE(list, nullptr);
  EXPECT_EQ(ErrorReason(list->Check(first_)), "CERTIFICATE_REVOKED");
  EXPECT_TRUE(list->Check(second_).ok());
  EXPECT_EQ(ErrorReason(list->Check(IssueLeaf(other, kSecondSerial, "x"))), "CERTIFICATE_REVOKED");
  EXPECT_TRUE(list->Check(IssueLeaf(other, kFirstSerial, "y")).ok());
  EXPECT_EQ(list->next_update(), kStart + absl::Hours(2));
}

TEST_F(RevocationListTest, CrlNotSignedByTheCaIsRejectedAtOpen) {
  // Same issuer name, different key: only the signature tells them apart.
  TestCa impostor = MakeCa("Test CA");
  Write(crl_path_, MakeCrl(ca_, impostor.key.get(), {}, kStart, kStart + absl::Hours(1), 1));
  absl::StatusOr<std::unique_ptr<RevocationList>> list =
      RevocationList::Open(crl_path_, ca_path_, clock_);
  EXPECT_EQ(list.status().code(), absl::StatusCode::kFailedPrecondition) << list.status();
  EXPECT_THAT(std::string(list.status().message()), HasSubstr(crl_path_));
  EXPECT_THAT(std::string(list.status().message()), HasSubstr("signature"));

  // A CRL of a CA that is not in the CA file.
  Write(crl_path_,
        MakeCrl(MakeCa("Other CA"), impostor.key.get(), {}, kStart, kStart + absl::Hours(1), 1));
  list = RevocationList::Open(crl_path_, ca_path_, clock_);
  EXPECT_EQ(list.status().code(), absl::StatusCode::kFailedPrecondition) << list.status();
  EXPECT_THAT(std::string(list.status().message()), HasSubstr("CN=Other CA"));
}

TEST_F(RevocationListTest, CaWithoutCrlSignKeyUsageIsNotTrustedForCrls) {
  TestCa no_crl_sign = MakeCa("Test CA", "critical,keyCertSign");
  Write(ca_path_, no_crl_sign.pem);
  Write(crl_path_,
        MakeCrl(no_crl_sign, no_crl_sign.key.get(), {}, kStart, kStart + absl::Hours(1), 1));
  absl::StatusOr<std::unique_ptr<RevocationList>> list =
      RevocationList::Open(crl_path_, ca_path_, clock_);
  EXPECT_EQ(list.status().code(), absl::StatusCode::kFailedPrecondition) << list.status();
}

TEST_F(RevocationListTest, ReloadsAReplacedFileAfterTheRecheckInterval) {
  Write(crl_path_, Crl({{kFirstSerial}}));
  std::unique_ptr<RevocationList> list = OpenOrDie();
  ASSERT_NE(list, nullptr);
  ASSERT_FALSE(list->Check(first_).ok());
  ASSERT_TRUE(list->Check(second_).ok());

  Write(crl_path_, Crl({{kFirstSerial}, {kSecondSerial}}));
  // Within the interval the file is not even looked at.
  clock_.Advance(absl::Milliseconds(999));
  EXPECT_TRUE(list->Check(second_).ok());
  clock_.Advance(absl::Milliseconds(1));
  absl::Status status = list->Check(second_);
  EXPECT_EQ(ErrorReason(status), "CERTIFICATE_REVOKED") << status;
  EXPECT_EQ(ErrorMetadata(status, "serial"), "42");
  EXPECT_EQ(ErrorReason(list->Check(first_)), "CERTIFICATE_REVOKED");
  EXPECT_TRUE(list->ReloadIfChanged().ok());

  // Un-revoking (e.g. a certificateHold lifted) takes effect the same way.
  Write(crl_path_, Crl({{kSecondSerial}}));
  clock_.Advance(absl::Seconds(1));
  EXPECT_TRUE(list->Check(first_).ok());
}

TEST_F(RevocationListTest, ReloadIfChangedIgnoresTheInterval) {
  Write(crl_path_, Crl({}));
  std::unique_ptr<RevocationList> list = OpenOrDie();
  ASSERT_NE(list, nullptr);
  Write(crl_path_, Crl({{kSecondSerial}}));
  EXPECT_TRUE(list->ReloadIfChanged().ok());
  EXPECT_EQ(ErrorReason(list->Check(second_)), "CERTIFICATE_REVOKED");
}

TEST_F(RevocationListTest, GarbageKeepsThePreviousListInForce) {
  Write(crl_path_, Crl({{kFirstSerial}}));
  std::unique_ptr<RevocationList> list = OpenOrDie();
  ASSERT_NE(list, nullptr);

  Write(crl_path_, "-----BEGIN X509 CRL-----\nnot base64 at all\n-----END X509 CRL-----\n");
  absl::Status status = list->ReloadIfChanged();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr(crl_path_));
  EXPECT_EQ(ErrorReason(list->Check(first_)), "CERTIFICATE_REVOKED");
  EXPECT_TRUE(list->Check(second_).ok());
  // Still reported while the file stays broken, and Check() keeps enforcing the old list.
  clock_.Advance(absl::Seconds(5));
  EXPECT_EQ(ErrorReason(list->Check(first_)), "CERTIFICATE_REVOKED");
  EXPECT_EQ(list->ReloadIfChanged().code(), absl::StatusCode::kInvalidArgument);

  Write(crl_path_, "plain text, no PEM at all\n");
  EXPECT_EQ(list->ReloadIfChanged().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorReason(list->Check(first_)), "CERTIFICATE_REVOKED");

  // A vanished file is an error too, not an empty list.
  ASSERT_EQ(std::remove(crl_path_.c_str()), 0);
  EXPECT_EQ(list->ReloadIfChanged().code(), absl::StatusCode::kNotFound);
  clock_.Advance(absl::Seconds(5));
  EXPECT_EQ(ErrorReason(list->Check(first_)), "CERTIFICATE_REVOKED");

  // A good file again is picked up.
  Write(crl_path_, Crl({{kSecondSerial}}));
  EXPECT_TRUE(list->ReloadIfChanged().ok());
  EXPECT_TRUE(list->Check(first_).ok());
  EXPECT_EQ(ErrorReason(list->Check(second_)), "CERTIFICATE_REVOKED");
}

TEST_F(RevocationListTest, BadSignatureOnReloadKeepsThePreviousList) {
  Write(crl_path_, Crl({{kFirstSerial}}));
  std::unique_ptr<RevocationList> list = OpenOrDie();
  ASSERT_NE(list, nullptr);
  TestCa impostor = MakeCa("Test CA");
  // An attacker who can write the file still cannot un-revoke, whatever number it claims.
  Write(crl_path_, MakeCrl(ca_, impostor.key.get(), {}, kStart, kStart + absl::Hours(1), 1000));
  clock_.Advance(absl::Seconds(2));
  EXPECT_EQ(ErrorReason(list->Check(first_)), "CERTIFICATE_REVOKED");
  EXPECT_EQ(list->ReloadIfChanged().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(RevocationListTest, ExpiredCrl) {
  Write(crl_path_, MakeCrl(ca_, ca_.key.get(), {{kFirstSerial}}, kStart - absl::Hours(2),
                           kStart - absl::Seconds(1), ++crl_number_));
  absl::StatusOr<std::unique_ptr<RevocationList>> opened =
      RevocationList::Open(crl_path_, ca_path_, clock_);
  EXPECT_EQ(opened.status().code(), absl::StatusCode::kFailedPrecondition) << opened.status();
  EXPECT_THAT(std::string(opened.status().message()), HasSubstr("expired"));
  EXPECT_THAT(std::string(opened.status().message()), HasSubstr(crl_path_));

  Write(crl_path_, Crl({{kFirstSerial}}, absl::Hours(1)));
  std::unique_ptr<RevocationList> list = OpenOrDie();
  ASSERT_NE(list, nullptr);

  // A newly published file that is already expired is refused.
  clock_.Advance(absl::Minutes(10));
  Write(crl_path_, MakeCrl(ca_, ca_.key.get(), {}, clock_.Now() - absl::Hours(2),
                           clock_.Now() - absl::Hours(1), ++crl_number_));
  absl::Status status = list->ReloadIfChanged();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("expired"));
  EXPECT_EQ(ErrorReason(list->Check(first_)), "CERTIFICATE_REVOKED");

  // The list in force outliving its nextUpdate is reported, and still enforced.
  Write(crl_path_, Crl({{kFirstSerial}}, absl::Hours(1)));
  ASSERT_TRUE(list->ReloadIfChanged().ok());
  clock_.Advance(absl::Hours(1));
  status = list->ReloadIfChanged();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("expired"));
  EXPECT_EQ(ErrorReason(list->Check(first_)), "CERTIFICATE_REVOKED");
  EXPECT_TRUE(list->Check(second_).ok());
}

// The value of an unlabelled gauge in a scrape of DefaultMetrics(), or NaN if absent.
double ScrapedGauge(const std::string& name) {
  const std::string text = DefaultMetrics().Render();
  const std::string prefix = "\n" + name + " ";
  const size_t at = text.find(prefix);
  if (at == std::string::npos) return std::nan("");
  return std::strtod(text.c_str() + at + prefix.size(), nullptr);
}

TEST_F(RevocationListTest, OlderCrlNumberIsRefusedAndTheRevocationStays) {
  const std::string old_crl = Crl({});      // number 1: before the revocation
  Write(crl_path_, Crl({{kFirstSerial}}));  // number 2
  std::unique_ptr<RevocationList> list = OpenOrDie();
  ASSERT_NE(list, nullptr);
  ASSERT_EQ(ErrorReason(list->Check(first_)), "CERTIFICATE_REVOKED");

  // Someone who can write the file puts back the older, validly signed CRL.
  Write(crl_path_, old_crl);
  clock_.Advance(absl::Seconds(2));
  EXPECT_EQ(ErrorReason(list->Check(first_)), "CERTIFICATE_REVOKED");
  absl::Status status = list->ReloadIfChanged();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr(crl_path_));
  EXPECT_THAT(std::string(status.message()), HasSubstr("CN=Test CA"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("CRL Number 1, below the CRL Number 2"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("keeping the previously loaded CRLs"));
  EXPECT_EQ(ErrorReason(list->Check(first_)), "CERTIFICATE_REVOKED");
  EXPECT_TRUE(list->Check(second_).ok());
}

TEST_F(RevocationListTest, EqualCrlNumberOnADifferentCrlIsRefused) {
  Write(crl_path_,
        MakeCrl(ca_, ca_.key.get(), {{kFirstSerial}}, kStart, kStart + absl::Hours(24), 7));
  std::unique_ptr<RevocationList> list = OpenOrDie();
  ASSERT_NE(list, nullptr);

  // Same number, fewer entries, later dates: not a CRL the CA could have published after.
  clock_.Advance(absl::Minutes(1));
  Write(crl_path_,
        MakeCrl(ca_, ca_.key.get(), {}, clock_.Now(), clock_.Now() + absl::Hours(24), 7));
  absl::Status status = list->ReloadIfChanged();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr(crl_path_));
  EXPECT_THAT(std::string(status.message()), HasSubstr("CN=Test CA"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("CRL Number 7, the number of the CRL in"));
  EXPECT_EQ(ErrorReason(list->Check(first_)), "CERTIFICATE_REVOKED");
  EXPECT_EQ(list->next_update(), kStart + absl::Hours(24));
}

TEST_F(RevocationListTest, TheSameCrlPublishedAgainIsAccepted) {
  const std::string crl = Crl({{kFirstSerial}});
  Write(crl_path_, crl);
  std::unique_ptr<RevocationList> list = OpenOrDie();
  ASSERT_NE(list, nullptr);
  Write(crl_path_, crl);  // e.g. a sync job copying the file again: a new inode and mtime
  EXPECT_TRUE(list->ReloadIfChanged().ok());

  // One CA's unchanged CRL beside another CA's new one, in one file.
  TestCa other = MakeCa("Other CA");
  Write(ca_path_, ca_.pem + other.pem);
  list = OpenOrDie();
  ASSERT_NE(list, nullptr);
  Write(crl_path_, crl + MakeCrl(other, other.key.get(), {{kSecondSerial}}, kStart,
                                 kStart + absl::Hours(2), 1));
  EXPECT_TRUE(list->ReloadIfChanged().ok());
  EXPECT_EQ(ErrorReason(list->Check(first_)), "CERTIFICATE_REVOKED");
  EXPECT_EQ(ErrorReason(list->Check(IssueLeaf(other, kSecondSerial, "x"))), "CERTIFICATE_REVOKED");
}

TEST_F(RevocationListTest, HigherCrlNumberIsAcceptedAndMayLiftAHold) {
  Write(crl_path_, MakeCrl(ca_, ca_.key.get(), {{kFirstSerial, CRL_REASON_CERTIFICATE_HOLD}},
                           kStart, kStart + absl::Hours(24), 41));
  std::unique_ptr<RevocationList> list = OpenOrDie();
  ASSERT_NE(list, nullptr);
  ASSERT_EQ(ErrorReason(list->Check(first_)), "CERTIFICATE_REVOKED");
  // Numbers compare as integers, not as text: 100 is above 41.
  Write(crl_path_,
        MakeCrl(ca_, ca_.key.get(), {{kSecondSerial}}, kStart, kStart + absl::Hours(24), 100));
  EXPECT_TRUE(list->ReloadIfChanged().ok());
  EXPECT_TRUE(list->Check(first_).ok());
  EXPECT_EQ(ErrorReason(list->Check(second_)), "CERTIFICATE_REVOKED");
  // And the new number is the one a later file must exceed.
  Write(crl_path_, MakeCrl(ca_, ca_.key.get(), {}, kStart, kStart + absl::Hours(24), 99));
  EXPECT_EQ(list->ReloadIfChanged().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ErrorReason(list->Check(second_)), "CERTIFICATE_REVOKED");
}

TEST_F(RevocationListTest, CrlWithoutANumberIsRefused) {
  Write(crl_path_, MakeCrl(ca_, ca_.key.get(), {}, kStart, kStart + absl::Hours(24), kNoCrlNumber));
  absl::StatusOr<std::unique_ptr<RevocationList>> opened =
      RevocationList::Open(crl_path_, ca_path_, clock_);
  EXPECT_EQ(opened.status().code(), absl::StatusCode::kFailedPrecondition) << opened.status();
  EXPECT_THAT(std::string(opened.status().message()), HasSubstr(crl_path_));
  EXPECT_THAT(std::string(opened.status().message()), HasSubstr("has no CRL Number"));

  Write(crl_path_, Crl({{kFirstSerial}}));
  std::unique_ptr<RevocationList> list = OpenOrDie();
  ASSERT_NE(list, nullptr);
  Write(crl_path_, MakeCrl(ca_, ca_.key.get(), {}, kStart, kStart + absl::Hours(24), kNoCrlNumber));
  absl::Status status = list->ReloadIfChanged();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("has no CRL Number"));
  EXPECT_EQ(ErrorReason(list->Check(first_)), "CERTIFICATE_REVOKED");
}

TEST_F(RevocationListTest, TwoDifferentCrlsWithOneNumberInAFileAreRefused) {
  Write(crl_path_,
        MakeCrl(ca_, ca_.key.get(), {{kFirstSerial}}, kStart, kStart + absl::Hours(24), 3) +
            MakeCrl(ca_, ca_.key.get(), {}, kStart, kStart + absl::Hours(24), 3));
  absl::StatusOr<std::unique_ptr<RevocationList>> opened =
      RevocationList::Open(crl_path_, ca_path_, clock_);
  EXPECT_EQ(opened.status().code(), absl::StatusCode::kFailedPrecondition) << opened.status();
  EXPECT_THAT(std::string(opened.status().message()), HasSubstr("same CRL Number 3"));
}

TEST_F(RevocationListTest, StaleListFailsClosedAfterTheGrace) {
  Write(crl_path_, Crl({{kFirstSerial}}, absl::Hours(1)));  // nextUpdate kStart + 1h
  RevocationListOptions options;
  options.stale_grace = absl::Minutes(30);
  std::unique_ptr<RevocationList> list = OpenOrDie(options);
  ASSERT_NE(list, nullptr);

  // Past nextUpdate but within the grace: as without the option.
  clock_.Set(kStart + absl::Hours(1) + absl::Minutes(30) - absl::Seconds(1));
  EXPECT_TRUE(list->Check(second_).ok()) << list->Check(second_);
  EXPECT_EQ(ErrorReason(list->Check(first_)), "CERTIFICATE_REVOKED");
  absl::Status reload = list->ReloadIfChanged();
  EXPECT_EQ(reload.code(), absl::StatusCode::kFailedPrecondition) << reload;
  EXPECT_THAT(std::string(reload.message()), HasSubstr("2023-11-14T23:43:20Z"));

  // From nextUpdate + grace on, nobody passes; the revoked certificate is still told so.
  clock_.Set(kStart + absl::Hours(1) + absl::Minutes(30));
  absl::Status status = list->Check(second_);
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied) << status;
  EXPECT_EQ(ErrorReason(status), "CERTIFICATE_REVOCATION_UNKNOWN");
  EXPECT_EQ(ErrorMetadata(status, "next_update"), "2023-11-14T23:13:20Z");
  EXPECT_EQ(ErrorMetadata(status, "refused_since"), "2023-11-14T23:43:20Z");
  EXPECT_EQ(ErrorMetadata(status, "serial"), "42");
  EXPECT_THAT(std::string(status.message()), HasSubstr("stale"));
  EXPECT_THAT(std::string(status.message()), HasSubstr(crl_path_));
  EXPECT_EQ(ErrorReason(list->Check(first_)), "CERTIFICATE_REVOKED");
  TestCa other = MakeCa("Other CA");
  EXPECT_EQ(ErrorReason(list->Check(IssueLeaf(other, 9, "x"))), "CERTIFICATE_REVOCATION_UNKNOWN");

  // A current CRL ends it.
  Write(crl_path_, Crl({{kFirstSerial}}, absl::Hours(1)));
  clock_.Advance(absl::Seconds(1));
  EXPECT_TRUE(list->Check(second_).ok()) << list->Check(second_);
  EXPECT_TRUE(list->ReloadIfChanged().ok());
}

TEST_F(RevocationListTest, ZeroGraceFailsClosedAtNextUpdate) {
  Write(crl_path_, Crl({}, absl::Hours(1)));
  RevocationListOptions options;
  options.stale_grace = absl::ZeroDuration();
  std::unique_ptr<RevocationList> list = OpenOrDie(options);
  ASSERT_NE(list, nullptr);
  clock_.Set(kStart + absl::Hours(1) - absl::Nanoseconds(1));
  EXPECT_TRUE(list->Check(second_).ok());
  clock_.Set(kStart + absl::Hours(1));
  EXPECT_EQ(ErrorReason(list->Check(second_)), "CERTIFICATE_REVOCATION_UNKNOWN");
}

TEST_F(RevocationListTest, WithoutTheGraceOptionAStaleListIsStillEnforcedAsItIs) {
  Write(crl_path_, Crl({{kFirstSerial}}, absl::Hours(1)));
  std::unique_ptr<RevocationList> list = OpenOrDie();
  ASSERT_NE(list, nullptr);
  clock_.Set(kStart + absl::Hours(24 * 365));
  EXPECT_TRUE(list->Check(second_).ok()) << list->Check(second_);
  EXPECT_EQ(ErrorReason(list->Check(first_)), "CERTIFICATE_REVOKED");
  EXPECT_EQ(list->ReloadIfChanged().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(RevocationListTest, NegativeOptionsAreRefused) {
  Write(crl_path_, Crl({}));
  RevocationListOptions options;
  options.stale_grace = absl::Seconds(-1);
  absl::StatusOr<std::unique_ptr<RevocationList>> opened =
      RevocationList::Open(crl_path_, ca_path_, clock_, options);
  EXPECT_EQ(opened.status().code(), absl::StatusCode::kInvalidArgument) << opened.status();
  EXPECT_THAT(std::string(opened.status().message()), HasSubstr("stale grace"));
  options = RevocationListOptions();
  options.recheck = absl::Seconds(-1);
  opened = RevocationList::Open(crl_path_, ca_path_, clock_, options);
  EXPECT_EQ(opened.status().code(), absl::StatusCode::kInvalidArgument) << opened.status();
}

TEST_F(RevocationListTest, AgeGaugesAreCurrentAtEveryScrape) {
  TestCa other = MakeCa("Other CA");
  Write(ca_path_, ca_.pem + other.pem);
  // Two issuers: the age is the oldest thisUpdate's, the time left the earliest nextUpdate's.
  Write(crl_path_,
        Crl({}, absl::Hours(24)) + MakeCrl(other, other.key.get(), {}, kStart - absl::Hours(3),
                                           kStart + absl::Hours(2), 1));
  std::unique_ptr<RevocationList> list = OpenOrDie();
  ASSERT_NE(list, nullptr);
  EXPECT_EQ(ScrapedGauge("onceonly_crl_age_seconds"), 3 * 3600);
  EXPECT_EQ(ScrapedGauge("onceonly_crl_next_update_seconds"), 2 * 3600);

  // No call and no reload in between: the scrape alone brings them up to date.
  clock_.Advance(absl::Hours(2) + absl::Seconds(30));
  EXPECT_EQ(ScrapedGauge("onceonly_crl_age_seconds"), 5 * 3600 + 30);
  EXPECT_EQ(ScrapedGauge("onceonly_crl_next_update_seconds"), -30);

  // A new file resets them.
  Write(crl_path_, Crl({}, absl::Hours(24)));
  ASSERT_TRUE(list->ReloadIfChanged().ok());
  EXPECT_EQ(ScrapedGauge("onceonly_crl_age_seconds"), 0);
  EXPECT_EQ(ScrapedGauge("onceonly_crl_next_update_seconds"), 24 * 3600);
}

TEST_F(RevocationListTest, OpenErrorsNameTheFile) {
  absl::StatusOr<std::unique_ptr<RevocationList>> list =
      RevocationList::Open(crl_path_, ca_path_, clock_);
  EXPECT_EQ(list.status().code(), absl::StatusCode::kNotFound) << list.status();
  EXPECT_THAT(std::string(list.status().message()), HasSubstr(crl_path_));

  Write(crl_path_, "");
  list = RevocationList::Open(crl_path_, ca_path_, clock_);
  EXPECT_EQ(list.status().code(), absl::StatusCode::kInvalidArgument) << list.status();
  EXPECT_THAT(std::string(list.status().message()), HasSubstr(crl_path_));

  Write(crl_path_, Crl({}));
  Write(ca_path_, "not a certificate");
  list = RevocationList::Open(crl_path_, ca_path_, clock_);
  EXPECT_EQ(list.status().code(), absl::StatusCode::kInvalidArgument) << list.status();
  EXPECT_THAT(std::string(list.status().message()), HasSubstr(ca_path_));
}

TEST_F(RevocationListTest, UnparsablePeerCertificate) {
  Write(crl_path_, Crl({}));
  std::unique_ptr<RevocationList> list = OpenOrDie();
  ASSERT_NE(list, nullptr);
  EXPECT_EQ(list->Check("").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(list->Check("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace onceonly
