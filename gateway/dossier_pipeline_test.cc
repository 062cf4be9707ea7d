#include "gateway/dossier_pipeline.h"

#include <unistd.h>

#include <cstdio>
#include <thread>

#include "absl/synchronization/notification.h"
#include "audit/testing/fault_injecting_store.h"
#include "common/rich_status.h"
#include "connectors/testing/fake_connector.h"
#include "google/protobuf/util/time_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace onceonly {
namespace {

namespace rv1 = registry::v1;

// The dossier an answer's bytes hold, which must carry the answer's access_id.
absl::StatusOr<v1::Dossier> Parsed(absl::StatusOr<DossierAnswer> answer) {
  if (!answer.ok()) return answer.status();
  v1::Dossier dossier;
  if (!dossier.ParseFromString(answer->wire)) return absl::DataLossError("unparsable dossier");
  if (!dossier.has_access_id() || dossier.access_id() != answer->access_id) {
    return absl::DataLossError("the dossier's access_id is not the answer's");
  }
  return dossier;
}

constexpr char kPolicy[] = R"(
members:
  - id: economy
    identities: ["spiffe://onceonly.brussels/member/economy"]
    roles: [CONSUMER]
purposes:
  - id: public-procurement
    legal_basis: "Public procurement law"
  - id: support
    legal_basis: "Consent of the sole trader"
    requires_consent: true
grants:
  - id: G2
    member: economy
    purpose: support
    categories: [company.identity]
  - id: G1
    member: economy
    purpose: public-procurement
    categories: [company.identity, permits.environment, tax.good_standing]
)";

class DossierPipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config::v1::Policy policy;
    ASSERT_TRUE(ParseYamlToProto(kPolicy, "policy.yaml", &policy, nullptr).ok());
    auto snapshot = PolicySnapshot::Create(policy);
    ASSERT_TRUE(snapshot.ok()) << snapshot.status();

    std::string path = ::testing::TempDir() + "/pipeline-" + std::to_string(getpid()) + "-" +
                       ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".db";
    std::remove(path.c_str());
    std::remove((path + ".authz").c_str());
    auto inner = OpenSqliteAccessLogStore(path);
    ASSERT_TRUE(inner.ok());
    auto store = std::make_unique<FaultInjectingStore>(*std::move(inner));
    store_ = store.get();
    access_log_ = *AccessLog::Create(std::move(store), "gw-test", 16);

    auto companies = std::make_unique<FakeConnector>("companies");
    auto permits = std::make_unique<FakeConnector>("permits");
    auto tax = std::make_unique<FakeConnector>("tax");
    companies_ = companies.get();
    permits_ = permits.get();
    tax_ = tax.get();
    rv1::SubjectRecords company;
    company.mutable_enterprise()->set_enterprise_number(kSubject);
    company.mutable_enterprise()->add_denominations()->set_value("Cap Horizons ASBL");
    company.mutable_enterprise()->add_addresses()->set_zipcode("1080");  // not released
    companies_->Set(kSubject, company);
    rv1::SubjectRecords permit_records;
    auto* env = permit_records.add_permits();
    env->set_reference("PE-1");
    env->set_kind(rv1::PERMIT_KIND_ENVIRONMENT);
    env->set_holder_enterprise_number(kSubject);
    auto* urb = permit_records.add_permits();
    urb->set_reference("PU-1");
    urb->set_kind(rv1::PERMIT_KIND_URBANISM);  // not released
    urb->set_holder_enterprise_number(kSubject);
    permits_->Set(kSubject, permit_records);
    rv1::SubjectRecords tax_records;
    tax_records.mutable_tax_status()->set_enterprise_number(kSubject);
    tax_records.mutable_tax_status()->mutable_good_standing()->set_in_good_standing(true);
    tax_records.mutable_tax_status()->mutable_details()->set_overdue_tax_cents(5000);
    tax_->Set(kSubject, tax_records);

    std::map<std::string, RegistryEndpoint> registries;
    registries["companies"].connector = std::move(companies);
    registries["permits"].connector = std::move(permits);
    registries["tax"].connector = std::move(tax);
    auto authz = AuthzStore::Open(path + ".authz");
    ASSERT_TRUE(authz.ok()) << authz.status();
    authz_store_ = *std::move(authz);
    pipeline_ = std::make_unique<DossierPipeline>(*snapshot, std::move(registries), *access_log_,
                                                  *authz_store_, pool_, clock_,
                                                  int64_t{64} << 20, max_answer_bytes_);
  }

  absl::StatusOr<v1::Dossier> Run(std::vector<std::string> categories,
                                  const std::string& number = "1029028161",
                                  absl::Time deadline = absl::InfiniteFuture(),
                                  const std::string& purpose = "public-procurement") {
    CallInfo call;
    call.identity = ParseMemberUri("spiffe://onceonly.brussels/member/economy");
    call.case_ref = "CASE-1";
    call.deadline = deadline;
    v1::GetDossierRequest request;
    request.set_enterprise_number(number);
    request.set_purpose(purpose);
    for (const auto& c : categories) request.add_categories(c);
    absl::Notification done;
    absl::StatusOr<v1::Dossier> result;
    pipeline_->GetDossier(call, request, [&](absl::StatusOr<DossierAnswer> d) {
      result = Parsed(std::move(d));
      done.Notify();
    });
    done.WaitForNotification();
    return result;
  }

  static constexpr char kSubject[] = "1029.028.161";
  FakeClock clock_{absl::FromUnixSeconds(1760000000)};
  ThreadPool pool_{4};
  FaultInjectingStore* store_ = nullptr;
  std::unique_ptr<AccessLog> access_log_;
  std::unique_ptr<AuthzStore> authz_store_;
  FakeConnector* companies_ = nullptr;
  FakeConnector* permits_ = nullptr;
  FakeConnector* tax_ = nullptr;
  std::unique_ptr<DossierPipeline> pipeline_;
  int64_t max_answer_bytes_ = 0;  // set in a subclass's constructor, before SetUp
};

// A gateway whose largest answer is 200 bytes.
class SmallAnswerPipelineTest : public DossierPipelineTest {
 protected:
  SmallAnswerPipelineTest() { max_answer_bytes_ = 200; }
};

// An answer gRPC could not send is withheld and logged as such, never logged as released.
TEST_F(SmallAnswerPipelineTest, AnAnswerOverTheLimitIsWithheldAndLoggedAsADenial) {
  auto small = Run({"tax.good_standing"});
  ASSERT_TRUE(small.ok()) << small.status();  // under 200 bytes: sent
  auto large = Run({"company.identity", "permits.environment", "tax.good_standing"});
  ASSERT_EQ(large.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(ErrorReason(large.status()), "ANSWER_TOO_LARGE");
  EXPECT_EQ(ErrorMetadata(large.status(), "max_response_bytes"), "200");
  const std::string access_id = ErrorMetadata(large.status(), "access_id");
  ASSERT_EQ(access_id, "1");
  auto records = access_log_->Read(1, 1);
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ((*records)[0].decision(), v1::DECISION_DENY);
  EXPECT_EQ((*records)[0].reason(), "ANSWER_TOO_LARGE");
  EXPECT_TRUE((*records)[0].categories_released().empty());
  EXPECT_TRUE((*records)[0].payload_sha256().empty());
}

TEST_F(DossierPipelineTest, ReleasesOnlyTheAskedCategoriesAndLogsTheHash) {
  auto dossier = Run({"company.identity", "permits.environment", "tax.good_standing"});
  ASSERT_TRUE(dossier.ok()) << dossier.status();
  EXPECT_EQ(dossier->enterprise_number(), kSubject);
  EXPECT_EQ(dossier->company().denominations(0).value(), "Cap Horizons ASBL");
  EXPECT_EQ(dossier->company().addresses_size(), 0);
  EXPECT_EQ(dossier->permits().environment_size(), 1);
  EXPECT_EQ(dossier->permits().urbanism_size(), 0);
  EXPECT_TRUE(dossier->tax().good_standing().in_good_standing());
  EXPECT_FALSE(dossier->tax().has_details());
  ASSERT_EQ(dossier->sources_size(), 3);

  auto records = access_log_->Read(dossier->access_id(), 1);
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 1u);
  const v1::AccessRecord& r = (*records)[0];
  EXPECT_EQ(r.decision(), v1::DECISION_ALLOW);
  EXPECT_EQ(r.grant_id(), "G1");
  EXPECT_EQ(r.case_ref(), "CASE-1");
  EXPECT_EQ(r.time().seconds(), 1760000000);
  v1::Dossier hashed = *dossier;
  hashed.clear_access_id();  // the hash covers the payload as released, before numbering
  EXPECT_EQ(r.payload_sha256(), DossierSha256(hashed));
}

TEST_F(DossierPipelineTest, OnlyRegistriesHoldingReleasedCategoriesAreCalled) {
  auto dossier = Run({"company.identity"});
  ASSERT_TRUE(dossier.ok()) << dossier.status();
  EXPECT_EQ(companies_->calls(), 1);
  EXPECT_EQ(permits_->calls(), 0);
  EXPECT_EQ(tax_->calls(), 0);
  EXPECT_EQ(companies_->last_request().enterprise_number, kSubject);
}

TEST_F(DossierPipelineTest, TheCompaniesRegistryIsAskedOnlyForWhatIsReleased) {
  ASSERT_TRUE(Run({"company.identity", "tax.good_standing"}).ok());
  const std::vector<std::string> fields = companies_->last_request().fields;
  EXPECT_THAT(fields, ::testing::IsSupersetOf({"enterprise_number", "status", "denominations"}));
  for (const char* withheld : {"addresses", "activities", "contacts", "establishments", "branches"}) {
    EXPECT_THAT(fields, ::testing::Not(::testing::Contains(withheld)));
  }
}

TEST_F(DossierPipelineTest, FailingRegistryGivesPartialDossier) {
  tax_->FailWith(absl::UnavailableError("tax registry down"));
  auto dossier = Run({"company.identity", "tax.good_standing"});
  ASSERT_TRUE(dossier.ok()) << dossier.status();
  EXPECT_EQ(dossier->company().denominations(0).value(), "Cap Horizons ASBL");
  EXPECT_FALSE(dossier->has_tax());
  bool saw_tax = false;
  for (const auto& s : dossier->sources()) {
    if (s.registry() == "tax") {
      saw_tax = true;
      EXPECT_EQ(s.code(), static_cast<int>(absl::StatusCode::kUnavailable));
      // The registry's own words stay in the gateway's log: they may quote stored values.
      EXPECT_EQ(s.message(), "the tax registry is unavailable");
    } else {
      EXPECT_EQ(s.code(), 0) << s.registry();
    }
  }
  EXPECT_TRUE(saw_tax);
  auto records = access_log_->Read(dossier->access_id(), 1);
  ASSERT_TRUE(records.ok());
  EXPECT_EQ((*records)[0].sources(1), "tax:UNAVAILABLE");
  // Nothing left for tax.good_standing, and neither the dossier nor the log says otherwise.
  EXPECT_EQ(std::vector<std::string>(dossier->released_categories().begin(),
                                     dossier->released_categories().end()),
            std::vector<std::string>{"company.identity"});
  EXPECT_EQ(std::vector<std::string>((*records)[0].categories_released().begin(),
                                     (*records)[0].categories_released().end()),
            std::vector<std::string>{"company.identity"});
  EXPECT_EQ((*records)[0].categories_requested_size(), 2);
}

TEST_F(DossierPipelineTest, RegistryAnsweringForAnotherSubjectOrPartIsRejected) {
  // A tax connector that also fills the company part and speaks of another enterprise.
  rv1::SubjectRecords rogue;
  rogue.mutable_tax_status()->set_enterprise_number("0403.170.701");
  rogue.mutable_tax_status()->mutable_good_standing()->set_in_good_standing(true);
  tax_->Set(kSubject, rogue);
  rv1::SubjectRecords overreach;
  overreach.mutable_enterprise()->set_enterprise_number(kSubject);
  overreach.mutable_enterprise()->add_denominations()->set_value("Forged Name");
  permits_->Set(kSubject, overreach);
  auto dossier = Run({"company.identity", "permits.environment", "tax.good_standing"});
  ASSERT_TRUE(dossier.ok()) << dossier.status();
  EXPECT_FALSE(dossier->has_tax());
  ASSERT_EQ(dossier->company().denominations_size(), 1);
  EXPECT_EQ(dossier->company().denominations(0).value(), "Cap Horizons ASBL");
  for (const auto& s : dossier->sources()) {
    if (s.registry() == "tax") {
      EXPECT_EQ(s.code(), static_cast<int>(absl::StatusCode::kDataLoss));
    }
  }
}

TEST_F(DossierPipelineTest, AuditStoreFailureReleasesNothing) {
  store_->fail_appends = true;
  auto dossier = Run({"company.identity"});
  EXPECT_EQ(dossier.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(dossier.ok());
  store_->fail_appends = false;
  EXPECT_TRUE(Run({"company.identity"}).ok());
}

TEST_F(DossierPipelineTest, DenialIsLoggedAndCitesItsAccessId) {
  auto dossier = Run({"company.identity", "tax.details"});
  ASSERT_EQ(dossier.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ErrorReason(dossier.status()), "CATEGORY_NOT_GRANTED");
  EXPECT_EQ(companies_->calls(), 0);  // nothing fetched for a denial
  auto records = access_log_->Read(0, 10);
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ((*records)[0].decision(), v1::DECISION_DENY);
  EXPECT_EQ((*records)[0].reason(), "CATEGORY_NOT_GRANTED");
  EXPECT_TRUE((*records)[0].categories_released().empty());
}

TEST_F(DossierPipelineTest, InvalidNumberIsInvalidArgumentAndNotLogged) {
  auto dossier = Run({"company.identity"}, "1029.028.162");
  ASSERT_EQ(dossier.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorReason(dossier.status()), "INVALID_ENTERPRISE_NUMBER");
  EXPECT_TRUE(dossier.status().GetPayload(kBadRequestTypeUrl).has_value());
  EXPECT_TRUE(access_log_->Read(0, 10)->empty());
}

TEST_F(DossierPipelineTest, PastDeadlineMarksSourcesWithoutCallingThem) {
  auto result = Run({"company.identity"}, kSubject, absl::Now() - absl::Seconds(1));
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->sources(0).code(), static_cast<int>(absl::StatusCode::kDeadlineExceeded));
  EXPECT_EQ(companies_->calls(), 0);
}

TEST_F(DossierPipelineTest, ConsentRevokedWhileServedReleasesNothing) {
  v1::Consent consent;
  consent.set_subject(kSubject);
  consent.set_grantee_member("economy");
  consent.set_purpose("support");
  consent.add_categories("company.identity");
  *consent.mutable_valid_from() = google::protobuf::util::TimeUtil::SecondsToTimestamp(1700000000);
  *consent.mutable_valid_until() = google::protobuf::util::TimeUtil::SecondsToTimestamp(1800000000);
  auto stored = authz_store_->AddConsent(consent, clock_.Now());
  ASSERT_TRUE(stored.ok()) << stored.status();
  auto first = Run({"company.identity"}, kSubject, absl::InfiniteFuture(), "support");
  ASSERT_TRUE(first.ok()) << first.status();

  // The registry is slow; the firm revokes its consent meanwhile.
  absl::Notification entered, gate;
  companies_->HoldUntil(&entered, &gate);
  absl::Notification done;
  absl::StatusOr<v1::Dossier> result;
  std::thread caller([&] {
    result = Run({"company.identity"}, kSubject, absl::InfiniteFuture(), "support");
    done.Notify();
  });
  entered.WaitForNotification();
  ASSERT_TRUE(authz_store_->RevokeConsent(stored->consent_id(), kSubject, clock_.Now()).ok());
  gate.Notify();
  caller.join();
  ASSERT_EQ(result.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ErrorReason(result.status()), "CONSENT_REVOKED");
  auto records = access_log_->Read(1, 1);
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ((*records)[0].decision(), v1::DECISION_DENY);
  EXPECT_TRUE((*records)[0].categories_released().empty());
  EXPECT_TRUE((*records)[0].payload_sha256().empty());
}

// The window after the pre-release check: a revocation acknowledged while the allowed record
// is being committed still stops the answer, and the log says so in a second record.
TEST_F(DossierPipelineTest, ConsentRevokedWhileTheRecordCommitsReleasesNothing) {
  v1::Consent consent;
  consent.set_subject(kSubject);
  consent.set_grantee_member("economy");
  consent.set_purpose("support");
  consent.add_categories("company.identity");
  *consent.mutable_valid_from() = google::protobuf::util::TimeUtil::SecondsToTimestamp(1700000000);
  *consent.mutable_valid_until() = google::protobuf::util::TimeUtil::SecondsToTimestamp(1800000000);
  auto stored = authz_store_->AddConsent(consent, clock_.Now());
  ASSERT_TRUE(stored.ok()) << stored.status();

  // The disk is slow on the allowed record's commit; the firm revokes its consent meanwhile.
  absl::Notification writing, release;
  std::atomic<bool> first{true};
  store_->before_append = [&] {
    if (first.exchange(false)) {
      writing.Notify();
      release.WaitForNotification();
    }
  };
  absl::StatusOr<v1::Dossier> result;
  std::thread caller([&] {
    result = Run({"company.identity"}, kSubject, absl::InfiniteFuture(), "support");
  });
  writing.WaitForNotification();
  ASSERT_TRUE(authz_store_->RevokeConsent(stored->consent_id(), kSubject, clock_.Now()).ok());
  release.Notify();
  caller.join();
  ASSERT_EQ(result.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ErrorReason(result.status()), "CONSENT_REVOKED");
  EXPECT_EQ(ErrorMetadata(result.status(), "withheld_access_id"), "0");
  EXPECT_EQ(ErrorMetadata(result.status(), "access_id"), "1");
  auto records = access_log_->Read(0, 2);
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 2u);
  EXPECT_EQ((*records)[0].decision(), v1::DECISION_ALLOW);  // committed before the revocation
  EXPECT_EQ((*records)[1].decision(), v1::DECISION_DENY);
  EXPECT_EQ((*records)[1].reason(), "CONSENT_REVOKED");
  EXPECT_EQ((*records)[1].consent_id(), stored->consent_id());
  EXPECT_TRUE((*records)[1].categories_released().empty());
  EXPECT_NE((*records)[1].query().find("access record 0"), std::string::npos)
      << (*records)[1].query();
}

// Answers only once `parties` fetches are inside Fetch at the same time: if the pipeline
// called registries one after another, the first would give up and the test would fail.
class RendezvousConnector : public RegistryConnector {
 public:
  RendezvousConnector(std::string name, absl::Mutex& mu, int& arrived, int parties)
      : name_(std::move(name)), mu_(mu), arrived_(arrived), parties_(parties) {}
  absl::string_view name() const override { return name_; }
  absl::StatusOr<rv1::SubjectRecords> Fetch(const FetchRequest&) override {
    absl::MutexLock lock(&mu_);
    ++arrived_;
    auto all_here = [this]() { return arrived_ >= parties_; };
    if (!mu_.AwaitWithTimeout(absl::Condition(&all_here), absl::Seconds(10))) {
      return absl::DeadlineExceededError(name_ + " fetched alone: no parallel fan-out");
    }
    return rv1::SubjectRecords();
  }

 private:
  const std::string name_;
  absl::Mutex& mu_;
  int& arrived_;
  const int parties_;
};

TEST(DossierPipelineFanOutTest, RegistriesAreCalledInParallel) {
  config::v1::Policy policy;
  ASSERT_TRUE(ParseYamlToProto(kPolicy, "policy.yaml", &policy, nullptr).ok());
  auto snapshot = PolicySnapshot::Create(policy);
  ASSERT_TRUE(snapshot.ok());
  std::string path = ::testing::TempDir() + "/fan-out-" + std::to_string(getpid()) + ".db";
  std::remove(path.c_str());
  std::remove((path + ".authz").c_str());
  auto log = AccessLog::Create(*OpenSqliteAccessLogStore(path), "gw", 8);
  ASSERT_TRUE(log.ok());
  absl::Mutex mu;
  int arrived = 0;
  std::map<std::string, RegistryEndpoint> registries;
  for (const char* name : {"companies", "permits", "tax"}) {
    registries[name].connector = std::make_unique<RendezvousConnector>(name, mu, arrived, 3);
  }
  ThreadPool pool(3);
  FakeClock clock(absl::FromUnixSeconds(1760000000));
  auto authz = AuthzStore::Open(path + ".authz");
  ASSERT_TRUE(authz.ok());
  DossierPipeline pipeline(*snapshot, std::move(registries), **log, **authz, pool, clock);

  CallInfo call;
  call.identity = ParseMemberUri("spiffe://onceonly.brussels/member/economy");
  v1::GetDossierRequest request;
  request.set_enterprise_number("1029.028.161");
  request.set_purpose("public-procurement");
  for (const char* c : {"company.identity", "permits.environment", "tax.good_standing"}) {
    request.add_categories(c);
  }
  absl::Notification done;
  absl::StatusOr<v1::Dossier> result;
  pipeline.GetDossier(call, request, [&](absl::StatusOr<DossierAnswer> d) {
    result = Parsed(std::move(d));
    done.Notify();
  });
  done.WaitForNotification();
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->sources_size(), 3);
  for (const auto& s : result->sources()) EXPECT_EQ(s.code(), 0) << s.registry() << s.message();
}

}  // namespace
}  // namespace onceonly
