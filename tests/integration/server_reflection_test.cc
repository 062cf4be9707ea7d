// Server reflection is off unless the config turns it on, per server: even when another
// component of the process registered gRPC's process-wide reflection plugin.
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/byte_buffer.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/tls.h"
#include "gtest/gtest.h"
#include "tests/integration/test_stack.h"

namespace onceonly {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1767225600);  // 2026-01-01

// grpc.reflection.v1alpha.ServerReflectionRequest{list_services: "*"} (field 7), written
// by hand so that the test relies on no generated reflection code.
constexpr char kListServices[] = "\x3a\x01*";

class ServerReflectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto stack = TestStack::Create(
        absl::StrCat(::testing::TempDir(), "/server-reflection-", getpid()), kNow);
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = *std::move(stack);
    stack_->StopGateway();  // each test starts its own, on the same files
  }

  // Starts a gateway with `server_reflection` and asks it to list its services, as
  // grpcurl does; the answer's bytes, or the error.
  absl::StatusOr<std::string> ListServices(bool server_reflection) {
    config::v1::GatewayConfig config = stack_->config();
    config.set_server_reflection(server_reflection);
    auto gateway = GatewayServer::Start(config, stack_->clock());
    if (!gateway.ok()) return gateway.status();
    auto channel = CreateMutualTlsChannel(absl::StrCat("localhost:", (*gateway)->port()),
                                          stack_->MemberTls("brussels-economy"));
    if (!channel.ok()) return channel.status();
    grpc::GenericStub stub(*channel);
    grpc::ClientContext context;
    TestStack::WithDeadline(context);
    grpc::Slice slice(kListServices, sizeof(kListServices) - 1);
    grpc::ByteBuffer request(&slice, 1);
    grpc::ByteBuffer response;
    grpc::Status status;
    absl::Notification done;
    // One message and a half-close: what a bidi-streaming server method reads as one request.
    stub.UnaryCall(&context, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                   grpc::StubOptions(), &request, &response, [&](grpc::Status s) {
                     status = std::move(s);
                     done.Notify();
                   });
    done.WaitForNotification();
    if (!status.ok()) {
      return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                          status.error_message());
    }
    std::vector<grpc::Slice> slices;
    if (!response.Dump(&slices).ok()) return absl::InternalError("unreadable answer");
    std::string bytes;
    for (const grpc::Slice& s : slices) {
      bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
    return bytes;
  }

  std::unique_ptr<TestStack> stack_;
};

TEST_F(ServerReflectionTest, OnWhenConfiguredListsTheServices) {
  absl::StatusOr<std::string> services = ListServices(/*server_reflection=*/true);
  ASSERT_TRUE(services.ok()) << services.status();
  EXPECT_NE(services->find("onceonly.v1.DossierService"), std::string::npos) << *services;
  EXPECT_NE(services->find("onceonly.v1.AuditService"), std::string::npos) << *services;
}

TEST_F(ServerReflectionTest, OffByDefaultIsUnimplemented) {
  EXPECT_FALSE(config::v1::GatewayConfig().server_reflection());
  EXPECT_EQ(ListServices(/*server_reflection=*/false).status().code(),
            absl::StatusCode::kUnimplemented);
}

// The in-process remote registry, or any library, may have registered gRPC's process-wide
// plugin, which every later ServerBuilder adds: off must still mean off.
TEST_F(ServerReflectionTest, OffEvenWhenTheProcessRegisteredTheGlobalPlugin) {
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  EXPECT_EQ(ListServices(/*server_reflection=*/false).status().code(),
            absl::StatusCode::kUnimplemented);
  absl::StatusOr<std::string> services = ListServices(/*server_reflection=*/true);
  ASSERT_TRUE(services.ok()) << services.status();
  EXPECT_NE(services->find("onceonly.v1.DossierService"), std::string::npos);
}

}  // namespace
}  // namespace onceonly
