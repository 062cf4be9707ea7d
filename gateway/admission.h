// Admission: how many calls a caller may have in flight, and how fast it may start them (a
// token bucket). Members are counted by their policy id, separately for GetDossier and for the
// other services (whose calls each cost a durable append or a scan); callers who are not
// members by their certificate, under tight limits whatever they call, so that a stranger's
// flood costs the log no more than its rate allows. A refusal is RESOURCE_EXHAUSTED with an
// ErrorInfo reason (MEMBER_CONCURRENCY_LIMITED, MEMBER_RATE_LIMITED, or CERTIFICATE_… for a
// stranger) and a google.rpc.RetryInfo saying when to try again. A refused call is not an
// access: it leaves no access record.
#ifndef ONCEONLY_GATEWAY_ADMISSION_H_
#define ONCEONLY_GATEWAY_ADMISSION_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "authz/policy.h"
#include "common/clock.h"
#include "gateway/call_info.h"

namespace onceonly {

struct MemberLimits {
  int max_concurrent_calls = 0;  // 0: no limit
  double calls_per_second = 0;   // 0: no limit
  double burst = 0;              // calls allowed at once beyond the rate; default: 1 s worth
};

// The limits of one kind of key (member ids, or certificates). Thread-safe.
class KeyedAdmission {
 public:
  struct Options {
    MemberLimits limits;                                       // for every key...
    absl::flat_hash_map<std::string, MemberLimits> overrides;  // ... but these
    std::string kind = "member";           // how messages name a key: "member brussels-economy"
    std::string reason_prefix = "MEMBER";  // reasons <prefix>_CONCURRENCY_LIMITED, _RATE_LIMITED
    // Keys tracked at most; beyond, idle ones are forgotten, and while none is idle a new key is
    // refused (<prefix>_RATE_LIMITED). 0: no bound (member ids are bounded by the policy).
    size_t max_keys = 0;
  };

  // Held for the length of an admitted call.
  class Ticket {
   public:
    ~Ticket();
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;

   private:
    friend class KeyedAdmission;
    Ticket(KeyedAdmission* admission, std::string key)
        : admission_(admission), key_(std::move(key)) {}
    KeyedAdmission* const admission_;
    const std::string key_;
  };

  KeyedAdmission(Options options, const Clock& clock);

  // A ticket, or RESOURCE_EXHAUSTED with reason and RetryInfo. `shown` names the key in the
  // refusal's message (a certificate's digest is no name for a person).
  absl::StatusOr<std::unique_ptr<Ticket>> Admit(const std::string& key,
                                                absl::string_view shown);

 private:
  struct Entry {
    const MemberLimits* limits = nullptr;  // options_.limits or one of options_.overrides
    int in_flight = 0;
    double tokens = 0;
    absl::Time refilled;
  };
  void Release(const std::string& key);
  // Forgets the keys with no call in flight and a full bucket: they are as good as new.
  void ForgetIdleLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  const Clock& clock_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
};

// What a call is, for admission.
enum class CallKind { kDossier, kService };

// Every service's admission (see the file comment). Thread-safe.
class CallAdmission {
 public:
  struct Options {
    KeyedAdmission::Options dossier;   // members' GetDossier calls
    KeyedAdmission::Options services;  // members' calls to the other services
    KeyedAdmission::Options strangers;  // everyone else's calls, per certificate
  };
  using Ticket = KeyedAdmission::Ticket;

  CallAdmission(Options options, const Clock& clock);

  // A ticket for `call` (keyed by its member under `policy`, or else by its certificate), or
  // the refusal, which is also counted in onceonly_member_refusals_total.
  absl::StatusOr<std::unique_ptr<Ticket>> Admit(const PolicySnapshot& policy,
                                                const CallInfo& call, CallKind kind);

 private:
  KeyedAdmission dossier_;
  KeyedAdmission services_;
  KeyedAdmission strangers_;
};

// Adds a google.rpc.RetryInfo{retry_delay} payload to `status`.
absl::Status WithRetryDelay(absl::Status status, absl::Duration delay);

}  // namespace onceonly

#endif  // ONCEONLY_GATEWAY_ADMISSION_H_
