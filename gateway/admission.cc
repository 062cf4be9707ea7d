#include "gateway/admission.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/metrics.h"
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

KeyedAdmission::Ticket::~Ticket() { admission_->Release(key_); }

KeyedAdmission::KeyedAdmission(Options options, const Clock& clock)
    : options_(std::move(options)), clock_(clock) {}

namespace {

double BurstOf(const MemberLimits& limits) {
  return limits.burst > 0 ? limits.burst : std::max(1.0, limits.calls_per_second);
}

}  // namespace

void KeyedAdmission::ForgetIdleLocked(absl::Time now) {
  absl::erase_if(entries_, [now](const auto& entry) {
    const Entry& e = entry.second;
    const MemberLimits& limits = *e.limits;
    const double tokens =
        limits.calls_per_second > 0
            ? e.tokens + absl::ToDoubleSeconds(now - e.refilled) * limits.calls_per_second
            : BurstOf(limits);
    return e.in_flight == 0 && tokens >= BurstOf(limits);
  });
}

absl::StatusOr<std::unique_ptr<KeyedAdmission::Ticket>> KeyedAdmission::Admit(
    const std::string& key, absl::string_view shown) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_.Now();
  if (options_.max_keys > 0 && entries_.size() >= options_.max_keys && !entries_.contains(key)) {
    ForgetIdleLocked(now);
    if (entries_.size() >= options_.max_keys) {
      return WithRetryDelay(
          ErrorWithReason(absl::StatusCode::kResourceExhausted,
                          absl::StrCat(options_.reason_prefix, "_RATE_LIMITED"),
                          absl::StrCat("too many ", options_.kind, "s are calling at once (",
                                       options_.max_keys, "); retry later")),
          absl::Seconds(1));
    }
  }
  auto [it, added] = entries_.try_emplace(key);
  Entry& m = it->second;
  if (added) {
    auto own = options_.overrides.find(key);
    m.limits = own == options_.overrides.end() ? &options_.limits : &own->second;
  }
  const MemberLimits& limits = *m.limits;
  const double burst = BurstOf(limits);
  if (added) {
    m.tokens = burst;
    m.refilled = now;
  }
  if (limits.max_concurrent_calls > 0 && m.in_flight >= limits.max_concurrent_calls) {
    return WithRetryDelay(
        ErrorWithReason(absl::StatusCode::kResourceExhausted,
                        absl::StrCat(options_.reason_prefix, "_CONCURRENCY_LIMITED"),
                        absl::StrCat(options_.kind, " ", shown, " already has ", m.in_flight,
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
          ErrorWithReason(absl::StatusCode::kResourceExhausted,
                          absl::StrCat(options_.reason_prefix, "_RATE_LIMITED"),
                          absl::StrFormat("%s %s is over its rate of %g calls/s (burst %g); "
                                          "retry in %s",
                                          options_.kind, shown, limits.calls_per_second, burst,
                                          absl::FormatDuration(wait)),
                          {{"calls_per_second", absl::StrCat(limits.calls_per_second)}}),
          wait);
    }
    m.tokens -= 1;
  }
  ++m.in_flight;
  return std::unique_ptr<Ticket>(new Ticket(this, key));
}

void KeyedAdmission::Release(const std::string& key) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(key);
  if (it != entries_.end()) --it->second.in_flight;
}

CallAdmission::CallAdmission(Options options, const Clock& clock)
    : dossier_(std::move(options.dossier), clock),
      services_(std::move(options.services), clock),
      strangers_(std::move(options.strangers), clock) {}

absl::StatusOr<std::unique_ptr<CallAdmission::Ticket>> CallAdmission::Admit(
    const PolicySnapshot& policy, const CallInfo& call, CallKind kind) {
  const config::v1::Member* member =
      call.identity.ok() ? policy.FindMember(*call.identity) : nullptr;
  absl::StatusOr<std::unique_ptr<Ticket>> ticket;
  if (member != nullptr) {
    ticket = (kind == CallKind::kDossier ? dossier_ : services_).Admit(member->id(), member->id());
  } else {
    // No member to count it by: its certificate, which only the CA can multiply.
    ticket = strangers_.Admit(TextDigest(call.peer_certificate_pem), "with this certificate");
  }
  if (!ticket.ok()) {
    static Counter& refusals = DefaultMetrics().counter(
        "onceonly_member_refusals_total", "Calls refused at admission, by member and reason",
        {"member", "reason"});
    refusals.Add({member != nullptr ? member->id() : "(not a member)",
                  ErrorReason(ticket.status())});
  }
  return ticket;
}

}  // namespace onceonly
