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

CircuitBreaker::CircuitBreaker(std::string registry, Options options, const Clock& clock)
    : registry_(std::move(registry)), options_(options), clock_(clock) {}

absl::Status CircuitBreaker::Admit() {
  absl::MutexLock lock(&mu_);
  switch (state_) {
    case State::kClosed:
      return absl::OkStatus();
    case State::kOpen:
      if (clock_.Now() < open_until_) break;
      state_ = State::kHalfOpen;
      probe_out_ = false;
      [[fallthrough]];
    case State::kHalfOpen:
      if (probe_out_) break;
      probe_out_ = true;  // this call is the probe
      return absl::OkStatus();
  }
  return WithRegistryReason(
      absl::UnavailableError(absl::StrCat(
          "registry ", registry_, ": circuit open after ", options_.failure_threshold,
          " consecutive failures; next probe at ",
          absl::FormatTime("%H:%M:%E3S", open_until_, absl::UTCTimeZone()), " UTC")),
      "CIRCUIT_OPEN");
}

void CircuitBreaker::Record(bool failure) {
  absl::MutexLock lock(&mu_);
  if (!failure) {
    consecutive_failures_ = 0;
    if (state_ == State::kHalfOpen) state_ = State::kClosed;
    probe_out_ = false;
    return;
  }
  ++consecutive_failures_;
  const bool probe_failed = state_ == State::kHalfOpen;
  if (probe_failed ||
      (state_ == State::kClosed && consecutive_failures_ >= options_.failure_threshold)) {
    state_ = State::kOpen;
    open_until_ = clock_.Now() + options_.open_duration;
    probe_out_ = false;
    ++openings_;
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

}  // namespace onceonly
