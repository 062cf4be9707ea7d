#include "common/ed25519.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "absl/strings/str_cat.h"
#include "common/openssl_ptr.h"
#include "common/status_macros.h"
#include "common/yaml_proto.h"

namespace onceonly {

absl::StatusOr<std::unique_ptr<Ed25519Signer>> Ed25519Signer::FromPemFile(
    const std::string& path) {
  ASSIGN_OR_RETURN(std::string pem, ReadFileToString(path));
  absl::StatusOr<std::unique_ptr<Ed25519Signer>> signer = FromPem(pem);
  if (!signer.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", signer.status().message()));
  }
  return signer;
}

absl::StatusOr<std::unique_ptr<Ed25519Signer>> Ed25519Signer::FromPem(absl::string_view pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, const_cast<char*>(""));
  BIO_free(bio);
  if (key == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("not a PEM private key: ", DrainOpenSslErrors()));
  }
  if (EVP_PKEY_id(key) != EVP_PKEY_ED25519) {
    EVP_PKEY_free(key);
    return absl::InvalidArgumentError("the private key is not an Ed25519 key");
  }
  BIO* out = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(out, key);
  char* data = nullptr;
  long length = BIO_get_mem_data(out, &data);
  std::string public_pem(data, static_cast<size_t>(length));
  BIO_free(out);
  return std::unique_ptr<Ed25519Signer>(new Ed25519Signer(key, std::move(public_pem)));
}

absl::StatusOr<std::unique_ptr<Ed25519Signer>> Ed25519Signer::Generate() {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (key == nullptr) {
    return absl::InternalError(absl::StrCat("Ed25519 key generation failed: ", DrainOpenSslErrors()));
  }
  BIO* out = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(out, key, nullptr, nullptr, 0, nullptr, nullptr);
  EVP_PKEY_free(key);
  char* data = nullptr;
  long length = BIO_get_mem_data(out, &data);
  std::string pem(data, static_cast<size_t>(length));
  BIO_free(out);
  return FromPem(pem);
}

Ed25519Signer::~Ed25519Signer() { EVP_PKEY_free(static_cast<EVP_PKEY*>(key_)); }

absl::StatusOr<std::string> Ed25519Signer::Sign(absl::string_view message) const {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::string signature(64, '\0');
  size_t length = signature.size();
  bool ok = ctx != nullptr &&
            EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, static_cast<EVP_PKEY*>(key_)) == 1 &&
            EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(signature.data()), &length,
                           reinterpret_cast<const unsigned char*>(message.data()),
                           message.size()) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) return absl::InternalError(absl::StrCat("Ed25519 signing failed: ", DrainOpenSslErrors()));
  signature.resize(length);
  return signature;
}

absl::Status VerifyEd25519(absl::string_view public_key_pem, absl::string_view message,
                           absl::string_view signature) {
  BIO* bio = BIO_new_mem_buf(public_key_pem.data(), static_cast<int>(public_key_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (key == nullptr || EVP_PKEY_id(key) != EVP_PKEY_ED25519) {
    EVP_PKEY_free(key);
    return absl::InvalidArgumentError(absl::StrCat("not an Ed25519 public key: ", DrainOpenSslErrors()));
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  int rc = ctx == nullptr ? -1
                          : (EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, key) == 1
                                 ? EVP_DigestVerify(
                                       ctx, reinterpret_cast<const unsigned char*>(signature.data()),
                                       signature.size(),
                                       reinterpret_cast<const unsigned char*>(message.data()),
                                       message.size())
                                 : -1);
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
  ERR_clear_error();
  if (rc != 1) return absl::PermissionDeniedError("signature does not match");
  return absl::OkStatus();
}

}  // namespace onceonly
