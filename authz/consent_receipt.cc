#include "authz/consent_receipt.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "common/json_escape.h"

namespace onceonly {
namespace {

std::string Quote(absl::string_view s) { return absl::StrCat("\"", JsonEscape(s), "\""); }

std::string Time(const google::protobuf::Timestamp& ts) {
  return Quote(absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixSeconds(ts.seconds()),
                                absl::UTCTimeZone()));
}

}  // namespace

std::string ConsentReceiptJson(const v1::Consent& c, absl::string_view gateway) {
  std::vector<std::string> categories;
  for (const std::string& cat : c.categories()) categories.push_back(Quote(cat));
  std::vector<std::string> events = {
      absl::StrCat("{\"type\":\"given\",\"time\":", Time(c.given_at()), "}")};
  if (c.has_revoked_at()) {
    events.push_back(absl::StrCat("{\"type\":\"withdrawn\",\"time\":", Time(c.revoked_at()), "}"));
  }
  // Field names follow ISO/IEC TS 27560:2023 (consent record information structure).
  return absl::StrCat(
      "{\"schema_version\":\"ISO/IEC TS 27560:2023\"",
      ",\"record_id\":", Quote(c.consent_id()),
      ",\"timestamp\":", Time(c.has_revoked_at() ? c.revoked_at() : c.given_at()),
      ",\"data_subject\":{\"id\":", Quote(c.subject()), ",\"id_type\":\"KBO/BCE enterprise number\"}",
      ",\"controllers\":[{\"id\":", Quote(c.grantee_member()), ",\"name\":",
      Quote(c.controller_name()), "}]",
      ",\"recorder\":{\"portal\":", Quote(c.recorded_by()), ",\"gateway\":", Quote(gateway), "}",
      ",\"purposes\":[{\"id\":", Quote(c.purpose()), ",\"description\":",
      Quote(c.purpose_description()), ",\"legal_basis\":", Quote(c.legal_basis()),
      ",\"legal_reference\":", Quote(c.legal_reference()), "}]",
      ",\"data_categories\":[", absl::StrJoin(categories, ","), "]",
      ",\"consent_type\":\"explicit\"",
      ",\"validity\":{\"from\":", Time(c.valid_from()), ",\"until\":", Time(c.valid_until()), "}",
      ",\"state\":", Quote(c.has_revoked_at() ? "withdrawn" : "given"),
      ",\"events\":[", absl::StrJoin(events, ","), "]}");
}

}  // namespace onceonly
