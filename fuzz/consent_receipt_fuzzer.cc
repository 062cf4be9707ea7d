// libFuzzer target: the consent receipt verifier, fed what `onceonly consent verify-receipt`
// reads, a receipt file (a SignedReceipt as proto JSON). Input that is not such a file is
// used as the receipt JSON itself, so that the JSON parser sees arbitrary bytes too.
//
// Checks, beyond "no crash, no sanitizer report":
//   - a receipt accepted is canonical JSON, and the pinned key's signature over the receipt
//     context line followed by it (nothing else gets through);
//   - for any input that parses, writing it canonically and parsing that again is stable
//     (the canonical form is a fixed point), so one receipt has one byte form.
//
// The pinned key is the checkpoint.pub of the gateway that issued the seed receipts in
// fuzz/corpus/consent_receipt/ (its private key was not kept).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "authz/consent_receipt.h"
#include "common/canonical_json.h"
#include "common/ed25519.h"
#include "google/protobuf/util/json_util.h"
#include "onceonly/v1/consent.pb.h"

namespace {

constexpr char kGatewayPublicKey[] = R"(-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAxjyq+lyjjqKMus6ufRo7FgVilvX1J+cOH2lkWUyyM8U=
-----END PUBLIC KEY-----
)";

void Check(bool holds) {
  if (!holds) std::abort();
}

void CheckCanonicalFormIsStable(const std::string& json) {
  absl::StatusOr<onceonly::JsonValue> parsed = onceonly::ParseJson(json);
  if (!parsed.ok()) return;
  absl::StatusOr<std::string> canonical = onceonly::CanonicalJson(*parsed);
  Check(canonical.ok());  // what parses is UTF-8 without duplicate names: it can be written
  absl::StatusOr<onceonly::JsonValue> again = onceonly::ParseCanonicalJson(*canonical);
  Check(again.ok());
  absl::StatusOr<std::string> twice = onceonly::CanonicalJson(*again);
  Check(twice.ok() && *twice == *canonical);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  onceonly::v1::SignedReceipt receipt;
  if (!google::protobuf::util::JsonStringToMessage(text, &receipt).ok()) {
    receipt.Clear();
    receipt.set_receipt_json(text);
  }
  CheckCanonicalFormIsStable(receipt.receipt_json());
  if (!onceonly::VerifyConsentReceipt(receipt, kGatewayPublicKey).ok()) return 0;
  Check(onceonly::ParseCanonicalJson(receipt.receipt_json()).ok());
  Check(onceonly::VerifyEd25519(
            kGatewayPublicKey,
            std::string(onceonly::kConsentReceiptContext) + receipt.receipt_json(),
            receipt.signature())
            .ok());
  return 0;
}
