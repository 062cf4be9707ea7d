#include "authz/policy.h"

#include "authz/categories.h"
#include "common/rich_status.h"
#include "gtest/gtest.h"

namespace onceonly {
namespace {

constexpr char kPolicy[] = R"(
members:
  - id: economy
    identities: ["spiffe://onceonly.brussels/member/economy"]
    roles: [CONSUMER]
  - id: auditor
    identities: ["spiffe://onceonly.brussels/member/auditor"]
    roles: [AUDITOR]
purposes:
  - id: public-procurement
    legal_basis: "Ordinance of 8 May 2014"
  - id: subsidy
    legal_basis: "Subsidy ordinance"
    requires_consent: true
  - id: old
    legal_basis: "Expired deliberation"
grants:
  - id: G1
    member: economy
    purpose: public-procurement
    categories: [company.identity, company.addresses, tax.good_standing]
    valid_from: "2025-01-01T00:00:00Z"
    valid_until: "2027-01-01T00:00:00Z"
  - id: G2
    member: economy
    purpose: subsidy
    categories: [company.identity]
  - id: G3
    member: economy
    purpose: old
    categories: [company.identity]
    valid_until: "2024-01-01T00:00:00Z"
)";

std::shared_ptr<const PolicySnapshot> TestPolicy() {
  config::v1::Policy p;
  SourceMap map;
  absl::Status s = ParseYamlToProto(kPolicy, "policy.yaml", &p, &map);
  EXPECT_TRUE(s.ok()) << s;
  auto snapshot = PolicySnapshot::Create(p, map);
  EXPECT_TRUE(snapshot.ok()) << snapshot.status();
  return *snapshot;
}

AccessRequest Request(const std::string& member, const std::string& purpose,
                      std::vector<std::string> categories) {
  AccessRequest r;
  r.identity = *ParseMemberUri("spiffe://onceonly.brussels/member/" + member);
  r.subject = "1029.028.161";
  r.purpose = purpose;
  r.categories = std::move(categories);
  return r;
}

const absl::Time kNow = absl::FromUnixSeconds(1760000000);  // 2025-10-09

TEST(DecideTest, EveryReason) {
  auto policy = TestPolicy();
  struct Case {
    const char* name;
    AccessRequest request;
    absl::Time now;
    const char* reason;
  };
  std::vector<Case> cases = {
      {"allowed", Request("economy", "public-procurement", {"company.identity"}), kNow,
       "ALLOWED"},
      {"subsystem cert is the member",
       Request("economy/app1", "public-procurement", {"company.identity"}), kNow, "ALLOWED"},
      {"unknown member", Request("nobody", "public-procurement", {"company.identity"}), kNow,
       "UNKNOWN_MEMBER"},
      {"role", Request("auditor", "public-procurement", {"company.identity"}), kNow,
       "ROLE_REQUIRED"},
      {"no grant for purpose", Request("economy", "public-procurement", {"tax.details"}), kNow,
       "CATEGORY_NOT_GRANTED"},
      {"not yet", Request("economy", "public-procurement", {"company.identity"}),
       absl::FromUnixSeconds(1700000000), "GRANT_NOT_YET_VALID"},
      {"expired", Request("economy", "old", {"company.identity"}), kNow, "GRANT_EXPIRED"},
      {"expired G1 at its end", Request("economy", "public-procurement", {"company.identity"}),
       absl::FromUnixSeconds(1798761600), "GRANT_EXPIRED"},
      {"consent purpose fails closed", Request("economy", "subsidy", {"company.identity"}),
       kNow, "CONSENT_REQUIRED"},
  };
  for (const Case& c : cases) {
    AccessDecision d = Decide(*policy, c.request, c.now);
    EXPECT_EQ(d.reason, c.reason) << c.name << ": " << d.explanation;
    EXPECT_EQ(d.allowed, std::string(c.reason) == "ALLOWED") << c.name;
    if (d.allowed) {
      EXPECT_EQ(d.grant_id, "G1") << c.name;
      EXPECT_EQ(d.legal_basis, "Ordinance of 8 May 2014");
    } else {
      absl::Status s = DecisionStatus(d);
      EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << c.name;
      EXPECT_EQ(ErrorReason(s), c.reason) << c.name;
    }
  }
}

TEST(DecideTest, NoGrantAtAllForMemberAndPurpose) {
  config::v1::Policy p = TestPolicy()->policy();
  p.mutable_grants()->RemoveLast();
  p.mutable_grants()->RemoveLast();
  auto policy = PolicySnapshot::Create(p);
  ASSERT_TRUE(policy.ok());
  AccessDecision d = Decide(**policy, Request("economy", "subsidy", {"company.identity"}), kNow);
  EXPECT_EQ(d.reason, "NO_GRANT");
}

TEST(DecideTest, PartialGrantIsDeniedNamingTheMissingCategories) {
  auto policy = TestPolicy();
  AccessDecision d = Decide(
      *policy,
      Request("economy", "public-procurement",
              {"company.identity", "tax.details", "permits.urbanism"}),
      kNow);
  ASSERT_FALSE(d.allowed);
  EXPECT_EQ(d.reason, "CATEGORY_NOT_GRANTED");
  EXPECT_EQ(d.missing_categories, (std::vector<std::string>{"tax.details", "permits.urbanism"}));
  EXPECT_TRUE(d.released_categories.empty());
}

TEST(ValidateTest, UnknownPurposeAndCategoryAreInvalidArguments) {
  auto policy = TestPolicy();
  absl::Status s = ValidateAccessRequest(*policy, Request("economy", "fishing", {"company.identity"}));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorReason(s), "UNKNOWN_PURPOSE");
  s = ValidateAccessRequest(*policy, Request("economy", "public-procurement", {"company.shoe_size"}));
  EXPECT_EQ(ErrorReason(s), "UNKNOWN_CATEGORY");
  EXPECT_TRUE(s.GetPayload(kBadRequestTypeUrl).has_value());
  s = ValidateAccessRequest(*policy, Request("economy", "public-procurement", {}));
  EXPECT_EQ(ErrorReason(s), "CATEGORIES_REQUIRED");
  s = ValidateAccessRequest(
      *policy, Request("economy", "public-procurement", {"company.identity", "company.identity"}));
  EXPECT_EQ(ErrorReason(s), "DUPLICATE_CATEGORY");
}

TEST(PolicySnapshotTest, InvalidPolicyNamesLineAndField) {
  config::v1::Policy p;
  SourceMap map;
  std::string yaml = kPolicy;
  yaml.replace(yaml.find("purpose: subsidy"), 16, "purpose: subsidi");
  ASSERT_TRUE(ParseYamlToProto(yaml, "policy.yaml", &p, &map).ok());
  auto snapshot = PolicySnapshot::Create(p, map);
  ASSERT_FALSE(snapshot.ok());
  EXPECT_NE(snapshot.status().message().find("policy.yaml:26: grants[1].purpose: no purpose "
                                             "\"subsidi\""),
            absl::string_view::npos)
      << snapshot.status();
}

TEST(PolicySnapshotTest, ConsumerCannotAlsoBeTheFirmPortal) {
  config::v1::Policy p = TestPolicy()->policy();
  p.mutable_members(0)->add_roles(config::v1::FIRM_PORTAL);
  auto snapshot = PolicySnapshot::Create(p);
  ASSERT_FALSE(snapshot.ok());
  EXPECT_NE(snapshot.status().message().find("members[0].roles"), absl::string_view::npos)
      << snapshot.status();
}

TEST(PolicySnapshotTest, OverlappingIdentitiesAcrossMembersAreRefused) {
  config::v1::Policy p = TestPolicy()->policy();
  p.mutable_members(1)->add_identities("spiffe://onceonly.brussels/member/economy/app");
  auto snapshot = PolicySnapshot::Create(p);
  ASSERT_FALSE(snapshot.ok());
  EXPECT_NE(snapshot.status().message().find("overlaps"), absl::string_view::npos)
      << snapshot.status();
}

TEST(MinimiseTest, GoodStandingReleasesNoAmounts) {
  v1::Dossier dossier;
  dossier.set_enterprise_number("1029.028.161");
  dossier.mutable_company()->set_enterprise_number("1029.028.161");
  dossier.mutable_company()->add_addresses()->set_zipcode("1080");
  dossier.mutable_tax()->mutable_good_standing()->set_in_good_standing(false);
  dossier.mutable_tax()->mutable_details()->set_overdue_tax_cents(123456);
  dossier.mutable_tax()->mutable_vat()->set_vat_number("BE1029028161");
  dossier.mutable_permits()->add_environment()->set_reference("PE-1");
  dossier.add_sources()->set_registry("tax");
  MinimiseDossier({"tax.good_standing", "company.identity"}, &dossier);
  EXPECT_TRUE(dossier.tax().has_good_standing());
  EXPECT_FALSE(dossier.tax().has_details());
  EXPECT_FALSE(dossier.tax().has_vat());
  EXPECT_EQ(dossier.company().addresses_size(), 0);
  EXPECT_EQ(dossier.company().enterprise_number(), "1029.028.161");
  EXPECT_FALSE(dossier.has_permits());
  EXPECT_EQ(dossier.sources_size(), 1);
}

}  // namespace
}  // namespace onceonly
