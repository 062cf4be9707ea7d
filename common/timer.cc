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
  const bool earliest = due_.empty() || when < due_.begin()->first.first;
  due_.emplace(std::make_pair(when, handle.id), std::move(callback));
  if (earliest) changed_.Signal();
  return handle;
}

void Timer::Cancel(const Handle& handle) {
  std::function<void()> dropped;  // destroyed outside the lock: it may own anything
  absl::MutexLock lock(&mu_);
  auto it = due_.find(std::make_pair(handle.when, handle.id));
  if (it == due_.end()) return;
  dropped = std::move(it->second);
  due_.erase(it);
}

void Timer::Loop() {
  std::vector<std::function<void()>> ready;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      while (!stopping_) {
        if (due_.empty()) {
          changed_.Wait(&mu_);
        } else if (absl::Now() < due_.begin()->first.first) {
          changed_.WaitWithDeadline(&mu_, due_.begin()->first.first);
        } else {
          break;
        }
      }
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
