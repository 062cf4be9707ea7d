// A fixed set of worker threads running queued tasks in FIFO order. Used for registry
// fan-out, so that the gRPC callback threads never block on a registry.
#ifndef ONCEONLY_COMMON_THREAD_POOL_H_
#define ONCEONLY_COMMON_THREAD_POOL_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace onceonly {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  // Runs every task already queued, then joins the workers.
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  void Schedule(std::function<void()> task);

 private:
  void WorkLoop();

  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_;
};

}  // namespace onceonly

#endif  // ONCEONLY_COMMON_THREAD_POOL_H_
