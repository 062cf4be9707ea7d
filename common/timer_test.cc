#include "common/timer.h"

#include <atomic>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace onceonly {
namespace {

TEST(TimerTest, RunsCallbacksInTimeOrderNotSubmissionOrder) {
  Timer timer;
  absl::Mutex mu;
  std::vector<int> order;
  absl::Notification last;
  const absl::Time now = absl::Now();
  timer.At(now + absl::Milliseconds(60), [&] {
    absl::MutexLock lock(&mu);
    order.push_back(3);
    last.Notify();
  });
  timer.At(now + absl::Milliseconds(20), [&] {
    absl::MutexLock lock(&mu);
    order.push_back(1);
  });
  timer.At(now + absl::Milliseconds(40), [&] {
    absl::MutexLock lock(&mu);
    order.push_back(2);
  });
  ASSERT_TRUE(last.WaitForNotificationWithTimeout(absl::Seconds(5)));
  absl::MutexLock lock(&mu);
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

TEST(TimerTest, NeverFiresEarlyAndFiresPastInstantsAtOnce) {
  Timer timer;
  absl::Notification fired, past;
  std::atomic<int64_t> late_by_micros{-1};
  const absl::Time when = absl::Now() + absl::Milliseconds(30);
  timer.At(when, [&] {
    late_by_micros = absl::ToInt64Microseconds(absl::Now() - when);
    fired.Notify();
  });
  timer.At(absl::Now() - absl::Seconds(1), [&] { past.Notify(); });
  ASSERT_TRUE(past.WaitForNotificationWithTimeout(absl::Seconds(5)));
  EXPECT_FALSE(fired.HasBeenNotified());
  ASSERT_TRUE(fired.WaitForNotificationWithTimeout(absl::Seconds(5)));
  EXPECT_GE(late_by_micros.load(), 0);
}

TEST(TimerTest, ACancelledCallbackNeverRunsAndTheOthersStillDo) {
  Timer timer;
  std::atomic<bool> cancelled_ran{false};
  absl::Notification kept, after;
  const absl::Time now = absl::Now();
  const Timer::Handle cancelled =
      timer.At(now + absl::Milliseconds(20), [&] { cancelled_ran = true; });
  const Timer::Handle same_instant = timer.At(now + absl::Milliseconds(20), [&] { kept.Notify(); });
  timer.Cancel(cancelled);
  timer.At(now + absl::Milliseconds(60), [&] { after.Notify(); });
  ASSERT_TRUE(after.WaitForNotificationWithTimeout(absl::Seconds(5)));
  EXPECT_TRUE(kept.HasBeenNotified());
  EXPECT_FALSE(cancelled_ran.load());
  timer.Cancel(same_instant);  // already run: nothing happens
  timer.Cancel(cancelled);     // twice: nothing happens
}

TEST(TimerTest, CallbacksNotYetDueDieWithTheTimer) {
  std::atomic<bool> ran{false};
  {
    Timer timer;
    timer.At(absl::Now() + absl::Seconds(30), [&] { ran = true; });
  }
  EXPECT_FALSE(ran.load());
}

}  // namespace
}  // namespace onceonly
