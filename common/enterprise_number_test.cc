#include "common/enterprise_number.h"

#include "gtest/gtest.h"

namespace onceonly {
namespace {

TEST(EnterpriseNumberTest, AcceptsEveryUsualForm) {
  for (const char* input : {"0403170701", "0403.170.701", "BE 0403.170.701", "BE0403170701",
                            "be0403.170.701", "403170701", " 0403 170 701 ", "403.170.701"}) {
    absl::StatusOr<std::string> n = CanonicalEnterpriseNumber(input);
    ASSERT_TRUE(n.ok()) << input << ": " << n.status();
    EXPECT_EQ(*n, "0403.170.701") << input;
  }
}

TEST(EnterpriseNumberTest, AcceptsThe1xxxSeries) {
  absl::StatusOr<std::string> n = CanonicalEnterpriseNumber("1029028161");
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, "1029.028.161");
}

TEST(EnterpriseNumberTest, DomainExampleChecks) {
  // DOMAIN.md: 05669882 mod 97 = 38, 97 - 38 = 59.
  EXPECT_EQ(EnterpriseCheckDigits(5669882), 59);
  EXPECT_TRUE(CanonicalEnterpriseNumber("0566.988.259").ok());
}

TEST(EnterpriseNumberTest, RejectsBadChecksumAndSaysExpected) {
  absl::StatusOr<std::string> n = CanonicalEnterpriseNumber("0403.170.702");
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(n.status().message().find("expected 01"), absl::string_view::npos)
      << n.status();
}

TEST(EnterpriseNumberTest, RejectsMalformedWithReason) {
  struct Case {
    const char* input;
    const char* says;
  };
  for (const Case& c : {Case{"", "empty"}, Case{"0403x170701", "contains 'x'"},
                        Case{"04031707", "has 8 digits"}, Case{"2403170701", "starts with 2"},
                        Case{"04031707011", "has 11 digits"}}) {
    absl::StatusOr<std::string> n = CanonicalEnterpriseNumber(c.input);
    ASSERT_FALSE(n.ok()) << c.input;
    EXPECT_NE(n.status().message().find(c.says), absl::string_view::npos)
        << c.input << " -> " << n.status();
  }
}

TEST(EnterpriseNumberTest, EstablishmentNumbers) {
  absl::StatusOr<std::string> n = CanonicalEstablishmentNumber("2190171611");
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, "2.190.171.611");
  EXPECT_FALSE(CanonicalEstablishmentNumber("2.190.171.612").ok());
  EXPECT_FALSE(CanonicalEstablishmentNumber("0403.170.701").ok());
}

}  // namespace
}  // namespace onceonly
