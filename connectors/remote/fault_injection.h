// Faults injected into a registry, for tests and demos (`onceonly-registry --fault-…`): added
// latency, a share of calls answered UNAVAILABLE, a share that hang until the caller's
// deadline. What a gateway must survive from a registry it does not own.
#ifndef ONCEONLY_CONNECTORS_REMOTE_FAULT_INJECTION_H_
#define ONCEONLY_CONNECTORS_REMOTE_FAULT_INJECTION_H_

#include <cstdint>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/random/random.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "connectors/registry_connector.h"

namespace onceonly {

struct FaultSpec {
  absl::Duration latency = absl::ZeroDuration();  // added before every answer
  double error_rate = 0;                          // share of calls answered UNAVAILABLE
  double hang_rate = 0;                           // share never answered before the deadline
};

// Wraps `inner`: each Fetch first waits `latency` (never past its deadline), then hangs with
// probability `hang_rate` (until a second past its deadline, then DEADLINE_EXCEEDED), else
// fails with probability `error_rate` (UNAVAILABLE), else asks `inner`. Thread-safe;
// destruction wakes hung calls.
class FaultInjectingConnector : public RegistryConnector {
 public:
  FaultInjectingConnector(std::unique_ptr<RegistryConnector> inner, FaultSpec spec);
  ~FaultInjectingConnector() override;

  // Changes the faults for the next calls (a flapping registry).
  void SetSpec(const FaultSpec& spec);

  absl::string_view name() const override { return inner_->name(); }
  absl::StatusOr<registry::v1::SubjectRecords> Fetch(const FetchRequest& request) override;
  EnterpriseSearch* enterprise_search() override { return inner_->enterprise_search(); }

 private:
  // Waits until `until` or destruction; false if destroyed.
  bool SleepUntil(absl::Time until);

  const std::unique_ptr<RegistryConnector> inner_;
  absl::Mutex mu_;
  absl::CondVar changed_;  // stopping_ set, or the last sleeper gone after it
  FaultSpec spec_ ABSL_GUARDED_BY(mu_);
  absl::BitGen random_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int sleepers_ ABSL_GUARDED_BY(mu_) = 0;  // calls in SleepUntil
};

}  // namespace onceonly

#endif  // ONCEONLY_CONNECTORS_REMOTE_FAULT_INJECTION_H_
