#include "authz/consent_receipt.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_replace.h"
#include "common/canonical_json.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace onceonly {
namespace {

using ::testing::HasSubstr;

v1::Consent SoleTraderConsent() {
  v1::Consent c;
  c.set_consent_id("c-0001");
  c.set_subject("0552.627.113");
  c.set_grantee_member("brussels-economy");
  c.set_purpose("sole-trader-support");
  c.add_categories("company.identity");
  c.add_categories("tax.good_standing");
  c.mutable_given_at()->set_seconds(1767225600);
  c.mutable_valid_from()->set_seconds(1767225600);
  c.mutable_valid_until()->set_seconds(1893456000);
  c.set_recorded_by("firm-portal");
  // Policy text: quotes, a backslash, a tab, accents and a character outside the BMP.
  c.set_controller_name("Brussels Economy \"hub.brussels\" \\ \xc3\xa9\tEmploi \xf0\x9f\x8f\xa2");
  c.set_purpose_description("Support aux ind\xc3\xa9pendants\nSteun aan zelfstandigen");
  c.set_legal_basis("CONSENT");
  c.set_legal_reference("GDPR art. 6(1)(a)");
  return c;
}

class ConsentReceiptTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto signer = Ed25519Signer::Generate();
    ASSERT_TRUE(signer.ok()) << signer.status();
    signer_ = *std::move(signer);
    auto receipt = SignConsentReceipt(SoleTraderConsent(), "gateway-1", *signer_);
    ASSERT_TRUE(receipt.ok()) << receipt.status();
    receipt_ = *std::move(receipt);
  }

  // `json` signed as a receipt by the gateway's key, whatever it holds.
  v1::SignedReceipt SignedAsReceipt(const std::string& json) const {
    v1::SignedReceipt receipt;
    receipt.set_receipt_json(json);
    receipt.set_signature(*signer_->Sign(ConsentReceiptSignedMessage(json)));
    return receipt;
  }

  std::unique_ptr<Ed25519Signer> signer_;
  v1::SignedReceipt receipt_;
};

TEST_F(ConsentReceiptTest, TheSignedMessageIsTheContextLineThenTheJson) {
  EXPECT_EQ(kConsentReceiptContext.size(), 28u);  // as docs/api.md states
  EXPECT_EQ(ConsentReceiptSignedMessage("{\"a\":\"b\"}"),
            "onceonly consent-receipt v1\n{\"a\":\"b\"}");
  EXPECT_TRUE(VerifyEd25519(signer_->public_key_pem(),
                            ConsentReceiptSignedMessage(receipt_.receipt_json()),
                            receipt_.signature())
                  .ok());
  EXPECT_EQ(receipt_.public_key_pem(), signer_->public_key_pem());
}

TEST_F(ConsentReceiptTest, TheJsonIsCanonicalAndSaysWhatWasAgreed) {
  const std::string& json = receipt_.receipt_json();
  absl::StatusOr<JsonValue> parsed = ParseCanonicalJson(json);
  ASSERT_TRUE(parsed.ok()) << parsed.status() << "\n" << json;
  std::vector<std::string> names;
  for (const auto& member : parsed->members()) names.push_back(member.first);
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  EXPECT_EQ(parsed->Find("record_id")->string_value(), "c-0001");
  EXPECT_EQ(parsed->Find("state")->string_value(), "given");
  EXPECT_EQ(parsed->Find("timestamp")->string_value(), "2026-01-01T00:00:00Z");
  const JsonValue& controller = parsed->Find("controllers")->elements().at(0);
  EXPECT_EQ(controller.Find("name")->string_value(), SoleTraderConsent().controller_name());
  const JsonValue* categories = parsed->Find("data_categories");
  ASSERT_EQ(categories->elements().size(), 2u);
  EXPECT_EQ(categories->elements()[1].string_value(), "tax.good_standing");
  // Escaped only where RFC 8785 says: the tab and newline short, the rest as UTF-8.
  EXPECT_THAT(json, HasSubstr("\\\"hub.brussels\\\" \\\\ \xc3\xa9\\tEmploi \xf0\x9f\x8f\xa2"));
  EXPECT_THAT(json, HasSubstr("ind\xc3\xa9pendants\\nSteun"));
}

TEST_F(ConsentReceiptTest, AWithdrawalReceiptIsCanonicalToo) {
  v1::Consent revoked = SoleTraderConsent();
  revoked.mutable_revoked_at()->set_seconds(1767312000);
  auto receipt = SignConsentReceipt(revoked, "gateway-1", *signer_);
  ASSERT_TRUE(receipt.ok()) << receipt.status();
  EXPECT_TRUE(VerifyConsentReceipt(*receipt, signer_->public_key_pem()).ok());
  absl::StatusOr<JsonValue> parsed = ParseCanonicalJson(receipt->receipt_json());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->Find("state")->string_value(), "withdrawn");
  EXPECT_EQ(parsed->Find("events")->elements().size(), 2u);
}

TEST_F(ConsentReceiptTest, VerifiesWhatTheGatewayKeySigned) {
  EXPECT_TRUE(VerifyConsentReceipt(receipt_, signer_->public_key_pem()).ok());
}

TEST_F(ConsentReceiptTest, AnAlteredReceiptIsRefused) {
  v1::SignedReceipt altered = receipt_;
  altered.set_receipt_json(
      absl::StrReplaceAll(altered.receipt_json(), {{"company.identity", "company.contacts"}}));
  ASSERT_NE(altered.receipt_json(), receipt_.receipt_json());
  EXPECT_EQ(VerifyConsentReceipt(altered, signer_->public_key_pem()).code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(ConsentReceiptTest, AnotherKeysReceiptIsRefused) {
  auto other = Ed25519Signer::Generate();
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(VerifyConsentReceipt(receipt_, (*other)->public_key_pem()).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(VerifyConsentReceipt(receipt_, "not a key").code(), absl::StatusCode::kInvalidArgument);
}

// What a signer without the context line produces, as this gateway did before receipts had
// one: the same key's signature over the bare JSON is not a receipt signature.
TEST_F(ConsentReceiptTest, ASignatureOverTheBareJsonIsRefused) {
  v1::SignedReceipt bare = receipt_;
  bare.set_signature(*signer_->Sign(receipt_.receipt_json()));
  absl::Status status = VerifyConsentReceipt(bare, signer_->public_key_pem());
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied) << status;
}

// One receipt must mean one thing to every tool: the same members, written another way, are
// refused even with a valid signature.
TEST_F(ConsentReceiptTest, ASignedReceiptThatIsNotCanonicalIsRefused) {
  const std::string& json = receipt_.receipt_json();
  ASSERT_EQ(json.rfind("{\"consent_type\":\"explicit\",", 0), 0u) << "the first member";
  std::string reordered = "{" + json.substr(json.find(',') + 1);
  reordered.insert(reordered.size() - 1, ",\"consent_type\":\"explicit\"");
  const std::vector<std::string> variants = {
      absl::StrReplaceAll(json, {{"\":\"", "\": \""}}),      // whitespace
      absl::StrReplaceAll(json, {{"\xc3\xa9", "\\u00e9"}}),  // é escaped
      reordered,                                             // a member out of order
  };
  for (const std::string& variant : variants) {
    ASSERT_NE(variant, json);
    absl::Status status = VerifyConsentReceipt(SignedAsReceipt(variant), signer_->public_key_pem());
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << variant;
    EXPECT_THAT(status.message(), HasSubstr("not RFC 8785 canonical JSON")) << variant;
  }
}

TEST_F(ConsentReceiptTest, SignedJsonThatIsNotAReceiptIsRefused) {
  for (const char* json : {"{\"a\":\"b\"}", "[]", "\"given\"",
                           "{\"record_id\":\"c-1\",\"schema_version\":\"v0\",\"state\":\"given\"}",
                           "{\"record_id\":\"c-1\",\"schema_version\":\"ISO/IEC TS 27560:2023\","
                           "\"state\":\"maybe\"}"}) {
    absl::Status status = VerifyConsentReceipt(SignedAsReceipt(json), signer_->public_key_pem());
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << json;
    EXPECT_THAT(status.message(), HasSubstr("not a consent receipt")) << json;
  }
  EXPECT_EQ(VerifyConsentReceipt(SignedAsReceipt("{\"a\":1}"), signer_->public_key_pem()).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ConsentReceiptTest, AnOversizedReceiptIsRefusedBeforeParsing) {
  std::string huge = "[\"" + std::string(kMaxConsentReceiptBytes, 'a') + "\"]";
  absl::Status status = VerifyConsentReceipt(SignedAsReceipt(huge), signer_->public_key_pem());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("more than the 65536"));
}

TEST_F(ConsentReceiptTest, AFieldThatIsNotUtf8CannotBeSigned) {
  v1::Consent consent = SoleTraderConsent();
  consent.set_controller_name("Fran\xe7ois");  // only a proto built in code can hold this
  EXPECT_EQ(SignConsentReceipt(consent, "gateway-1", *signer_).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace onceonly
