// Runs callbacks at given instants on one thread of its own: deadlines that must fire
// whatever the worker threads are doing (a GetDossier answers at its deadline even when
// every fetch thread is stuck on a hung registry). Callbacks must be short.
#ifndef ONCEONLY_COMMON_TIMER_H_
#define ONCEONLY_COMMON_TIMER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <thread>

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

  // Runs `callback` on the timer thread at `when` (real time), or at once if it has passed.
  void At(absl::Time when, std::function<void()> callback);

 private:
  void Loop();

  absl::Mutex mu_;
  absl::CondVar changed_;
  std::multimap<absl::Time, std::function<void()>> due_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace onceonly

#endif  // ONCEONLY_COMMON_TIMER_H_
