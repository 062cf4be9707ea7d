// Runs callbacks at given instants on one thread of its own: deadlines that must fire
// whatever the worker threads are doing (a GetDossier answers at its deadline even when
// every fetch thread is stuck on a hung registry). Callbacks must be short.
#ifndef ONCEONLY_COMMON_TIMER_H_
#define ONCEONLY_COMMON_TIMER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace onceonly {

class Timer {
 public:
  Timer();
  // Joins the thread; callbacks not yet due never run.
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  // Names one scheduled callback, for Cancel.
  struct Handle {
    absl::Time when;
    uint64_t id = 0;
  };

  // Runs `callback` on the timer thread at `when` (real time), or at once if it has passed.
  Handle At(absl::Time when, std::function<void()> callback);

  // Drops the callback if it has not run yet (it may be running): a deadline that no longer
  // matters costs nothing more. Callers that schedule one per request cancel it when the
  // request ends, so that pending callbacks stay as many as the requests in flight.
  void Cancel(const Handle& handle);

 private:
  void Loop();

  absl::Mutex mu_;
  absl::CondVar changed_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  // When the thread will wake by itself; InfinitePast while it is awake.
  absl::Time wake_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::map<std::pair<absl::Time, uint64_t>, std::function<void()>> due_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace onceonly

#endif  // ONCEONLY_COMMON_TIMER_H_
