// What the gateway does about a registry that misbehaves: a circuit breaker that stops
// calling a failing registry for a while, and a retry throttle so that retries cannot
// multiply the load on a registry that is already struggling.
#ifndef ONCEONLY_CONNECTORS_REMOTE_RESILIENCE_H_
#define ONCEONLY_CONNECTORS_REMOTE_RESILIENCE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "connectors/registry_connector.h"

namespace onceonly {

// Whether a failure says something about the registry's health (unavailable, timed out,
// overloaded, broken) rather than about the request (not found, invalid).
bool IsRegistryFailure(absl::StatusCode code);

// Closed: calls go through; `failure_threshold` consecutive registry failures open it. Open:
// calls fail at once (UNAVAILABLE, reason CIRCUIT_OPEN) for `open_duration`. Half-open: one
// probe goes through; its success closes the circuit, its failure opens it again. Outcomes
// of calls admitted before the last change of state are ignored (a late answer must not
// close a circuit no probe tested). Thread-safe.
class CircuitBreaker {
 public:
  enum class State { kClosed, kOpen, kHalfOpen };
  enum class Outcome {
    kSuccess,
    kFailure,
    kNeutral,  // says nothing of the registry (e.g. the caller's own deadline ran out)
  };
  struct Options {
    int failure_threshold = 5;
    absl::Duration open_duration = absl::Seconds(5);
  };
  // What Admit hands out; give it back to Record.
  struct Pass {
    uint64_t generation = 0;
    bool probe = false;
  };
  // Called, under the breaker's lock, with each new state (keep it short: metrics).
  using OnChange = std::function<void(State state, bool opened)>;

  CircuitBreaker(std::string registry, Options options, const Clock& clock,
                 OnChange on_change = nullptr);

  // A pass if a call may go out now (the caller must then Record its outcome); else
  // UNAVAILABLE with RegistryReason CIRCUIT_OPEN.
  absl::StatusOr<Pass> Admit();
  void Record(const Pass& pass, Outcome outcome);

  State state() const;
  // How many times the circuit opened.
  int64_t openings() const;
  static absl::string_view StateName(State state);

 private:
  void Enter(State state) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string registry_;
  const Options options_;
  const Clock& clock_;
  const OnChange on_change_;
  mutable absl::Mutex mu_;
  State state_ ABSL_GUARDED_BY(mu_) = State::kClosed;
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;  // bumped at every change of state
  int consecutive_failures_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time open_until_ ABSL_GUARDED_BY(mu_);
  bool probe_out_ ABSL_GUARDED_BY(mu_) = false;
  int64_t openings_ ABSL_GUARDED_BY(mu_) = 0;
};

// gRPC's retry throttling: a bucket of `max_tokens`; each failed call takes one token, each
// successful one gives back `token_ratio`; retries are allowed only while more than half the
// bucket is left. Under a steady failure rate above token_ratio, retries stop. Thread-safe.
class RetryThrottle {
 public:
  explicit RetryThrottle(double max_tokens = 10, double token_ratio = 0.1);
  void RecordSuccess();
  void RecordFailure();
  bool RetryAllowed() const;

 private:
  const double max_tokens_;
  const double token_ratio_;
  mutable absl::Mutex mu_;
  double tokens_ ABSL_GUARDED_BY(mu_);
};

// Caps the extra attempts in flight (retries, and hedges) at a share of the reads in flight:
// the throttle above learns of failures only as attempts end, so without this a registry
// that hangs would get a hedge for every read (twice the load, and twice the calls ending
// at once at the deadline). Thread-safe, lock-free.
class RetryBudget {
 public:
  // At most max(minimum, ratio x reads in flight) extra attempts at a time.
  explicit RetryBudget(double ratio = 0.1, int minimum = 10);
  void ReadStarted();
  void ReadEnded();
  // True if an extra attempt may start; it must then call ExtraEnded() when it ends.
  bool TryStartExtra();
  void ExtraEnded();
  int extras_in_flight() const { return extras_.load(); }

 private:
  const double ratio_;
  const int minimum_;
  std::atomic<int> reads_{0};
  std::atomic<int> extras_{0};
};

}  // namespace onceonly

#endif  // ONCEONLY_CONNECTORS_REMOTE_RESILIENCE_H_
