// The gateway end to end, in-process: real mTLS on port 0, real KBO data, SQLite registries
// and access log. Covers the refusals the walking skeleton promises.
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/security/credentials.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/synchronization/notification.h"
#include "audit/access_log.h"
#include "audit/access_log_store.h"
#include "audit/checkpoint.h"
#include "audit/merkle_tree.h"
#include "audit/merkle_verifier.h"
#include "common/ed25519.h"
#include "common/yaml_proto.h"
#include "common/clock.h"
#include "common/tls.h"
#include "connectors/kbo/kbo_connector.h"
#include "connectors/kbo/kbo_import.h"
#include "connectors/kbo/kbo_store.h"
#include "connectors/remote/registry_server.h"
#include "connectors/sql/sample_seed.h"
#include "connectors/testing/fake_connector.h"
#include "gateway/gateway_config.h"
#include "gateway/dossier_pipeline.h"
#include "gateway/gateway_server.h"
#include "gmock/gmock.h"
#include "google/protobuf/unknown_field_set.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "onceonly/v1/audit.grpc.pb.h"
#include "onceonly/registry/v1/registry.grpc.pb.h"
#include "onceonly/v1/dossier.grpc.pb.h"
#include "tests/integration/test_stack.h"
#include "tools/pki/dev_pki.h"

namespace onceonly {
namespace {

namespace fs = std::filesystem;

using Rich = RichStatus;

class GatewayMtlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto stack = TestStack::Create(
        ::testing::TempDir() + "/gateway-mtls-" + std::to_string(getpid()),
        absl::FromUnixSeconds(1767225600));  // 2026-01-01, inside the demo grants
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = stack->release();
  }

  static void TearDownTestSuite() {
    delete stack_;
    stack_ = nullptr;
  }

  static std::string Address() { return stack_->address(); }

  // The files of a registry server certificate issued as `name` in the stack's dev PKI.
  static config::v1::TlsFiles RegistryTls(const std::string& name) {
    const std::string& d = stack_->dir();
    config::v1::TlsFiles tls;
    tls.set_cert_file(d + "/pki/servers/" + name + ".crt");
    tls.set_key_file(d + "/pki/servers/" + name + ".key");
    tls.set_ca_file(d + "/pki/ca.crt");
    return tls;
  }

  // The stack's gateway config, as instance `name`, with one registry: companies, remote at
  // `registry_address`, reached with the gateway's own identity.
  static config::v1::GatewayConfig RemoteCompaniesConfig(const std::string& name,
                                                         const std::string& registry_address) {
    config::v1::GatewayConfig config = stack_->config();
    config.set_instance_name(name);
    config.mutable_authz_store()->set_sqlite_path(stack_->dir() + "/authz-" + name + ".db");
    config.set_listen_address("localhost:0");
    config.clear_registries();
    auto* companies = config.add_registries();
    companies->set_name("companies");
    companies->mutable_remote()->set_address(registry_address);
    *companies->mutable_remote()->mutable_tls() = stack_->config().tls();
    return config;
  }

  static config::v1::TlsFiles MemberTls(const std::string& pki, const std::string& file) {
    return stack_->MemberTls(file, pki);
  }

  static grpc::Status Call(const std::shared_ptr<grpc::Channel>& channel,
                           const v1::GetDossierRequest& request, v1::Dossier* dossier) {
    grpc::ClientContext context;
    TestStack::WithDeadline(context);
    return v1::DossierService::NewStub(channel)->GetDossier(&context, request, dossier);
  }

  static grpc::Status CallAs(const std::string& member, const v1::GetDossierRequest& request,
                             v1::Dossier* dossier, const std::string& pki = "pki") {
    return stack_->GetDossier(member, request, dossier, pki);
  }

  static v1::GetDossierRequest Request(const std::string& number,
                                       std::vector<std::string> categories) {
    return TestStack::Request(number, "public-procurement", std::move(categories));
  }

  static v1::AccessRecord Record(uint64_t access_id, const std::string& log = "gateway-1") {
    absl::StatusOr<v1::AccessRecord> record = stack_->Record(access_id, log);
    EXPECT_TRUE(record.ok()) << record.status();
    return record.ok() ? *record : v1::AccessRecord();
  }

  static TestStack* stack_;
};

TestStack* GatewayMtlsTest::stack_ = nullptr;

TEST_F(GatewayMtlsTest, AllowedDossierIsCanonicalSourcedMinimisedAndLogged) {
  v1::Dossier dossier;
  grpc::Status status = CallAs(
      "brussels-economy",
      Request("BE 1029028161", {"company.identity", "company.addresses", "tax.good_standing",
                                "permits.environment"}),
      &dossier);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(dossier.enterprise_number(), "1029.028.161");
  ASSERT_GE(dossier.company().denominations_size(), 1);
  EXPECT_EQ(dossier.company().denominations(0).value(), "Cap Horizons ASBL");
  EXPECT_EQ(dossier.company().juridical_form().code(), "017");
  EXPECT_EQ(dossier.company().juridical_form().description(), "Association sans but lucratif");
  ASSERT_EQ(dossier.company().addresses_size(), 1);
  EXPECT_EQ(dossier.company().addresses(0).municipality_nl(), "Sint-Jans-Molenbeek");
  EXPECT_EQ(dossier.company().addresses(0).municipality_fr(), "Molenbeek-Saint-Jean");
  EXPECT_EQ(dossier.company().activities_size(), 0);  // not asked, not released
  EXPECT_TRUE(dossier.tax().has_good_standing());
  EXPECT_FALSE(dossier.tax().has_details());
  EXPECT_FALSE(dossier.tax().has_vat());
  EXPECT_GE(dossier.permits().environment_size(), 1);  // a Brussels enterprise: seeded
  EXPECT_EQ(dossier.permits().urbanism_size(), 0);
  ASSERT_EQ(dossier.sources_size(), 3);
  for (const auto& s : dossier.sources()) {
    EXPECT_EQ(s.code(), 0) << s.registry() << ": " << s.message();
    EXPECT_FALSE(s.from_cache());
    EXPECT_GT(s.retrieved_at().seconds(), 0);
  }

  ASSERT_TRUE(dossier.has_access_id());
  v1::AccessRecord record = Record(dossier.access_id());
  EXPECT_EQ(record.decision(), v1::DECISION_ALLOW);
  EXPECT_EQ(record.member(), "brussels-economy");
  EXPECT_EQ(record.subject(), "1029.028.161");
  EXPECT_EQ(record.case_ref(), "ECO/2025/42");
  EXPECT_EQ(record.user(), "u-7f3a");
  EXPECT_EQ(record.grant_id(), "DEL-2025-014");
  EXPECT_EQ(record.categories_released_size(), 4);
  // The auditor's check: the dossier received, without its access_id, serialized
  // deterministically, hashes to what the record says.
  v1::Dossier hashed = dossier;
  hashed.clear_access_id();
  EXPECT_EQ(record.payload_sha256(), DossierSha256(hashed));
  EXPECT_EQ(record.time().seconds(), 1767225600);  // the injected clock
}

TEST_F(GatewayMtlsTest, UnparsableRequestBytesAreInvalidArgument) {
  grpc::GenericStub stub(stack_->Channel("brussels-economy"));
  grpc::ClientContext context;
  TestStack::WithDeadline(context);
  const std::string garbage = "\x0a\xff\xff\xff\xff\x0f";  // field 1, a length past the end
  grpc::Slice slice(garbage);
  grpc::ByteBuffer request(&slice, 1), response;
  absl::Notification done;
  grpc::Status status;
  stub.UnaryCall(&context, "/onceonly.v1.DossierService/GetDossier", grpc::StubOptions(),
                 &request, &response, [&](grpc::Status s) {
                   status = std::move(s);
                   done.Notify();
                 });
  done.WaitForNotification();
  Rich r = Details(status);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(r.info.reason(), "MALFORMED_REQUEST");
}

TEST_F(GatewayMtlsTest, SubsystemCertificateActsForItsMember) {
  v1::Dossier dossier;
  grpc::Status status = CallAs("brussels-economy-tender-app",
                               Request("0403.170.701", {"company.identity"}), &dossier);
  // 0403.170.701 is not in the update extract: the companies source says so, the call is OK.
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(dossier.sources_size(), 1);
  EXPECT_EQ(dossier.sources(0).code(), static_cast<int>(grpc::StatusCode::NOT_FOUND));
  EXPECT_EQ(Record(dossier.access_id()).subsystem(), "tender-app");
}

TEST_F(GatewayMtlsTest, PlaintextConnectionIsRefused) {
  auto channel = grpc::CreateChannel(Address(), grpc::InsecureChannelCredentials());
  v1::Dossier dossier;
  grpc::Status status = Call(channel, Request("1029.028.161", {"company.identity"}), &dossier);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
}

TEST_F(GatewayMtlsTest, ClientWithoutCertificateIsRefused) {
  config::v1::TlsFiles tls;
  tls.set_ca_file(stack_->dir() + "/pki/ca.crt");
  auto channel = CreateMutualTlsChannel(Address(), tls);
  ASSERT_TRUE(channel.ok());
  v1::Dossier dossier;
  grpc::Status status = Call(*channel, Request("1029.028.161", {"company.identity"}), &dossier);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
}

TEST_F(GatewayMtlsTest, CertificateFromAnotherCaIsRefused) {
  v1::Dossier dossier;
  grpc::Status status = CallAs("brussels-economy", Request("1029.028.161", {"company.identity"}),
                               &dossier, "other-pki");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
}

TEST_F(GatewayMtlsTest, MalformedOrBadChecksumNumberIsInvalidArgumentWithFieldViolation) {
  for (const char* number : {"1029.028.162", "10290281", "BE-ABC", ""}) {
    v1::Dossier dossier;
    Rich r = Details(CallAs("brussels-economy", Request(number, {"company.identity"}), &dossier));
    EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << number;
    EXPECT_EQ(r.info.reason(), "INVALID_ENTERPRISE_NUMBER") << number;
    ASSERT_EQ(r.bad_request.field_violations_size(), 1) << number;
    EXPECT_EQ(r.bad_request.field_violations(0).field(), "enterprise_number");
    EXPECT_FALSE(r.bad_request.field_violations(0).description().empty());
  }
}

TEST_F(GatewayMtlsTest, UnknownPurposeOrCategoryNamesTheReason) {
  v1::GetDossierRequest request = Request("1029.028.161", {"company.identity"});
  request.set_purpose("curiosity");
  v1::Dossier dossier;
  Rich r = Details(CallAs("brussels-economy", request, &dossier));
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(r.info.reason(), "UNKNOWN_PURPOSE");
  EXPECT_EQ(r.info.domain(), "onceonly.brussels");

  r = Details(CallAs("brussels-economy", Request("1029.028.161", {"company.shoe_size"}), &dossier));
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(r.info.reason(), "UNKNOWN_CATEGORY");
  ASSERT_EQ(r.bad_request.field_violations_size(), 1);
  EXPECT_EQ(r.bad_request.field_violations(0).field(), "categories[0]");
}

TEST_F(GatewayMtlsTest, DeniedRequestLeavesAnAccessRecord) {
  v1::Dossier dossier;
  Rich r = Details(CallAs("brussels-economy",
                          Request("1029.028.161", {"company.identity", "tax.details"}), &dossier));
  ASSERT_EQ(r.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(r.info.reason(), "CATEGORY_NOT_GRANTED");
  ASSERT_TRUE(r.info.metadata().count("missing_categories"));
  EXPECT_EQ(r.info.metadata().find("missing_categories")->second, "tax.details");
  uint64_t access_id = 0;
  ASSERT_TRUE(r.info.metadata().count("access_id")) << "no access_id in the denial";
  ASSERT_TRUE(absl::SimpleAtoi(r.info.metadata().find("access_id")->second, &access_id));
  v1::AccessRecord record = Record(access_id);
  EXPECT_EQ(record.decision(), v1::DECISION_DENY);
  EXPECT_EQ(record.reason(), "CATEGORY_NOT_GRANTED");
  EXPECT_EQ(record.subject(), "1029.028.161");
  EXPECT_TRUE(record.categories_released().empty());
  EXPECT_TRUE(record.payload_sha256().empty());
}

TEST_F(GatewayMtlsTest, RevokedCertificateIsRefusedFromItsNextCall) {
  v1::Dossier dossier;
  ASSERT_TRUE(CallAs("brussels-economy-tender-app", Request("1029.028.161", {"company.identity"}),
                     &dossier).ok());
  ASSERT_TRUE(RevokeCertificate(stack_->dir() + "/pki",
                                stack_->dir() + "/pki/members/brussels-economy-tender-app.crt",
                                DevPkiOptions())
                  .ok());
  stack_->clock().Advance(absl::Seconds(2));  // past the CRL recheck interval
  Rich r = Details(CallAs("brussels-economy-tender-app",
                          Request("1029.028.161", {"company.identity"}), &dossier));
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(r.info.reason(), "CERTIFICATE_REVOKED");
  ASSERT_TRUE(r.info.metadata().count("access_id"));
  uint64_t access_id = 0;
  ASSERT_TRUE(absl::SimpleAtoi(r.info.metadata().find("access_id")->second, &access_id));
  v1::AccessRecord record = Record(access_id);
  EXPECT_EQ(record.reason(), "CERTIFICATE_REVOKED");
  EXPECT_EQ(record.identity(), "spiffe://onceonly.brussels/member/brussels-economy/tender-app");
  // The member's other certificate is unaffected.
  EXPECT_TRUE(CallAs("brussels-economy", Request("1029.028.161", {"company.identity"}), &dossier)
                  .ok());
}

TEST_F(GatewayMtlsTest, CertificateOfNoMemberIsDeniedAndLogged) {
  v1::Dossier dossier;
  Rich r = Details(CallAs("stranger", Request("1029.028.161", {"company.identity"}), &dossier));
  ASSERT_EQ(r.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(r.info.reason(), "UNKNOWN_MEMBER");
  uint64_t access_id = 0;
  ASSERT_TRUE(r.info.metadata().count("access_id"));
  ASSERT_TRUE(absl::SimpleAtoi(r.info.metadata().find("access_id")->second, &access_id));
  v1::AccessRecord record = Record(access_id);
  EXPECT_EQ(record.identity(), "spiffe://onceonly.brussels/member/stranger");
  EXPECT_EQ(record.decision(), v1::DECISION_DENY);
}

TEST_F(GatewayMtlsTest, AnAccessIsProvablyInTheSignedLog) {
  v1::Dossier dossier;
  ASSERT_TRUE(CallAs("brussels-economy", Request("1029.028.161", {"company.identity"}), &dossier)
                  .ok());
  auto stub = v1::AuditService::NewStub(stack_->Channel("brussels-economy"));
  // Checkpoints are signed in the background (every N records or T ms): wait for one that
  // covers the access.
  v1::GetCheckpointResponse checkpoint;
  for (int attempt = 0; attempt < 200; ++attempt) {
    grpc::ClientContext context;
    TestStack::WithDeadline(context);
    ASSERT_TRUE(stub->GetCheckpoint(&context, v1::GetCheckpointRequest(), &checkpoint).ok());
    if (checkpoint.checkpoint().tree_size() > dossier.access_id()) break;
    absl::SleepFor(absl::Milliseconds(25));
  }
  const v1::Checkpoint& c = checkpoint.checkpoint();
  EXPECT_EQ(c.log_id(), "gateway-1");
  ASSERT_GT(c.tree_size(), dossier.access_id());
  // Signed by the gateway's key over the documented text.
  auto key = ReadFileToString(stack_->dir() + "/pki/checkpoint.pub");
  ASSERT_TRUE(key.ok());
  EXPECT_TRUE(VerifyEd25519(*key, CheckpointSignedText(c), c.signature()).ok());
  v1::Checkpoint forged = c;
  forged.set_tree_size(c.tree_size() - 1);
  EXPECT_FALSE(VerifyEd25519(*key, CheckpointSignedText(forged), c.signature()).ok());

  // The record behind the access_id is a leaf of that tree.
  v1::GetInclusionProofRequest request;
  request.set_leaf_index(dossier.access_id());
  request.set_tree_size(c.tree_size());
  v1::GetInclusionProofResponse proof;
  {
    grpc::ClientContext context;
    TestStack::WithDeadline(context);
    ASSERT_TRUE(stub->GetInclusionProof(&context, request, &proof).ok());
  }
  v1::AccessRecord record = Record(dossier.access_id());
  std::vector<std::string> hashes(proof.hashes().begin(), proof.hashes().end());
  EXPECT_TRUE(VerifyInclusion(dossier.access_id(), c.tree_size(),
                              MerkleLeafHash(SerializeAccessRecord(record)), hashes,
                              c.root_hash())
                  .ok());
  record.set_purpose("something else");  // a rewritten record no longer proves in
  EXPECT_FALSE(VerifyInclusion(dossier.access_id(), c.tree_size(),
                               MerkleLeafHash(SerializeAccessRecord(record)), hashes,
                               c.root_hash())
                   .ok());
}

// A gateway whose companies registry is a remote onceonly-registry over mTLS, and whose tax
// registry is down: the dossier comes back partial, with each source's status.
TEST_F(GatewayMtlsTest, RemoteRegistryOverMtlsAndPartialDossier) {
  const std::string& d = stack_->dir();
  DevPkiOptions pki;
  ASSERT_TRUE(IssueServerCertificate(d + "/pki", "companies", pki).ok());
  auto connector = KboConnector::Create(d + "/kbo.db");
  ASSERT_TRUE(connector.ok());
  auto registry = RegistryServer::Start(*std::move(connector), "localhost:0", RegistryTls("companies"),
                                        {"spiffe://onceonly.brussels/gateway"});
  ASSERT_TRUE(registry.ok()) << registry.status();
  const std::string registry_address = "localhost:" + std::to_string((*registry)->port());

  // A member's certificate chains to the same CA, but the registry answers only the gateway.
  {
    auto member = CreateMutualTlsChannel(registry_address, MemberTls("pki", "brussels-economy"));
    ASSERT_TRUE(member.ok());
    grpc::ClientContext context;
    registry::v1::GetEnterpriseRequest request;
    request.set_enterprise_number("1029.028.161");
    registry::v1::GetEnterpriseResponse response;
    Rich r = Details(registry::v1::CompanyRegistry::NewStub(*member)->GetEnterprise(
        &context, request, &response));
    EXPECT_EQ(r.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_EQ(r.info.reason(), "CALLER_NOT_ALLOWED");
    EXPECT_FALSE(response.has_enterprise());
  }

  // The gateway's read mask: only the fields named come back, and a name the registry does
  // not know is refused with what to use instead.
  {
    auto gateway_channel = CreateMutualTlsChannel(registry_address, stack_->config().tls());
    ASSERT_TRUE(gateway_channel.ok());
    auto stub = registry::v1::CompanyRegistry::NewStub(*gateway_channel);
    registry::v1::GetEnterpriseRequest request;
    request.set_enterprise_number("1029.028.161");
    request.mutable_read_mask()->add_paths("addresses");
    registry::v1::GetEnterpriseResponse masked, whole;
    grpc::ClientContext masked_context, whole_context;
    ASSERT_TRUE(stub->GetEnterprise(&masked_context, request, &masked).ok());
    request.clear_read_mask();
    ASSERT_TRUE(stub->GetEnterprise(&whole_context, request, &whole).ok());
    ASSERT_GT(whole.enterprise().addresses_size(), 0);
    ASSERT_GT(whole.enterprise().denominations_size(), 0);
    EXPECT_EQ(masked.enterprise().enterprise_number(), "1029.028.161");
    EXPECT_EQ(masked.enterprise().addresses_size(), whole.enterprise().addresses_size());
    EXPECT_EQ(masked.enterprise().denominations_size(), 0);
    EXPECT_FALSE(masked.enterprise().has_status());
    EXPECT_TRUE(masked.enterprise().start_date().empty());

    request.mutable_read_mask()->add_paths("adresses");
    grpc::ClientContext bad_context;
    registry::v1::GetEnterpriseResponse refused;
    Rich r = Details(stub->GetEnterprise(&bad_context, request, &refused));
    EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(r.info.reason(), "UNKNOWN_FIELD");
    EXPECT_THAT(r.status.error_message(), ::testing::HasSubstr("\"adresses\" is not a field"));
    EXPECT_THAT(r.status.error_message(), ::testing::HasSubstr("addresses"));
  }

  config::v1::GatewayConfig config = RemoteCompaniesConfig("gateway-remote", registry_address);
  config.mutable_registries(0)->mutable_timeout()->set_seconds(2);
  auto* tax = config.add_registries();
  tax->set_name("tax");
  tax->mutable_remote()->set_address("localhost:1");  // nothing listens there
  *tax->mutable_remote()->mutable_tls() = stack_->config().tls();
  tax->mutable_timeout()->set_nanos(300'000'000);
  auto gateway = GatewayServer::Start(config, stack_->clock());
  ASSERT_TRUE(gateway.ok()) << gateway.status();

  auto channel = CreateMutualTlsChannel("localhost:" + std::to_string((*gateway)->port()),
                                        MemberTls("pki", "brussels-economy"));
  ASSERT_TRUE(channel.ok());
  v1::Dossier dossier;
  grpc::Status status =
      Call(*channel, Request("1029028161", {"company.identity", "tax.good_standing"}), &dossier);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(dossier.company().denominations(0).value(), "Cap Horizons ASBL");
  EXPECT_FALSE(dossier.has_tax());
  ASSERT_EQ(dossier.sources_size(), 2);
  EXPECT_EQ(dossier.sources(0).registry(), "companies");
  EXPECT_EQ(dossier.sources(0).code(), 0);
  EXPECT_EQ(dossier.sources(1).registry(), "tax");
  EXPECT_NE(dossier.sources(1).code(), 0);
  EXPECT_EQ(dossier.sources(1).message(), "the tax registry is unavailable");
  // Only what left is released, in the dossier and in its record.
  ASSERT_EQ(dossier.released_categories_size(), 1);
  EXPECT_EQ(dossier.released_categories(0), "company.identity");
  EXPECT_EQ(Record(dossier.access_id(), "gateway-remote").categories_released_size(), 1);
}

// A registry on a newer contract may send fields this gateway does not know. No category names
// them, so no minimisation could: they are dropped where the answer enters the gateway.
TEST_F(GatewayMtlsTest, FieldsOfANewerRegistryContractNeverReachTheCaller) {
  const std::string& d = stack_->dir();
  ASSERT_TRUE(IssueServerCertificate(d + "/pki", "newer-companies", DevPkiOptions()).ok());
  auto fake = std::make_unique<FakeConnector>("companies");
  registry::v1::SubjectRecords records;
  registry::v1::Enterprise* enterprise = records.mutable_enterprise();
  enterprise->set_enterprise_number("1029.028.161");
  enterprise->add_denominations()->set_value("Cap Horizons ASBL");
  // Field 99 of Enterprise and of a denomination: unknown to this gateway's protos.
  enterprise->GetReflection()->MutableUnknownFields(enterprise)->AddVarint(99, 42);
  auto* denomination = enterprise->mutable_denominations(0);
  denomination->GetReflection()->MutableUnknownFields(denomination)->AddLengthDelimited(99, "x");
  fake->Set("1029.028.161", records);
  auto registry = RegistryServer::Start(std::move(fake), "localhost:0",
                                        RegistryTls("newer-companies"),
                                        {"spiffe://onceonly.brussels/gateway"});
  ASSERT_TRUE(registry.ok()) << registry.status();

  auto gateway = GatewayServer::Start(
      RemoteCompaniesConfig("gateway-newer", "localhost:" + std::to_string((*registry)->port())),
      stack_->clock());
  ASSERT_TRUE(gateway.ok()) << gateway.status();
  auto channel = CreateMutualTlsChannel("localhost:" + std::to_string((*gateway)->port()),
                                        MemberTls("pki", "brussels-economy"));
  ASSERT_TRUE(channel.ok());
  v1::Dossier dossier;
  ASSERT_TRUE(Call(*channel, Request("1029028161", {"company.identity"}), &dossier).ok());
  ASSERT_EQ(dossier.company().denominations_size(), 1);
  EXPECT_EQ(dossier.company().denominations(0).value(), "Cap Horizons ASBL");
  EXPECT_TRUE(dossier.company().GetReflection()->GetUnknownFields(dossier.company()).empty());
  EXPECT_TRUE(dossier.company().denominations(0).GetReflection()
                  ->GetUnknownFields(dossier.company().denominations(0))
                  .empty());
}

}  // namespace
}  // namespace onceonly
