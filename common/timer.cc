#include "common/timer.h"

#include <utility>
#include <vector>

#include "absl/time/clock.h"

namespace onceonly {

Timer::Timer() : thread_([this] { Loop(); }) {}

Timer::~Timer() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    changed_.Signal();
  }
  thread_.join();
}

Timer::Handle Timer::At(absl::Time when, std::function<void()> callback) {
  absl::MutexLock lock(&mu_);
  const Handle handle{when, ++next_id_};
  due_.emplace(std::make_pair(when, handle.id), std::move(callback));
  // Wake the thread only if it sleeps past this instant: most deadlines come after ones
  // already waited for, and a wake-up per call would cost two context switches each.
  if (when < wake_at_) {
    wake_at_ = when;
    changed_.Signal();
  }
  return handle;
}

void Timer::Cancel(const Handle& handle) {
  std::function<void()> dropped;  // destroyed outside the lock: it may own anything
  absl::MutexLock lock(&mu_);
  auto it = due_.find(std::make_pair(handle.when, handle.id));
  if (it == due_.end()) return;
  dropped = std::move(it->second);
  due_.erase(it);
  // The thread may now wake for nothing; it then sleeps again until the next instant.
}

void Timer::Loop() {
  std::vector<std::function<void()>> ready;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      while (!stopping_) {
        const absl::Time next = due_.empty() ? absl::InfiniteFuture() : due_.begin()->first.first;
        if (next <= absl::Now()) break;
        wake_at_ = next;
        if (next == absl::InfiniteFuture()) {
          changed_.Wait(&mu_);
        } else {
          changed_.WaitWithDeadline(&mu_, next);
        }
      }
      wake_at_ = absl::InfinitePast();  // awake: At need not signal
      if (stopping_) return;
      const absl::Time now = absl::Now();
      while (!due_.empty() && due_.begin()->first.first <= now) {
        ready.push_back(std::move(due_.begin()->second));
        due_.erase(due_.begin());
      }
    }
    for (std::function<void()>& callback : ready) callback();
    ready.clear();
  }
}

}  // namespace onceonly
