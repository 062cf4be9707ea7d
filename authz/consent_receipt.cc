#include "authz/consent_receipt.h"

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/canonical_json.h"
#include "common/status_macros.h"

namespace onceonly {
namespace {

JsonValue Text(absl::string_view s) { return JsonValue::String(s); }

JsonValue Time(const google::protobuf::Timestamp& ts) {
  return Text(absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixSeconds(ts.seconds()),
                               absl::UTCTimeZone()));
}

JsonValue Event(absl::string_view type, const google::protobuf::Timestamp& time) {
  JsonValue event = JsonValue::Object();
  event.Set("type", Text(type)).Set("time", Time(time));
  return event;
}

absl::Status NotAReceipt(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("not a consent receipt: ", why));
}

// The fields every receipt has, so that another signed JSON document is not taken for one.
absl::Status CheckIsReceipt(const JsonValue& receipt) {
  if (receipt.type() != JsonValue::Type::kObject) return NotAReceipt("not a JSON object");
  const JsonValue* schema = receipt.Find("schema_version");
  if (schema == nullptr || schema->type() != JsonValue::Type::kString ||
      schema->string_value() != kConsentReceiptSchema) {
    return NotAReceipt(absl::StrCat("schema_version is not \"", kConsentReceiptSchema, "\""));
  }
  const JsonValue* id = receipt.Find("record_id");
  if (id == nullptr || id->type() != JsonValue::Type::kString || id->string_value().empty()) {
    return NotAReceipt("no record_id");
  }
  const JsonValue* state = receipt.Find("state");
  if (state == nullptr || state->type() != JsonValue::Type::kString ||
      (state->string_value() != "given" && state->string_value() != "withdrawn")) {
    return NotAReceipt("state is neither \"given\" nor \"withdrawn\"");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> ConsentReceiptJson(const v1::Consent& c, absl::string_view gateway) {
  JsonValue categories = JsonValue::Array();
  for (const std::string& category : c.categories()) categories.Append(Text(category));
  JsonValue events = JsonValue::Array();
  events.Append(Event("given", c.given_at()));
  if (c.has_revoked_at()) events.Append(Event("withdrawn", c.revoked_at()));

  JsonValue subject = JsonValue::Object();
  subject.Set("id", Text(c.subject())).Set("id_type", Text("KBO/BCE enterprise number"));
  JsonValue controller = JsonValue::Object();
  controller.Set("id", Text(c.grantee_member())).Set("name", Text(c.controller_name()));
  JsonValue recorder = JsonValue::Object();
  recorder.Set("portal", Text(c.recorded_by())).Set("gateway", Text(gateway));
  JsonValue purpose = JsonValue::Object();
  purpose.Set("id", Text(c.purpose()))
      .Set("description", Text(c.purpose_description()))
      .Set("legal_basis", Text(c.legal_basis()))
      .Set("legal_reference", Text(c.legal_reference()));
  JsonValue validity = JsonValue::Object();
  validity.Set("from", Time(c.valid_from())).Set("until", Time(c.valid_until()));

  // Field names follow ISO/IEC TS 27560:2023 (consent record information structure).
  JsonValue receipt = JsonValue::Object();
  receipt.Set("schema_version", Text(kConsentReceiptSchema))
      .Set("record_id", Text(c.consent_id()))
      .Set("timestamp", Time(c.has_revoked_at() ? c.revoked_at() : c.given_at()))
      .Set("data_subject", std::move(subject))
      .Set("controllers", JsonValue::Array().Append(std::move(controller)))
      .Set("recorder", std::move(recorder))
      .Set("purposes", JsonValue::Array().Append(std::move(purpose)))
      .Set("data_categories", std::move(categories))
      .Set("consent_type", Text("explicit"))
      .Set("validity", std::move(validity))
      .Set("state", Text(c.has_revoked_at() ? "withdrawn" : "given"))
      .Set("events", std::move(events));
  return CanonicalJson(receipt);
}

std::string ConsentReceiptSignedMessage(absl::string_view receipt_json) {
  return absl::StrCat(kConsentReceiptContext, receipt_json);
}

absl::StatusOr<v1::SignedReceipt> SignConsentReceipt(const v1::Consent& consent,
                                                     absl::string_view gateway,
                                                     const Ed25519Signer& signer) {
  ASSIGN_OR_RETURN(std::string json, ConsentReceiptJson(consent, gateway));
  ASSIGN_OR_RETURN(std::string signature, signer.Sign(ConsentReceiptSignedMessage(json)));
  v1::SignedReceipt receipt;
  receipt.set_receipt_json(std::move(json));
  receipt.set_signature(std::move(signature));
  receipt.set_public_key_pem(signer.public_key_pem());
  return receipt;
}

absl::Status VerifyConsentReceipt(const v1::SignedReceipt& receipt,
                                  absl::string_view public_key_pem) {
  const std::string& json = receipt.receipt_json();
  if (json.size() > kMaxConsentReceiptBytes) {
    return NotAReceipt(absl::StrCat("receipt_json holds ", json.size(), " bytes, more than the ",
                                    kMaxConsentReceiptBytes, " a receipt may"));
  }
  // Parsed and checked first: a receipt must mean one thing to every reader, whoever signed it.
  ASSIGN_OR_RETURN(JsonValue parsed, ParseCanonicalJson(json));
  RETURN_IF_ERROR(CheckIsReceipt(parsed));
  return VerifyEd25519(public_key_pem, ConsentReceiptSignedMessage(json), receipt.signature());
}

}  // namespace onceonly
