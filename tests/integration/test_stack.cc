#include "tests/integration/test_stack.h"

#include <filesystem>
#include <fstream>

#include "audit/access_log_store.h"
#include "common/status_macros.h"
#include "common/tls.h"
#include "connectors/kbo/kbo_connector.h"
#include "connectors/kbo/kbo_import.h"
#include "connectors/kbo/kbo_store.h"
#include "connectors/remote/fault_injection.h"
#include "connectors/remote/registry_server.h"
#include "connectors/sql/sample_seed.h"
#include "gateway/gateway_config.h"
#include "google/protobuf/util/json_util.h"
#include "google/rpc/status.pb.h"
#include "onceonly/v1/dossier.grpc.pb.h"
#include "tools/pki/dev_pki.h"

namespace onceonly {

namespace fs = std::filesystem;

RichStatus Details(const grpc::Status& status) {
  RichStatus r{status, {}, {}};
  google::rpc::Status rich;
  if (rich.ParseFromString(status.error_details())) {
    for (const auto& any : rich.details()) {
      if (any.Is<google::rpc::ErrorInfo>()) any.UnpackTo(&r.info);
      if (any.Is<google::rpc::BadRequest>()) any.UnpackTo(&r.bad_request);
    }
  }
  return r;
}

absl::StatusOr<std::unique_ptr<TestStack>> TestStack::Create(const std::string& dir,
                                                            absl::Time now) {
  std::unique_ptr<TestStack> stack(new TestStack());
  stack->dir_ = dir;
  stack->clock_ = std::make_unique<FakeClock>(now);
  std::error_code ignored;
  fs::remove_all(dir, ignored);
  fs::create_directories(dir);
  const std::string pki = dir + "/pki";
  DevPkiOptions options;
  RETURN_IF_ERROR(InitDevPki(pki, options));
  for (const char* member : {"brussels-economy", "urban-brussels", "firm-portal",
                             "audit-office", "stranger"}) {
    RETURN_IF_ERROR(IssueMemberCertificate(pki, member, "", options).status());
  }
  RETURN_IF_ERROR(IssueMemberCertificate(pki, "brussels-economy", "tender-app", options).status());
  RETURN_IF_ERROR(InitDevPki(dir + "/other-pki", options));
  RETURN_IF_ERROR(
      IssueMemberCertificate(dir + "/other-pki", "brussels-economy", "", options).status());

  RETURN_IF_ERROR(ImportKboExtract(ONCEONLY_KBO_EXTRACT, dir + "/kbo.db", nullptr).status());
  ASSIGN_OR_RETURN(auto store, KboStore::Open(dir + "/kbo.db"));
  ASSIGN_OR_RETURN(auto enterprises, store->ListEnterpriseSummaries(1000));
  RETURN_IF_ERROR(SeedSampleRegistries(enterprises, dir + "/registries.db").status());
  fs::copy_file(std::string(ONCEONLY_SOURCE_DIR) + "/deploy/demo/policy.yaml",
                dir + "/policy.yaml", fs::copy_options::overwrite_existing);

  config::v1::GatewayConfig config;
  config.set_listen_address("localhost:0");
  config.mutable_tls()->set_cert_file("pki/server.crt");
  config.mutable_tls()->set_key_file("pki/server.key");
  config.mutable_tls()->set_ca_file("pki/ca.crt");
  config.mutable_tls()->set_crl_file("pki/crl.pem");
  config.set_policy_file("policy.yaml");
  config.mutable_audit()->set_sqlite_path("audit.db");
  // Checkpoints soon after each access, so that tests waiting for one wait little.
  config.mutable_audit()->mutable_checkpoint_interval()->set_nanos(50000000);
  config.mutable_authz_store()->set_sqlite_path("authz.db");
  config.set_signing_key_file("pki/checkpoint.key");
  config.mutable_policy_poll_interval()->set_seconds(0);  // tests reload explicitly
  auto* companies = config.add_registries();
  companies->set_name("companies");
  companies->mutable_kbo()->set_sqlite_path("kbo.db");
  for (const char* name : {"permits", "tax"}) {
    auto* r = config.add_registries();
    r->set_name(name);
    r->mutable_sql()->set_sqlite_path("registries.db");
  }
  ASSIGN_OR_RETURN(stack->config_, FinishGatewayConfig(config, dir + "/gateway.yaml"));
  stack->config_.mutable_policy_poll_interval()->set_seconds(0);
  ASSIGN_OR_RETURN(stack->server_, GatewayServer::Start(stack->config_, *stack->clock_));
  return stack;
}

absl::Status TestStack::Restart() {
  server_.reset();
  ASSIGN_OR_RETURN(server_, GatewayServer::Start(config_, *clock_));
  return absl::OkStatus();
}

void TestStack::StopGateway() { server_.reset(); }

absl::Status TestStack::WriteConfigFile(const std::string& path) const {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;  // the YAML spelling of docs/operator-guide.md
  if (!google::protobuf::util::MessageToJsonString(config_, &json, options).ok()) {
    return absl::InternalError("cannot print the gateway config as JSON");
  }
  std::ofstream out(path, std::ios::trunc);
  out << json << "\n";
  out.close();
  if (!out) return absl::UnavailableError("cannot write " + path);
  return absl::OkStatus();
}

std::string TestStack::address() const {
  return "localhost:" + std::to_string(server_->port());
}

config::v1::TlsFiles TestStack::MemberTls(const std::string& file, const std::string& pki) const {
  config::v1::TlsFiles tls;
  tls.set_cert_file(dir_ + "/" + pki + "/members/" + file + ".crt");
  tls.set_key_file(dir_ + "/" + pki + "/members/" + file + ".key");
  tls.set_ca_file(dir_ + "/pki/ca.crt");  // trust the gateway's CA in every case
  return tls;
}

std::shared_ptr<grpc::Channel> TestStack::Channel(const std::string& member,
                                                  const std::string& pki) const {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      CreateMutualTlsChannel(address(), MemberTls(member, pki));
  return channel.ok() ? *channel : nullptr;
}

void TestStack::WithDeadline(grpc::ClientContext& context) {
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
}

grpc::Status TestStack::GetDossier(const std::string& member,
                                   const v1::GetDossierRequest& request, v1::Dossier* dossier,
                                   const std::string& pki, const std::string& case_ref) const {
  grpc::ClientContext context;
  WithDeadline(context);
  if (!case_ref.empty()) context.AddMetadata("x-onceonly-case-ref", case_ref);
  context.AddMetadata("x-onceonly-user", "u-7f3a");
  return v1::DossierService::NewStub(Channel(member, pki))->GetDossier(&context, request, dossier);
}

absl::StatusOr<v1::AccessRecord> TestStack::Record(uint64_t access_id,
                                                   const std::string& log_id) const {
  ASSIGN_OR_RETURN(auto store,
                   OpenSqliteAccessLogStore(config_.audit().sqlite_path(), StoreAccess::kReadOnly));
  ASSIGN_OR_RETURN(auto records, store->Read(log_id, access_id, 1));
  if (records.size() != 1) return absl::NotFoundError("no such access record");
  return records[0];
}

absl::StatusOr<uint64_t> TestStack::LogSize(const std::string& log_id) const {
  ASSIGN_OR_RETURN(auto store,
                   OpenSqliteAccessLogStore(config_.audit().sqlite_path(), StoreAccess::kReadOnly));
  return store->Size(log_id);
}

v1::GetDossierRequest TestStack::Request(const std::string& number, const std::string& purpose,
                                         std::vector<std::string> categories) {
  v1::GetDossierRequest r;
  r.set_enterprise_number(number);
  r.set_purpose(purpose);
  for (const auto& c : categories) r.add_categories(c);
  return r;
}

absl::StatusOr<FaultyRegistry> StartFaultyCompaniesRegistry(const TestStack& stack,
                                                            const FaultSpec& spec) {
  const std::string& d = stack.dir();
  RETURN_IF_ERROR(IssueServerCertificate(d + "/pki", "companies", DevPkiOptions()).status());
  ASSIGN_OR_RETURN(auto kbo, KboConnector::Create(d + "/kbo.db"));
  auto faulty = std::make_unique<FaultInjectingConnector>(std::move(kbo), spec);
  FaultyRegistry out;
  out.faults = faulty.get();
  config::v1::TlsFiles tls;
  tls.set_cert_file(d + "/pki/servers/companies.crt");
  tls.set_key_file(d + "/pki/servers/companies.key");
  tls.set_ca_file(d + "/pki/ca.crt");
  ASSIGN_OR_RETURN(out.server, RegistryServer::Start(std::move(faulty), "localhost:0", tls,
                                                     {"spiffe://onceonly.brussels/gateway"}));
  return out;
}

}  // namespace onceonly
