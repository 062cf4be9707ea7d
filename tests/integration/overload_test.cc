// Overload protection at the gateway's edge: per-member concurrency and rate limits answered
// RESOURCE_EXHAUSTED with an ErrorInfo reason and a RetryInfo, and the request size limit.
#include <grpcpp/client_context.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/tls.h"
#include "connectors/kbo/kbo_connector.h"
#include "connectors/remote/fault_injection.h"
#include "connectors/remote/registry_server.h"
#include "gateway/gateway_server.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "onceonly/v1/dossier.grpc.pb.h"
#include "tests/integration/test_stack.h"
#include "tools/pki/dev_pki.h"

namespace onceonly {
namespace {

constexpr char kNumber[] = "1029.028.161";

// The RetryInfo delay of `status`, or a negative duration if it has none.
absl::Duration RetryDelay(const grpc::Status& status) {
  google::rpc::Status rich;
  if (!rich.ParseFromString(status.error_details())) return absl::Seconds(-1);
  for (const google::protobuf::Any& any : rich.details()) {
    google::rpc::RetryInfo info;
    if (any.UnpackTo(&info)) {
      return absl::Seconds(info.retry_delay().seconds()) +
             absl::Nanoseconds(info.retry_delay().nanos());
    }
  }
  return absl::Seconds(-1);
}

class OverloadTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto stack = TestStack::Create(::testing::TempDir() + "/overload-" + std::to_string(getpid()),
                                   absl::FromUnixSeconds(1767225600));
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = stack->release();
    // A companies registry that takes 300 ms, so that calls overlap.
    FaultSpec slow;
    slow.latency = absl::Milliseconds(300);
    auto registry = StartFaultyCompaniesRegistry(*stack_, slow);
    ASSERT_TRUE(registry.ok()) << registry.status();
    registry_ = registry->server.release();
  }
  static void TearDownTestSuite() {
    delete registry_;
    delete stack_;
  }

  // A gateway on the stack's files whose companies registry is the slow one.
  std::unique_ptr<GatewayServer> Gateway(
      const std::string& name, const config::v1::MemberLimits& limits,
      const std::map<std::string, config::v1::MemberLimits>& overrides = {}) {
    absl::StatusOr<std::unique_ptr<GatewayServer>> gateway = TryGateway(name, limits, overrides);
    EXPECT_TRUE(gateway.ok()) << gateway.status();
    return gateway.ok() ? *std::move(gateway) : nullptr;
  }
  absl::StatusOr<std::unique_ptr<GatewayServer>> TryGateway(
      const std::string& name, const config::v1::MemberLimits& limits,
      const std::map<std::string, config::v1::MemberLimits>& overrides) {
    config::v1::GatewayConfig config = stack_->config();
    for (const auto& [member, own] : overrides) {
      (*config.mutable_member_limit_overrides())[member] = own;
    }
    config.set_instance_name(name);
    config.mutable_authz_store()->set_sqlite_path(stack_->dir() + "/authz-" + name + ".db");
    config.set_listen_address("localhost:0");
    *config.mutable_member_limits() = limits;
    for (auto& r : *config.mutable_registries()) {
      if (r.name() != "companies") continue;
      r.mutable_remote()->set_address("localhost:" + std::to_string(registry_->port()));
      *r.mutable_remote()->mutable_tls() = stack_->config().tls();
    }
    return GatewayServer::Start(config, clock_);
  }
  static std::unique_ptr<v1::DossierService::Stub> Stub(const GatewayServer& gateway) {
    auto channel = CreateMutualTlsChannel("localhost:" + std::to_string(gateway.port()),
                                          stack_->MemberTls("brussels-economy"));
    EXPECT_TRUE(channel.ok());
    return v1::DossierService::NewStub(*channel);
  }
  static grpc::Status Call(v1::DossierService::Stub& stub, const v1::GetDossierRequest& request) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    v1::Dossier dossier;
    return stub.GetDossier(&context, request, &dossier);
  }
  static v1::GetDossierRequest Request() {
    return TestStack::Request(kNumber, "public-procurement", {"company.identity"});
  }

  FakeClock clock_{absl::FromUnixSeconds(1767225600)};
  static TestStack* stack_;
  static RegistryServer* registry_;
};
TestStack* OverloadTest::stack_ = nullptr;
RegistryServer* OverloadTest::registry_ = nullptr;

TEST_F(OverloadTest, AMemberOverItsConcurrencyIsToldToRetry) {
  config::v1::MemberLimits limits;
  limits.set_max_concurrent_calls(2);
  std::unique_ptr<GatewayServer> gateway = Gateway("gateway-concurrency", limits);
  ASSERT_NE(gateway, nullptr);
  std::unique_ptr<v1::DossierService::Stub> stub = Stub(*gateway);
  ASSERT_TRUE(Call(*stub, Request()).ok());  // connected and warm

  constexpr int kCalls = 6;
  struct Outcome {
    grpc::ClientContext context;
    v1::Dossier dossier;
    grpc::Status status;
  };
  std::vector<std::unique_ptr<Outcome>> outcomes;
  absl::Mutex mu;
  int done = 0;
  const v1::GetDossierRequest request = Request();
  for (int i = 0; i < kCalls; ++i) {
    outcomes.push_back(std::make_unique<Outcome>());
    Outcome* o = outcomes.back().get();
    o->context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    stub->async()->GetDossier(&o->context, &request, &o->dossier, [o, &mu, &done](grpc::Status s) {
      o->status = s;
      absl::MutexLock lock(&mu);
      ++done;
    });
  }
  {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(+[](int* d) { return *d == kCalls; }, &done));
  }
  int admitted = 0, refused = 0;
  for (const auto& o : outcomes) {
    if (o->status.ok()) {
      ++admitted;
      continue;
    }
    ++refused;
    EXPECT_EQ(o->status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    EXPECT_EQ(Details(o->status).info.reason(), "MEMBER_CONCURRENCY_LIMITED");
    EXPECT_GT(RetryDelay(o->status), absl::ZeroDuration());
  }
  EXPECT_GE(admitted, 2);
  EXPECT_GE(refused, 1);
  EXPECT_EQ(admitted + refused, kCalls);
  // Ended calls give their places back.
  EXPECT_TRUE(Call(*stub, Request()).ok());
  EXPECT_TRUE(Call(*stub, Request()).ok());
}

TEST_F(OverloadTest, AMemberOverItsRateWaitsWhatRetryInfoSays) {
  config::v1::MemberLimits limits;
  limits.set_calls_per_second(5);
  limits.set_burst(3);
  std::unique_ptr<GatewayServer> gateway = Gateway("gateway-rate", limits);
  ASSERT_NE(gateway, nullptr);
  std::unique_ptr<v1::DossierService::Stub> stub = Stub(*gateway);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Call(*stub, Request()).ok()) << i;  // the burst
  grpc::Status refused = Call(*stub, Request());  // the (fake) clock has not moved
  ASSERT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(Details(refused).info.reason(), "MEMBER_RATE_LIMITED");
  EXPECT_EQ(RetryDelay(refused), absl::Milliseconds(200));  // one token at 5/s
  clock_.Advance(absl::Milliseconds(200));
  EXPECT_TRUE(Call(*stub, Request()).ok());
  EXPECT_EQ(Call(*stub, Request()).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
}

// An override replaces the default limits for one member; the fields it leaves unset keep
// the defaults' values.
TEST_F(OverloadTest, AMemberWithItsOwnLimitsGetsThemAndKeepsTheOthersDefaults) {
  config::v1::MemberLimits defaults;
  defaults.set_calls_per_second(5);
  defaults.set_burst(1);
  config::v1::MemberLimits own;
  own.set_burst(4);  // the rate stays 5/s
  std::unique_ptr<GatewayServer> gateway =
      Gateway("gateway-override", defaults, {{"brussels-economy", own}});
  ASSERT_NE(gateway, nullptr);
  std::unique_ptr<v1::DossierService::Stub> stub = Stub(*gateway);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(Call(*stub, Request()).ok()) << i;  // its own burst
  grpc::Status refused = Call(*stub, Request());
  ASSERT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(Details(refused).info.reason(), "MEMBER_RATE_LIMITED");
  EXPECT_EQ(RetryDelay(refused), absl::Milliseconds(200));  // the default rate, 5/s

  // Without the override the same member has the default burst of 1.
  std::unique_ptr<GatewayServer> plain = Gateway("gateway-no-override", defaults);
  ASSERT_NE(plain, nullptr);
  std::unique_ptr<v1::DossierService::Stub> plain_stub = Stub(*plain);
  ASSERT_TRUE(Call(*plain_stub, Request()).ok());
  EXPECT_EQ(Call(*plain_stub, Request()).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
}

TEST_F(OverloadTest, AnOverrideForAMemberThePolicyDoesNotHaveIsRefused) {
  absl::StatusOr<std::unique_ptr<GatewayServer>> gateway =
      TryGateway("gateway-bad-override", config::v1::MemberLimits(),
                 {{"brussels-econmy", config::v1::MemberLimits()}});
  ASSERT_FALSE(gateway.ok());
  EXPECT_EQ(gateway.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(gateway.status().message(),
              ::testing::HasSubstr("has no member \"brussels-econmy\""));
}

TEST_F(OverloadTest, AnOversizedRequestIsRefusedUnread) {
  std::unique_ptr<GatewayServer> gateway = Gateway("gateway-size", config::v1::MemberLimits());
  ASSERT_NE(gateway, nullptr);
  std::unique_ptr<v1::DossierService::Stub> stub = Stub(*gateway);
  v1::GetDossierRequest huge = Request();
  huge.set_purpose(std::string(100 << 10, 'p'));  // the default limit is 64 KiB
  grpc::Status status = Call(*stub, huge);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  EXPECT_TRUE(Call(*stub, Request()).ok());
}

}  // namespace
}  // namespace onceonly
