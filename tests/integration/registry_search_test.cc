// CompanyRegistry.SearchEnterprises through onceonly-registry's server, over real mTLS, on the
// real KBO extract: what the gateway gets, the rich errors it decodes, and who may not ask.
#include <grpcpp/client_context.h>
#include <unistd.h>

#include <set>
#include <string>

#include "common/tls.h"
#include "connectors/kbo/kbo_connector.h"
#include "connectors/remote/registry_server.h"
#include "connectors/testing/fake_connector.h"
#include "gtest/gtest.h"
#include "onceonly/registry/v1/registry.grpc.pb.h"
#include "tests/integration/test_stack.h"
#include "tools/pki/dev_pki.h"

namespace onceonly {
namespace {

namespace rv1 = registry::v1;
constexpr char kGateway[] = "spiffe://onceonly.brussels/gateway";

class RegistrySearchTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto stack =
        TestStack::Create(::testing::TempDir() + "/registry-search-" + std::to_string(getpid()),
                          absl::FromUnixSeconds(1767225600));
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = stack->release();
    const std::string& d = stack_->dir();
    ASSERT_TRUE(IssueServerCertificate(d + "/pki", "companies", DevPkiOptions()).ok());
    registry_tls_ = new config::v1::TlsFiles;
    registry_tls_->set_cert_file(d + "/pki/servers/companies.crt");
    registry_tls_->set_key_file(d + "/pki/servers/companies.key");
    registry_tls_->set_ca_file(d + "/pki/ca.crt");
    auto connector = KboConnector::Create(d + "/kbo.db");
    ASSERT_TRUE(connector.ok()) << connector.status();
    auto registry =
        RegistryServer::Start(*std::move(connector), "localhost:0", *registry_tls_, {kGateway});
    ASSERT_TRUE(registry.ok()) << registry.status();
    registry_ = registry->release();
  }
  static void TearDownTestSuite() {
    delete registry_;
    delete registry_tls_;
    delete stack_;
  }

  // A stub calling `port` as the gateway, or as a member when `member` is set.
  static std::unique_ptr<rv1::CompanyRegistry::Stub> Stub(int port,
                                                          const std::string& member = "") {
    config::v1::TlsFiles tls = member.empty() ? stack_->config().tls() : stack_->MemberTls(member);
    auto channel = CreateMutualTlsChannel("localhost:" + std::to_string(port), tls);
    EXPECT_TRUE(channel.ok()) << channel.status();
    return rv1::CompanyRegistry::NewStub(*channel);
  }

  static grpc::Status Search(rv1::CompanyRegistry::Stub& stub,
                             const rv1::SearchEnterprisesRequest& request,
                             rv1::SearchEnterprisesResponse* response) {
    grpc::ClientContext context;
    TestStack::WithDeadline(context);
    return stub.SearchEnterprises(&context, request, response);
  }

  static TestStack* stack_;
  static config::v1::TlsFiles* registry_tls_;
  static RegistryServer* registry_;
};
TestStack* RegistrySearchTest::stack_;
config::v1::TlsFiles* RegistrySearchTest::registry_tls_;
RegistryServer* RegistrySearchTest::registry_;

TEST_F(RegistrySearchTest, TheGatewayFindsEnterprisesByNameAcrossPages) {
  auto stub = Stub(registry_->port());
  rv1::SearchEnterprisesRequest request;
  request.set_name("CAP horiz");
  request.set_language("nl");
  rv1::SearchEnterprisesResponse response;
  grpc::Status status = Search(*stub, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.matches_size(), 1);
  EXPECT_EQ(response.matches(0).enterprise_number(), "1029.028.161");
  EXPECT_EQ(response.matches(0).name(), "Cap Horizons ASBL");
  EXPECT_EQ(response.matches(0).municipality(), "Sint-Jans-Molenbeek");
  EXPECT_EQ(response.next_page_token(), "");

  // The legal persons of form 610, one per page.
  request.Clear();
  request.set_juridical_form("610");
  request.set_page_size(1);
  std::set<std::string> seen;
  for (int page = 0; page < 20; ++page) {
    response.Clear();
    status = Search(*stub, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    for (const auto& m : response.matches()) {
      EXPECT_TRUE(seen.insert(m.enterprise_number()).second) << m.enterprise_number();
      EXPECT_EQ(m.juridical_form().code(), "610");
    }
    if (response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
  }
  EXPECT_EQ(seen, (std::set<std::string>{"0872.480.059", "1029.025.290", "1029.025.884",
                                         "1029.025.983"}));
}

TEST_F(RegistrySearchTest, BadCriteriaComeBackWithReasonAndField) {
  auto stub = Stub(registry_->port());
  rv1::SearchEnterprisesRequest request;
  request.set_postcode("108");
  rv1::SearchEnterprisesResponse response;
  RichStatus r = Details(Search(*stub, request, &response));
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(r.info.reason(), "INVALID_POSTCODE");
  ASSERT_EQ(r.bad_request.field_violations_size(), 1);
  EXPECT_EQ(r.bad_request.field_violations(0).field(), "postcode");

  request.Clear();
  r = Details(Search(*stub, request, &response));
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(r.info.reason(), "SEARCH_CRITERIA_REQUIRED");

  request.set_name("cap");
  request.set_page_token("bm90IGEgdG9rZW4");
  r = Details(Search(*stub, request, &response));
  EXPECT_EQ(r.info.reason(), "INVALID_PAGE_TOKEN");
  ASSERT_EQ(r.bad_request.field_violations_size(), 1);
  EXPECT_EQ(r.bad_request.field_violations(0).field(), "page_token");
}

TEST_F(RegistrySearchTest, MembersCannotSearchAroundTheGateway) {
  auto stub = Stub(registry_->port(), "brussels-economy");
  rv1::SearchEnterprisesRequest request;
  request.set_name("cap");
  rv1::SearchEnterprisesResponse response;
  RichStatus r = Details(Search(*stub, request, &response));
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(r.info.reason(), "CALLER_NOT_ALLOWED");
  EXPECT_EQ(response.matches_size(), 0);
}

TEST_F(RegistrySearchTest, ARegistryWithoutSearchSaysSo) {
  auto registry = RegistryServer::Start(std::make_unique<FakeConnector>("companies"), "localhost:0",
                                        *registry_tls_, {kGateway});
  ASSERT_TRUE(registry.ok()) << registry.status();
  auto stub = Stub((*registry)->port());
  rv1::SearchEnterprisesRequest request;
  request.set_name("cap");
  rv1::SearchEnterprisesResponse response;
  RichStatus r = Details(Search(*stub, request, &response));
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(r.info.reason(), "SEARCH_NOT_SUPPORTED");
}

}  // namespace
}  // namespace onceonly
