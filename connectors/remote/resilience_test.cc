#include "connectors/remote/resilience.h"

#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace onceonly {
namespace {

using State = CircuitBreaker::State;

class CircuitBreakerTest : public ::testing::Test {
 protected:
  FakeClock clock_{absl::FromUnixSeconds(1767225600)};
  CircuitBreaker breaker_{"tax", {3, absl::Seconds(5)}, clock_};

  // Admits a call and records `outcome` for it.
  void Call(CircuitBreaker::Outcome outcome) {
    absl::StatusOr<CircuitBreaker::Pass> pass = breaker_.Admit();
    ASSERT_TRUE(pass.ok()) << pass.status();
    breaker_.Record(*pass, outcome);
  }
  static constexpr auto kFail = CircuitBreaker::Outcome::kFailure;
  static constexpr auto kOk = CircuitBreaker::Outcome::kSuccess;
  static constexpr auto kNeutral = CircuitBreaker::Outcome::kNeutral;
};

TEST_F(CircuitBreakerTest, OpensAfterConsecutiveFailuresAndFailsFast) {
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(breaker_.state(), State::kClosed);
    Call(kFail);
  }
  EXPECT_EQ(breaker_.state(), State::kOpen);
  EXPECT_EQ(breaker_.openings(), 1);
  absl::Status refused = breaker_.Admit().status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(RegistryReason(refused), "CIRCUIT_OPEN");
  EXPECT_THAT(refused.message(), ::testing::HasSubstr("registry tax: circuit open after 3"));
}

TEST_F(CircuitBreakerTest, ASuccessResetsTheCount) {
  for (int i = 0; i < 10; ++i) Call(i % 3 != 2 ? kFail : kOk);  // two failures, then a success
  EXPECT_EQ(breaker_.state(), State::kClosed);
}

TEST_F(CircuitBreakerTest, NeutralOutcomesNeitherCountNorResetAndLeaveTheProbeToTheNext) {
  Call(kFail);
  Call(kFail);
  for (int i = 0; i < 10; ++i) Call(kNeutral);  // callers' own deadlines ran out
  EXPECT_EQ(breaker_.state(), State::kClosed);
  Call(kFail);
  EXPECT_EQ(breaker_.state(), State::kOpen);
  clock_.Advance(absl::Seconds(5));
  Call(kNeutral);  // the probe learned nothing
  EXPECT_EQ(breaker_.state(), State::kHalfOpen);
  Call(kOk);  // the next call probes
  EXPECT_EQ(breaker_.state(), State::kClosed);
}

TEST_F(CircuitBreakerTest, LateOutcomesOfAnEarlierStateAreIgnored) {
  absl::StatusOr<CircuitBreaker::Pass> before_opening = breaker_.Admit();
  ASSERT_TRUE(before_opening.ok());
  for (int i = 0; i < 3; ++i) Call(kFail);
  ASSERT_EQ(breaker_.state(), State::kOpen);
  clock_.Advance(absl::Seconds(5));
  absl::StatusOr<CircuitBreaker::Pass> probe = breaker_.Admit();
  ASSERT_TRUE(probe.ok());
  breaker_.Record(*before_opening, kOk);  // a late answer: no probe tested the registry
  EXPECT_EQ(breaker_.state(), State::kHalfOpen);
  breaker_.Record(*probe, kFail);
  EXPECT_EQ(breaker_.state(), State::kOpen);
}

TEST_F(CircuitBreakerTest, HalfOpenLetsOneProbeThroughWhoseSuccessCloses) {
  for (int i = 0; i < 3; ++i) Call(kFail);
  clock_.Advance(absl::Seconds(4));
  EXPECT_FALSE(breaker_.Admit().ok());
  clock_.Advance(absl::Seconds(1));
  absl::StatusOr<CircuitBreaker::Pass> probe = breaker_.Admit();
  ASSERT_TRUE(probe.ok());
  EXPECT_TRUE(probe->probe);
  EXPECT_EQ(breaker_.state(), State::kHalfOpen);
  EXPECT_EQ(RegistryReason(breaker_.Admit().status()), "CIRCUIT_OPEN");  // one probe at a time
  breaker_.Record(*probe, kOk);
  EXPECT_EQ(breaker_.state(), State::kClosed);
  EXPECT_TRUE(breaker_.Admit().ok());
}

TEST_F(CircuitBreakerTest, AFailedProbeOpensAgainForAnotherPeriod) {
  for (int i = 0; i < 3; ++i) Call(kFail);
  clock_.Advance(absl::Seconds(5));
  Call(kFail);  // the probe
  EXPECT_EQ(breaker_.state(), State::kOpen);
  EXPECT_EQ(breaker_.openings(), 2);
  clock_.Advance(absl::Seconds(4));
  EXPECT_FALSE(breaker_.Admit().ok());
  clock_.Advance(absl::Seconds(1));
  EXPECT_TRUE(breaker_.Admit().ok());
}

TEST(IsRegistryFailureTest, RequestErrorsSayNothingOfTheRegistrysHealth) {
  EXPECT_TRUE(IsRegistryFailure(absl::StatusCode::kUnavailable));
  EXPECT_TRUE(IsRegistryFailure(absl::StatusCode::kDeadlineExceeded));
  EXPECT_TRUE(IsRegistryFailure(absl::StatusCode::kResourceExhausted));
  EXPECT_FALSE(IsRegistryFailure(absl::StatusCode::kNotFound));
  EXPECT_FALSE(IsRegistryFailure(absl::StatusCode::kInvalidArgument));
  EXPECT_FALSE(IsRegistryFailure(absl::StatusCode::kOk));
}

TEST(RetryThrottleTest, StopsRetriesWhenFailuresOutrunSuccesses) {
  RetryThrottle throttle(10, 0.1);
  EXPECT_TRUE(throttle.RetryAllowed());
  for (int i = 0; i < 5; ++i) throttle.RecordFailure();  // 10 -> 5: not above half
  EXPECT_FALSE(throttle.RetryAllowed());
  for (int i = 0; i < 10; ++i) throttle.RecordSuccess();  // 5 -> 6
  EXPECT_TRUE(throttle.RetryAllowed());
  // One failure in ten calls (the token ratio) holds the bucket steady; more drains it.
  for (int round = 0; round < 20; ++round) {
    throttle.RecordFailure();
    throttle.RecordFailure();
    for (int i = 0; i < 8; ++i) throttle.RecordSuccess();
  }
  EXPECT_FALSE(throttle.RetryAllowed());
}

TEST(RetryBudgetTest, ExtraAttemptsAreAShareOfTheReadsInFlight) {
  RetryBudget budget(/*ratio=*/0.1, /*minimum=*/2);
  int granted = 0;
  while (budget.TryStartExtra()) ++granted;
  EXPECT_EQ(granted, 2);  // the minimum, with no read in flight
  for (int i = 0; i < 50; ++i) budget.ReadStarted();
  EXPECT_TRUE(budget.TryStartExtra());  // 10% of 50 reads: 5
  EXPECT_TRUE(budget.TryStartExtra());
  EXPECT_TRUE(budget.TryStartExtra());
  EXPECT_FALSE(budget.TryStartExtra());
  EXPECT_EQ(budget.extras_in_flight(), 5);
  budget.ExtraEnded();
  EXPECT_TRUE(budget.TryStartExtra());  // a place given back is taken again
  for (int i = 0; i < 50; ++i) budget.ReadEnded();
  for (int i = 0; i < 5; ++i) budget.ExtraEnded();
  EXPECT_EQ(budget.extras_in_flight(), 0);
  EXPECT_TRUE(budget.TryStartExtra());
}

}  // namespace
}  // namespace onceonly
