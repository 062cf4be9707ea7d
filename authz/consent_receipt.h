// Consent receipts: what the firm keeps as proof of what it consented to (or withdrew), with
// the fields of ISO/IEC TS 27560 that apply to a firm's consent to a data exchange. The
// receipt is canonical JSON; the gateway signs exactly those bytes.
#ifndef ONCEONLY_AUTHZ_CONSENT_RECEIPT_H_
#define ONCEONLY_AUTHZ_CONSENT_RECEIPT_H_

#include <string>

#include "absl/strings/string_view.h"
#include "onceonly/config/v1/policy.pb.h"
#include "onceonly/v1/consent.pb.h"

namespace onceonly {

struct ReceiptContext {
  const config::v1::Purpose* purpose = nullptr;  // required
  const config::v1::Member* controller = nullptr;  // the grantee member; required
  std::string recorder;       // the portal member that recorded it
  std::string gateway;        // the gateway instance that stored it
};

// The receipt JSON for `consent` (events: given, and withdrawn if revoked_at is set).
// Same input, same bytes.
std::string ConsentReceiptJson(const v1::Consent& consent, const ReceiptContext& context);

}  // namespace onceonly

#endif  // ONCEONLY_AUTHZ_CONSENT_RECEIPT_H_
