// Consent receipts: what the firm keeps as proof of what it consented to (or withdrew), with
// the fields of ISO/IEC TS 27560 that apply to a firm's consent to a data exchange. The
// receipt is canonical JSON; the gateway signs exactly those bytes.
#ifndef ONCEONLY_AUTHZ_CONSENT_RECEIPT_H_
#define ONCEONLY_AUTHZ_CONSENT_RECEIPT_H_

#include <string>

#include "absl/strings/string_view.h"
#include "onceonly/v1/consent.pb.h"

namespace onceonly {

// The receipt JSON for `consent` (events: given, and withdrawn if revoked_at is set), from
// the consent record alone: a withdrawal receipt states what the firm agreed to even if the
// policy changed since. `gateway` names the instance that stored it. Deterministic: same
// input, same bytes (not RFC 8785 canonical JSON).
std::string ConsentReceiptJson(const v1::Consent& consent, absl::string_view gateway);

}  // namespace onceonly

#endif  // ONCEONLY_AUTHZ_CONSENT_RECEIPT_H_
