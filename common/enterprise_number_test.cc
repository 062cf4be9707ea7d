#include "common/enterprise_number.h"

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "common/utf8.h"
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
  EXPECT_NE(n.status().message().find("expected 01"), absl::string_view::npos) << n.status();
}

TEST(EnterpriseNumberTest, RejectsMalformedWithReason) {
  struct Case {
    const char* input;
    const char* says;
  };
  for (const Case& c :
       {Case{"", "empty"}, Case{"0403x170701", "contains 'x'"}, Case{"04031707", "has 8 digits"},
        Case{"2403170701", "starts with 2"}, Case{"04031707011", "has 11 digits"}}) {
    absl::StatusOr<std::string> n = CanonicalEnterpriseNumber(c.input);
    ASSERT_FALSE(n.ok()) << c.input;
    EXPECT_NE(n.status().message().find(c.says), absl::string_view::npos)
        << c.input << " -> " << n.status();
  }
}

// Refusals go out in a google.rpc.BadRequest, whose strings must be UTF-8, and in gRPC
// trailers: found by fuzz/enterprise_number_fuzzer.cc ('%c' printed one byte of 'é').
TEST(EnterpriseNumberTest, RefusalsAreShortValidUtf8WhateverTheInput) {
  struct Case {
    std::string input;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"0403.170.70\xc3\xa9", "contains '\xc3\xa9'"},       // é, whole
      {std::string(63, 'A') + "\xc3\xa9", "contains 'A'"},  // issue 14's input
      {std::string("0403\xe7") + "170701", "\"0403\\347170701\" contains byte 0xe7"},  // Latin-1
      {"0403\n170701", "contains byte 0x0a"},                      // a control byte
      {std::string("0403\xc3") + "170701", "contains byte 0xc3"},  // a cut character
      {std::string(100000, '1'), "\"" + std::string(40, '1') + "...\" has 100000 digits"},
  };
  for (const Case& c : cases) {
    for (const absl::StatusOr<std::string>& n :
         {CanonicalEnterpriseNumber(c.input), CanonicalEstablishmentNumber(c.input)}) {
      ASSERT_FALSE(n.ok()) << c.input;
      EXPECT_EQ(InvalidUtf8Offset(n.status().message()), absl::string_view::npos)
          << absl::CHexEscape(n.status().message());
      EXPECT_LE(n.status().message().size(), 300u) << n.status();
      EXPECT_NE(n.status().message().find(c.says), absl::string_view::npos)
          << absl::CHexEscape(n.status().message());
    }
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
