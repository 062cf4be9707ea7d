// A RegistryConnector for tests: serves canned records, and can fail, or take time, on
// demand. Thread-safe.
#ifndef ONCEONLY_CONNECTORS_TESTING_FAKE_CONNECTOR_H_
#define ONCEONLY_CONNECTORS_TESTING_FAKE_CONNECTOR_H_

#include <atomic>
#include <map>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "connectors/registry_connector.h"

namespace onceonly {

class FakeConnector : public RegistryConnector {
 public:
  explicit FakeConnector(std::string name) : name_(std::move(name)) {}

  absl::string_view name() const override { return name_; }

  absl::StatusOr<registry::v1::SubjectRecords> Fetch(const FetchRequest& request) override {
    calls_.fetch_add(1);
    absl::Notification* gate = nullptr;
    {
      absl::MutexLock lock(&mu_);
      gate = gate_;
      if (entered_ != nullptr && !entered_->HasBeenNotified()) entered_->Notify();
    }
    if (gate != nullptr) gate->WaitForNotification();  // a registry that takes its time
    absl::MutexLock lock(&mu_);
    last_request_ = request;
    if (!error_.ok()) return error_;
    auto it = records_.find(request.enterprise_number);
    if (it == records_.end()) {
      return absl::NotFoundError(request.enterprise_number + " is not in " + name_);
    }
    return it->second;
  }

  void Set(const std::string& number, registry::v1::SubjectRecords records) {
    absl::MutexLock lock(&mu_);
    records_[number] = std::move(records);
  }
  // Every Fetch fails with `error` (OK restores normal service).
  void FailWith(absl::Status error) {
    absl::MutexLock lock(&mu_);
    error_ = std::move(error);
  }
  // Fetch notifies `entered` (if set) and then waits for `gate` before answering.
  void HoldUntil(absl::Notification* entered, absl::Notification* gate) {
    absl::MutexLock lock(&mu_);
    entered_ = entered;
    gate_ = gate;
  }
  int calls() const { return calls_.load(); }
  FetchRequest last_request() {
    absl::MutexLock lock(&mu_);
    return last_request_;
  }

 private:
  const std::string name_;
  std::atomic<int> calls_{0};
  absl::Mutex mu_;
  std::map<std::string, registry::v1::SubjectRecords> records_ ABSL_GUARDED_BY(mu_);
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  FetchRequest last_request_ ABSL_GUARDED_BY(mu_);
  absl::Notification* entered_ ABSL_GUARDED_BY(mu_) = nullptr;
  absl::Notification* gate_ ABSL_GUARDED_BY(mu_) = nullptr;
};

}  // namespace onceonly

#endif  // ONCEONLY_CONNECTORS_TESTING_FAKE_CONNECTOR_H_
