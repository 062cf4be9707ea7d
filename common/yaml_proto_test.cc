#include "common/yaml_proto.h"

#include "gtest/gtest.h"
#include "onceonly/config/v1/policy.pb.h"

namespace onceonly {
namespace {

using config::v1::Policy;

TEST(YamlProtoTest, ParsesTypedScalarsListsAndEnums) {
  Policy policy;
  SourceMap map;
  absl::Status s = ParseYamlToProto(R"(
purposes:
  - id: public-procurement
    requires_consent: true
    legal_basis: "Ordinance 8 May 2014"
members:
  - id: economy
    roles: [CONSUMER, AUDITOR]
grants:
  - id: G1
    member: economy
    purpose: public-procurement
    categories: [company.identity, "tax.good_standing"]
    valid_from: "2025-01-01T00:00:00Z"
)",
                                    "policy.yaml", &policy, &map);
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_EQ(policy.purposes_size(), 1);
  EXPECT_TRUE(policy.purposes(0).requires_consent());
  EXPECT_EQ(policy.members(0).roles(1), config::v1::AUDITOR);
  EXPECT_EQ(policy.grants(0).categories(1), "tax.good_standing");
  EXPECT_EQ(policy.grants(0).valid_from().seconds(), 1735689600);
  EXPECT_EQ(map.Describe("grants[0].purpose", "unknown purpose"),
            "policy.yaml:12: grants[0].purpose: unknown purpose");
}

TEST(YamlProtoTest, UnknownFieldNamesFileLineAndField) {
  Policy policy;
  absl::Status s = ParseYamlToProto("members:\n  - id: a\n    rolez: [CONSUMER]\n",
                                    "p.yaml", &policy, nullptr);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("p.yaml:3: members[0].rolez"), absl::string_view::npos) << s;
}

TEST(YamlProtoTest, BadValueNamesFileLineAndField) {
  Policy policy;
  absl::Status s = ParseYamlToProto(
      "grants:\n  - id: g\n    valid_until: \"2030-13-01\"\n", "p.yaml", &policy, nullptr);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("p.yaml:3: grants[0].valid_until: "), absl::string_view::npos) << s;
  EXPECT_NE(s.message().find("RFC 3339"), absl::string_view::npos) << s;
  s = ParseYamlToProto("members:\n  - id: a\n    roles: [CONSOOMER]\n", "p.yaml", &policy,
                       nullptr);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("p.yaml:3: members[0].roles"), absl::string_view::npos) << s;
}

TEST(YamlProtoTest, SyntaxErrorNamesLine) {
  Policy policy;
  absl::Status s = ParseYamlToProto("members:\n  - id: [unclosed\n", "p.yaml", &policy, nullptr);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("p.yaml:"), absl::string_view::npos) << s;
  EXPECT_NE(s.message().find("YAML syntax"), absl::string_view::npos) << s;
}

TEST(YamlProtoTest, MissingFileIsNotFound) {
  Policy policy;
  absl::Status s = LoadYamlFile("/nonexistent/policy.yaml", &policy, nullptr);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(s.message().find("/nonexistent/policy.yaml"), absl::string_view::npos);
}

}  // namespace
}  // namespace onceonly
