#include "connectors/remote/fault_injection.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace onceonly {

FaultInjectingConnector::FaultInjectingConnector(std::unique_ptr<RegistryConnector> inner,
                                                 FaultSpec spec)
    : inner_(std::move(inner)), spec_(spec) {}

FaultInjectingConnector::~FaultInjectingConnector() {
  absl::MutexLock lock(&mu_);
  stopping_ = true;
  // Sleepers wake on stopping_; none may touch this object once it is gone.
  changed_.SignalAll();
  while (sleepers_ > 0) changed_.Wait(&mu_);
}

void FaultInjectingConnector::SetSpec(const FaultSpec& spec) {
  absl::MutexLock lock(&mu_);
  spec_ = spec;
}

bool FaultInjectingConnector::SleepUntil(absl::Time until) {
  // A call without a deadline hangs a minute at most, so that a server shutting down (which
  // waits for its handlers) is never stuck on it.
  until = std::min(until, absl::Now() + absl::Minutes(1));
  // A condition variable, not Mutex::Await: with a thousand hung calls, every unlock would
  // evaluate a thousand conditions.
  absl::MutexLock lock(&mu_);
  ++sleepers_;
  while (!stopping_ && !changed_.WaitWithDeadline(&mu_, until)) {
  }
  --sleepers_;
  if (stopping_ && sleepers_ == 0) changed_.SignalAll();  // the destructor waits for this
  return !stopping_;
}

absl::StatusOr<registry::v1::SubjectRecords> FaultInjectingConnector::Fetch(
    const FetchRequest& request) {
  FaultSpec spec;
  bool hang = false, fail = false;
  {
    absl::MutexLock lock(&mu_);
    spec = spec_;
    hang = absl::Bernoulli(random_, std::clamp(spec.hang_rate, 0.0, 1.0));
    fail = absl::Bernoulli(random_, std::clamp(spec.error_rate, 0.0, 1.0));
  }
  if (spec.latency > absl::ZeroDuration()) {
    const absl::Time ready = std::min(absl::Now() + spec.latency, request.deadline);
    if (!SleepUntil(ready)) return absl::UnavailableError("the registry is shutting down");
    if (absl::Now() >= request.deadline) {
      return absl::DeadlineExceededError("injected latency outlasted the deadline");
    }
  }
  if (hang) {
    // A registry that accepted the call and never answers. Its backend goes on a second past
    // the caller's deadline, as a stuck one would, rather than waking on that very instant
    // (with many hung calls, all at once, just when their caller must answer).
    SleepUntil(request.deadline + absl::Seconds(1));
    return absl::DeadlineExceededError("injected hang");
  }
  if (fail) {
    return absl::UnavailableError(absl::StrCat("injected fault in registry ", inner_->name()));
  }
  return inner_->Fetch(request);
}

}  // namespace onceonly
