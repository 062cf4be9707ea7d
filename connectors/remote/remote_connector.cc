#include "connectors/remote/remote_connector.h"

#include <grpcpp/client_context.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/grpc_status.h"
#include "common/metrics.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "common/timer.h"
#include "common/tls.h"
#include "common/unknown_fields.h"
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

// Backoff pauses and hedges of every remote read in the process wait here. Never destroyed:
// a read outliving its connector (a losing hedge, a retry in its pause) still finds it.
Timer& ResilienceTimer() {
  static Timer* timer = new Timer();
  return *timer;
}

// The attempts of one read racing each other (a hedged read has two): the first answer that
// is not a registry failure wins; if every attempt fails, the last failure. Once decided,
// the attempts still out are cancelled and `on_decided` runs, once.
class Race {
 public:
  using OnDecided = std::function<void(absl::StatusOr<rv1::SubjectRecords>)>;
  explicit Race(OnDecided on_decided) : on_decided_(std::move(on_decided)) {}

  // Registers an attempt, which must end with Done(); nullptr if the race is already decided.
  std::shared_ptr<grpc::ClientContext> Start(absl::Time deadline) {
    auto context = std::make_shared<grpc::ClientContext>();
    if (deadline != absl::InfiniteFuture()) context->set_deadline(absl::ToChronoTime(deadline));
    absl::MutexLock lock(&mu_);
    if (decided_) return nullptr;
    ++outstanding_;
    contexts_.push_back(context);
    return context;
  }
  void Done(absl::StatusOr<rv1::SubjectRecords> result) {
    std::vector<std::shared_ptr<grpc::ClientContext>> losers;
    {
      absl::MutexLock lock(&mu_);
      --outstanding_;
      if (decided_) return;
      if (!result.ok() && IsRegistryFailure(result.status().code()) && outstanding_ > 0) {
        return;  // another attempt may still win
      }
      decided_ = true;
      losers.swap(contexts_);
    }
    // Outside the lock: a cancelled attempt may call Done at once.
    for (const auto& context : losers) context->TryCancel();
    on_decided_(std::move(result));
  }
  bool decided() {
    absl::MutexLock lock(&mu_);
    return decided_;
  }

 private:
  const OnDecided on_decided_;
  absl::Mutex mu_;
  int outstanding_ ABSL_GUARDED_BY(mu_) = 0;
  bool decided_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::shared_ptr<grpc::ClientContext>> contexts_ ABSL_GUARDED_BY(mu_);
};

// What the reads of one registry share; reads hold it, so it outlives the connector if a read
// does.
struct RemoteRegistry {
  RemoteRegistry(std::string registry, const config::v1::RemoteSource& source,
                 const std::shared_ptr<grpc::Channel>& channel)
      : name(std::move(registry)),
        address(source.address()),
        max_attempts(source.max_attempts() == 0 ? 3 : static_cast<int>(source.max_attempts())),
        hedge_after(source.has_hedge_after() ? FromProto(source.hedge_after())
                                             : absl::InfiniteDuration()),
        breaker(name,
                CircuitBreaker::Options{
                    source.circuit_failure_threshold() == 0
                        ? 5
                        : static_cast<int>(source.circuit_failure_threshold()),
                    source.has_circuit_open_duration() ? FromProto(source.circuit_open_duration())
                                                       : absl::Seconds(5)},
                Clock::Real(),
                [registry = name](CircuitBreaker::State state, bool opened) {
                  CircuitGauge().Set({registry}, state == CircuitBreaker::State::kClosed ? 0
                                                 : state == CircuitBreaker::State::kHalfOpen
                                                     ? 1
                                                     : 2);
                  if (opened) CircuitOpenings().Add({registry});
                }),
        companies(rv1::CompanyRegistry::NewStub(channel)),
        permits(rv1::PermitRegistry::NewStub(channel)),
        tax(rv1::TaxRegistry::NewStub(channel)) {}

  // Starts one RPC whose outcome goes to `race`; it also feeds the retry throttle. An `extra`
  // attempt (a retry or a hedge) holds its place in the retry budget until its RPC ends.
  // False, and nothing sent, if the race was decided already.
  bool Send(const FetchRequest& request, const std::shared_ptr<Race>& race, bool extra) {
    std::shared_ptr<grpc::ClientContext> context = race->Start(request.deadline);
    if (context == nullptr) return false;  // decided while this hedge waited
    auto finish = [throttle = throttle, budget = extra ? budget : nullptr, race, context](
                      const grpc::Status& status, absl::StatusOr<rv1::SubjectRecords> records) {
      if (budget != nullptr) budget->ExtraEnded();
      if (!status.ok()) records = FromGrpcStatus(status);
      // Fields of a newer registry contract than ours would pass every minimisation, which
      // knows only the fields it can name: they go here, where data enters the gateway.
      if (records.ok()) DropUnknownFields(&*records);
      if (status.error_code() == grpc::StatusCode::CANCELLED) {
        // Our own TryCancel of a losing attempt: no news of the registry.
      } else if (!records.ok() && IsRegistryFailure(records.status().code())) {
        throttle->RecordFailure();
      } else {
        throttle->RecordSuccess();
      }
      race->Done(std::move(records));
    };
    if (name == "companies") {
      auto call = std::make_shared<std::pair<rv1::GetEnterpriseRequest, rv1::GetEnterpriseResponse>>();
      call->first.set_enterprise_number(request.enterprise_number);
      call->first.set_language(request.language);
      for (const std::string& field : request.fields) call->first.mutable_read_mask()->add_paths(field);
      companies->async()->GetEnterprise(
          context.get(), &call->first, &call->second, [call, finish](grpc::Status status) {
            rv1::SubjectRecords out;
            out.mutable_enterprise()->Swap(call->second.mutable_enterprise());
            finish(status, std::move(out));
          });
    } else if (name == "permits") {
      auto call = std::make_shared<std::pair<rv1::ListPermitsRequest, rv1::ListPermitsResponse>>();
      call->first.set_enterprise_number(request.enterprise_number);
      permits->async()->ListPermits(
          context.get(), &call->first, &call->second, [call, finish](grpc::Status status) {
            rv1::SubjectRecords out;
            out.mutable_permits()->Swap(call->second.mutable_permits());
            finish(status, std::move(out));
          });
    } else {
      auto call = std::make_shared<std::pair<rv1::GetTaxStatusRequest, rv1::GetTaxStatusResponse>>();
      call->first.set_enterprise_number(request.enterprise_number);
      tax->async()->GetTaxStatus(
          context.get(), &call->first, &call->second, [call, finish](grpc::Status status) {
            rv1::SubjectRecords out;
            out.mutable_tax_status()->Swap(call->second.mutable_tax_status());
            finish(status, std::move(out));
          });
    }
    return true;
  }

  const std::string name;
  const std::string address;
  const int max_attempts;
  const absl::Duration hedge_after;
  CircuitBreaker breaker;
  const std::shared_ptr<RetryThrottle> throttle = std::make_shared<RetryThrottle>();
  const std::shared_ptr<RetryBudget> budget = std::make_shared<RetryBudget>();
  const std::unique_ptr<rv1::CompanyRegistry::Stub> companies;
  const std::unique_ptr<rv1::PermitRegistry::Stub> permits;
  const std::unique_ptr<rv1::TaxRegistry::Stub> tax;
};

// One read, across its attempts. Reads are idempotent: a read the registry answered
// UNAVAILABLE is tried again after a jittered, doubling pause, within the deadline and the
// retry throttle. The circuit breaker sees one outcome per read, whatever its attempts.
class Read : public std::enable_shared_from_this<Read> {
 public:
  Read(std::shared_ptr<RemoteRegistry> registry, FetchRequest request, CircuitBreaker::Pass pass,
       RegistryConnector::FetchDone done)
      : registry_(std::move(registry)),
        request_(std::move(request)),
        pass_(pass),
        done_(std::move(done)) {
    registry_->budget->ReadStarted();
  }

  // One attempt (a retry if `retry`, its place in the budget taken), and a hedge racing it if
  // it has not answered after hedge_after.
  void Attempt(bool retry = false) {
    ++attempts_;
    auto self = shared_from_this();
    auto race = std::make_shared<Race>(
        [self](absl::StatusOr<rv1::SubjectRecords> result) { self->Decided(std::move(result)); });
    registry_->Send(request_, race, retry);
    if (registry_->hedge_after == absl::InfiniteDuration()) return;
    // Weak: a read answered before its hedge is due must not be kept alive (with its caller's
    // dossier and the channel) by the timer until then.
    ResilienceTimer().At(std::min(absl::Now() + registry_->hedge_after, request_.deadline),
                         [weak_self = std::weak_ptr<Read>(self),
                          weak_race = std::weak_ptr<Race>(race)] {
                           std::shared_ptr<Read> read = weak_self.lock();
                           std::shared_ptr<Race> race = weak_race.lock();
                           if (read == nullptr || race == nullptr || race->decided()) return;
                           RemoteRegistry& registry = *read->registry_;
                           if (absl::Now() < read->request_.deadline &&
                               registry.throttle->RetryAllowed() &&
                               registry.budget->TryStartExtra() &&
                               !registry.Send(read->request_, race, /*extra=*/true)) {
                             registry.budget->ExtraEnded();  // decided meanwhile: not sent
                           }
                         });
  }

 private:
  void Decided(absl::StatusOr<rv1::SubjectRecords> result) {
    const bool failed = !result.ok() && IsRegistryFailure(result.status().code());
    if (failed && result.status().code() == absl::StatusCode::kUnavailable &&
        attempts_ < registry_->max_attempts && registry_->throttle->RetryAllowed()) {
      // Full jitter, so that callers who failed together do not retry together.
      thread_local absl::BitGen random;
      const absl::Time at = absl::Now() + backoff_ * absl::Uniform(random, 0.0, 1.0);
      if (at < request_.deadline && registry_->budget->TryStartExtra()) {
        backoff_ *= 2;
        ResilienceTimer().At(at, [self = shared_from_this()] { self->Attempt(/*retry=*/true); });
        return;
      }
    }
    // A deadline the caller cut short says nothing of the registry's health.
    CircuitBreaker::Outcome outcome = CircuitBreaker::Outcome::kSuccess;
    if (failed) {
      outcome = result.status().code() == absl::StatusCode::kDeadlineExceeded &&
                        request_.deadline_is_callers
                    ? CircuitBreaker::Outcome::kNeutral
                    : CircuitBreaker::Outcome::kFailure;
    }
    registry_->breaker.Record(pass_, outcome);
    registry_->budget->ReadEnded();
    if (!result.ok()) {
      result = absl::Status(result.status().code(),
                            absl::StrCat("registry ", registry_->name, " at ", registry_->address,
                                         ": ", result.status().message()));
    }
    done_(std::move(result));
  }

  const std::shared_ptr<RemoteRegistry> registry_;
  const FetchRequest request_;
  const CircuitBreaker::Pass pass_;
  const RegistryConnector::FetchDone done_;
  // Touched by one attempt's outcome at a time: attempts follow each other.
  int attempts_ = 0;
  absl::Duration backoff_ = kFirstBackoff;
};

class RemoteConnector : public RegistryConnector {
 public:
  RemoteConnector(std::string registry, const config::v1::RemoteSource& source,
                  const std::shared_ptr<grpc::Channel>& channel)
      : registry_(std::make_shared<RemoteRegistry>(std::move(registry), source, channel)) {
    CircuitGauge().Set({registry_->name}, 0);
    CircuitOpenings().Add({registry_->name}, 0);
  }

  absl::string_view name() const override { return registry_->name; }

  bool fetches_asynchronously() const override { return true; }

  void FetchAsync(const FetchRequest& request, FetchDone done) override {
    absl::StatusOr<CircuitBreaker::Pass> pass = registry_->breaker.Admit();
    if (!pass.ok()) {
      done(pass.status());
      return;
    }
    std::make_shared<Read>(registry_, request, *pass, std::move(done))->Attempt();
  }

  absl::StatusOr<rv1::SubjectRecords> Fetch(const FetchRequest& request) override {
    absl::Notification decided;
    absl::StatusOr<rv1::SubjectRecords> result;
    FetchAsync(request, [&](absl::StatusOr<rv1::SubjectRecords> outcome) {
      result = std::move(outcome);
      decided.Notify();
    });
    decided.WaitForNotification();  // every attempt ends by the deadline
    return result;
  }

 private:
  const std::shared_ptr<RemoteRegistry> registry_;
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
  return std::unique_ptr<RegistryConnector>(new RemoteConnector(registry, source, channel));
}

}  // namespace onceonly
