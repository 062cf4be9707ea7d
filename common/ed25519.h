// Ed25519 signatures through OpenSSL, for what the gateway vouches for: consent receipts now,
// audit checkpoints later. Keys are PEM files (PKCS#8 private, SPKI public), as written by
// `onceonly pki init` (checkpoint.key / checkpoint.pub).
#ifndef ONCEONLY_COMMON_ED25519_H_
#define ONCEONLY_COMMON_ED25519_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace onceonly {

// Signs with one private key. Thread-safe (each Sign uses its own OpenSSL context).
class Ed25519Signer {
 public:
  static absl::StatusOr<std::unique_ptr<Ed25519Signer>> FromPemFile(const std::string& path);
  static absl::StatusOr<std::unique_ptr<Ed25519Signer>> FromPem(absl::string_view pem);
  // A fresh random key (tests, benchmarks).
  static absl::StatusOr<std::unique_ptr<Ed25519Signer>> Generate();
  ~Ed25519Signer();

  // The 64-byte signature of `message`.
  absl::StatusOr<std::string> Sign(absl::string_view message) const;
  // The matching public key, SPKI PEM.
  const std::string& public_key_pem() const { return public_key_pem_; }

 private:
  Ed25519Signer(void* key, std::string public_key_pem)
      : key_(key), public_key_pem_(std::move(public_key_pem)) {}
  void* key_;  // EVP_PKEY*, kept opaque so this header stays free of OpenSSL
  std::string public_key_pem_;
};

// OK if `signature` is a valid Ed25519 signature of `message` by the SPKI PEM public key;
// InvalidArgument for a bad key, PermissionDenied ("signature does not match") otherwise.
absl::Status VerifyEd25519(absl::string_view public_key_pem, absl::string_view message,
                           absl::string_view signature);

}  // namespace onceonly

#endif  // ONCEONLY_COMMON_ED25519_H_
