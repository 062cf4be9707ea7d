// Consent receipts: what the firm keeps as proof of what it consented to (or withdrew), with
// the fields of ISO/IEC TS 27560 that apply to a firm's consent to a data exchange.
//
// So that any tool can check one without our code, the receipt is RFC 8785 canonical JSON
// and the Ed25519 signature covers
//     kConsentReceiptContext || receipt JSON
// i.e. the 28 bytes "onceonly consent-receipt v1\n" followed by the JSON bytes. The gateway's
// key also signs checkpoints, under their own first line (audit/checkpoint.h): neither
// signature can be passed off as the other.
#ifndef ONCEONLY_AUTHZ_CONSENT_RECEIPT_H_
#define ONCEONLY_AUTHZ_CONSENT_RECEIPT_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/ed25519.h"
#include "onceonly/v1/consent.pb.h"

namespace onceonly {

inline constexpr absl::string_view kConsentReceiptContext = "onceonly consent-receipt v1\n";
inline constexpr absl::string_view kConsentReceiptSchema = "ISO/IEC TS 27560:2023";
// Receipts are about a kilobyte; a larger one is refused before it is parsed.
inline constexpr size_t kMaxConsentReceiptBytes = 64 << 10;

// The receipt JSON for `consent` (events: given, and withdrawn if revoked_at is set), from
// the consent record alone: a withdrawal receipt states what the firm agreed to even if the
// policy changed since. `gateway` names the instance that stored it. INVALID_ARGUMENT if a
// field is not UTF-8.
absl::StatusOr<std::string> ConsentReceiptJson(const v1::Consent& consent,
                                               absl::string_view gateway);

// The exact bytes a receipt's signature covers.
std::string ConsentReceiptSignedMessage(absl::string_view receipt_json);

// The receipt of `consent`, signed by `signer`, with its public key.
absl::StatusOr<v1::SignedReceipt> SignConsentReceipt(const v1::Consent& consent,
                                                     absl::string_view gateway,
                                                     const Ed25519Signer& signer);

// OK if `receipt` holds a canonical receipt JSON signed, as a receipt, by the holder of
// `public_key_pem` (the gateway's key, obtained out of band: the key inside the receipt
// proves nothing). INVALID_ARGUMENT if the JSON is too large, not canonical or not a receipt,
// or the key is not an Ed25519 public key; PERMISSION_DENIED if the signature does not match.
absl::Status VerifyConsentReceipt(const v1::SignedReceipt& receipt,
                                  absl::string_view public_key_pem);

}  // namespace onceonly

#endif  // ONCEONLY_AUTHZ_CONSENT_RECEIPT_H_
