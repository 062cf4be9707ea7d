#include "gateway/metrics_server.h"

#include "absl/strings/str_cat.h"
#include "common/metrics.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace onceonly {
namespace {

using ::testing::HasSubstr;

// The host part of the address the metrics socket is bound to, for `listen_address`.
std::string BoundHost(const std::string& listen_address) {
  MetricsRegistry registry;
  auto server = MetricsServer::Start(listen_address, registry);
  EXPECT_TRUE(server.ok()) << listen_address << ": " << server.status();
  if (!server.ok()) return "";
  const std::string bound = (*server)->bound_address();
  const size_t colon = bound.rfind(':');
  EXPECT_EQ(bound.substr(colon + 1), absl::StrCat((*server)->port())) << bound;
  return bound.substr(0, colon);
}

TEST(MetricsServerTest, AnAddressWithoutHostIsLoopbackOnly) {
  EXPECT_EQ(BoundHost(":0"), "127.0.0.1");
}

TEST(MetricsServerTest, OnlyAnExplicitAddressExposesThePort) {
  EXPECT_EQ(BoundHost("0.0.0.0:0"), "0.0.0.0");
  EXPECT_EQ(BoundHost("localhost:0"), "127.0.0.1");
  EXPECT_EQ(BoundHost("127.0.0.1:0"), "127.0.0.1");
}

TEST(MetricsServerTest, AHostThatIsNotAnAddressIsNamed) {
  MetricsRegistry registry;
  auto server = MetricsServer::Start("metrics.example:9464", registry);
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(server.status().message(), HasSubstr("\"metrics.example\" is not an IPv4 address"));
  EXPECT_EQ(MetricsServer::Start("9464", registry).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace onceonly
