// Table-driven tests of the decision engine: every reason code, validity edges to the second,
// overlapping grants, registrations, and consent revoked or expired between two calls.
#include "authz/policy.h"

#include "common/rich_status.h"
#include "gtest/gtest.h"
#include "google/protobuf/util/time_util.h"

namespace onceonly {
namespace {

using google::protobuf::util::TimeUtil;

constexpr char kPolicy[] = R"yaml(
members:
  - id: economy
    identities: ["spiffe://onceonly.brussels/member/economy"]
    roles: [CONSUMER]
  - id: portal
    identities: ["spiffe://onceonly.brussels/member/portal"]
    roles: [FIRM_PORTAL]
  - id: idle
    identities: ["spiffe://onceonly.brussels/member/idle"]
    roles: [CONSUMER]
purposes:
  - id: procurement
    legal_basis: "Public procurement law"
  - id: inspection
    legal_basis: "Environmental inspection ordinance"
    requires_registration: true
  - id: subsidy
    legal_basis: "Consent of the sole trader (GDPR art. 6.1.a)"
    requires_consent: true
  - id: old
    legal_basis: "Expired deliberation"
  - id: future
    legal_basis: "Deliberation not yet in force"
grants:
  - id: G-ID
    member: economy
    purpose: procurement
    categories: [company.identity]
    valid_from: "2025-01-01T00:00:00Z"
    valid_until: "2026-01-01T00:00:00Z"
  - id: G-WIDE
    member: economy
    purpose: procurement
    categories: [company.identity, company.addresses, tax.good_standing]
    valid_from: "2025-06-01T00:00:00Z"
  - id: G-INSPECT
    member: economy
    purpose: inspection
    categories: [company.identity, permits.environment]
  - id: G-SUBSIDY
    member: economy
    purpose: subsidy
    categories: [company.identity, tax.good_standing]
  - id: G-OLD
    member: economy
    purpose: old
    categories: [company.identity]
    valid_until: "2024-01-01T00:00:00Z"
  - id: G-FUTURE
    member: economy
    purpose: future
    categories: [company.identity]
    valid_from: "2030-01-01T00:00:00Z"
)yaml";

absl::Time T(const char* rfc3339) {
  google::protobuf::Timestamp ts;
  EXPECT_TRUE(TimeUtil::FromString(rfc3339, &ts)) << rfc3339;
  return absl::FromUnixSeconds(ts.seconds());
}

google::protobuf::Timestamp P(const char* rfc3339) {
  google::protobuf::Timestamp ts;
  EXPECT_TRUE(TimeUtil::FromString(rfc3339, &ts)) << rfc3339;
  return ts;
}

class DecideTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config::v1::Policy p;
    ASSERT_TRUE(ParseYamlToProto(kPolicy, "policy.yaml", &p, nullptr).ok());
    auto snapshot = PolicySnapshot::Create(p);
    ASSERT_TRUE(snapshot.ok()) << snapshot.status();
    policy_ = *snapshot;
  }

  AccessDecision Run(const std::string& member, const std::string& purpose,
                     std::vector<std::string> categories, absl::Time now,
                     const AccessFacts& facts = AccessFacts()) {
    AccessRequest r;
    r.identity = *ParseMemberUri("spiffe://onceonly.brussels/member/" + member);
    r.subject = "0552.627.113";
    r.purpose = purpose;
    r.categories = std::move(categories);
    return Decide(*policy_, r, now, facts);
  }

  static RegistrationPtr Registration(const char* id, const char* from, const char* until,
                                      const char* ended = nullptr) {
    auto r = std::make_shared<v1::Registration>();
    r->set_registration_id(id);
    r->set_member("economy");
    r->set_subject("0552.627.113");
    r->set_purpose("inspection");
    *r->mutable_valid_from() = P(from);
    *r->mutable_valid_until() = P(until);
    if (ended != nullptr) *r->mutable_ended_at() = P(ended);
    return r;
  }

  static ConsentPtr Consent(const char* id, std::vector<std::string> categories, const char* from,
                            const char* until, const char* revoked = nullptr) {
    auto c = std::make_shared<v1::Consent>();
    c->set_consent_id(id);
    c->set_subject("0552.627.113");
    c->set_grantee_member("economy");
    c->set_purpose("subsidy");
    for (const auto& cat : categories) c->add_categories(cat);
    *c->mutable_valid_from() = P(from);
    *c->mutable_valid_until() = P(until);
    if (revoked != nullptr) *c->mutable_revoked_at() = P(revoked);
    return c;
  }

  std::shared_ptr<const PolicySnapshot> policy_;
};

TEST_F(DecideTableTest, EveryReasonCode) {
  const absl::Time now = T("2025-10-01T12:00:00Z");
  AccessFacts open_case{{Registration("reg-1", "2025-09-01T00:00:00Z", "2026-09-01T00:00:00Z")}, {}};
  AccessFacts ended_case{
      {Registration("reg-2", "2025-09-01T00:00:00Z", "2026-09-01T00:00:00Z", "2025-09-15T00:00:00Z")},
      {}};
  AccessFacts consent{{}, {Consent("con-1", {"company.identity"}, "2025-09-01T00:00:00Z", "2026-09-01T00:00:00Z")}};
  AccessFacts revoked{{}, {Consent("con-2", {"company.identity"}, "2025-09-01T00:00:00Z", "2026-09-01T00:00:00Z", "2025-09-30T00:00:00Z")}};
  AccessFacts lapsed{{}, {Consent("con-3", {"company.identity"}, "2025-01-01T00:00:00Z", "2025-06-01T00:00:00Z")}};
  struct Case {
    const char* name;
    std::string member, purpose;
    std::vector<std::string> categories;
    AccessFacts facts;
    const char* reason;
    const char* cited;  // grant, registration or consent id expected in the decision
  };
  const std::vector<Case> cases = {
      {"allowed", "economy", "procurement", {"company.identity"}, {}, "ALLOWED", "G-ID"},
      {"subsystem certificate", "economy/app", "procurement", {"company.identity"}, {}, "ALLOWED", "G-ID"},
      {"unknown member", "nobody", "procurement", {"company.identity"}, {}, "UNKNOWN_MEMBER", ""},
      {"member-id prefix is not the member", "economyx", "procurement", {"company.identity"}, {}, "UNKNOWN_MEMBER", ""},
      {"role", "portal", "procurement", {"company.identity"}, {}, "ROLE_REQUIRED", ""},
      {"no grant", "idle", "procurement", {"company.identity"}, {}, "NO_GRANT", ""},
      {"category not granted", "economy", "procurement", {"company.identity", "tax.details"}, {}, "CATEGORY_NOT_GRANTED", ""},
      {"grant expired", "economy", "old", {"company.identity"}, {}, "GRANT_EXPIRED", ""},
      {"grant not yet valid", "economy", "future", {"company.identity"}, {}, "GRANT_NOT_YET_VALID", ""},
      {"registration missing", "economy", "inspection", {"company.identity"}, {}, "REGISTRATION_REQUIRED", ""},
      {"registration ended", "economy", "inspection", {"company.identity"}, ended_case, "REGISTRATION_REQUIRED", ""},
      {"registration open", "economy", "inspection", {"company.identity"}, open_case, "ALLOWED", "reg-1"},
      {"consent missing", "economy", "subsidy", {"company.identity"}, {}, "CONSENT_REQUIRED", ""},
      {"consent given", "economy", "subsidy", {"company.identity"}, consent, "ALLOWED", "con-1"},
      {"consent too narrow", "economy", "subsidy", {"company.identity", "tax.good_standing"}, consent, "CONSENT_REQUIRED", ""},
      {"consent revoked", "economy", "subsidy", {"company.identity"}, revoked, "CONSENT_REVOKED", ""},
      {"consent expired", "economy", "subsidy", {"company.identity"}, lapsed, "CONSENT_EXPIRED", ""},
  };
  for (const Case& c : cases) {
    AccessDecision d = Run(c.member, c.purpose, c.categories, now, c.facts);
    EXPECT_EQ(d.reason, c.reason) << c.name << ": " << d.explanation;
    EXPECT_EQ(d.allowed, std::string(c.reason) == "ALLOWED") << c.name;
    std::string cited = d.consent_id.empty() ? (d.registration_id.empty() ? d.grant_id : d.registration_id) : d.consent_id;
    EXPECT_EQ(cited, c.cited) << c.name;
    if (!d.allowed) {
      EXPECT_TRUE(d.released_categories.empty()) << c.name;
      EXPECT_EQ(ErrorReason(DecisionStatus(d)), c.reason) << c.name;
      EXPECT_FALSE(d.explanation.empty()) << c.name;
    }
  }
}

TEST_F(DecideTableTest, GrantValidityEdgesToTheSecond) {
  // G-ID: [2025-01-01, 2026-01-01). G-WIDE from 2025-06-01, open-ended.
  struct Edge {
    const char* at;
    std::vector<std::string> categories;
    const char* reason;
    const char* grant;
  };
  const std::vector<Edge> edges = {
      {"2024-12-31T23:59:59Z", {"company.identity"}, "GRANT_NOT_YET_VALID", ""},
      {"2025-01-01T00:00:00Z", {"company.identity"}, "ALLOWED", "G-ID"},
      {"2025-05-31T23:59:59Z", {"company.addresses"}, "CATEGORY_NOT_GRANTED", ""},
      {"2025-06-01T00:00:00Z", {"company.addresses"}, "ALLOWED", "G-WIDE"},
      {"2025-12-31T23:59:59Z", {"company.identity"}, "ALLOWED", "G-ID"},
      {"2026-01-01T00:00:00Z", {"company.identity"}, "ALLOWED", "G-WIDE"},  // overlap takes over
  };
  for (const Edge& e : edges) {
    AccessDecision d = Run("economy", "procurement", e.categories, T(e.at));
    EXPECT_EQ(d.reason, e.reason) << e.at << ": " << d.explanation;
    EXPECT_EQ(d.grant_id, e.grant) << e.at;
  }
  EXPECT_EQ(Run("economy", "old", {"company.identity"}, T("2023-12-31T23:59:59Z")).reason,
            "ALLOWED");
  EXPECT_EQ(Run("economy", "old", {"company.identity"}, T("2024-01-01T00:00:00Z")).reason,
            "GRANT_EXPIRED");
}

TEST_F(DecideTableTest, OverlappingGrantsNeedOneThatCoversEverything) {
  // G-ID covers identity, G-WIDE covers identity+addresses+good standing: together they do
  // not cover tax.details, and one grant must cover the whole request.
  AccessDecision d = Run("economy", "procurement",
                         {"company.identity", "company.addresses"}, T("2025-10-01T00:00:00Z"));
  EXPECT_EQ(d.reason, "ALLOWED");
  EXPECT_EQ(d.grant_id, "G-WIDE");
  d = Run("economy", "procurement", {"company.addresses", "tax.details"},
          T("2025-10-01T00:00:00Z"));
  EXPECT_EQ(d.reason, "CATEGORY_NOT_GRANTED");
  EXPECT_EQ(d.missing_categories, std::vector<std::string>{"tax.details"});
}

TEST_F(DecideTableTest, RegistrationAndConsentEdgesToTheSecond) {
  AccessFacts facts{{Registration("reg-1", "2025-09-01T00:00:00Z", "2025-10-01T00:00:00Z")}, {}};
  EXPECT_EQ(Run("economy", "inspection", {"company.identity"}, T("2025-08-31T23:59:59Z"), facts).reason,
            "REGISTRATION_REQUIRED");
  EXPECT_EQ(Run("economy", "inspection", {"company.identity"}, T("2025-09-01T00:00:00Z"), facts).reason,
            "ALLOWED");
  EXPECT_EQ(Run("economy", "inspection", {"company.identity"}, T("2025-09-30T23:59:59Z"), facts).reason,
            "ALLOWED");
  EXPECT_EQ(Run("economy", "inspection", {"company.identity"}, T("2025-10-01T00:00:00Z"), facts).reason,
            "REGISTRATION_REQUIRED");

  AccessFacts consent{{}, {Consent("con-1", {"company.identity"}, "2025-09-01T00:00:00Z", "2025-10-01T00:00:00Z")}};
  EXPECT_EQ(Run("economy", "subsidy", {"company.identity"}, T("2025-09-30T23:59:59Z"), consent).reason,
            "ALLOWED");
  EXPECT_EQ(Run("economy", "subsidy", {"company.identity"}, T("2025-10-01T00:00:00Z"), consent).reason,
            "CONSENT_EXPIRED");
}

TEST_F(DecideTableTest, ConsentRevokedBetweenTwoCalls) {
  auto given = Consent("con-7", {"company.identity"}, "2025-09-01T00:00:00Z", "2026-09-01T00:00:00Z");
  AccessFacts before{{}, {given}};
  EXPECT_EQ(Run("economy", "subsidy", {"company.identity"}, T("2025-10-01T10:00:00Z"), before).consent_id,
            "con-7");
  auto revoked = std::make_shared<v1::Consent>(*given);
  *revoked->mutable_revoked_at() = P("2025-10-01T10:00:01Z");
  AccessFacts after{{}, {revoked}};
  AccessDecision d = Run("economy", "subsidy", {"company.identity"}, T("2025-10-01T10:00:02Z"), after);
  EXPECT_EQ(d.reason, "CONSENT_REVOKED");
  EXPECT_NE(d.explanation.find("con-7"), std::string::npos);
  // A fresh consent after the revocation is honoured.
  after.consents.push_back(Consent("con-8", {"company.identity"}, "2025-10-01T11:00:00Z", "2026-10-01T00:00:00Z"));
  EXPECT_EQ(Run("economy", "subsidy", {"company.identity"}, T("2025-10-01T11:00:00Z"), after).consent_id,
            "con-8");
}

}  // namespace
}  // namespace onceonly
