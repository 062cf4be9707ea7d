#include "gateway/admission.h"

#include "common/rich_status.h"
#include "gtest/gtest.h"

namespace onceonly {
namespace {

KeyedAdmission::Options Strangers(size_t max_keys) {
  KeyedAdmission::Options options;
  options.limits = MemberLimits{1, 1, 2};
  options.kind = "caller";
  options.reason_prefix = "CERTIFICATE";
  options.max_keys = max_keys;
  return options;
}

TEST(KeyedAdmissionTest, ABurstThenTheRateThenTimeRestoresIt) {
  FakeClock clock(absl::FromUnixSeconds(1767225600));
  KeyedAdmission admission(Strangers(0), clock);
  EXPECT_TRUE(admission.Admit("a", "with this certificate").ok());
  EXPECT_TRUE(admission.Admit("a", "with this certificate").ok());
  auto third = admission.Admit("a", "with this certificate");
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(ErrorReason(third.status()), "CERTIFICATE_RATE_LIMITED");
  EXPECT_NE(third.status().message().find("caller with this certificate"), absl::string_view::npos)
      << third.status();
  EXPECT_TRUE(admission.Admit("b", "with this certificate").ok());  // keys count apart
  clock.Advance(absl::Seconds(1));
  EXPECT_TRUE(admission.Admit("a", "with this certificate").ok());
}

TEST(KeyedAdmissionTest, ConcurrencyIsHeldByTheTicket) {
  FakeClock clock(absl::FromUnixSeconds(1767225600));
  KeyedAdmission::Options options = Strangers(0);
  options.limits = MemberLimits{1, 0, 0};
  KeyedAdmission admission(options, clock);
  auto first = admission.Admit("a", "x");
  ASSERT_TRUE(first.ok());
  auto second = admission.Admit("a", "x");
  EXPECT_EQ(ErrorReason(second.status()), "CERTIFICATE_CONCURRENCY_LIMITED");
  first->reset();
  EXPECT_TRUE(admission.Admit("a", "x").ok());
}

// Strangers' certificates are not bounded by the policy: the table of them is, by forgetting
// idle ones, and while none is idle a new one is refused rather than remembered.
TEST(KeyedAdmissionTest, TrackedKeysAreBoundedAndIdleOnesForgotten) {
  FakeClock clock(absl::FromUnixSeconds(1767225600));
  KeyedAdmission::Options options = Strangers(2);
  options.limits = MemberLimits{4, 0, 0};  // no rate: a key is idle once its calls ended
  KeyedAdmission admission(options, clock);
  auto a = admission.Admit("a", "x");
  auto b = admission.Admit("b", "x");
  ASSERT_TRUE(a.ok() && b.ok());
  auto c = admission.Admit("c", "x");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(ErrorReason(c.status()), "CERTIFICATE_RATE_LIMITED");
  a->reset();  // "a" has nothing in flight now
  EXPECT_TRUE(admission.Admit("c", "x").ok());
  // "b" is still busy and was kept: its calls still count.
  auto b_again = admission.Admit("b", "x");
  EXPECT_TRUE(b_again.ok());
}

}  // namespace
}  // namespace onceonly
