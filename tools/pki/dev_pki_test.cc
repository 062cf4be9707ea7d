#include "tools/pki/dev_pki.h"

#include "common/crl.h"
#include "common/rich_status.h"
#include "common/tls.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace onceonly {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct StoreFree {
  void operator()(X509_STORE* p) const { X509_STORE_free(p); }
};
struct StoreCtxFree {
  void operator()(X509_STORE_CTX* p) const { X509_STORE_CTX_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free_all(p); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << path;
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::unique_ptr<BIO, BioFree> MemBio(const std::string& data) {
  return std::unique_ptr<BIO, BioFree>(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

X509Ptr LoadCert(const std::string& path) {
  std::string pem = ReadFile(path);
  auto bio = MemBio(pem);
  return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

PkeyPtr LoadPrivateKey(const std::string& path) {
  std::string pem = ReadFile(path);
  auto bio = MemBio(pem);
  return PkeyPtr(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
}

PkeyPtr LoadPublicKey(const std::string& path) {
  std::string pem = ReadFile(path);
  auto bio = MemBio(pem);
  return PkeyPtr(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
}

// Verifies `leaf` against the single trust anchor `ca` for the given X509_PURPOSE_*. Returns
// the X509_V_* result (X509_V_OK on success).
int Verify(X509* ca, X509* leaf, int purpose) {
  std::unique_ptr<X509_STORE, StoreFree> store(X509_STORE_new());
  EXPECT_EQ(X509_STORE_add_cert(store.get(), ca), 1);
  std::unique_ptr<X509_STORE_CTX, StoreCtxFree> ctx(X509_STORE_CTX_new());
  EXPECT_EQ(X509_STORE_CTX_init(ctx.get(), store.get(), leaf, nullptr), 1);
  EXPECT_EQ(X509_STORE_CTX_set_purpose(ctx.get(), purpose), 1);
  int ok = X509_verify_cert(ctx.get());
  int error = X509_STORE_CTX_get_error(ctx.get());
  ERR_clear_error();
  if (ok == 1) {
    EXPECT_EQ(error, X509_V_OK);
  }
  return ok == 1 ? X509_V_OK : (error == X509_V_OK ? -1 : error);
}

mode_t FileMode(const std::string& path) {
  struct stat st;
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

class DevPkiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = ::testing::TempDir() + "dev_pki_test.XXXXXX";
    ASSERT_NE(::mkdtemp(templ.data()), nullptr);
    root_ = templ;
    dir_ = root_ + "/pki";  // Does not exist yet: InitDevPki must create it.
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(root_, ignored);
  }

  std::string root_;
  std::string dir_;
  DevPkiOptions options_;
};

TEST_F(DevPkiTest, InitCreatesAllFiles) {
  ASSERT_TRUE(InitDevPki(dir_, options_).ok());
  for (const char* file : {"ca.crt", "ca.key", "server.crt", "server.key", "checkpoint.key",
                           "checkpoint.pub", "crl.pem"}) {
    EXPECT_TRUE(std::filesystem::is_regular_file(dir_ + "/" + file)) << file;
  }
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    EXPECT_EQ(entry.path().filename().string().find(".partial-"), std::string::npos)
        << "a temporary left behind: " << entry.path();
  }
  X509Ptr ca = LoadCert(dir_ + "/ca.crt");
  ASSERT_NE(ca, nullptr);
  EXPECT_EQ(X509_check_ca(ca.get()), 1);
  EXPECT_EQ(X509_get_extension_flags(ca.get()) & EXFLAG_SS, static_cast<uint32_t>(EXFLAG_SS));
  EXPECT_NE(X509_get0_subject_key_id(ca.get()), nullptr);
  EXPECT_TRUE(X509_get_key_usage(ca.get()) & KU_KEY_CERT_SIGN);
  PkeyPtr ca_key = LoadPrivateKey(dir_ + "/ca.key");
  ASSERT_NE(ca_key, nullptr);
  EXPECT_EQ(EVP_PKEY_get_base_id(ca_key.get()), EVP_PKEY_EC);
  EXPECT_EQ(X509_check_private_key(ca.get(), ca_key.get()), 1);
  EXPECT_EQ(X509_get_signature_nid(ca.get()), NID_ecdsa_with_SHA256);
}

TEST_F(DevPkiTest, ReinitRefusesWithoutOverwrite) {
  ASSERT_TRUE(InitDevPki(dir_, options_).ok());
  const std::string ca_before = ReadFile(dir_ + "/ca.crt");

  absl::Status again = InitDevPki(dir_, options_);
  EXPECT_EQ(again.code(), absl::StatusCode::kAlreadyExists) << again;
  EXPECT_THAT(std::string(again.message()), HasSubstr("ca.key"));
  EXPECT_EQ(ReadFile(dir_ + "/ca.crt"), ca_before);

  ASSERT_TRUE(InitDevPki(dir_, options_, /*overwrite=*/true).ok());
  EXPECT_NE(ReadFile(dir_ + "/ca.crt"), ca_before);
}

TEST_F(DevPkiTest, MemberCertificateVerifiesForClientAuthOnly) {
  ASSERT_TRUE(InitDevPki(dir_, options_).ok());
  absl::StatusOr<std::string> path = IssueMemberCertificate(dir_, "kbo", "lookup", options_);
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_EQ(*path, dir_ + "/members/kbo-lookup.crt");
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/members/kbo-lookup.key"));

  X509Ptr ca = LoadCert(dir_ + "/ca.crt");
  X509Ptr member = LoadCert(*path);
  ASSERT_NE(ca, nullptr);
  ASSERT_NE(member, nullptr);
  EXPECT_EQ(Verify(ca.get(), member.get(), X509_PURPOSE_SSL_CLIENT), X509_V_OK);
  EXPECT_EQ(X509_check_purpose(member.get(), X509_PURPOSE_SSL_CLIENT, 0), 1);
  // clientAuth only: must not be usable as a TLS server certificate.
  EXPECT_EQ(X509_check_purpose(member.get(), X509_PURPOSE_SSL_SERVER, 0), 0);
  EXPECT_NE(Verify(ca.get(), member.get(), X509_PURPOSE_SSL_SERVER), X509_V_OK);

  EXPECT_EQ(X509_get_signature_nid(member.get()), NID_ecdsa_with_SHA256);
  char cn[64] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(member.get()), NID_commonName, cn, sizeof(cn));
  EXPECT_STREQ(cn, "kbo");
  PkeyPtr key = LoadPrivateKey(dir_ + "/members/kbo-lookup.key");
  ASSERT_NE(key, nullptr);
  EXPECT_EQ(X509_check_private_key(member.get(), key.get()), 1);
}

TEST_F(DevPkiTest, MemberUriSanIsExactlyTheSpiffeId) {
  ASSERT_TRUE(InitDevPki(dir_, options_).ok());
  absl::StatusOr<std::string> path = IssueMemberCertificate(dir_, "kbo", "lookup", options_);
  ASSERT_TRUE(path.ok()) << path.status();
  absl::StatusOr<std::vector<std::string>> uris = CertificateUriSans(ReadFile(*path));
  ASSERT_TRUE(uris.ok()) << uris.status();
  EXPECT_THAT(*uris, ElementsAre("spiffe://onceonly.brussels/member/kbo/lookup"));

  path = IssueMemberCertificate(dir_, "rsz-2", "", options_);
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_EQ(*path, dir_ + "/members/rsz-2.crt");
  uris = CertificateUriSans(ReadFile(*path));
  ASSERT_TRUE(uris.ok()) << uris.status();
  EXPECT_THAT(*uris, ElementsAre("spiffe://onceonly.brussels/member/rsz-2"));
}

TEST_F(DevPkiTest, ServerCertificateHasDnsIpAndSpiffeSans) {
  ASSERT_TRUE(InitDevPki(dir_, options_).ok());
  X509Ptr ca = LoadCert(dir_ + "/ca.crt");
  X509Ptr server = LoadCert(dir_ + "/server.crt");
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(X509_check_host(server.get(), "localhost", 0, 0, nullptr), 1);
  EXPECT_NE(X509_check_host(server.get(), "example.org", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(server.get(), "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(server.get(), "::1", 0), 1);
  EXPECT_EQ(Verify(ca.get(), server.get(), X509_PURPOSE_SSL_SERVER), X509_V_OK);
  EXPECT_EQ(Verify(ca.get(), server.get(), X509_PURPOSE_SSL_CLIENT), X509_V_OK);
  absl::StatusOr<std::vector<std::string>> uris = CertificateUriSans(ReadFile(dir_ + "/server.crt"));
  ASSERT_TRUE(uris.ok()) << uris.status();
  EXPECT_THAT(*uris, ElementsAre("spiffe://onceonly.brussels/gateway"));
}

TEST_F(DevPkiTest, RegistryServerCertificate) {
  ASSERT_TRUE(InitDevPki(dir_, options_).ok());
  DevPkiOptions registry = options_;
  registry.server_dns_names = {"registry.example"};
  registry.server_ips = {"10.0.0.7"};
  absl::StatusOr<std::string> path = IssueServerCertificate(dir_, "nbb", registry);
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_EQ(*path, dir_ + "/servers/nbb.crt");
  EXPECT_EQ(FileMode(dir_ + "/servers/nbb.key"), 0600u);
  X509Ptr ca = LoadCert(dir_ + "/ca.crt");
  X509Ptr cert = LoadCert(*path);
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(Verify(ca.get(), cert.get(), X509_PURPOSE_SSL_SERVER), X509_V_OK);
  EXPECT_EQ(X509_check_host(cert.get(), "registry.example", 0, 0, nullptr), 1);
  EXPECT_NE(X509_check_host(cert.get(), "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "10.0.0.7", 0), 1);
  absl::StatusOr<std::vector<std::string>> uris = CertificateUriSans(ReadFile(*path));
  ASSERT_TRUE(uris.ok()) << uris.status();
  EXPECT_THAT(*uris, ElementsAre("spiffe://onceonly.brussels/registry/nbb"));
}

TEST_F(DevPkiTest, CertificateFromAnotherPkiDoesNotVerify) {
  const std::string other = root_ + "/other";
  ASSERT_TRUE(InitDevPki(dir_, options_).ok());
  ASSERT_TRUE(InitDevPki(other, options_).ok());
  absl::StatusOr<std::string> path = IssueMemberCertificate(other, "kbo", "lookup", options_);
  ASSERT_TRUE(path.ok()) << path.status();

  X509Ptr first_ca = LoadCert(dir_ + "/ca.crt");
  X509Ptr other_ca = LoadCert(other + "/ca.crt");
  X509Ptr foreign = LoadCert(*path);
  ASSERT_NE(foreign, nullptr);
  EXPECT_EQ(Verify(other_ca.get(), foreign.get(), X509_PURPOSE_SSL_CLIENT), X509_V_OK);
  EXPECT_NE(Verify(first_ca.get(), foreign.get(), X509_PURPOSE_SSL_CLIENT), X509_V_OK);
  X509Ptr other_server = LoadCert(other + "/server.crt");
  EXPECT_NE(Verify(first_ca.get(), other_server.get(), X509_PURPOSE_SSL_SERVER), X509_V_OK);
}

TEST_F(DevPkiTest, RejectsBadNames) {
  ASSERT_TRUE(InitDevPki(dir_, options_).ok());
  for (const char* bad : {"", "KBO", "-kbo", "kbo/../ca", "kbo lookup", "kbo_1", "k\xc3\xa9"}) {
    absl::StatusOr<std::string> path = IssueMemberCertificate(dir_, bad, "", options_);
    EXPECT_EQ(path.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(std::string(path.status().message()), HasSubstr("member id")) << bad;
  }
  absl::StatusOr<std::string> path = IssueMemberCertificate(dir_, "kbo", "Lookup", options_);
  EXPECT_EQ(path.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(path.status().message()), HasSubstr("subsystem"));
  path = IssueServerCertificate(dir_, "../x", options_);
  EXPECT_EQ(path.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/members"));
}

TEST_F(DevPkiTest, RejectsBadOptions) {
  DevPkiOptions bad_ip = options_;
  bad_ip.server_ips = {"127.0.0.256"};
  absl::Status status = InitDevPki(dir_, bad_ip);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/ca.key"));

  DevPkiOptions bad_dns = options_;
  bad_dns.server_dns_names = {"localhost,DNS:evil.example"};
  EXPECT_EQ(InitDevPki(dir_, bad_dns).code(), absl::StatusCode::kInvalidArgument);

  DevPkiOptions bad_td = options_;
  bad_td.trust_domain = "Onceonly/x";
  EXPECT_EQ(InitDevPki(dir_, bad_td).code(), absl::StatusCode::kInvalidArgument);

  DevPkiOptions bad_validity = options_;
  bad_validity.validity = -absl::Hours(1);
  EXPECT_EQ(InitDevPki(dir_, bad_validity).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(DevPkiTest, IssueWithoutCaNamesTheMissingFile) {
  absl::StatusOr<std::string> path = IssueMemberCertificate(dir_, "kbo", "", options_);
  EXPECT_EQ(path.status().code(), absl::StatusCode::kNotFound) << path.status();
  EXPECT_THAT(std::string(path.status().message()), HasSubstr("ca.crt"));
}

TEST_F(DevPkiTest, KeyFilesAreOwnerOnly) {
  ASSERT_TRUE(InitDevPki(dir_, options_).ok());
  ASSERT_TRUE(IssueMemberCertificate(dir_, "kbo", "", options_).ok());
  EXPECT_EQ(FileMode(dir_ + "/ca.key"), 0600u);
  EXPECT_EQ(FileMode(dir_ + "/server.key"), 0600u);
  EXPECT_EQ(FileMode(dir_ + "/checkpoint.key"), 0600u);
  EXPECT_EQ(FileMode(dir_ + "/members/kbo.key"), 0600u);
  EXPECT_EQ(FileMode(dir_ + "/ca.crt"), 0644u);
  // Overwriting keeps the mode even if someone loosened it.
  ASSERT_EQ(::chmod((dir_ + "/ca.key").c_str(), 0644), 0);
  ASSERT_TRUE(InitDevPki(dir_, options_, /*overwrite=*/true).ok());
  EXPECT_EQ(FileMode(dir_ + "/ca.key"), 0600u);
}

TEST_F(DevPkiTest, ValidityWindow) {
  options_.validity = absl::Hours(2);
  ASSERT_TRUE(InitDevPki(dir_, options_).ok());
  X509Ptr server = LoadCert(dir_ + "/server.crt");
  ASSERT_NE(server, nullptr);
  int days = -1, seconds = -1;
  ASSERT_EQ(ASN1_TIME_diff(&days, &seconds, X509_get0_notBefore(server.get()),
                           X509_get0_notAfter(server.get())),
            1);
  EXPECT_EQ(days, 0);
  EXPECT_EQ(seconds, 3 * 3600);
  EXPECT_EQ(X509_cmp_current_time(X509_get0_notBefore(server.get())), -1);
  EXPECT_EQ(X509_cmp_current_time(X509_get0_notAfter(server.get())), 1);
}

TEST_F(DevPkiTest, SerialNumbersDiffer) {
  ASSERT_TRUE(InitDevPki(dir_, options_).ok());
  ASSERT_TRUE(IssueMemberCertificate(dir_, "a", "", options_).ok());
  ASSERT_TRUE(IssueMemberCertificate(dir_, "b", "", options_).ok());
  X509Ptr a = LoadCert(dir_ + "/members/a.crt");
  X509Ptr b = LoadCert(dir_ + "/members/b.crt");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_NE(ASN1_INTEGER_cmp(X509_get0_serialNumber(a.get()), X509_get0_serialNumber(b.get())),
            0);
}

TEST_F(DevPkiTest, CheckpointKeySignsAndVerifies) {
  ASSERT_TRUE(InitDevPki(dir_, options_).ok());
  PkeyPtr private_key = LoadPrivateKey(dir_ + "/checkpoint.key");
  PkeyPtr public_key = LoadPublicKey(dir_ + "/checkpoint.pub");
  ASSERT_NE(private_key, nullptr);
  ASSERT_NE(public_key, nullptr);
  EXPECT_EQ(EVP_PKEY_get_base_id(private_key.get()), EVP_PKEY_ED25519);

  const std::string message = "checkpoint 42 root=abcdef";
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> sign(EVP_MD_CTX_new());
  ASSERT_EQ(EVP_DigestSignInit(sign.get(), nullptr, nullptr, nullptr, private_key.get()), 1);
  unsigned char signature[64];
  size_t signature_length = sizeof(signature);
  ASSERT_EQ(EVP_DigestSign(sign.get(), signature, &signature_length,
                           reinterpret_cast<const unsigned char*>(message.data()), message.size()),
            1);
  EXPECT_EQ(signature_length, 64u);

  auto verify = [&](const std::string& text) {
    std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
    EXPECT_EQ(EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, public_key.get()), 1);
    int rc = EVP_DigestVerify(ctx.get(), signature, signature_length,
                              reinterpret_cast<const unsigned char*>(text.data()), text.size());
    ERR_clear_error();
    return rc;
  };
  EXPECT_EQ(verify(message), 1);
  EXPECT_NE(verify("checkpoint 43 root=abcdef"), 1);
}

struct CrlFree {
  void operator()(X509_CRL* p) const { X509_CRL_free(p); }
};
using CrlPtr = std::unique_ptr<X509_CRL, CrlFree>;

CrlPtr LoadCrl(const std::string& path) {
  std::string pem = ReadFile(path);
  auto bio = MemBio(pem);
  return CrlPtr(PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr));
}

long CrlNumber(X509_CRL* crl) {
  ASN1_INTEGER* number =
      static_cast<ASN1_INTEGER*>(X509_CRL_get_ext_d2i(crl, NID_crl_number, nullptr, nullptr));
  long value = number == nullptr ? -1 : ASN1_INTEGER_get(number);
  ASN1_INTEGER_free(number);
  return value;
}

// An empty CRL has no revokedCertificates at all (the field is OPTIONAL), hence no stack.
int RevokedCount(X509_CRL* crl) {
  STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl);
  return revoked == nullptr ? 0 : sk_X509_REVOKED_num(revoked);
}

TEST_F(DevPkiTest, InitWritesAnEmptyCrlSignedByTheCa) {
  options_.crl_validity = absl::Hours(48);
  ASSERT_TRUE(InitDevPki(dir_, options_).ok());
  EXPECT_EQ(FileMode(dir_ + "/crl.pem"), 0644u);
  X509Ptr ca = LoadCert(dir_ + "/ca.crt");
  CrlPtr crl = LoadCrl(dir_ + "/crl.pem");
  ASSERT_NE(crl, nullptr);
  EXPECT_EQ(X509_CRL_get_version(crl.get()), X509_CRL_VERSION_2);
  EXPECT_EQ(X509_NAME_cmp(X509_CRL_get_issuer(crl.get()), X509_get_subject_name(ca.get())), 0);
  EXPECT_EQ(X509_CRL_verify(crl.get(), X509_get0_pubkey(ca.get())), 1);
  EXPECT_EQ(RevokedCount(crl.get()), 0);
  EXPECT_EQ(CrlNumber(crl.get()), 1);
  int days = -1, seconds = -1;
  ASSERT_EQ(ASN1_TIME_diff(&days, &seconds, X509_CRL_get0_lastUpdate(crl.get()),
                           X509_CRL_get0_nextUpdate(crl.get())),
            1);
  EXPECT_EQ(days, 2);
  EXPECT_EQ(seconds, 0);
  EXPECT_EQ(X509_cmp_current_time(X509_CRL_get0_nextUpdate(crl.get())), 1);

  // The gateway side accepts it, and every certificate of this CA passes.
  absl::StatusOr<std::unique_ptr<RevocationList>> list =
      RevocationList::Open(dir_ + "/crl.pem", dir_ + "/ca.crt");
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_TRUE((*list)->Check(ReadFile(dir_ + "/server.crt")).ok());

  // crl.pem is part of the PKI: re-init refuses without overwrite, even with ca.key gone.
  ASSERT_EQ(::unlink((dir_ + "/ca.key").c_str()), 0);
  for (const char* file : {"ca.crt", "server.crt", "server.key", "checkpoint.key",
                           "checkpoint.pub"}) {
    ASSERT_EQ(::unlink((dir_ + "/" + file).c_str()), 0) << file;
  }
  absl::Status again = InitDevPki(dir_, options_);
  EXPECT_EQ(again.code(), absl::StatusCode::kAlreadyExists) << again;
  EXPECT_THAT(std::string(again.message()), HasSubstr("crl.pem"));
}

TEST_F(DevPkiTest, RevokedMemberIsRefusedOthersPass) {
  ASSERT_TRUE(InitDevPki(dir_, options_).ok());
  absl::StatusOr<std::string> revoked = IssueMemberCertificate(dir_, "kbo", "lookup", options_);
  absl::StatusOr<std::string> kept = IssueMemberCertificate(dir_, "rsz", "", options_);
  ASSERT_TRUE(revoked.ok()) << revoked.status();
  ASSERT_TRUE(kept.ok()) << kept.status();

  absl::StatusOr<std::string> crl_path = RevokeCertificate(dir_, *revoked, options_);
  ASSERT_TRUE(crl_path.ok()) << crl_path.status();
  EXPECT_EQ(*crl_path, dir_ + "/crl.pem");
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/crl.pem.tmp"));

  absl::StatusOr<std::unique_ptr<RevocationList>> list =
      RevocationList::Open(*crl_path, dir_ + "/ca.crt");
  ASSERT_TRUE(list.ok()) << list.status();
  absl::Status status = (*list)->Check(ReadFile(*revoked));
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied) << status;
  EXPECT_EQ(ErrorReason(status), "CERTIFICATE_REVOKED");
  X509Ptr cert = LoadCert(*revoked);
  ASSERT_NE(cert, nullptr);
  BIGNUM* serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert.get()), nullptr);
  char* hex = BN_bn2hex(serial);
  EXPECT_EQ(ErrorMetadata(status, "serial"), hex);
  OPENSSL_free(hex);
  BN_free(serial);
  EXPECT_TRUE((*list)->Check(ReadFile(*kept)).ok());
  EXPECT_TRUE((*list)->Check(ReadFile(dir_ + "/server.crt")).ok());
}

TEST_F(DevPkiTest, RevokingKeepsEntriesAndCountsCrlNumbers) {
  ASSERT_TRUE(InitDevPki(dir_, options_).ok());
  absl::StatusOr<std::string> a = IssueMemberCertificate(dir_, "a", "", options_);
  absl::StatusOr<std::string> b = IssueMemberCertificate(dir_, "b", "", options_);
  ASSERT_TRUE(a.ok() && b.ok());

  ASSERT_TRUE(RevokeCertificate(dir_, *a, options_).ok());
  ASSERT_TRUE(RevokeCertificate(dir_, *a, options_).ok());  // Twice: still one entry.
  CrlPtr crl = LoadCrl(dir_ + "/crl.pem");
  ASSERT_NE(crl, nullptr);
  EXPECT_EQ(RevokedCount(crl.get()), 1);
  EXPECT_EQ(CrlNumber(crl.get()), 3);

  ASSERT_TRUE(RevokeCertificate(dir_, *b, options_).ok());
  crl = LoadCrl(dir_ + "/crl.pem");
  ASSERT_NE(crl, nullptr);
  EXPECT_EQ(RevokedCount(crl.get()), 2);
  EXPECT_EQ(CrlNumber(crl.get()), 4);
  X509Ptr ca = LoadCert(dir_ + "/ca.crt");
  EXPECT_EQ(X509_CRL_verify(crl.get(), X509_get0_pubkey(ca.get())), 1);

  absl::StatusOr<std::unique_ptr<RevocationList>> list =
      RevocationList::Open(dir_ + "/crl.pem", dir_ + "/ca.crt");
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(ErrorReason((*list)->Check(ReadFile(*a))), "CERTIFICATE_REVOKED");
  EXPECT_EQ(ErrorReason((*list)->Check(ReadFile(*b))), "CERTIFICATE_REVOKED");
}

TEST_F(DevPkiTest, RevokeCreatesAMissingCrl) {
  ASSERT_TRUE(InitDevPki(dir_, options_).ok());
  absl::StatusOr<std::string> a = IssueMemberCertificate(dir_, "a", "", options_);
  ASSERT_TRUE(a.ok());
  ASSERT_EQ(::unlink((dir_ + "/crl.pem").c_str()), 0);  // A PKI from before crl.pem existed.
  ASSERT_TRUE(RevokeCertificate(dir_, *a, options_).ok());
  CrlPtr crl = LoadCrl(dir_ + "/crl.pem");
  ASSERT_NE(crl, nullptr);
  EXPECT_EQ(RevokedCount(crl.get()), 1);
  EXPECT_EQ(CrlNumber(crl.get()), 1);
}

TEST_F(DevPkiTest, RevokeRefusesForeignCertificatesAndCrls) {
  const std::string other = root_ + "/other";
  ASSERT_TRUE(InitDevPki(dir_, options_).ok());
  ASSERT_TRUE(InitDevPki(other, options_).ok());
  absl::StatusOr<std::string> foreign = IssueMemberCertificate(other, "kbo", "", options_);
  ASSERT_TRUE(foreign.ok());
  const std::string crl_before = ReadFile(dir_ + "/crl.pem");

  absl::StatusOr<std::string> path = RevokeCertificate(dir_, *foreign, options_);
  EXPECT_EQ(path.status().code(), absl::StatusCode::kFailedPrecondition) << path.status();
  EXPECT_THAT(std::string(path.status().message()), HasSubstr(*foreign));
  EXPECT_EQ(ReadFile(dir_ + "/crl.pem"), crl_before);

  // A crl.pem from another CA is not silently replaced (it would drop its entries).
  std::filesystem::copy_file(other + "/crl.pem", dir_ + "/crl.pem",
                             std::filesystem::copy_options::overwrite_existing);
  absl::StatusOr<std::string> mine = IssueMemberCertificate(dir_, "kbo", "", options_);
  ASSERT_TRUE(mine.ok());
  path = RevokeCertificate(dir_, *mine, options_);
  EXPECT_EQ(path.status().code(), absl::StatusCode::kFailedPrecondition) << path.status();
  EXPECT_THAT(std::string(path.status().message()), HasSubstr("crl.pem"));

  path = RevokeCertificate(dir_, dir_ + "/members/nobody.crt", options_);
  EXPECT_EQ(path.status().code(), absl::StatusCode::kNotFound) << path.status();
}

TEST(CertificateUriSansTest, RejectsGarbage) {
  absl::StatusOr<std::vector<std::string>> uris = CertificateUriSans("not a certificate");
  EXPECT_EQ(uris.status().code(), absl::StatusCode::kInvalidArgument);
  uris = CertificateUriSans("");
  EXPECT_EQ(uris.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace onceonly
