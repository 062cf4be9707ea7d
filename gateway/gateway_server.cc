#include "gateway/gateway_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <atomic>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "audit/access_log.h"
#include "common/grpc_status.h"
#include "common/json_escape.h"
#include "common/rich_status.h"
#include "common/status_macros.h"
#include "common/thread_pool.h"
#include "common/tls.h"
#include "connectors/kbo/kbo_connector.h"
#include "connectors/remote/remote_connector.h"
#include "connectors/sql/sql_connectors.h"
#include "gateway/dossier_pipeline.h"
#include "onceonly/v1/audit.grpc.pb.h"
#include "onceonly/v1/consent.grpc.pb.h"
#include "onceonly/v1/directory.grpc.pb.h"
#include "onceonly/v1/dossier.grpc.pb.h"

namespace onceonly {
namespace {

std::string Metadata(const grpc::CallbackServerContext& context, const char* key) {
  auto it = context.client_metadata().find(key);
  if (it == context.client_metadata().end()) return "";
  return std::string(it->second.data(), it->second.size());
}

// The certificate subject (or common name) of a peer that carries no member identity.
std::string PeerSubject(const grpc::AuthContext& context) {
  for (const char* property : {"x509_subject", "x509_common_name"}) {
    std::vector<grpc::string_ref> values = context.FindPropertyValues(property);
    if (!values.empty()) {
      return absl::StrCat("certificate ", property == std::string("x509_subject") ? "" : "CN=",
                          absl::string_view(values[0].data(), values[0].size()));
    }
  }
  return "no certificate identity";
}

absl::StatusOr<std::unique_ptr<RegistryConnector>> BuildConnector(
    const config::v1::RegistryConfig& r) {
  switch (r.source_case()) {
    case config::v1::RegistryConfig::kKbo: {
      ASSIGN_OR_RETURN(auto c, KboConnector::Create(r.kbo().sqlite_path()));
      return std::unique_ptr<RegistryConnector>(std::move(c));
    }
    case config::v1::RegistryConfig::kSql:
      if (r.name() == "permits") {
        ASSIGN_OR_RETURN(auto c, PermitConnector::Create(r.sql().sqlite_path()));
        return std::unique_ptr<RegistryConnector>(std::move(c));
      } else {
        ASSIGN_OR_RETURN(auto c, TaxConnector::Create(r.sql().sqlite_path()));
        return std::unique_ptr<RegistryConnector>(std::move(c));
      }
    case config::v1::RegistryConfig::kRemote:
      return CreateRemoteConnector(r.name(), r.remote());
    default:
      return absl::InvalidArgumentError(absl::StrCat("registry ", r.name(), " has no source"));
  }
}

}  // namespace

// The gRPC surface. DossierService is implemented; the services of later issues are
// registered with their generated defaults, which answer UNIMPLEMENTED.
class GatewayServer::Services {
 public:
  Services(DossierPipeline& pipeline, const config::v1::GatewayConfig& config)
      : dossier_(pipeline, config) {}

  class Dossier final : public v1::DossierService::CallbackService {
   public:
    Dossier(DossierPipeline& pipeline, const config::v1::GatewayConfig& config)
        : pipeline_(pipeline),
          trust_domain_(config.trust_domain()),
          default_deadline_(absl::Seconds(config.default_deadline().seconds()) +
                            absl::Nanoseconds(config.default_deadline().nanos())) {}

    grpc::ServerUnaryReactor* GetDossier(grpc::CallbackServerContext* context,
                                         const v1::GetDossierRequest* request,
                                         v1::Dossier* response) override {
      grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
      const absl::Time started = absl::Now();
      CallInfo call;
      call.method = "/onceonly.v1.DossierService/GetDossier";
      call.case_ref = Metadata(*context, "x-onceonly-case-ref");
      call.user = Metadata(*context, "x-onceonly-user");
      call.request_id = Metadata(*context, "x-request-id");
      if (call.request_id.empty()) {
        call.request_id = absl::StrFormat("%s-%d", absl::FormatTime("%Y%m%dT%H%M%S", started,
                                                                     absl::UTCTimeZone()),
                                          next_request_.fetch_add(1));
      }
      // The caller's deadline if it set one; the configured default only if it did not.
      call.deadline = context->deadline() == std::chrono::system_clock::time_point::max()
                          ? started + default_deadline_
                          : absl::FromChrono(context->deadline());
      // 1 authenticate: the identity is the URI SAN of the verified client certificate.
      absl::StatusOr<std::vector<std::string>> uris = PeerUriSans(*context->auth_context());
      call.identity = uris.ok() ? IdentityFromUriSans(*uris, trust_domain_)
                                : absl::StatusOr<MemberIdentity>(uris.status());
      if (!call.identity.ok()) call.peer_description = PeerSubject(*context->auth_context());
      std::string member = call.identity.ok() ? call.identity->uri : "";
      pipeline_.GetDossier(
          call, *request,
          [reactor, response, started, member, method = call.method](
              absl::StatusOr<v1::Dossier> dossier) {
            absl::Status status = dossier.status();
            std::string access_id;
            if (dossier.ok()) {
              access_id = absl::StrCat(dossier->access_id());
              *response = std::move(*dossier);
            } else {
              access_id = ErrorMetadata(status, "access_id");  // logged denials have one
            }
            // One JSON line per RPC.
            std::cerr << absl::StrFormat(
                "{\"time\":\"%s\",\"method\":\"%s\",\"identity\":\"%s\",\"status\":\"%s\","
                "\"reason\":\"%s\",\"latency_ms\":%.3f,\"access_id\":\"%s\"}\n",
                absl::FormatTime(absl::RFC3339_full, absl::Now(), absl::UTCTimeZone()), method,
                JsonEscape(member), absl::StatusCodeToString(status.code()),
                JsonEscape(ErrorReason(status)), absl::ToDoubleMilliseconds(absl::Now() - started),
                access_id);
            reactor->Finish(ToGrpcStatus(status));
          });
      return reactor;
    }

   private:
    DossierPipeline& pipeline_;
    const std::string trust_domain_;
    const absl::Duration default_deadline_;
    std::atomic<uint64_t> next_request_{0};
  };

  Dossier dossier_;
  v1::ConsentService::CallbackService consent_;
  v1::AuditService::CallbackService audit_;
  v1::DirectoryService::CallbackService directory_;
};

absl::StatusOr<std::unique_ptr<GatewayServer>> GatewayServer::Start(
    const config::v1::GatewayConfig& config, const Clock& clock) {
  std::unique_ptr<GatewayServer> server(new GatewayServer());
  server->config_ = config;
  ASSIGN_OR_RETURN(auto policy, PolicySnapshot::Load(config.policy_file()));
  std::map<std::string, RegistryEndpoint> registries;
  for (const auto& r : config.registries()) {
    absl::StatusOr<std::unique_ptr<RegistryConnector>> connector = BuildConnector(r);
    if (!connector.ok()) {
      return absl::Status(connector.status().code(),
                          absl::StrCat("registry ", r.name(), ": ", connector.status().message()));
    }
    RegistryEndpoint endpoint;
    endpoint.connector = *std::move(connector);
    endpoint.timeout = absl::Seconds(r.timeout().seconds()) + absl::Nanoseconds(r.timeout().nanos());
    registries.emplace(r.name(), std::move(endpoint));
  }
  ASSIGN_OR_RETURN(auto store, OpenSqliteAccessLogStore(config.audit().sqlite_path()));
  ASSIGN_OR_RETURN(server->access_log_,
                   AccessLog::Create(std::move(store), config.instance_name(),
                                     static_cast<int>(config.audit().max_batch())));
  server->fetch_pool_ = std::make_unique<ThreadPool>(static_cast<int>(config.fetch_threads()));
  server->pipeline_ = std::make_unique<DossierPipeline>(
      std::move(policy), std::move(registries), *server->access_log_, *server->fetch_pool_,
      clock);
  server->services_ = std::make_unique<Services>(*server->pipeline_, server->config_);

  ASSIGN_OR_RETURN(auto credentials, MutualTlsServerCredentials(config.tls()));
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(config.listen_address(), credentials, &server->port_);
  builder.RegisterService(&server->services_->dossier_);
  builder.RegisterService(&server->services_->consent_);
  builder.RegisterService(&server->services_->audit_);
  builder.RegisterService(&server->services_->directory_);
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", config.listen_address(), " (in use?)"));
  }
  return server;
}

GatewayServer::~GatewayServer() {
  Shutdown();
  // Drain in order: queued fetches append their records, the log commits them and finishes
  // their calls, and only then may the server object (and the services) go.
  fetch_pool_.reset();
  access_log_.reset();
  server_.reset();
  pipeline_.reset();
}

void GatewayServer::Wait() { server_->Wait(); }

void GatewayServer::Shutdown() {
  if (server_ != nullptr) {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  }
}

absl::Status GatewayServer::ReloadPolicy() {
  ASSIGN_OR_RETURN(auto policy, PolicySnapshot::Load(config_.policy_file()));
  pipeline_->SetPolicy(std::move(policy));
  return absl::OkStatus();
}

}  // namespace onceonly
