#include "connectors/remote/resilience.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace onceonly {

bool IsRegistryFailure(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kDataLoss:
      return true;
    default:
      return false;
  }
}

CircuitBreaker::CircuitBreaker(std::string registry, Options options, const Clock& clock,
                               OnChange on_change)
    : registry_(std::move(registry)),
      options_(options),
      clock_(clock),
      on_change_(std::move(on_change)) {}

void CircuitBreaker::Enter(State state) {
  const bool opened = state == State::kOpen;
  state_ = state;
  ++generation_;
  probe_out_ = false;
  if (opened) {
    open_until_ = clock_.Now() + options_.open_duration;
    ++openings_;
  }
  if (state == State::kClosed) consecutive_failures_ = 0;
  if (on_change_) on_change_(state, opened);
}

absl::StatusOr<CircuitBreaker::Pass> CircuitBreaker::Admit() {
  absl::MutexLock lock(&mu_);
  if (state_ == State::kOpen && clock_.Now() >= open_until_) Enter(State::kHalfOpen);
  switch (state_) {
    case State::kClosed:
      return Pass{generation_, false};
    case State::kHalfOpen:
      if (probe_out_) break;
      probe_out_ = true;
      return Pass{generation_, true};
    case State::kOpen:
      break;
  }
  return WithRegistryReason(
      absl::UnavailableError(absl::StrCat(
          "registry ", registry_, ": circuit open after ", options_.failure_threshold,
          " consecutive failures; next probe at ",
          absl::FormatTime("%H:%M:%E3S", open_until_, absl::UTCTimeZone()), " UTC")),
      "CIRCUIT_OPEN");
}

void CircuitBreaker::Record(const Pass& pass, Outcome outcome) {
  absl::MutexLock lock(&mu_);
  if (pass.generation != generation_) return;  // admitted before the last change of state
  if (state_ == State::kHalfOpen) {
    if (!pass.probe) return;
    switch (outcome) {
      case Outcome::kSuccess:
        Enter(State::kClosed);
        break;
      case Outcome::kFailure:
        Enter(State::kOpen);
        break;
      case Outcome::kNeutral:
        probe_out_ = false;  // untested: the next call probes
        break;
    }
    return;
  }
  if (state_ != State::kClosed) return;
  if (outcome == Outcome::kSuccess) consecutive_failures_ = 0;
  if (outcome == Outcome::kFailure && ++consecutive_failures_ >= options_.failure_threshold) {
    Enter(State::kOpen);
  }
}

CircuitBreaker::State CircuitBreaker::state() const {
  absl::MutexLock lock(&mu_);
  return state_;
}

int64_t CircuitBreaker::openings() const {
  absl::MutexLock lock(&mu_);
  return openings_;
}

absl::string_view CircuitBreaker::StateName(State state) {
  switch (state) {
    case State::kClosed:
      return "closed";
    case State::kOpen:
      return "open";
    case State::kHalfOpen:
      return "half_open";
  }
  return "unknown";
}

RetryThrottle::RetryThrottle(double max_tokens, double token_ratio)
    : max_tokens_(max_tokens), token_ratio_(token_ratio), tokens_(max_tokens) {}

void RetryThrottle::RecordSuccess() {
  absl::MutexLock lock(&mu_);
  tokens_ = std::min(max_tokens_, tokens_ + token_ratio_);
}

void RetryThrottle::RecordFailure() {
  absl::MutexLock lock(&mu_);
  tokens_ = std::max(0.0, tokens_ - 1);
}

bool RetryThrottle::RetryAllowed() const {
  absl::MutexLock lock(&mu_);
  return tokens_ > max_tokens_ / 2;
}

RetryBudget::RetryBudget(double ratio, int minimum) : ratio_(ratio), minimum_(minimum) {}

void RetryBudget::ReadStarted() { reads_.fetch_add(1); }
void RetryBudget::ReadEnded() { reads_.fetch_sub(1); }

bool RetryBudget::TryStartExtra() {
  const int limit = std::max(minimum_, static_cast<int>(ratio_ * reads_.load()));
  int extras = extras_.load();
  while (extras < limit) {
    if (extras_.compare_exchange_weak(extras, extras + 1)) return true;
  }
  return false;
}

void RetryBudget::ExtraEnded() { extras_.fetch_sub(1); }

}  // namespace onceonly
