// Per-member admission: how many calls a member may have in flight, and how fast it may
// start them (a token bucket). A refusal is RESOURCE_EXHAUSTED with an ErrorInfo reason
// (MEMBER_CONCURRENCY_LIMITED, MEMBER_RATE_LIMITED) and a google.rpc.RetryInfo saying when
// to try again, so that one member's burst cannot take the gateway from the others.
#ifndef ONCEONLY_GATEWAY_ADMISSION_H_
#define ONCEONLY_GATEWAY_ADMISSION_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace onceonly {

struct MemberLimits {
  int max_concurrent_calls = 0;  // 0: no limit
  double calls_per_second = 0;   // 0: no limit
  double burst = 0;              // calls allowed at once beyond the rate; default: 1 s worth
};

class MemberAdmission {
 public:
  // Held for the length of an admitted call.
  class Ticket {
   public:
    ~Ticket();
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;

   private:
    friend class MemberAdmission;
    Ticket(MemberAdmission* admission, std::string member)
        : admission_(admission), member_(std::move(member)) {}
    MemberAdmission* const admission_;
    const std::string member_;
  };

  // `limits` for every member but those in `overrides`.
  MemberAdmission(MemberLimits limits, const Clock& clock,
                  absl::flat_hash_map<std::string, MemberLimits> overrides = {});

  // A ticket, or RESOURCE_EXHAUSTED with reason and RetryInfo.
  absl::StatusOr<std::unique_ptr<Ticket>> Admit(const std::string& member);

 private:
  struct Member {
    const MemberLimits* limits = nullptr;  // limits_ or one of overrides_
    int in_flight = 0;
    double tokens = 0;
    absl::Time refilled;
  };
  void Release(const std::string& member);

  const MemberLimits limits_;
  const absl::flat_hash_map<std::string, MemberLimits> overrides_;
  const Clock& clock_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Member> members_ ABSL_GUARDED_BY(mu_);
};

// Adds a google.rpc.RetryInfo{retry_delay} payload to `status`.
absl::Status WithRetryDelay(absl::Status status, absl::Duration delay);

}  // namespace onceonly

#endif  // ONCEONLY_GATEWAY_ADMISSION_H_
