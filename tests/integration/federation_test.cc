// The gateway against a remote registry that misbehaves (fault injection in the registry
// server): a hang, a thousand callers during the hang, a registry that fails until the
// circuit opens and then recovers, and one that flaps. Companies come from a remote
// onceonly-registry over mTLS; tax from the gateway's own SQL registry.
#include <arpa/inet.h>
#include <grpcpp/client_context.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/tls.h"
#include "connectors/kbo/kbo_connector.h"
#include "connectors/remote/fault_injection.h"
#include "connectors/remote/registry_server.h"
#include "gateway/dossier_pipeline.h"
#include "gateway/gateway_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "onceonly/v1/dossier.grpc.pb.h"
#include "tests/integration/test_stack.h"
#include "tools/pki/dev_pki.h"

namespace onceonly {
namespace {

constexpr char kNumber[] = "1029.028.161";  // Cap Horizons ASBL, in the real extract

using ::testing::HasSubstr;

// GET `path` on 127.0.0.1:`port`: the whole HTTP response, status line included.
std::string Scrape(int port, const std::string& path = "/metrics") {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return "cannot connect";
  }
  const std::string request = "GET " + path + " HTTP/1.0\r\nHost: localhost\r\n\r\n";
  if (write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
    close(fd);
    return "cannot write";
  }
  std::string response;
  char buffer[4096];
  for (ssize_t n; (n = read(fd, buffer, sizeof(buffer))) > 0;) response.append(buffer, n);
  close(fd);
  return response;
}

// The stack, the faulty registry, and a gateway per way of reading it: through the cache
// (cache_ttl; callers with max_age share one read), or without a cache, with hedged reads.
// Both read asynchronously.
class FederationBase : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto stack = TestStack::Create(::testing::TempDir() + "/federation-" + std::to_string(getpid()),
                                   absl::FromUnixSeconds(1767225600));
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = stack->release();
    auto registry = StartFaultyCompaniesRegistry(*stack_, FaultSpec());
    ASSERT_TRUE(registry.ok()) << registry.status();
    faults_ = registry->faults;
    registry_ = registry->server.release();
  }
  static void TearDownTestSuite() {
    for (int i = 0; i < 2; ++i) {
      delete stubs_[i];
      delete gateways_[i];
      stubs_[i] = nullptr;
      gateways_[i] = nullptr;
    }
    delete registry_;  // wakes hung calls
    delete stack_;
  }

  // Makes the gateway of that kind the one the test calls, starting it on first use.
  static void Use(bool cached) {
    current_ = cached ? 0 : 1;
    if (gateways_[current_] != nullptr) return;
    const std::string& d = stack_->dir();
    config::v1::GatewayConfig config = stack_->config();
    config.set_instance_name(Name());
    config.mutable_authz_store()->set_sqlite_path(d + "/authz-" + Name() + ".db");
    // The cached gateway logs where the stack reads records (TestStack::Record); the other
    // one beside it.
    if (!cached) config.mutable_audit()->set_sqlite_path(d + "/audit-" + Name() + ".db");
    config.set_listen_address("localhost:0");
    config.mutable_member_limits()->set_max_concurrent_calls(5000);  // 1,000 callers at once
    config.set_metrics_listen_address("127.0.0.1:0");
    for (auto& r : *config.mutable_registries()) {
      if (r.name() != "companies") continue;
      r.mutable_remote()->set_address("localhost:" + std::to_string(registry_->port()));
      *r.mutable_remote()->mutable_tls() = stack_->config().tls();
      r.mutable_remote()->set_circuit_failure_threshold(5);
      r.mutable_remote()->mutable_circuit_open_duration()->set_nanos(400'000'000);
      r.mutable_timeout()->set_seconds(2);
      if (cached) {
        r.mutable_cache_ttl()->set_seconds(60);
      } else {
        r.mutable_remote()->mutable_hedge_after()->set_nanos(50'000'000);
      }
    }
    auto gateway = GatewayServer::Start(config, stack_->clock());
    ASSERT_TRUE(gateway.ok()) << gateway.status();
    gateways_[current_] = gateway->release();
    auto channel = CreateMutualTlsChannel("localhost:" + std::to_string(gateway_()->port()),
                                          stack_->MemberTls("brussels-economy"));
    ASSERT_TRUE(channel.ok());
    stubs_[current_] = v1::DossierService::NewStub(*channel).release();
  }
  // Each test starts on that gateway with a healthy registry and a closed circuit.
  static void StartHealthy(bool cached) {
    Use(cached);
    faults_->SetSpec(FaultSpec());
    WaitForClosedCircuit();
  }
  static std::string Name() { return current_ == 0 ? "gateway-federation" : "gateway-async"; }
  static GatewayServer* gateway_() { return gateways_[current_]; }
  static v1::DossierService::Stub* stub_() { return stubs_[current_]; }

  static v1::GetDossierRequest Request() {
    return TestStack::Request(kNumber, "public-procurement",
                              {"company.identity", "tax.good_standing"});
  }
  static grpc::Status Call(absl::Duration deadline, v1::Dossier* dossier) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
    return stub_()->GetDossier(&context, Request(), dossier);
  }
  static const v1::SourceStatus* Source(const v1::Dossier& dossier, const std::string& name) {
    for (const v1::SourceStatus& s : dossier.sources()) {
      if (s.registry() == name) return &s;
    }
    return nullptr;
  }
  // A healthy registry closes an open circuit with its first probe.
  static void WaitForClosedCircuit() {
    for (int i = 0; i < 50; ++i) {
      v1::Dossier dossier;
      if (Call(absl::Seconds(5), &dossier).ok() && Source(dossier, "companies") != nullptr &&
          Source(dossier, "companies")->code() == 0) {
        return;
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
    FAIL() << "the companies circuit did not close";
  }

  // The outcome of one of many calls sent at once.
  struct Outcome {
    grpc::ClientContext context;
    v1::Dossier dossier;
    grpc::Status status;
    absl::Duration took;
  };
  // Sends `calls` GetDossier calls at once, each with `deadline`, and waits for all answers
  // (30 s at most: a failure, not a hang, if some never come).
  static std::vector<std::unique_ptr<Outcome>> CallAllAtOnce(const v1::GetDossierRequest& request,
                                                             int calls, absl::Duration deadline) {
    std::vector<std::unique_ptr<Outcome>> outcomes;
    struct Answered {
      absl::Mutex mu;
      int count = 0;
      int of = 0;
    } answered;
    answered.of = calls;
    for (int i = 0; i < calls; ++i) {
      outcomes.push_back(std::make_unique<Outcome>());
      Outcome* o = outcomes.back().get();
      o->context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
      const absl::Time sent = absl::Now();
      stub_()->async()->GetDossier(&o->context, &request, &o->dossier,
                                   [o, sent, &answered](grpc::Status status) {
                                     o->status = status;
                                     o->took = absl::Now() - sent;
                                     absl::MutexLock lock(&answered.mu);
                                     ++answered.count;
                                   });
    }
    absl::MutexLock lock(&answered.mu);
    if (!answered.mu.AwaitWithTimeout(
            absl::Condition(+[](Answered* a) { return a->count == a->of; }, &answered),
            absl::Seconds(30))) {
      // The callbacks still refer to `answered`: this cannot return.
      std::cerr << answered.count << " of " << calls << " calls answered in 30 s\n";
      std::abort();
    }
    return outcomes;
  }

  static TestStack* stack_;
  static FaultInjectingConnector* faults_;
  static RegistryServer* registry_;
  static GatewayServer* gateways_[2];
  static v1::DossierService::Stub* stubs_[2];
  static int current_;
};
TestStack* FederationBase::stack_ = nullptr;
FaultInjectingConnector* FederationBase::faults_ = nullptr;
RegistryServer* FederationBase::registry_ = nullptr;
GatewayServer* FederationBase::gateways_[2] = {nullptr, nullptr};
v1::DossierService::Stub* FederationBase::stubs_[2] = {nullptr, nullptr};
int FederationBase::current_ = 0;

// Every fault test runs against both gateways: true, through the cache; false, asynchronous.
class FederationTest : public FederationBase, public ::testing::WithParamInterface<bool> {
 protected:
  void SetUp() override { StartHealthy(GetParam()); }
};
INSTANTIATE_TEST_SUITE_P(ReadPaths, FederationTest, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Cached" : "Asynchronous";
                         });

// The cache's own tests, on the cached gateway.
class FederationCacheTest : public FederationBase {
 protected:
  void SetUp() override { StartHealthy(/*cached=*/true); }
};

TEST_P(FederationTest, AHungRegistryCostsItsPartNotTheDeadline) {
  FaultSpec hang;
  hang.hang_rate = 1;
  faults_->SetSpec(hang);
  for (absl::Duration deadline : {absl::Milliseconds(300), absl::Milliseconds(800)}) {
    v1::Dossier dossier;
    const absl::Time start = absl::Now();
    grpc::Status status = Call(deadline, &dossier);
    const absl::Duration took = absl::Now() - start;
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_LE(took, deadline + absl::Milliseconds(10)) << "deadline " << deadline;
    const v1::SourceStatus* companies = Source(dossier, "companies");
    ASSERT_NE(companies, nullptr);
    EXPECT_EQ(companies->code(), static_cast<int>(grpc::StatusCode::DEADLINE_EXCEEDED));
    EXPECT_EQ(companies->reason(), "REGISTRY_TIMEOUT");
    EXPECT_FALSE(dossier.has_company());
    ASSERT_NE(Source(dossier, "tax"), nullptr);
    EXPECT_EQ(Source(dossier, "tax")->code(), 0);
    EXPECT_TRUE(dossier.has_tax());
    ASSERT_EQ(dossier.released_categories_size(), 1);
    EXPECT_EQ(dossier.released_categories(0), "tax.good_standing");
  }
}

// 1,000 callers at once while the companies registry hangs: every call is answered within
// its deadline, with the tax part, and the gateway keeps no thread stuck beyond it.
TEST_P(FederationTest, AThousandCallersDuringAHangAllGetTheirOtherSources) {
  FaultSpec hang;
  hang.hang_rate = 1;
  faults_->SetSpec(hang);
  constexpr int kCalls = 1000;
  const absl::Duration deadline = absl::Milliseconds(1500);
  const absl::Time start = absl::Now();
  const std::vector<std::unique_ptr<Outcome>> outcomes = CallAllAtOnce(Request(), kCalls, deadline);
  int with_tax = 0, companies_labelled = 0, late = 0;
  absl::Duration slowest;
  for (const auto& o : outcomes) {
    ASSERT_TRUE(o->status.ok()) << o->status.error_code() << " " << o->status.error_message()
                                << " after " << o->took;
    if (o->took > deadline + absl::Milliseconds(10)) ++late;
    slowest = std::max(slowest, o->took);
    const v1::SourceStatus* tax = Source(o->dossier, "tax");
    const v1::SourceStatus* companies = Source(o->dossier, "companies");
    if (tax != nullptr && tax->code() == 0 && o->dossier.has_tax()) ++with_tax;
    if (companies != nullptr && companies->code() != 0 && !companies->reason().empty() &&
        !o->dossier.has_company()) {
      ++companies_labelled;
    }
  }
  EXPECT_EQ(with_tax, kCalls);
  EXPECT_EQ(companies_labelled, kCalls);
  EXPECT_EQ(late, 0) << "slowest " << slowest << " for a deadline of " << deadline
                     << "; all answered " << absl::Now() - start << " after the first call";
}

TEST_P(FederationTest, TheCircuitOpensAfterFailuresAndClosesAfterRecovery) {
  FaultSpec failing;
  failing.error_rate = 1;
  faults_->SetSpec(failing);
  std::vector<std::string> reasons;
  for (int i = 0; i < 8; ++i) {
    v1::Dossier dossier;
    ASSERT_TRUE(Call(absl::Seconds(5), &dossier).ok());
    ASSERT_NE(Source(dossier, "companies"), nullptr);
    reasons.push_back(Source(dossier, "companies")->reason());
    EXPECT_TRUE(dossier.has_tax());
  }
  // Five failed reads (each retried within the throttle), then the circuit is open and the
  // registry is not called at all.
  EXPECT_EQ(reasons[0], "REGISTRY_UNAVAILABLE");
  EXPECT_EQ(reasons[4], "REGISTRY_UNAVAILABLE");
  EXPECT_EQ(reasons[5], "CIRCUIT_OPEN");
  EXPECT_EQ(reasons[7], "CIRCUIT_OPEN");
  {
    v1::Dossier dossier;
    ASSERT_TRUE(Call(absl::Seconds(5), &dossier).ok());
    EXPECT_EQ(Source(dossier, "companies")->message(),
              "the companies registry failed repeatedly; the gateway stopped calling it for a "
              "while and will try it again");
  }
  // The metrics say so.
  std::string metrics = Scrape(gateway_()->metrics_port());
  EXPECT_THAT(metrics, HasSubstr("onceonly_registry_circuit_state{registry=\"companies\"} 2\n"));
  EXPECT_THAT(metrics, HasSubstr("onceonly_registry_fetches_total{registry=\"companies\","
                                 "outcome=\"CIRCUIT_OPEN\"}"));
  EXPECT_THAT(metrics, HasSubstr("onceonly_registry_circuit_openings_total{registry=\"companies\"}"));
  // Recovered: after the open period, the probe succeeds and the circuit closes.
  faults_->SetSpec(FaultSpec());
  absl::SleepFor(absl::Milliseconds(450));
  for (int i = 0; i < 3; ++i) {
    v1::Dossier dossier;
    ASSERT_TRUE(Call(absl::Seconds(5), &dossier).ok());
    EXPECT_EQ(Source(dossier, "companies")->code(), 0) << i;
    EXPECT_EQ(dossier.company().enterprise_number(), kNumber);
  }
  EXPECT_THAT(Scrape(gateway_()->metrics_port()),
              HasSubstr("onceonly_registry_circuit_state{registry=\"companies\"} 0\n"));
}

// The Prometheus endpoint: every family the operator guide lists, in the text format.
TEST_P(FederationTest, MetricsAreServedForPrometheus) {
  v1::Dossier dossier;
  ASSERT_TRUE(Call(absl::Seconds(5), &dossier).ok());
  const std::string metrics = Scrape(gateway_()->metrics_port());
  for (const char* family :
       {"# TYPE onceonly_rpc_total counter", "# TYPE onceonly_rpc_duration_seconds histogram",
        "# TYPE onceonly_registry_fetch_duration_seconds histogram",
        "# TYPE onceonly_registry_fetches_total counter",
        "# TYPE onceonly_registry_circuit_state gauge", "# TYPE onceonly_cache_lookups_total counter",
        "# TYPE onceonly_audit_queue_depth gauge",
        "# TYPE onceonly_audit_commit_duration_seconds histogram"}) {
    EXPECT_THAT(metrics, HasSubstr(family));
  }
  EXPECT_THAT(metrics, HasSubstr("onceonly_rpc_total{method=\"/onceonly.v1.DossierService/"
                                 "GetDossier\",code=\"OK\"}"));
  EXPECT_THAT(metrics, HasSubstr("onceonly_rpc_duration_seconds_bucket{method=\"/onceonly.v1."
                                 "DossierService/GetDossier\",le=\"+Inf\"}"));
  EXPECT_THAT(metrics, HasSubstr("onceonly_audit_commit_duration_seconds_count{log=\"" + Name() +
                                 "\"}"));
  EXPECT_THAT(Scrape(gateway_()->metrics_port(), "/other"), HasSubstr("404"));
}

// The registry goes down and comes back, again and again: every answer carries the registry's
// data, exactly, or a labelled gap, never wrong data and never a silent hole.
TEST_P(FederationTest, AFlappingRegistryGivesNoWrongDataAndNoUnlabelledGaps) {
  v1::Dossier reference;
  ASSERT_TRUE(Call(absl::Seconds(5), &reference).ok());
  ASSERT_TRUE(reference.has_company());
  int complete = 0, labelled = 0, calls = 0;
  auto check = [&](const v1::Dossier& dossier) {
    ++calls;
    const v1::SourceStatus* companies = Source(dossier, "companies");
    ASSERT_NE(companies, nullptr);
    if (companies->code() == 0) {
      ASSERT_TRUE(dossier.has_company());
      EXPECT_EQ(dossier.company().SerializeAsString(), reference.company().SerializeAsString());
      ++complete;
    } else {
      EXPECT_FALSE(dossier.has_company());
      EXPECT_FALSE(companies->reason().empty());
      EXPECT_FALSE(companies->message().empty());
      for (const std::string& c : dossier.released_categories()) EXPECT_NE(c, "company.identity");
      ++labelled;
    }
    EXPECT_TRUE(dossier.has_tax());
  };
  FaultSpec down;
  down.error_rate = 0.7;
  down.latency = absl::Milliseconds(2);
  for (int cycle = 0; cycle < 4; ++cycle) {
    faults_->SetSpec(down);
    for (int i = 0; i < 10; ++i) {
      v1::Dossier dossier;
      ASSERT_TRUE(Call(absl::Seconds(5), &dossier).ok());
      check(dossier);
    }
    faults_->SetSpec(FaultSpec());
    absl::SleepFor(absl::Milliseconds(450));  // past the circuit's open period
    for (int i = 0; i < 5; ++i) {
      v1::Dossier dossier;
      ASSERT_TRUE(Call(absl::Seconds(5), &dossier).ok());
      check(dossier);
    }
  }
  EXPECT_GE(complete, 4 * 5);  // every up phase answers in full, its first call as the probe
  EXPECT_GT(labelled, 0);
  EXPECT_EQ(complete + labelled, calls);
}

// With max_age, a second caller is answered from the cache, says so in the dossier and in the
// access record, and still gets only its own categories: minimisation runs after the cache.
TEST_F(FederationCacheTest, CachedAnswersAreLabelledAndMinimisedPerRequest) {
  v1::GetDossierRequest wide =
      TestStack::Request(kNumber, "public-procurement", {"company.identity", "company.addresses"});
  v1::Dossier fresh;
  {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    ASSERT_TRUE(stub_()->GetDossier(&context, wide, &fresh).ok());
  }
  ASSERT_FALSE(Source(fresh, "companies")->from_cache());
  ASSERT_GT(fresh.company().addresses_size(), 0);

  faults_->SetSpec(FaultSpec{absl::ZeroDuration(), 1.0, 0});  // the registry is down now
  v1::GetDossierRequest narrow =
      TestStack::Request(kNumber, "public-procurement", {"company.identity"});
  narrow.mutable_max_age()->set_seconds(30);
  v1::Dossier cached;
  {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    ASSERT_TRUE(stub_()->GetDossier(&context, narrow, &cached).ok());
  }
  const v1::SourceStatus* companies = Source(cached, "companies");
  ASSERT_NE(companies, nullptr);
  EXPECT_EQ(companies->code(), 0);
  EXPECT_TRUE(companies->from_cache());
  EXPECT_EQ(cached.company().enterprise_number(), kNumber);
  EXPECT_EQ(cached.company().denominations_size(), fresh.company().denominations_size());
  EXPECT_EQ(cached.company().addresses_size(), 0);  // not released to this request
  absl::StatusOr<v1::AccessRecord> record = stack_->Record(cached.access_id(), "gateway-federation");
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->sources(0), "companies:OK:cache");
  // The company was written from the cache's field encodings: the auditor's recipe on what
  // the caller received still gives the record's hash.
  v1::Dossier hashed = cached;
  hashed.clear_access_id();
  EXPECT_EQ(record->payload_sha256(), DossierSha256(hashed));

  // Without max_age the caller wants fresh data: the registry is asked, and it is down.
  v1::Dossier live;
  ASSERT_TRUE(Call(absl::Seconds(5), &live).ok());
  EXPECT_EQ(Source(live, "companies")->reason(), "REGISTRY_UNAVAILABLE");
  EXPECT_FALSE(Source(live, "companies")->from_cache());
}

// The value of one series in a scrape ("name{labels}"), 0 if absent.
double Series(const std::string& metrics, const std::string& series) {
  const size_t at = metrics.find("\n" + series + " ");
  if (at == std::string::npos) return 0;
  return std::strtod(metrics.c_str() + at + series.size() + 2, nullptr);
}

// Callers who accept cached data share one read of an enterprise not cached yet. While the
// registry hangs, none holds a thread, and those who joined hold no place in the registry's
// queue (threads + max_queued, 1,064 here): more callers than that are all answered by their
// deadline, the companies part labelled, none of it REGISTRY_OVERLOADED.
TEST_F(FederationCacheTest, CallersOfAHungEnterpriseShareOneReadAndAnswerByTheirDeadline) {
  FaultSpec hang;
  hang.hang_rate = 1;
  faults_->SetSpec(hang);
  const std::string before = Scrape(gateway_()->metrics_port());
  constexpr int kCalls = 1200;
  const absl::Duration deadline = absl::Milliseconds(1500);
  v1::GetDossierRequest request = TestStack::Request(
      "0552.627.113", "public-procurement", {"company.identity", "tax.good_standing"});
  request.mutable_max_age()->set_seconds(30);
  const std::vector<std::unique_ptr<Outcome>> outcomes = CallAllAtOnce(request, kCalls, deadline);
  int with_tax = 0, timed_out = 0, late = 0;
  for (const auto& o : outcomes) {
    ASSERT_TRUE(o->status.ok()) << o->status.error_message();
    if (o->took > deadline + absl::Milliseconds(10)) ++late;
    const v1::SourceStatus* tax = Source(o->dossier, "tax");
    const v1::SourceStatus* companies = Source(o->dossier, "companies");
    if (tax != nullptr && tax->code() == 0) ++with_tax;
    ASSERT_NE(companies, nullptr);
    EXPECT_NE(companies->reason(), "REGISTRY_OVERLOADED");
    if (companies->reason() == "REGISTRY_TIMEOUT" && !o->dossier.has_company()) ++timed_out;
  }
  EXPECT_EQ(with_tax, kCalls);
  EXPECT_EQ(timed_out, kCalls);
  EXPECT_EQ(late, 0);
  const std::string after = Scrape(gateway_()->metrics_port());
  const std::string misses = "onceonly_cache_lookups_total{result=\"miss\"}";
  const std::string coalesced = "onceonly_cache_lookups_total{result=\"coalesced\"}";
  EXPECT_EQ(Series(after, misses) - Series(before, misses), 1);  // one read for all
  EXPECT_EQ(Series(after, coalesced) - Series(before, coalesced), kCalls - 1);
}

// The cache keeps whole answers: a narrow request fetches everything, so that a wider one
// served from the cache later still gets all it may receive.
TEST_F(FederationCacheTest, TheCacheKeepsWholeAnswersWhateverRequestFetchedThem) {
  v1::Dossier narrow;
  {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    ASSERT_TRUE(stub_()->GetDossier(
        &context, TestStack::Request(kNumber, "public-procurement", {"company.identity"}),
        &narrow).ok());
  }
  ASSERT_FALSE(Source(narrow, "companies")->from_cache());
  EXPECT_EQ(narrow.company().addresses_size(), 0);

  faults_->SetSpec(FaultSpec{absl::ZeroDuration(), 1.0, 0});  // the registry is down now
  v1::GetDossierRequest wide =
      TestStack::Request(kNumber, "public-procurement", {"company.identity", "company.addresses"});
  wide.mutable_max_age()->set_seconds(30);
  v1::Dossier cached;
  {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    ASSERT_TRUE(stub_()->GetDossier(&context, wide, &cached).ok());
  }
  EXPECT_TRUE(Source(cached, "companies")->from_cache());
  EXPECT_EQ(cached.company().denominations_size(), narrow.company().denominations_size());
  EXPECT_GT(cached.company().addresses_size(), 0);
}

}  // namespace
}  // namespace onceonly
