// Per-call latency percentiles over all threads of a Google Benchmark run.
//
// Google Benchmark synchronises its threads at the start and at the end of the timed loop,
// but not after it, so there is an own barrier here: every thread appends its samples and
// counts itself in; thread 0 waits until all state.threads() have done so and hands the
// merged samples to `report`, which publishes counters on thread 0's State (counters of the
// threads are summed, and only thread 0 sets these, so the sum is exactly its value). The
// next run starts only after all threads of this run have been joined, so the reset cannot
// race with it. This code runs after the timer stopped.
#ifndef ONCEONLY_BENCH_LATENCY_COLLECTOR_H_
#define ONCEONLY_BENCH_LATENCY_COLLECTOR_H_

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <vector>

#include "benchmark/benchmark.h"

namespace onceonly {

// Nearest-rank percentile of `samples` (reorders them); `samples` must not be empty.
inline double Percentile(std::vector<int64_t>& samples, double p) {
  size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(samples.size())));
  size_t index = std::min(samples.size() - 1, rank == 0 ? 0 : rank - 1);
  std::nth_element(samples.begin(), samples.begin() + static_cast<ptrdiff_t>(index),
                   samples.end());
  return static_cast<double>(samples[index]);
}

class LatencyCollector {
 public:
  // Called by every thread of a run after its loop; `report(all_samples_ns)` runs once, on
  // thread 0, after every thread has submitted (the samples may be empty).
  template <typename Report>
  void Submit(benchmark::State& state, const std::vector<int64_t>& samples_ns, Report report) {
    std::unique_lock<std::mutex> lock(mu_);
    merged_.insert(merged_.end(), samples_ns.begin(), samples_ns.end());
    ++arrived_;
    if (arrived_ == state.threads()) all_arrived_.notify_all();
    if (state.thread_index() != 0) return;
    all_arrived_.wait(lock, [&] { return arrived_ == state.threads(); });
    report(merged_);
    merged_.clear();
    arrived_ = 0;
  }

 private:
  std::mutex mu_;
  std::condition_variable all_arrived_;
  std::vector<int64_t> merged_;
  int arrived_ = 0;
};

}  // namespace onceonly

#endif  // ONCEONLY_BENCH_LATENCY_COLLECTOR_H_
