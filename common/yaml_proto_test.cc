#include "common/yaml_proto.h"

#include <string>

#include "absl/strings/str_cat.h"
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

TEST(YamlProtoTest, AnchorsAndAliasesAreExpanded) {
  Policy policy;
  absl::Status s = ParseYamlToProto(R"(
grants:
  - id: G1
    categories: &identity [company.identity, company.addresses]
  - id: G2
    categories: *identity
)",
                                    "p.yaml", &policy, nullptr);
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_EQ(policy.grants_size(), 2);
  EXPECT_EQ(policy.grants(1).categories(1), "company.addresses");
}

// Found with the config_yaml fuzzer's seeds: an anchor holding its own alias is a YAML node
// that contains itself, and its conversion recursed until the stack overflowed (a gateway
// reloading such a policy crashed instead of keeping the good one).
TEST(YamlProtoTest, AnAliasInsideItsOwnAnchorIsRefused) {
  for (const char* yaml : {"members: &x [*x]\n", "grants:\n  - &g {id: G1, member: *g}\n"}) {
    Policy policy;
    absl::Status s = ParseYamlToProto(yaml, "p.yaml", &policy, nullptr);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << yaml;
    EXPECT_NE(s.message().find("p.yaml:"), absl::string_view::npos) << s;
    EXPECT_NE(s.message().find("nested more than 64 levels deep (or an alias inside its own "
                               "anchor)"),
              absl::string_view::npos)
        << s;
  }
}

// Each anchor repeats the one before ten times: 300 bytes that stand for 10^9 values were
// converted value by value, for minutes and gigabytes.
TEST(YamlProtoTest, AliasesThatExpandBeyondTheFileAreRefused) {
  std::string yaml = "purposes: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= 9; ++i) {
    absl::StrAppend(&yaml, "members", i, ": &a", i, " [");
    for (int k = 0; k < 10; ++k) absl::StrAppend(&yaml, k ? ", " : "", "*a", i - 1);
    yaml += "]\n";
  }
  Policy policy;
  absl::Status s = ParseYamlToProto(yaml, "p.yaml", &policy, nullptr);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("expands to far more than the file holds"), absl::string_view::npos)
      << s;
}

// Every value's path holds its keys: 10,000 values below keys 50 kB long in all made 500 MB of
// paths out of a 100 kB file.
TEST(YamlProtoTest, LongKeysNestedDeepAreRefusedNotCopiedIntoEveryPath) {
  std::string yaml;
  const std::string key(1000, 'k');
  for (int depth = 0; depth < 50; ++depth) {
    absl::StrAppend(&yaml, std::string(depth, ' '), key, depth, ":\n");
  }
  for (int i = 0; i < 10000; ++i) absl::StrAppend(&yaml, std::string(50, ' '), "v", i, ": 1\n");
  Policy policy;
  absl::Status s = ParseYamlToProto(yaml, "p.yaml", &policy, nullptr);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("expands to far more than the file holds"), absl::string_view::npos)
      << s;
  EXPECT_LT(s.message().size(), 400u) << "the path is shortened";
}

TEST(YamlProtoTest, NestingPastTheParsersLimitSaysSo) {
  Policy policy;
  absl::Status s = ParseYamlToProto("members: " + std::string(1000, '[') + std::string(1000, ']'),
                                    "p.yaml", &policy, nullptr);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("p.yaml:1:"), absl::string_view::npos) << s;
  EXPECT_NE(s.message().find("levels deep, past what the YAML parser reads"),
            absl::string_view::npos)
      << s;
}

TEST(YamlProtoTest, MissingFileIsNotFound) {
  Policy policy;
  absl::Status s = LoadYamlFile("/nonexistent/policy.yaml", &policy, nullptr);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(s.message().find("/nonexistent/policy.yaml"), absl::string_view::npos);
}

}  // namespace
}  // namespace onceonly
