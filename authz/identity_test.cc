#include "authz/identity.h"

#include "common/rich_status.h"
#include "gtest/gtest.h"

namespace onceonly {
namespace {

TEST(IdentityTest, ParsesMemberAndSubsystem) {
  auto id = ParseMemberUri("spiffe://onceonly.brussels/member/brussels-economy/tender-app");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->trust_domain, "onceonly.brussels");
  EXPECT_EQ(id->member_id, "brussels-economy");
  EXPECT_EQ(id->subsystem, "tender-app");
}

TEST(IdentityTest, RefusesOtherShapes) {
  for (const char* uri : {"https://onceonly.brussels/member/a", "spiffe://onceonly.brussels/a",
                          "spiffe://onceonly.brussels/member/", "spiffe:///member/a",
                          "spiffe://onceonly.brussels/member/A", "spiffe://td/member/a/b/c",
                          "spiffe://td/registry/a"}) {
    EXPECT_FALSE(ParseMemberUri(uri).ok()) << uri;
  }
}

TEST(IdentityTest, ExactlyOneMemberUriInTheTrustDomain) {
  auto id = IdentityFromUriSans({"spiffe://other.domain/member/x", "urn:x",
                                 "spiffe://onceonly.brussels/member/economy"},
                                "onceonly.brussels");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->member_id, "economy");

  auto none = IdentityFromUriSans({"spiffe://other.domain/member/x"}, "onceonly.brussels");
  EXPECT_EQ(none.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ErrorReason(none.status()), "UNKNOWN_IDENTITY");

  auto two = IdentityFromUriSans({"spiffe://onceonly.brussels/member/a",
                                  "spiffe://onceonly.brussels/member/b"},
                                 "onceonly.brussels");
  EXPECT_EQ(ErrorReason(two.status()), "UNKNOWN_IDENTITY");
}

}  // namespace
}  // namespace onceonly
