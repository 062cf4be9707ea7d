#include "connectors/remote/remote_connector.h"

#include <grpcpp/client_context.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/grpc_status.h"
#include "common/metrics.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "common/tls.h"
#include "connectors/remote/resilience.h"
#include "onceonly/registry/v1/registry.grpc.pb.h"

namespace onceonly {
namespace {

namespace rv1 = registry::v1;

constexpr absl::Duration kFirstBackoff = absl::Milliseconds(20);

Gauge& CircuitGauge() {
  static Gauge& g = DefaultMetrics().gauge(
      "onceonly_registry_circuit_state",
      "Circuit breaker of a remote registry: 0 closed, 1 half open, 2 open", {"registry"});
  return g;
}

Counter& CircuitOpenings() {
  static Counter& c = DefaultMetrics().counter("onceonly_registry_circuit_openings_total",
                                               "Times a registry's circuit opened", {"registry"});
  return c;
}

// The attempts of one read racing each other (a hedged read has two): the first answer that
// is not a registry failure wins; if every attempt fails, the last failure.
class Race {
 public:
  // Registers an attempt; Done() must follow, from any thread.
  std::shared_ptr<grpc::ClientContext> Start(absl::Time deadline) {
    auto context = std::make_shared<grpc::ClientContext>();
    if (deadline != absl::InfiniteFuture()) context->set_deadline(absl::ToChronoTime(deadline));
    absl::MutexLock lock(&mu_);
    ++outstanding_;
    contexts_.push_back(context);
    return context;
  }
  void Done(absl::StatusOr<rv1::SubjectRecords> result) {
    absl::MutexLock lock(&mu_);
    --outstanding_;
    if (winner_.has_value()) return;
    if (result.ok() || !IsRegistryFailure(result.status().code())) {
      winner_ = std::move(result);
    } else {
      last_failure_ = result.status();
    }
  }
  // Waits until an attempt won, every attempt failed, or `until`; true if decided.
  bool WaitDecided(absl::Time until) {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithDeadline(absl::Condition(this, &Race::Decided), until);
    return Decided();
  }
  // The outcome, once decided; cancels the attempts still out.
  absl::StatusOr<rv1::SubjectRecords> Take() {
    absl::MutexLock lock(&mu_);
    for (const auto& context : contexts_) context->TryCancel();
    if (winner_.has_value()) return *std::move(winner_);
    return last_failure_;
  }

 private:
  bool Decided() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return winner_.has_value() || outstanding_ == 0;
  }
  absl::Mutex mu_;
  int outstanding_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::shared_ptr<grpc::ClientContext>> contexts_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::StatusOr<rv1::SubjectRecords>> winner_ ABSL_GUARDED_BY(mu_);
  absl::Status last_failure_ ABSL_GUARDED_BY(mu_) = absl::UnavailableError("no attempt made");
};

class RemoteConnector : public RegistryConnector {
 public:
  RemoteConnector(std::string registry, const config::v1::RemoteSource& source,
                  std::shared_ptr<grpc::Channel> channel)
      : registry_(std::move(registry)),
        address_(source.address()),
        max_attempts_(source.max_attempts() == 0 ? 3 : static_cast<int>(source.max_attempts())),
        hedge_after_(source.has_hedge_after() ? FromProto(source.hedge_after())
                                              : absl::InfiniteDuration()),
        breaker_(registry_,
                 CircuitBreaker::Options{
                     source.circuit_failure_threshold() == 0
                         ? 5
                         : static_cast<int>(source.circuit_failure_threshold()),
                     source.has_circuit_open_duration() ? FromProto(source.circuit_open_duration())
                                                        : absl::Seconds(5)},
                 Clock::Real(),
                 [registry = registry_](CircuitBreaker::State state, bool opened) {
                   CircuitGauge().Set({registry}, state == CircuitBreaker::State::kClosed ? 0
                                                  : state == CircuitBreaker::State::kHalfOpen
                                                      ? 1
                                                      : 2);
                   if (opened) CircuitOpenings().Add({registry});
                 }),
        companies_(rv1::CompanyRegistry::NewStub(channel)),
        permits_(rv1::PermitRegistry::NewStub(channel)),
        tax_(rv1::TaxRegistry::NewStub(channel)) {
    CircuitGauge().Set({registry_}, 0);
    CircuitOpenings().Add({registry_}, 0);
  }

  absl::string_view name() const override { return registry_; }

  // Reads are idempotent: a read the registry answered UNAVAILABLE is tried again with
  // exponential backoff and jitter, within the deadline and the retry throttle. The circuit
  // breaker sees one outcome per read, whatever its attempts.
  absl::StatusOr<rv1::SubjectRecords> Fetch(const FetchRequest& request) override {
    ASSIGN_OR_RETURN(const CircuitBreaker::Pass pass, breaker_.Admit());
    absl::StatusOr<rv1::SubjectRecords> result;
    absl::Duration backoff = kFirstBackoff;
    for (int attempt = 1;; ++attempt) {
      result = Attempt(request);
      const bool failed = !result.ok() && IsRegistryFailure(result.status().code());
      if (!failed || result.status().code() != absl::StatusCode::kUnavailable ||
          attempt >= max_attempts_ || !throttle_->RetryAllowed()) {
        break;
      }
      // Full jitter, so that callers who failed together do not retry together.
      thread_local absl::BitGen random;
      const absl::Duration pause = backoff * absl::Uniform(random, 0.0, 1.0);
      if (absl::Now() + pause >= request.deadline) break;
      absl::SleepFor(pause);
      backoff *= 2;
    }
    // A deadline the caller cut short says nothing of the registry's health.
    CircuitBreaker::Outcome outcome = CircuitBreaker::Outcome::kSuccess;
    if (!result.ok() && IsRegistryFailure(result.status().code())) {
      outcome = result.status().code() == absl::StatusCode::kDeadlineExceeded &&
                        request.deadline_is_callers
                    ? CircuitBreaker::Outcome::kNeutral
                    : CircuitBreaker::Outcome::kFailure;
    }
    breaker_.Record(pass, outcome);
    if (!result.ok()) {
      return absl::Status(result.status().code(),
                          absl::StrCat("registry ", registry_, " at ", address_, ": ",
                                       result.status().message()));
    }
    return result;
  }

 private:
  // One attempt, or two racing if the first has not answered after hedge_after_.
  absl::StatusOr<rv1::SubjectRecords> Attempt(const FetchRequest& request) {
    auto race = std::make_shared<Race>();
    Send(request, race);
    if (hedge_after_ != absl::InfiniteDuration() &&
        !race->WaitDecided(std::min(absl::Now() + hedge_after_, request.deadline)) &&
        absl::Now() < request.deadline && throttle_->RetryAllowed()) {
      Send(request, race);  // the hedge
    }
    race->WaitDecided(absl::InfiniteFuture());  // every attempt ends by its deadline
    return race->Take();
  }

  // Starts one RPC whose outcome goes to `race`; it also feeds the retry throttle.
  void Send(const FetchRequest& request, const std::shared_ptr<Race>& race) {
    std::shared_ptr<grpc::ClientContext> context = race->Start(request.deadline);
    // Owns what it touches: a losing hedge completes after Fetch returned, perhaps after the
    // connector is gone.
    auto finish = [throttle = throttle_, race, context](const grpc::Status& status,
                                                        absl::StatusOr<rv1::SubjectRecords> records) {
      if (!status.ok()) records = FromGrpcStatus(status);
      if (status.error_code() == grpc::StatusCode::CANCELLED) {
        // Our own TryCancel of a losing attempt: no news of the registry.
      } else if (!records.ok() && IsRegistryFailure(records.status().code())) {
        throttle->RecordFailure();
      } else {
        throttle->RecordSuccess();
      }
      race->Done(std::move(records));
    };
    if (registry_ == "companies") {
      auto req = std::make_shared<rv1::GetEnterpriseRequest>();
      auto resp = std::make_shared<rv1::GetEnterpriseResponse>();
      req->set_enterprise_number(request.enterprise_number);
      req->set_language(request.language);
      companies_->async()->GetEnterprise(
          context.get(), req.get(), resp.get(), [req, resp, finish](grpc::Status status) {
            rv1::SubjectRecords out;
            *out.mutable_enterprise() = std::move(*resp->mutable_enterprise());
            finish(status, std::move(out));
          });
    } else if (registry_ == "permits") {
      auto req = std::make_shared<rv1::ListPermitsRequest>();
      auto resp = std::make_shared<rv1::ListPermitsResponse>();
      req->set_enterprise_number(request.enterprise_number);
      permits_->async()->ListPermits(
          context.get(), req.get(), resp.get(), [req, resp, finish](grpc::Status status) {
            rv1::SubjectRecords out;
            out.mutable_permits()->Swap(resp->mutable_permits());
            finish(status, std::move(out));
          });
    } else {
      auto req = std::make_shared<rv1::GetTaxStatusRequest>();
      auto resp = std::make_shared<rv1::GetTaxStatusResponse>();
      req->set_enterprise_number(request.enterprise_number);
      tax_->async()->GetTaxStatus(
          context.get(), req.get(), resp.get(), [req, resp, finish](grpc::Status status) {
            rv1::SubjectRecords out;
            *out.mutable_tax_status() = std::move(*resp->mutable_tax_status());
            finish(status, std::move(out));
          });
    }
  }

  const std::string registry_;
  const std::string address_;
  const int max_attempts_;
  const absl::Duration hedge_after_;
  CircuitBreaker breaker_;
  const std::shared_ptr<RetryThrottle> throttle_ = std::make_shared<RetryThrottle>();
  std::unique_ptr<rv1::CompanyRegistry::Stub> companies_;
  std::unique_ptr<rv1::PermitRegistry::Stub> permits_;
  std::unique_ptr<rv1::TaxRegistry::Stub> tax_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<RegistryConnector>> CreateRemoteConnector(
    const std::string& registry, const config::v1::RemoteSource& source) {
  if (registry != "companies" && registry != "permits" && registry != "tax") {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown registry \"", registry, "\"; use companies, permits or tax"));
  }
  if (source.address().empty()) {
    return absl::InvalidArgumentError(absl::StrCat("registry ", registry, ": remote.address is not set"));
  }
  ASSIGN_OR_RETURN(auto channel,
                   CreateMutualTlsChannel(source.address(), source.tls(), source.server_name()));
  return std::unique_ptr<RegistryConnector>(new RemoteConnector(registry, source, std::move(channel)));
}

}  // namespace onceonly
