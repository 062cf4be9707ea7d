#include "common/ed25519.h"

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "gtest/gtest.h"

namespace onceonly {
namespace {

std::string NewPrivateKeyPem() {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  BIO* out = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(out, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long length = BIO_get_mem_data(out, &data);
  std::string pem(data, static_cast<size_t>(length));
  BIO_free(out);
  EVP_PKEY_free(key);
  return pem;
}

TEST(Ed25519Test, SignsAndVerifies) {
  auto signer = Ed25519Signer::FromPem(NewPrivateKeyPem());
  ASSERT_TRUE(signer.ok()) << signer.status();
  auto signature = (*signer)->Sign("consent receipt");
  ASSERT_TRUE(signature.ok());
  EXPECT_EQ(signature->size(), 64u);
  EXPECT_TRUE(VerifyEd25519((*signer)->public_key_pem(), "consent receipt", *signature).ok());
}

TEST(Ed25519Test, RejectsChangedMessageSignatureOrKey) {
  auto signer = Ed25519Signer::FromPem(NewPrivateKeyPem());
  auto other = Ed25519Signer::FromPem(NewPrivateKeyPem());
  ASSERT_TRUE(signer.ok() && other.ok());
  std::string signature = *(*signer)->Sign("consent receipt");
  EXPECT_EQ(VerifyEd25519((*signer)->public_key_pem(), "consent receipT", signature).code(),
            absl::StatusCode::kPermissionDenied);
  std::string flipped = signature;
  flipped[10] ^= 1;
  EXPECT_FALSE(VerifyEd25519((*signer)->public_key_pem(), "consent receipt", flipped).ok());
  EXPECT_FALSE(VerifyEd25519((*other)->public_key_pem(), "consent receipt", signature).ok());
  EXPECT_EQ(VerifyEd25519("garbage", "m", signature).code(), absl::StatusCode::kInvalidArgument);
}

TEST(Ed25519Test, RefusesNonEd25519Keys) {
  EVP_PKEY* ec = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  BIO* out = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(out, ec, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long length = BIO_get_mem_data(out, &data);
  std::string pem(data, static_cast<size_t>(length));
  BIO_free(out);
  EVP_PKEY_free(ec);
  auto signer = Ed25519Signer::FromPem(pem);
  EXPECT_EQ(signer.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace onceonly
