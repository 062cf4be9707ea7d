// The gateway's one Ed25519 key signs two kinds of statement: consent receipts and access log
// checkpoints. Each is signed under its own first line, so that a signature obtained for one
// can never be presented as the other (cross-protocol confusion).
#include <string>

#include "absl/strings/match.h"
#include "audit/access_log.h"
#include "audit/access_log_store.h"
#include "audit/checkpoint.h"
#include "audit/log_verifier.h"
#include "authz/consent_receipt.h"
#include "common/ed25519.h"
#include "common/testing/file_mode.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace onceonly {
namespace {

using ::testing::HasSubstr;

class SignedStatementsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto signer = Ed25519Signer::Generate();
    ASSERT_TRUE(signer.ok()) << signer.status();
    signer_ = *std::move(signer);

    // A checkpoint as the gateway makes it: its access log signs one when it stops.
    const std::string path = FreshTempDir("signed-statements") + "/audit.db";
    {
      auto store = OpenSqliteAccessLogStore(path);
      ASSERT_TRUE(store.ok()) << store.status();
      AccessLogOptions options;
      options.checkpoint_signer = signer_.get();
      auto log = AccessLog::Create(*std::move(store), "gateway-1", options);
      ASSERT_TRUE(log.ok()) << log.status();
      v1::AccessRecord record;
      record.set_member("brussels-economy");
      record.set_subject("0552.627.113");
      ASSERT_TRUE((*log)->AppendAndWait(record).ok());
    }
    auto store = OpenSqliteAccessLogStore(path, StoreAccess::kReadOnly);
    ASSERT_TRUE(store.ok()) << store.status();
    auto latest = (*store)->LatestCheckpoint("gateway-1");
    ASSERT_TRUE(latest.ok() && latest->has_value()) << latest.status();
    checkpoint_ = **latest;

    // A receipt as the gateway signs it.
    v1::Consent consent;
    consent.set_consent_id("c-0001");
    consent.set_subject("0552.627.113");
    consent.set_grantee_member("brussels-economy");
    consent.set_purpose("sole-trader-support");
    consent.add_categories("company.identity");
    auto receipt = SignConsentReceipt(consent, "gateway-1", *signer_);
    ASSERT_TRUE(receipt.ok()) << receipt.status();
    receipt_ = *std::move(receipt);
  }

  // Verifies `checkpoint` as an auditor does.
  absl::Status TrustCheckpoint(const v1::Checkpoint& checkpoint) const {
    LogVerifier verifier(signer_->public_key_pem());
    return verifier.Trust(checkpoint);
  }

  std::unique_ptr<Ed25519Signer> signer_;
  v1::Checkpoint checkpoint_;
  v1::SignedReceipt receipt_;
};

TEST_F(SignedStatementsTest, BothVerifyAsWhatTheyAre) {
  EXPECT_TRUE(TrustCheckpoint(checkpoint_).ok());
  EXPECT_TRUE(VerifyConsentReceipt(receipt_, signer_->public_key_pem()).ok());
}

TEST_F(SignedStatementsTest, TheirSignedMessagesStartWithDifferentContextLines) {
  const std::string checkpoint_text = CheckpointSignedText(checkpoint_);
  const std::string receipt_text = ConsentReceiptSignedMessage(receipt_.receipt_json());
  const std::string checkpoint_context = checkpoint_text.substr(0, checkpoint_text.find('\n') + 1);
  EXPECT_EQ(checkpoint_context, "onceonly checkpoint v1\n");
  EXPECT_FALSE(absl::StartsWith(checkpoint_text, kConsentReceiptContext));
  EXPECT_FALSE(absl::StartsWith(receipt_text, checkpoint_context));
}

TEST_F(SignedStatementsTest, ACheckpointSignatureDoesNotVerifyAsAReceipt) {
  v1::SignedReceipt forged = receipt_;
  forged.set_signature(checkpoint_.signature());
  EXPECT_EQ(VerifyConsentReceipt(forged, signer_->public_key_pem()).code(),
            absl::StatusCode::kPermissionDenied);
  // Nor the checkpoint's own signed bytes, handed over as a receipt.
  forged.set_receipt_json(CheckpointSignedText(checkpoint_));
  EXPECT_EQ(VerifyConsentReceipt(forged, signer_->public_key_pem()).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(SignedStatementsTest, AReceiptSignatureDoesNotVerifyAsACheckpoint) {
  v1::Checkpoint forged = checkpoint_;
  forged.set_signature(receipt_.signature());
  absl::Status status = TrustCheckpoint(forged);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
  EXPECT_THAT(status.message(), HasSubstr("signature does not verify"));
}

}  // namespace
}  // namespace onceonly
