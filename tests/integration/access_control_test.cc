// Access control through real mTLS: consent for a sole trader, registrations, the directory,
// every category of the demo policy, and policy reloads.
#include <unistd.h>

#include <fstream>
#include <map>
#include <set>

#include "authz/categories.h"
#include "authz/consent_receipt.h"
#include "common/tls.h"
#include "common/yaml_proto.h"
#include "onceonly/config/v1/policy.pb.h"
#include "gtest/gtest.h"
#include "onceonly/v1/consent.grpc.pb.h"
#include "onceonly/v1/directory.grpc.pb.h"
#include "onceonly/v1/dossier.grpc.pb.h"
#include "onceonly/v1/registration.grpc.pb.h"
#include "tests/integration/test_stack.h"
#include "tools/pki/dev_pki.h"

namespace onceonly {
namespace {

constexpr char kSoleTrader[] = "0552.627.113";  // Callebaut, Brenda: a natural person in the extract
constexpr char kNonProfit[] = "1029.028.161";   // Cap Horizons ASBL, Molenbeek
const absl::Time kNow = absl::FromUnixSeconds(1767225600);  // 2026-01-01

google::protobuf::Timestamp Ts(absl::Time t) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(t));
  return ts;
}

class AccessControlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto stack = TestStack::Create(
        ::testing::TempDir() + "/access-control-" + std::to_string(getpid()), kNow);
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = *std::move(stack);
  }

  // GetDossier as `member`, naming the case `case_ref` (none if empty).
  RichStatus Dossier(const std::string& member, const std::string& number,
                     const std::string& purpose, std::vector<std::string> categories,
                     v1::Dossier* dossier, const std::string& case_ref = "") {
    return Details(stack_->GetDossier(member, TestStack::Request(number, purpose, categories),
                                      dossier, "pki", case_ref));
  }

  // GrantConsent as `as`, the portal acting for `acting_for` (by default the subject itself;
  // none if "-").
  RichStatus GrantConsent(const std::string& as, const std::string& subject,
                          std::vector<std::string> categories, v1::GrantConsentResponse* out,
                          std::string acting_for = "") {
    v1::GrantConsentRequest request;
    v1::Consent* c = request.mutable_consent();
    c->set_subject(subject);
    c->set_grantee_member("brussels-economy");
    c->set_purpose("sole-trader-support");
    for (const auto& cat : categories) c->add_categories(cat);
    *c->mutable_valid_until() = Ts(kNow + absl::Hours(24 * 90));
    grpc::ClientContext context;
    TestStack::WithDeadline(context);
    if (acting_for.empty()) acting_for = subject;
    if (acting_for != "-") context.AddMetadata("x-onceonly-acting-for", acting_for);
    return Details(
        v1::ConsentService::NewStub(stack_->Channel(as))->GrantConsent(&context, request, out));
  }

  // RevokeConsent as `as`, acting for the subject.
  RichStatus RevokeConsent(const std::string& as, const std::string& consent_id,
                           const std::string& subject, v1::RevokeConsentResponse* out) {
    v1::RevokeConsentRequest revoke;
    revoke.set_consent_id(consent_id);
    revoke.set_subject(subject);
    grpc::ClientContext context;
    TestStack::WithDeadline(context);
    context.AddMetadata("x-onceonly-acting-for", subject);
    return Details(
        v1::ConsentService::NewStub(stack_->Channel(as))->RevokeConsent(&context, revoke, out));
  }

  // The records of the log, in order.
  std::vector<v1::AccessRecord> LogRecords() {
    auto size = stack_->LogSize();
    EXPECT_TRUE(size.ok());
    std::vector<v1::AccessRecord> records;
    for (uint64_t i = 0; size.ok() && i < *size; ++i) {
      auto record = stack_->Record(i);
      EXPECT_TRUE(record.ok()) << record.status();
      if (record.ok()) records.push_back(*record);
    }
    return records;
  }

  // Adds members to the stack's policy (as YAML list items) and reloads it, and issues each a
  // certificate.
  void AddMembers(const std::string& members_yaml, const std::vector<std::string>& ids) {
    const std::string path = stack_->dir() + "/policy.yaml";
    auto policy = ReadFileToString(path);
    ASSERT_TRUE(policy.ok());
    std::string changed = *policy;
    changed.insert(changed.find("members:\n") + 9, members_yaml);
    ASSERT_TRUE(static_cast<bool>(std::ofstream(path) << changed));
    ASSERT_TRUE(stack_->server().ReloadPolicy().ok());
    for (const std::string& id : ids) {
      ASSERT_TRUE(IssueMemberCertificate(stack_->dir() + "/pki", id, "", DevPkiOptions()).ok());
    }
  }

  std::unique_ptr<TestStack> stack_;
};

TEST_F(AccessControlTest, SoleTraderIsServedOnlyWhileItsConsentHolds) {
  const std::vector<std::string> categories = {"company.identity", "tax.good_standing"};
  v1::Dossier dossier;
  RichStatus r = Dossier("brussels-economy", kSoleTrader, "sole-trader-support", categories, &dossier);
  ASSERT_EQ(r.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(r.info.reason(), "CONSENT_REQUIRED");

  // Only the firm portal records consent.
  v1::GrantConsentResponse granted;
  EXPECT_EQ(GrantConsent("brussels-economy", kSoleTrader, categories, &granted).info.reason(),
            "ROLE_REQUIRED");
  r = GrantConsent("firm-portal", kSoleTrader, categories, &granted);
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  const std::string consent_id = granted.consent().consent_id();
  EXPECT_FALSE(consent_id.empty());
  // The receipt is signed with the gateway's key (pki/checkpoint.pub) and says what was agreed.
  auto public_key = ReadFileToString(stack_->dir() + "/pki/checkpoint.pub");
  ASSERT_TRUE(public_key.ok());
  EXPECT_TRUE(VerifyConsentReceipt(granted.receipt(), *public_key).ok());
  const std::string& receipt = granted.receipt().receipt_json();
  for (const std::string& needle :
       {std::string("\"record_id\":\"") + consent_id + "\"", std::string("\"0552.627.113\""),
        std::string("\"tax.good_standing\""), std::string("\"state\":\"given\""),
        std::string("sole-trader-support")}) {
    EXPECT_NE(receipt.find(needle), std::string::npos) << needle << " not in " << receipt;
  }

  stack_->clock().Advance(absl::Minutes(1));
  r = Dossier("brussels-economy", kSoleTrader, "sole-trader-support", categories, &dossier);
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_EQ(dossier.company().enterprise_number(), kSoleTrader);
  EXPECT_EQ(dossier.company().type_of_enterprise().code(), "1");
  auto record = stack_->Record(dossier.access_id());
  ASSERT_TRUE(record.ok());
  EXPECT_EQ(record->consent_id(), consent_id);
  EXPECT_EQ(record->grant_id(), "DEL-2025-033");

  // Asking beyond what the firm consented to is refused, naming the gap.
  r = Dossier("brussels-economy", kSoleTrader, "sole-trader-support",
              {"company.identity", "company.addresses"}, &dossier);
  EXPECT_EQ(r.info.reason(), "CONSENT_REQUIRED");

  // Revocation takes effect for the very next request.
  v1::RevokeConsentResponse revoked;
  RichStatus status = RevokeConsent("firm-portal", consent_id, "BE 0552627113", &revoked);
  ASSERT_TRUE(status.status.ok()) << status.status.error_message();
  EXPECT_TRUE(revoked.consent().has_revoked_at());
  EXPECT_NE(revoked.receipt().receipt_json().find("\"withdrawn\""), std::string::npos);
  v1::Dossier after;
  r = Dossier("brussels-economy", kSoleTrader, "sole-trader-support", categories, &after);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(r.info.reason(), "CONSENT_REVOKED");

  // The portal shows the firm its consents, past ones on request.
  v1::ListConsentsRequest list;
  list.set_subject(kSoleTrader);
  list.set_include_inactive(true);
  v1::ListConsentsResponse consents;
  grpc::ClientContext list_context;
  TestStack::WithDeadline(list_context);
  list_context.AddMetadata("x-onceonly-acting-for", kSoleTrader);
  ASSERT_TRUE(v1::ConsentService::NewStub(stack_->Channel("firm-portal"))
                  ->ListConsents(&list_context, list, &consents).ok());
  ASSERT_EQ(consents.consents_size(), 1);
  EXPECT_TRUE(consents.consents(0).has_revoked_at());
}

TEST_F(AccessControlTest, ConsentSurvivesARestartAndExpires) {
  v1::GrantConsentResponse granted;
  ASSERT_TRUE(GrantConsent("firm-portal", kSoleTrader, {"company.identity"}, &granted).status.ok());
  // A restarted gateway sees the consent: it was committed before the answer.
  ASSERT_TRUE(stack_->Restart().ok());
  v1::Dossier dossier;
  grpc::Status status = stack_->GetDossier(
      "brussels-economy",
      TestStack::Request(kSoleTrader, "sole-trader-support", {"company.identity"}), &dossier);
  EXPECT_TRUE(status.ok()) << status.error_message();

  // A second gateway may not open the same stores while the first runs.
  config::v1::GatewayConfig config = stack_->config();
  config.set_instance_name("gateway-2");
  auto second = GatewayServer::Start(config, stack_->clock());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);

  stack_->clock().Advance(absl::Hours(24 * 91));  // past valid_until
  RichStatus r = Dossier("brussels-economy", kSoleTrader, "sole-trader-support",
                         {"company.identity"}, &dossier);
  EXPECT_EQ(r.info.reason(), "CONSENT_EXPIRED");
}

TEST_F(AccessControlTest, PurposeWithRegistrationNeedsAnOpenCase) {
  const std::vector<std::string> categories = {"company.identity", "permits.urbanism"};
  v1::Dossier dossier;
  RichStatus r = Dossier("urban-brussels", kNonProfit, "permit-instruction", categories, &dossier);
  ASSERT_EQ(r.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(r.info.reason(), "REGISTRATION_REQUIRED");

  auto stub = v1::RegistrationService::NewStub(stack_->Channel("urban-brussels"));
  v1::RegisterCaseRequest request;
  request.set_subject("1029028161");
  request.set_purpose("permit-instruction");
  request.set_case_ref("URB/2026/0007");
  *request.mutable_valid_until() = Ts(kNow + absl::Hours(24 * 400));  // beyond 365 days
  v1::RegisterCaseResponse registered;
  {
    grpc::ClientContext context;
    TestStack::WithDeadline(context);
    RichStatus too_long = Details(stub->RegisterCase(&context, request, &registered));
    EXPECT_EQ(too_long.info.reason(), "PERIOD_TOO_LONG");
  }
  *request.mutable_valid_until() = Ts(kNow + absl::Hours(24 * 30));
  {
    grpc::ClientContext context;
    TestStack::WithDeadline(context);
    grpc::Status status = stub->RegisterCase(&context, request, &registered);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  EXPECT_EQ(registered.registration().subject(), kNonProfit);
  EXPECT_EQ(registered.registration().member(), "urban-brussels");

  // The case the caller names must be the case relied on.
  r = Dossier("urban-brussels", kNonProfit, "permit-instruction", categories, &dossier,
              "ECO/2025/42");
  EXPECT_EQ(r.info.reason(), "CASE_REF_MISMATCH");
  r = Dossier("urban-brussels", kNonProfit, "permit-instruction", categories, &dossier,
              "URB/2026/0007");
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  auto record = stack_->Record(dossier.access_id());
  ASSERT_TRUE(record.ok());
  EXPECT_EQ(record->registration_id(), registered.registration().registration_id());
  EXPECT_EQ(record->case_ref(), "URB/2026/0007");
  // Naming none, the record still holds the case relied on, not nothing.
  r = Dossier("urban-brussels", kNonProfit, "permit-instruction", categories, &dossier);
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  record = stack_->Record(dossier.access_id());
  ASSERT_TRUE(record.ok());
  EXPECT_EQ(record->case_ref(), "URB/2026/0007");

  // Another member cannot end it; its owner can, and access stops.
  v1::EndCaseRequest end;
  end.set_registration_id(registered.registration().registration_id());
  v1::EndCaseResponse ended;
  {
    grpc::ClientContext context;
    TestStack::WithDeadline(context);
    grpc::Status status = v1::RegistrationService::NewStub(stack_->Channel("brussels-economy"))
                              ->EndCase(&context, end, &ended);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  }
  {
    grpc::ClientContext context;
    TestStack::WithDeadline(context);
    ASSERT_TRUE(stub->EndCase(&context, end, &ended).ok());
  }
  r = Dossier("urban-brussels", kNonProfit, "permit-instruction", categories, &dossier);
  EXPECT_EQ(r.info.reason(), "REGISTRATION_REQUIRED");
}

TEST_F(AccessControlTest, DirectoryListsGrantsAndExplainsWithoutFetchingOrLogging) {
  auto stub = v1::DirectoryService::NewStub(stack_->Channel("brussels-economy"));
  v1::ListAllowedAccessResponse allowed;
  {
    grpc::ClientContext context;
    TestStack::WithDeadline(context);
    ASSERT_TRUE(stub->ListAllowedAccess(&context, v1::ListAllowedAccessRequest(), &allowed).ok());
  }
  std::set<std::string> grants;
  for (const auto& a : allowed.allowed()) grants.insert(a.grant_id());
  EXPECT_EQ(grants, (std::set<std::string>{"DEL-2025-014", "DEL-2025-033"}));

  auto size_before = stack_->LogSize();
  ASSERT_TRUE(size_before.ok());
  v1::ExplainAccessRequest explain;
  explain.set_enterprise_number(kNonProfit);
  explain.set_purpose("public-procurement");
  explain.add_categories("company.identity");
  explain.add_categories("tax.details");
  v1::ExplainAccessResponse why;
  {
    grpc::ClientContext context;
    TestStack::WithDeadline(context);
    ASSERT_TRUE(stub->ExplainAccess(&context, explain, &why).ok());
  }
  EXPECT_FALSE(why.allowed());
  EXPECT_EQ(why.reason(), "CATEGORY_NOT_GRANTED");
  EXPECT_NE(why.explanation().find("tax.details"), std::string::npos);
  explain.clear_categories();
  explain.add_categories("company.identity");
  {
    grpc::ClientContext context;
    TestStack::WithDeadline(context);
    ASSERT_TRUE(stub->ExplainAccess(&context, explain, &why).ok());
  }
  EXPECT_TRUE(why.allowed());
  EXPECT_EQ(why.reason(), "ALLOWED");
  EXPECT_EQ(why.grant_id(), "DEL-2025-014");
  EXPECT_EQ(*stack_->LogSize(), *size_before);  // a dry run leaves no access record
}

// What each category may release, written out here from docs/api.md rather than taken from
// authz/categories.cc, so that a widened mask in the code fails this test.
const std::map<std::string, std::set<std::string>>& ExpectedFields() {
  static const auto* fields = new std::map<std::string, std::set<std::string>>{
      {"company.identity",
       {"company.enterprise_number", "company.status", "company.juridical_situation",
        "company.type_of_enterprise", "company.juridical_form", "company.juridical_form_cac",
        "company.start_date", "company.denominations"}},
      {"company.addresses", {"company.addresses"}},
      {"company.activities", {"company.activities"}},
      {"company.contacts", {"company.contacts"}},
      {"company.establishments", {"company.establishments", "company.branches"}},
      {"permits.environment", {"permits.environment"}},
      {"permits.urbanism", {"permits.urbanism"}},
      {"tax.good_standing", {"tax.enterprise_number", "tax.good_standing"}},
      {"tax.details", {"tax.enterprise_number", "tax.vat", "tax.details"}},
  };
  return *fields;
}

// Every field set in `dossier`, as "company.addresses" for the data parts and "purpose" for
// provenance.
std::set<std::string> SetFields(const v1::Dossier& dossier) {
  std::set<std::string> out;
  std::vector<const google::protobuf::FieldDescriptor*> top;
  dossier.GetReflection()->ListFields(dossier, &top);
  for (const auto* field : top) {
    if (field->message_type() != nullptr && !field->is_repeated() &&
        (field->name() == "company" || field->name() == "permits" || field->name() == "tax")) {
      const auto& part = dossier.GetReflection()->GetMessage(dossier, field);
      std::vector<const google::protobuf::FieldDescriptor*> inner;
      part.GetReflection()->ListFields(part, &inner);
      for (const auto* f : inner) out.insert(field->name() + "." + f->name());
    } else {
      out.insert(field->name());
    }
  }
  return out;
}

TEST_F(AccessControlTest, ConsentCallsActOnlyForTheFirmThePortalNames) {
  v1::GrantConsentResponse granted;
  // No firm named, or another firm named: refused, nothing recorded.
  EXPECT_EQ(GrantConsent("firm-portal", kSoleTrader, {"company.identity"}, &granted, "-")
                .info.reason(),
            "ACTING_FOR_REQUIRED");
  EXPECT_EQ(GrantConsent("firm-portal", kSoleTrader, {"company.identity"}, &granted, kNonProfit)
                .info.reason(),
            "NOT_ACTING_FOR_SUBJECT");
  ASSERT_TRUE(
      GrantConsent("firm-portal", kSoleTrader, {"company.identity"}, &granted).status.ok());

  // Listing and revoking are held to the same firm.
  v1::ListConsentsRequest list;
  list.set_subject(kSoleTrader);
  v1::ListConsentsResponse consents;
  grpc::ClientContext list_context;
  TestStack::WithDeadline(list_context);
  list_context.AddMetadata("x-onceonly-acting-for", kNonProfit);
  EXPECT_EQ(Details(v1::ConsentService::NewStub(stack_->Channel("firm-portal"))
                        ->ListConsents(&list_context, list, &consents))
                .info.reason(),
            "NOT_ACTING_FOR_SUBJECT");
  EXPECT_EQ(consents.consents_size(), 0);
  v1::RevokeConsentRequest revoke;
  revoke.set_consent_id(granted.consent().consent_id());
  revoke.set_subject(kSoleTrader);
  v1::RevokeConsentResponse revoked;
  grpc::ClientContext revoke_context;
  TestStack::WithDeadline(revoke_context);
  EXPECT_EQ(Details(v1::ConsentService::NewStub(stack_->Channel("firm-portal"))
                        ->RevokeConsent(&revoke_context, revoke, &revoked))
                .info.reason(),
            "ACTING_FOR_REQUIRED");
  v1::Dossier dossier;
  EXPECT_TRUE(Dossier("brussels-economy", kSoleTrader, "sole-trader-support",
                      {"company.identity"}, &dossier)
                  .status.ok());
}

TEST_F(AccessControlTest, OnlyTheRecordingPortalOrAnOperatorRevokesAConsent) {
  AddMembers(R"(  - id: second-portal
    identities: ["spiffe://onceonly.brussels/member/second-portal"]
    roles: [FIRM_PORTAL]
  - id: operations
    identities: ["spiffe://onceonly.brussels/member/operations"]
    roles: [OPERATOR]
)",
             {"second-portal", "operations"});
  v1::GrantConsentResponse first, second;
  ASSERT_TRUE(GrantConsent("firm-portal", kSoleTrader, {"company.identity"}, &first).status.ok());
  ASSERT_TRUE(GrantConsent("firm-portal", kSoleTrader, {"company.identity"}, &second).status.ok());
  v1::RevokeConsentResponse revoked;
  RichStatus r = RevokeConsent("second-portal", first.consent().consent_id(), kSoleTrader,
                               &revoked);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(r.info.reason(), "NOT_RECORDING_PORTAL");
  // A consumer is no operator.
  EXPECT_EQ(RevokeConsent("brussels-economy", first.consent().consent_id(), kSoleTrader, &revoked)
                .info.reason(),
            "ROLE_REQUIRED");
  r = RevokeConsent("firm-portal", first.consent().consent_id(), kSoleTrader, &revoked);
  EXPECT_TRUE(r.status.ok()) << r.status.error_message();
  r = RevokeConsent("operations", second.consent().consent_id(), kSoleTrader, &revoked);
  EXPECT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_TRUE(revoked.consent().has_revoked_at());
}

TEST_F(AccessControlTest, ConsentAndRegistrationChangesAreInTheLog) {
  v1::GrantConsentResponse granted;
  ASSERT_TRUE(GrantConsent("firm-portal", kSoleTrader, {"company.identity", "tax.good_standing"},
                           &granted)
                  .status.ok());
  v1::RevokeConsentResponse revoked;
  ASSERT_TRUE(
      RevokeConsent("firm-portal", granted.consent().consent_id(), kSoleTrader, &revoked)
          .status.ok());
  v1::ListConsentsRequest list;
  list.set_subject(kSoleTrader);
  v1::ListConsentsResponse consents;
  {
    grpc::ClientContext context;
    TestStack::WithDeadline(context);
    context.AddMetadata("x-onceonly-acting-for", kSoleTrader);
    ASSERT_TRUE(v1::ConsentService::NewStub(stack_->Channel("firm-portal"))
                    ->ListConsents(&context, list, &consents)
                    .ok());
  }
  auto registrations = v1::RegistrationService::NewStub(stack_->Channel("urban-brussels"));
  v1::RegisterCaseRequest request;
  request.set_subject(kNonProfit);
  request.set_purpose("permit-instruction");
  request.set_case_ref("URB/2026/0099");
  v1::RegisterCaseResponse registered;
  {
    grpc::ClientContext context;
    TestStack::WithDeadline(context);
    ASSERT_TRUE(registrations->RegisterCase(&context, request, &registered).ok());
  }
  v1::EndCaseRequest end;
  end.set_registration_id(registered.registration().registration_id());
  v1::EndCaseResponse ended;
  {
    grpc::ClientContext context;
    TestStack::WithDeadline(context);
    ASSERT_TRUE(registrations->EndCase(&context, end, &ended).ok());
  }
  // A refused change is in the log too.
  {
    grpc::ClientContext context;
    TestStack::WithDeadline(context);
    request.set_case_ref("line\nbreak");
    EXPECT_EQ(Details(registrations->RegisterCase(&context, request, &registered)).info.reason(),
              "CASE_REF_REQUIRED");
  }

  std::vector<v1::AccessRecord> records = LogRecords();
  ASSERT_EQ(records.size(), 6u);
  const std::string consent_id = granted.consent().consent_id();
  const std::string registration_id = registered.registration().registration_id();
  struct Expected {
    std::string method;
    std::string member;
    std::string subject;
    std::string consent_id;
    std::string registration_id;
    v1::Decision decision;
  };
  const std::vector<Expected> expected = {
      {"/onceonly.v1.ConsentService/GrantConsent", "firm-portal", kSoleTrader, consent_id, "",
       v1::DECISION_ALLOW},
      {"/onceonly.v1.ConsentService/RevokeConsent", "firm-portal", kSoleTrader, consent_id, "",
       v1::DECISION_ALLOW},
      {"/onceonly.v1.ConsentService/ListConsents", "firm-portal", kSoleTrader, "", "",
       v1::DECISION_ALLOW},
      {"/onceonly.v1.RegistrationService/RegisterCase", "urban-brussels", kNonProfit, "",
       registration_id, v1::DECISION_ALLOW},
      {"/onceonly.v1.RegistrationService/EndCase", "urban-brussels", kNonProfit, "",
       registration_id, v1::DECISION_ALLOW},
      {"/onceonly.v1.RegistrationService/RegisterCase", "urban-brussels", kNonProfit, "", "",
       v1::DECISION_DENY},
  };
  for (size_t i = 0; i < expected.size(); ++i) {
    SCOPED_TRACE(expected[i].method);
    EXPECT_EQ(records[i].method(), expected[i].method);
    EXPECT_EQ(records[i].member(), expected[i].member);
    EXPECT_EQ(records[i].subject(), expected[i].subject);
    EXPECT_EQ(records[i].consent_id(), expected[i].consent_id);
    EXPECT_EQ(records[i].registration_id(), expected[i].registration_id);
    EXPECT_EQ(records[i].decision(), expected[i].decision);
  }
  EXPECT_EQ(records[0].purpose(), "sole-trader-support");
  EXPECT_EQ(records[0].categories_requested_size(), 2);
  EXPECT_EQ(records[3].case_ref(), "URB/2026/0099");
  EXPECT_EQ(records[5].case_ref(), "");  // the refused reference is not kept
}

TEST_F(AccessControlTest, OpenRegistrationsAreCapped) {
  auto stub = v1::RegistrationService::NewStub(stack_->Channel("urban-brussels"));
  v1::RegisterCaseRequest request;
  request.set_subject(kNonProfit);
  request.set_purpose("permit-instruction");
  auto register_case = [&](int n, v1::RegisterCaseResponse* out) {
    request.set_case_ref("URB/2026/" + std::to_string(n));
    grpc::ClientContext context;
    TestStack::WithDeadline(context);
    return Details(stub->RegisterCase(&context, request, out));
  };
  v1::RegisterCaseResponse registered;
  for (int n = 0; n < 16; ++n) {
    ASSERT_TRUE(register_case(n, &registered).status.ok()) << n;
  }
  RichStatus r = register_case(16, &registered);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(r.info.reason(), "TOO_MANY_OPEN_CASES");
  // Ending one makes room for one.
  v1::EndCaseRequest end;
  end.set_registration_id(registered.registration().registration_id());
  v1::EndCaseResponse ended;
  grpc::ClientContext context;
  TestStack::WithDeadline(context);
  ASSERT_TRUE(stub->EndCase(&context, end, &ended).ok());
  EXPECT_TRUE(register_case(17, &registered).status.ok());
  EXPECT_EQ(register_case(18, &registered).info.reason(), "TOO_MANY_OPEN_CASES");
}

// For every consumer member, purpose and category of the demo policy: an ungranted category
// is refused with nothing released, and a granted one returns no field outside its mask.
TEST_F(AccessControlTest, NoMemberEverSeesACategoryItWasNotGranted) {
  config::v1::Policy policy;
  ASSERT_TRUE(LoadYamlFile(stack_->dir() + "/policy.yaml", &policy, nullptr).ok());
  // Satisfy registration and consent so that grants decide alone.
  {
    v1::GrantConsentResponse granted;
    std::vector<std::string> all;
    for (const DataCategory& c : AllDataCategories()) all.push_back(c.name);
    for (const char* subject : {kNonProfit, kSoleTrader}) {
      ASSERT_TRUE(GrantConsent("firm-portal", subject, all, &granted).status.ok());
    }
    for (const char* subject : {kNonProfit, kSoleTrader}) {
      v1::RegisterCaseRequest request;
      request.set_subject(subject);
      request.set_purpose("permit-instruction");
      request.set_case_ref("URB/2026/1");
      v1::RegisterCaseResponse registered;
      grpc::ClientContext context;
      TestStack::WithDeadline(context);
      ASSERT_TRUE(v1::RegistrationService::NewStub(stack_->Channel("urban-brussels"))
                      ->RegisterCase(&context, request, &registered).ok());
    }
  }
  int allowed = 0, refused = 0;
  for (const auto& member : policy.members()) {
    if (std::find(member.roles().begin(), member.roles().end(), config::v1::CONSUMER) ==
        member.roles().end()) {
      continue;
    }
    for (const auto& purpose : policy.purposes()) {
      std::set<std::string> granted;
      for (const auto& g : policy.grants()) {
        if (g.member() == member.id() && g.purpose() == purpose.id()) {
          granted.insert(g.categories().begin(), g.categories().end());
        }
      }
      for (const DataCategory& category : AllDataCategories()) {
        for (const char* subject : {kNonProfit, kSoleTrader}) {
          v1::Dossier dossier;
          RichStatus r = Dossier(member.id(), subject, purpose.id(), {category.name}, &dossier);
          std::string what = member.id() + " / " + purpose.id() + " / " + category.name;
          if (!granted.count(category.name)) {
            ++refused;
            EXPECT_EQ(r.status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << what;
            EXPECT_TRUE(r.info.reason() == "NO_GRANT" ||
                        r.info.reason() == "CATEGORY_NOT_GRANTED")
                << what << ": " << r.info.reason();
            continue;
          }
          ++allowed;
          ASSERT_TRUE(r.status.ok()) << what << ": " << r.status.error_message();
          const std::set<std::string> provenance = {
              "enterprise_number", "sources", "access_id", "purpose", "released_categories",
              "grant_id"};
          for (const std::string& field : SetFields(dossier)) {
            EXPECT_TRUE(provenance.count(field) ||
                        ExpectedFields().at(category.name).count(field))
                << what << " released " << field;
          }
          for (const auto& s : dossier.sources()) {
            EXPECT_EQ(s.registry(), category.registry) << what;
          }
        }
      }
    }
  }
  EXPECT_GT(allowed, 10);
  EXPECT_GT(refused, 10);
}

TEST_F(AccessControlTest, BrokenPolicyKeepsTheOldOneAndSaysWhy) {
  const std::string path = stack_->dir() + "/policy.yaml";
  auto original = ReadFileToString(path);
  ASSERT_TRUE(original.ok());
  std::string broken = *original;
  broken.replace(broken.find("    purpose: public-procurement"), 30,
                 "    purpose: public-procurment");
  ASSERT_TRUE(static_cast<bool>(std::ofstream(path) << broken));
  absl::StatusOr<bool> reloaded = stack_->server().ReloadPolicyIfChanged();
  ASSERT_FALSE(reloaded.ok());
  EXPECT_NE(reloaded.status().message().find("policy.yaml:"), absl::string_view::npos);
  EXPECT_NE(reloaded.status().message().find("grants[0].purpose"), absl::string_view::npos)
      << reloaded.status();
  EXPECT_NE(reloaded.status().message().find("previous policy stays in force"),
            absl::string_view::npos);
  // Still served under the old policy.
  v1::Dossier dossier;
  EXPECT_TRUE(Dossier("brussels-economy", kNonProfit, "public-procurement", {"company.identity"},
                      &dossier).status.ok());
  // Unchanged file: nothing to reload, no repeated complaint.
  EXPECT_EQ(stack_->server().ReloadPolicyIfChanged().value_or(true), false);

  // A valid change (the procurement grant withdrawn) takes effect at the next request.
  std::string withdrawn = *original;
  size_t grant = withdrawn.find("  - id: DEL-2025-014");
  size_t next = withdrawn.find("  - id: DEL-2025-021");
  withdrawn.erase(grant, next - grant);
  ASSERT_TRUE(static_cast<bool>(std::ofstream(path) << withdrawn));
  reloaded = stack_->server().ReloadPolicyIfChanged();
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  EXPECT_TRUE(*reloaded);
  EXPECT_EQ(Dossier("brussels-economy", kNonProfit, "public-procurement", {"company.identity"},
                    &dossier).info.reason(),
            "NO_GRANT");
}

}  // namespace
}  // namespace onceonly
