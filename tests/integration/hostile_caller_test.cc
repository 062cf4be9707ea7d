// What a hostile caller can do to the gateway through real mTLS, and what it may not: a
// certificate the CA signed but the policy does not know, a member sending metadata that
// cannot be stored, a flood, a connection that never finishes its handshake, old TLS.
// Every access record such a call leaves must read back, and hold nothing the caller chose
// beyond fixed, bounded fields.
#include <openssl/ssl.h>
#include <unistd.h>

#include <set>

#include "audit/access_log.h"
#include "audit/log_export.h"
#include "audit/log_verifier.h"
#include "absl/strings/numbers.h"
#include "common/tls.h"
#include "common/yaml_proto.h"
#include "google/protobuf/text_format.h"
#include "gateway/call_info.h"
#include "gtest/gtest.h"
#include "onceonly/v1/audit.grpc.pb.h"
#include "onceonly/v1/dossier.grpc.pb.h"
#include "onceonly/v1/registration.grpc.pb.h"
#include "tests/integration/raw_connection.h"
#include "tests/integration/test_stack.h"

namespace onceonly {
namespace {

constexpr char kNonProfit[] = "1029.028.161";  // Cap Horizons ASBL
const absl::Time kNow = absl::FromUnixSeconds(1767225600);  // 2026-01-01

class HostileCallerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto stack = TestStack::Create(
        ::testing::TempDir() + "/hostile-caller-" + std::to_string(getpid()), kNow);
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = *std::move(stack);
  }

  // GetDossier as `member` with exactly the metadata given.
  RichStatus Dossier(const std::string& member, const v1::GetDossierRequest& request,
                     const std::vector<std::pair<std::string, std::string>>& metadata = {},
                     v1::Dossier* dossier = nullptr) {
    v1::Dossier ignored;
    grpc::ClientContext context;
    TestStack::WithDeadline(context);
    for (const auto& [key, value] : metadata) context.AddMetadata(key, value);
    return Details(v1::DossierService::NewStub(stack_->Channel(member))
                       ->GetDossier(&context, request, dossier != nullptr ? dossier : &ignored));
  }

  uint64_t AccessId(const RichStatus& r) {
    auto it = r.info.metadata().find("access_id");
    EXPECT_NE(it, r.info.metadata().end()) << "no access_id in " << r.status.error_message();
    uint64_t id = UINT64_MAX;
    if (it != r.info.metadata().end()) EXPECT_TRUE(absl::SimpleAtoi(it->second, &id));
    return id;
  }

  // Every reader of the log works: the auditor's query and export, the firm's history, and
  // verification from the records up.
  void ExpectEveryReaderReadsTheLog() {
    auto audit = v1::AuditService::NewStub(stack_->Channel("audit-office"));
    {
      v1::QueryAccessLogRequest request;
      v1::QueryAccessLogResponse response;
      grpc::ClientContext context;
      TestStack::WithDeadline(context);
      grpc::Status status = audit->QueryAccessLog(&context, request, &response);
      EXPECT_TRUE(status.ok()) << status.error_message();
      for (const auto& r : response.records()) {
        EXPECT_NE(r.reason(), std::string(kUnreadableRecordReason)) << r.access_id();
      }
    }
    {
      v1::ExportAccessLogRequest request;
      v1::ExportAccessLogResponse response;
      grpc::ClientContext context;
      TestStack::WithDeadline(context);
      grpc::Status status = audit->ExportAccessLog(&context, request, &response);
      EXPECT_TRUE(status.ok()) << status.error_message();
      for (const auto& entry : response.entries()) EXPECT_FALSE(entry.has_unreadable());
    }
    {
      v1::GetAccessHistoryRequest request;
      request.set_subject(kNonProfit);
      v1::GetAccessHistoryResponse response;
      grpc::ClientContext context;
      TestStack::WithDeadline(context);
      context.AddMetadata("x-onceonly-acting-for", kNonProfit);
      grpc::Status status = v1::AuditService::NewStub(stack_->Channel("firm-portal"))
                                ->GetAccessHistory(&context, request, &response);
      EXPECT_TRUE(status.ok()) << status.error_message();
    }
    auto store = OpenSqliteAccessLogStore(stack_->config().audit().sqlite_path(),
                                          StoreAccess::kReadOnly);
    ASSERT_TRUE(store.ok());
    auto key = ReadFileToString(stack_->dir() + "/pki/checkpoint.pub");
    ASSERT_TRUE(key.ok());
    LogVerifier verifier(*key);
    ASSERT_TRUE(FeedStoredLog(**store, "gateway-1", verifier).ok());
    auto report = verifier.Finish();
    ASSERT_TRUE(report.ok()) << report.status();
    EXPECT_TRUE(report->unreadable.empty());
  }

  // A second gateway on the stack's files (its own log and authz store) with `change` applied
  // to the config.
  std::unique_ptr<GatewayServer> Gateway(
      const std::string& name, const std::function<void(config::v1::GatewayConfig&)>& change) {
    config::v1::GatewayConfig config = stack_->config();
    config.set_instance_name(name);
    config.mutable_authz_store()->set_sqlite_path(stack_->dir() + "/authz-" + name + ".db");
    config.set_listen_address("localhost:0");
    change(config);
    auto gateway = GatewayServer::Start(config, stack_->clock());
    EXPECT_TRUE(gateway.ok()) << gateway.status();
    return gateway.ok() ? *std::move(gateway) : nullptr;
  }

  std::unique_ptr<TestStack> stack_;
};

// The first path: a certificate the CA signed, unknown to the policy, sends a number
// of 63 'A' and an e-acute. It used to be logged cut at byte 64, in the middle of the
// character, and every reader of the log failed from then on.
TEST_F(HostileCallerTest, AStrangersNumberCutInACharacterLeavesTheLogReadable) {
  const std::string number = std::string(63, 'A') + "\xc3\xa9";
  RichStatus r = Dossier("stranger", TestStack::Request(number, "public-procurement",
                                                       {"company.identity"}));
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(r.info.reason(), "UNKNOWN_MEMBER");
  auto record = stack_->Record(AccessId(r));
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->member(), "");
  EXPECT_EQ(record->subject(), TextDigest(number));  // not the text, not cut
  EXPECT_EQ(record->reason(), "UNKNOWN_MEMBER");

  v1::Dossier dossier;
  r = Dossier("brussels-economy", TestStack::Request(kNonProfit, "public-procurement",
                                                     {"company.identity"}),
              {}, &dossier);
  EXPECT_TRUE(r.status.ok()) << r.status.error_message();
  ExpectEveryReaderReadsTheLog();
}

TEST_F(HostileCallerTest, AStrangerLeavesOnlyFixedFieldsAndTheFirmReadsNoneOfItsText) {
  v1::GetDossierRequest request =
      TestStack::Request(kNonProfit, "Mandate of the King", {"company.identity"});
  for (int i = 0; i < 20; ++i) {
    request.add_categories("pay EUR 1000 to BE71 0961 " + std::to_string(i));
  }
  RichStatus r = Dossier("stranger", request,
                         {{"x-onceonly-case-ref", "call +32 2 555 01 01 now"},
                          {"x-onceonly-user", "mallory"},
                          {"x-request-id", "req-from-mallory"}});
  EXPECT_EQ(r.info.reason(), "UNKNOWN_MEMBER");
  auto record = stack_->Record(AccessId(r));
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->subject(), kNonProfit);  // a canonical number is a fixed field
  EXPECT_EQ(record->purpose(), TextDigest("Mandate of the King"));
  EXPECT_EQ(record->case_ref(), TextDigest("call +32 2 555 01 01 now"));
  EXPECT_EQ(record->user(), TextDigest("mallory"));
  EXPECT_EQ(record->request_id(), TextDigest("req-from-mallory"));
  EXPECT_EQ(record->identity(), "spiffe://onceonly.brussels/member/stranger");
  ASSERT_EQ(record->categories_requested_size(), kMaxStrangerCategories);
  EXPECT_EQ(record->categories_requested(0), "company.identity");
  EXPECT_EQ(record->categories_requested(1), TextDigest("pay EUR 1000 to BE71 0961 0"));
  EXPECT_EQ(record->categories_requested(kMaxStrangerCategories - 1), "(6 more)");

  // The firm sees that someone was refused, and why; nothing the stranger wrote.
  v1::GetAccessHistoryRequest history;
  history.set_subject(kNonProfit);
  v1::GetAccessHistoryResponse response;
  grpc::ClientContext context;
  TestStack::WithDeadline(context);
  context.AddMetadata("x-onceonly-acting-for", kNonProfit);
  ASSERT_TRUE(v1::AuditService::NewStub(stack_->Channel("firm-portal"))
                  ->GetAccessHistory(&context, history, &response)
                  .ok());
  ASSERT_EQ(response.records_size(), 1);
  const v1::AccessRecord& seen = response.records(0);
  EXPECT_EQ(seen.reason(), "UNKNOWN_MEMBER");
  EXPECT_EQ(seen.decision(), v1::DECISION_DENY);
  std::string text;
  google::protobuf::TextFormat::PrintToString(seen, &text);
  for (const char* chosen : {"sha256:", "mallory", "Mandate", "pay", "+32", "stranger"}) {
    EXPECT_EQ(text.find(chosen), std::string::npos) << chosen << " in\n" << text;
  }
  EXPECT_EQ(seen.categories_requested_size(), 1);
}

TEST_F(HostileCallerTest, AFloodFromAnUnknownCertificateIsCutOffBeforeTheLog) {
  auto before = stack_->LogSize();
  ASSERT_TRUE(before.ok());
  int denied = 0, limited = 0;
  const v1::GetDossierRequest request =
      TestStack::Request(kNonProfit, "public-procurement", {"company.identity"});
  for (int i = 0; i < 30; ++i) {
    RichStatus r = Dossier("stranger", request);
    if (r.status.error_code() == grpc::StatusCode::PERMISSION_DENIED) ++denied;
    if (r.status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      EXPECT_EQ(r.info.reason(), "CERTIFICATE_RATE_LIMITED");
      ++limited;
    }
  }
  // The injected clock stands still: the burst of 5, then nothing.
  EXPECT_EQ(denied, 5);
  EXPECT_EQ(limited, 25);
  auto after = stack_->LogSize();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(*after - *before, 5u);
  // Members are not held up by it.
  EXPECT_TRUE(Dossier("brussels-economy", request).status.ok());
  // Time restores the stranger's rate, one call a second.
  stack_->clock().Advance(absl::Seconds(1));
  EXPECT_EQ(Dossier("stranger", request).info.reason(), "UNKNOWN_MEMBER");
  EXPECT_EQ(Dossier("stranger", request).info.reason(), "CERTIFICATE_RATE_LIMITED");
}

TEST_F(HostileCallerTest, MetadataThatCannotBeStoredIsRefusedAndLoggedWithFixedText) {
  const v1::GetDossierRequest request =
      TestStack::Request(kNonProfit, "public-procurement", {"company.identity"});
  struct Case {
    std::string what;
    std::vector<std::pair<std::string, std::string>> metadata;
    std::string header;
  };
  const std::vector<Case> cases = {
      {"over 256 bytes",
       {{"x-onceonly-case-ref", std::string(257, 'x')}},
       "x-onceonly-case-ref"},
      {"sent twice", {{"x-onceonly-user", "u-1"}, {"x-onceonly-user", "u-2"}}, "x-onceonly-user"},
      {"a long request id", {{"x-request-id", std::string(300, 'r')}}, "x-request-id"},
      {"raw bytes with a forged line",
       {{"x-onceonly-case-ref-bin", std::string("A\r\nmember: audit-office\0\xff", 27)}},
       "x-onceonly-*"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    RichStatus r = Dossier("brussels-economy", request, c.metadata);
    EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(r.info.reason(), "INVALID_METADATA");
    ASSERT_EQ(r.bad_request.field_violations_size(), 1);
    EXPECT_EQ(r.bad_request.field_violations(0).field(), c.header);
    auto record = stack_->Record(AccessId(r));
    ASSERT_TRUE(record.ok()) << record.status();
    EXPECT_EQ(record->member(), "brussels-economy");
    EXPECT_EQ(record->decision(), v1::DECISION_DENY);
    EXPECT_EQ(record->reason(), "INVALID_METADATA");
    EXPECT_EQ(record->case_ref(), "");
    EXPECT_EQ(record->user(), "");
    EXPECT_NE(record->request_id().size(), 300u);
    EXPECT_EQ(record->query().rfind("refused metadata:", 0), 0u) << record->query();
    EXPECT_EQ(record->categories_released_size(), 0);
  }
  // The same member with valid metadata is served as before.
  EXPECT_TRUE(Dossier("brussels-economy", request, {{"x-onceonly-case-ref", "ECO/2025/42"}})
                  .status.ok());
  ExpectEveryReaderReadsTheLog();
}

TEST_F(HostileCallerTest, EveryServiceHasLimitsOfItsOwn) {
  std::unique_ptr<GatewayServer> gateway =
      Gateway("gateway-service-limits", [](config::v1::GatewayConfig& config) {
        config.mutable_service_limits()->set_calls_per_second(1);
        config.mutable_service_limits()->set_burst(2);
      });
  ASSERT_NE(gateway, nullptr);
  auto channel = CreateMutualTlsChannel("localhost:" + std::to_string(gateway->port()),
                                        stack_->MemberTls("urban-brussels"));
  ASSERT_TRUE(channel.ok());
  auto registrations = v1::RegistrationService::NewStub(*channel);
  std::vector<std::string> reasons;
  const size_t log_before = *stack_->LogSize("gateway-service-limits");
  for (int i = 0; i < 3; ++i) {
    v1::ListRegistrationsResponse response;
    grpc::ClientContext context;
    TestStack::WithDeadline(context);
    RichStatus r = Details(
        registrations->ListRegistrations(&context, v1::ListRegistrationsRequest(), &response));
    reasons.push_back(r.status.ok() ? "OK" : r.info.reason());
  }
  EXPECT_EQ(reasons, (std::vector<std::string>{"OK", "OK", "MEMBER_RATE_LIMITED"}));
  // GetDossier counts apart: a member's lookups do not stop its dossiers.
  v1::Dossier dossier;
  grpc::ClientContext context;
  TestStack::WithDeadline(context);
  grpc::Status dossier_status =
      v1::DossierService::NewStub(*channel)->GetDossier(
          &context, TestStack::Request(kNonProfit, "public-procurement", {"company.identity"}),
          &dossier);
  EXPECT_EQ(dossier_status.error_code(), grpc::StatusCode::PERMISSION_DENIED);  // NO_GRANT
  EXPECT_EQ(*stack_->LogSize("gateway-service-limits"), log_before + 1);
}

TEST_F(HostileCallerTest, AHandshakeThatNeverStartsIsCutOff) {
  std::unique_ptr<GatewayServer> gateway =
      Gateway("gateway-handshake", [](config::v1::GatewayConfig& config) {
        config.mutable_handshake_timeout()->set_nanos(300'000'000);
      });
  ASSERT_NE(gateway, nullptr);
  absl::StatusOr<bool> closed = ServerClosesAnIdleConnection(gateway->port(), absl::Seconds(10));
  ASSERT_TRUE(closed.ok()) << closed.status();
  EXPECT_TRUE(*closed);
  // With the default of 10 s, the same connection is still open a second later.
  closed = ServerClosesAnIdleConnection(stack_->server().port(), absl::Seconds(1));
  ASSERT_TRUE(closed.ok()) << closed.status();
  EXPECT_FALSE(*closed);
}

TEST_F(HostileCallerTest, TheServerAnnouncesItsStreamLimitPerConnection) {
  std::unique_ptr<GatewayServer> gateway =
      Gateway("gateway-streams", [](config::v1::GatewayConfig& config) {
        config.set_max_concurrent_streams(7);
      });
  ASSERT_NE(gateway, nullptr);
  constexpr uint16_t kMaxConcurrentStreams = 3;
  auto settings = ServerHttp2Settings(gateway->port(), stack_->MemberTls("brussels-economy"));
  ASSERT_TRUE(settings.ok()) << settings.status();
  EXPECT_EQ((*settings)[kMaxConcurrentStreams], 7u);
  settings = ServerHttp2Settings(stack_->server().port(), stack_->MemberTls("brussels-economy"));
  ASSERT_TRUE(settings.ok()) << settings.status();
  EXPECT_EQ((*settings)[kMaxConcurrentStreams], 4096u);
}

TEST_F(HostileCallerTest, TlsOlderThan12IsRefused) {
  const config::v1::TlsFiles tls = stack_->MemberTls("brussels-economy");
  EXPECT_FALSE(TlsHandshake(stack_->server().port(), tls, TLS1_1_VERSION).ok());
  EXPECT_FALSE(TlsHandshake(stack_->server().port(), tls, TLS1_VERSION).ok());
  absl::Status tls12 = TlsHandshake(stack_->server().port(), tls, TLS1_2_VERSION);
  EXPECT_TRUE(tls12.ok()) << tls12;
}

}  // namespace
}  // namespace onceonly
