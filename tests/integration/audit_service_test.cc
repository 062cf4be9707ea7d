// AuditService through real mTLS: who may read which records, every audit call logged, and
// an auditor's export that verifies from the records up.
#include <unistd.h>

#include <set>

#include "audit/access_log.h"
#include "audit/log_verifier.h"
#include "audit/merkle_tree.h"
#include "audit/merkle_verifier.h"
#include "common/yaml_proto.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "onceonly/v1/audit.grpc.pb.h"
#include "tests/integration/test_stack.h"

namespace onceonly {
namespace {

using ::testing::Each;
using ::testing::HasSubstr;

constexpr char kNonProfit[] = "1029.028.161";  // Cap Horizons ASBL
constexpr char kOther[] = "0403.170.701";
const absl::Time kNow = absl::FromUnixSeconds(1767225600);  // 2026-01-01

class AuditServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto stack = TestStack::Create(
        ::testing::TempDir() + "/audit-service-" + std::to_string(getpid()), kNow);
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = *std::move(stack);
    // brussels-economy is served twice (two subjects); urban-brussels is refused once.
    v1::Dossier dossier;
    for (const char* subject : {kNonProfit, kOther}) {
      ASSERT_TRUE(stack_->GetDossier("brussels-economy",
                                     TestStack::Request(subject, "public-procurement",
                                                        {"company.identity"}),
                                     &dossier)
                      .ok());
    }
    EXPECT_EQ(stack_->GetDossier("urban-brussels",
                                 TestStack::Request(kNonProfit, "public-procurement",
                                                    {"company.identity"}),
                                 &dossier)
                  .error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }

  std::unique_ptr<v1::AuditService::Stub> Audit(const std::string& member) {
    return v1::AuditService::NewStub(stack_->Channel(member));
  }

  RichStatus Query(const std::string& member, v1::QueryAccessLogRequest request,
                   v1::QueryAccessLogResponse* response) {
    grpc::ClientContext context;
    TestStack::WithDeadline(context);
    return Details(Audit(member)->QueryAccessLog(&context, request, response));
  }

  RichStatus History(const std::string& member, const std::string& acting_for,
                     const std::string& subject, v1::GetAccessHistoryResponse* response) {
    grpc::ClientContext context;
    TestStack::WithDeadline(context);
    if (!acting_for.empty()) context.AddMetadata("x-onceonly-acting-for", acting_for);
    v1::GetAccessHistoryRequest request;
    request.set_subject(subject);
    return Details(Audit(member)->GetAccessHistory(&context, request, response));
  }

  std::unique_ptr<TestStack> stack_;
};

TEST_F(AuditServiceTest, AuditorSeesEverythingAndPagesWithoutGapsOrRepeats) {
  v1::QueryAccessLogRequest request;
  request.set_page_size(2);
  std::vector<uint64_t> ids;
  std::set<std::string> members;
  for (int page = 0; page < 20; ++page) {
    v1::QueryAccessLogResponse response;
    RichStatus r = Query("audit-office", request, &response);
    ASSERT_TRUE(r.status.ok()) << r.status.error_message();
    for (const auto& record : response.records()) {
      ids.push_back(record.access_id());
      members.insert(record.member());
    }
    if (response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
  }
  // The three dossier calls, then this query's own pages, each logged as it was answered.
  ASSERT_GE(ids.size(), 3u);
  for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(ids[i], i);
  EXPECT_TRUE(members.count("brussels-economy") && members.count("urban-brussels") &&
              members.count("audit-office"));

  v1::QueryAccessLogRequest denied;
  denied.set_decision(v1::DECISION_DENY);
  denied.set_subject("1029028161");  // any form of the number
  v1::QueryAccessLogResponse response;
  ASSERT_TRUE(Query("audit-office", denied, &response).status.ok());
  ASSERT_EQ(response.records_size(), 1);
  EXPECT_EQ(response.records(0).member(), "urban-brussels");
  EXPECT_EQ(response.records(0).reason(), "NO_GRANT");
}

TEST_F(AuditServiceTest, AConsumerSeesOnlyItsOwnAccesses) {
  v1::QueryAccessLogResponse response;
  ASSERT_TRUE(Query("urban-brussels", {}, &response).status.ok());
  ASSERT_GE(response.records_size(), 1);
  for (const auto& record : response.records()) EXPECT_EQ(record.member(), "urban-brussels");

  v1::QueryAccessLogRequest theirs;
  theirs.set_member("brussels-economy");
  RichStatus r = Query("urban-brussels", theirs, &response);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(r.info.reason(), "NOT_OWN_ACCESSES");

  // An empty time range is a mistake worth naming.
  v1::QueryAccessLogRequest backwards;
  backwards.mutable_from()->set_seconds(absl::ToUnixSeconds(kNow));
  backwards.mutable_until()->set_seconds(absl::ToUnixSeconds(kNow) - 3600);
  r = Query("urban-brussels", backwards, &response);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(r.info.reason(), "EMPTY_TIME_RANGE");

  // A member not in the policy sees nothing at all.
  r = Query("stranger", {}, &response);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(r.info.reason(), "UNKNOWN_MEMBER");
}

TEST_F(AuditServiceTest, AFirmSeesItsOwnHistoryOnly) {
  // An auditor looking into the firm reads the log, not the firm's data: that is not part of
  // the firm's history (it is in the auditors' own records).
  v1::QueryAccessLogRequest about_the_firm;
  about_the_firm.set_subject(kNonProfit);
  v1::QueryAccessLogResponse seen;
  ASSERT_TRUE(Query("audit-office", about_the_firm, &seen).status.ok());
  ASSERT_EQ(seen.records_size(), 2);
  v1::GetAccessHistoryResponse response;
  RichStatus r = History("firm-portal", "1029.028.161", kNonProfit, &response);
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  ASSERT_EQ(response.records_size(), 2);  // one ALLOW (brussels-economy), one DENY (urban)
  for (const auto& record : response.records()) {
    EXPECT_EQ(record.subject(), kNonProfit);
    EXPECT_TRUE(record.user().empty()) << "civil servants' pseudonyms stay with the auditors";
    EXPECT_TRUE(record.identity().empty());
  }

  // The portal acting for one firm cannot read another's.
  r = History("firm-portal", kOther, kNonProfit, &response);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(r.info.reason(), "NOT_ACTING_FOR_SUBJECT");
  r = History("firm-portal", "", kNonProfit, &response);
  EXPECT_EQ(r.info.reason(), "ACTING_FOR_REQUIRED");
  // Consumers and auditors are not the portal.
  r = History("brussels-economy", kNonProfit, kNonProfit, &response);
  EXPECT_EQ(r.info.reason(), "ROLE_REQUIRED");
  r = History("firm-portal", kNonProfit, "12345", &response);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(r.bad_request.field_violations(0).field(), "subject");
}

TEST_F(AuditServiceTest, EveryAuditCallIsItselfLogged) {
  v1::GetAccessHistoryResponse history;
  ASSERT_TRUE(History("firm-portal", kNonProfit, kNonProfit, &history).status.ok());
  History("firm-portal", kOther, kNonProfit, &history);  // refused, and logged as such
  auto size = stack_->LogSize();
  ASSERT_TRUE(size.ok());
  auto allowed = stack_->Record(*size - 2);
  auto refused = stack_->Record(*size - 1);
  ASSERT_TRUE(allowed.ok() && refused.ok());
  EXPECT_EQ(allowed->method(), "/onceonly.v1.AuditService/GetAccessHistory");
  EXPECT_EQ(allowed->member(), "firm-portal");
  EXPECT_EQ(allowed->subject(), kNonProfit);
  EXPECT_EQ(allowed->decision(), v1::DECISION_ALLOW);
  EXPECT_THAT(allowed->query(), HasSubstr("history of 1029.028.161"));
  EXPECT_EQ(refused->decision(), v1::DECISION_DENY);
  EXPECT_EQ(refused->reason(), "NOT_ACTING_FOR_SUBJECT");
}

TEST_F(AuditServiceTest, AnAuditorsExportVerifiesAndProofsCheckOut) {
  auto public_key = ReadFileToString(stack_->dir() + "/pki/checkpoint.pub");
  ASSERT_TRUE(public_key.ok()) << public_key.status();
  // Wait for a checkpoint that covers the dossier calls (every 1 s by default).
  v1::Checkpoint checkpoint;
  for (int attempt = 0; attempt < 100; ++attempt) {
    grpc::ClientContext context;
    TestStack::WithDeadline(context);
    v1::GetCheckpointResponse response;
    ASSERT_TRUE(Audit("brussels-economy")->GetCheckpoint(&context, {}, &response).ok());
    checkpoint = response.checkpoint();
    if (checkpoint.tree_size() >= 3) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_GE(checkpoint.tree_size(), 3u);

  // A consumer may not export; the auditor may.
  {
    grpc::ClientContext context;
    TestStack::WithDeadline(context);
    v1::ExportAccessLogResponse response;
    EXPECT_EQ(Details(Audit("brussels-economy")->ExportAccessLog(&context, {}, &response))
                  .info.reason(),
              "ROLE_REQUIRED");
  }
  LogVerifier verifier(*public_key);
  ASSERT_TRUE(verifier.Trust(checkpoint).ok());
  v1::ExportAccessLogRequest request;
  request.set_page_size(2);
  for (int page = 0; page < 100; ++page) {
    grpc::ClientContext context;
    TestStack::WithDeadline(context);
    v1::ExportAccessLogResponse response;
    grpc::Status status = Audit("audit-office")->ExportAccessLog(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    for (const auto& entry : response.entries()) {
      absl::Status s = verifier.Add(entry);
      ASSERT_TRUE(s.ok()) << s;
    }
    if (response.end()) break;
    request.set_start_index(response.next_index());
  }
  auto report = verifier.Finish();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_GE(report->leaves, checkpoint.tree_size());
  EXPECT_GE(report->checkpoints, 2u);  // the trusted one and the log's own

  // The first dossier call's inclusion in the checkpoint, checked independently.
  auto first = stack_->Record(0);
  ASSERT_TRUE(first.ok());
  grpc::ClientContext context;
  TestStack::WithDeadline(context);
  v1::GetInclusionProofRequest proof_request;
  proof_request.set_leaf_index(0);
  proof_request.set_tree_size(checkpoint.tree_size());
  v1::GetInclusionProofResponse proof;
  ASSERT_TRUE(Audit("brussels-economy")->GetInclusionProof(&context, proof_request, &proof).ok());
  EXPECT_TRUE(VerifyInclusion(0, checkpoint.tree_size(),
                              MerkleLeafHash(SerializeAccessRecord(*first)),
                              {proof.hashes().begin(), proof.hashes().end()},
                              checkpoint.root_hash())
                  .ok());
}

}  // namespace
}  // namespace onceonly
