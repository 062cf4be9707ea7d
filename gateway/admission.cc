#include "gateway/admission.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/rich_status.h"
#include "google/rpc/error_details.pb.h"

namespace onceonly {

constexpr absl::string_view kRetryInfoTypeUrl = "type.googleapis.com/google.rpc.RetryInfo";
// After a concurrency refusal: about the time a call takes.
constexpr absl::Duration kConcurrencyRetryDelay = absl::Milliseconds(100);

absl::Status WithRetryDelay(absl::Status status, absl::Duration delay) {
  google::rpc::RetryInfo info;
  const int64_t nanos = std::max<int64_t>(0, absl::ToInt64Nanoseconds(delay));
  info.mutable_retry_delay()->set_seconds(nanos / 1'000'000'000);
  info.mutable_retry_delay()->set_nanos(static_cast<int32_t>(nanos % 1'000'000'000));
  status.SetPayload(kRetryInfoTypeUrl, absl::Cord(info.SerializeAsString()));
  return status;
}

MemberAdmission::Ticket::~Ticket() { admission_->Release(member_); }

MemberAdmission::MemberAdmission(MemberLimits limits, const Clock& clock,
                                 absl::flat_hash_map<std::string, MemberLimits> overrides)
    : limits_(limits), overrides_(std::move(overrides)), clock_(clock) {}

absl::StatusOr<std::unique_ptr<MemberAdmission::Ticket>> MemberAdmission::Admit(
    const std::string& member) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_.Now();
  auto [it, added] = members_.try_emplace(member);
  Member& m = it->second;
  if (added) {
    auto own = overrides_.find(member);
    m.limits = own == overrides_.end() ? &limits_ : &own->second;
  }
  const MemberLimits& limits = *m.limits;
  const double burst = limits.burst > 0 ? limits.burst : std::max(1.0, limits.calls_per_second);
  if (added) {
    m.tokens = burst;
    m.refilled = now;
  }
  if (limits.max_concurrent_calls > 0 && m.in_flight >= limits.max_concurrent_calls) {
    return WithRetryDelay(
        ErrorWithReason(absl::StatusCode::kResourceExhausted, "MEMBER_CONCURRENCY_LIMITED",
                        absl::StrCat("member ", member, " already has ", m.in_flight,
                                     " calls in flight, its limit; retry when one has ended"),
                        {{"limit", absl::StrCat(limits.max_concurrent_calls)}}),
        kConcurrencyRetryDelay);
  }
  if (limits.calls_per_second > 0) {
    m.tokens = std::min(burst, m.tokens + absl::ToDoubleSeconds(now - m.refilled) *
                                              limits.calls_per_second);
    m.refilled = now;
    if (m.tokens < 1) {
      const absl::Duration wait =
          absl::Seconds((1 - m.tokens) / limits.calls_per_second);
      return WithRetryDelay(
          ErrorWithReason(absl::StatusCode::kResourceExhausted, "MEMBER_RATE_LIMITED",
                          absl::StrFormat("member %s is over its rate of %g calls/s (burst %g); "
                                          "retry in %s",
                                          member, limits.calls_per_second, burst,
                                          absl::FormatDuration(wait)),
                          {{"calls_per_second", absl::StrCat(limits.calls_per_second)}}),
          wait);
    }
    m.tokens -= 1;
  }
  ++m.in_flight;
  return std::unique_ptr<Ticket>(new Ticket(this, member));
}

void MemberAdmission::Release(const std::string& member) {
  absl::MutexLock lock(&mu_);
  auto it = members_.find(member);
  if (it != members_.end()) --it->second.in_flight;
}

}  // namespace onceonly
