#include "connectors/remote/registry_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/enterprise_number.h"
#include "common/grpc_status.h"
#include "common/rich_status.h"
#include "common/status_macros.h"
#include "common/tls.h"
#include "onceonly/registry/v1/registry.grpc.pb.h"

namespace onceonly {
namespace {

namespace rv1 = registry::v1;

// Only the gateway(s) named at start may call: a member's certificate chains to the same CA.
absl::Status AuthoriseCaller(const grpc::ServerContext& context,
                             const std::vector<std::string>& allowed) {
  absl::StatusOr<std::vector<std::string>> uris = PeerUriSans(*context.auth_context());
  if (uris.ok()) {
    for (const std::string& uri : *uris) {
      if (std::find(allowed.begin(), allowed.end(), uri) != allowed.end()) {
        return absl::OkStatus();
      }
    }
  }
  return ErrorWithReason(absl::StatusCode::kPermissionDenied, "CALLER_NOT_ALLOWED",
                         "this registry answers only the gateway; members fetch data through "
                         "the gateway, where access is checked and logged");
}

// Checks the caller, validates the number, applies the caller's deadline, and fetches.
absl::StatusOr<rv1::SubjectRecords> FetchFor(RegistryConnector& connector,
                                             const std::vector<std::string>& allowed,
                                             const grpc::ServerContext& context,
                                             const std::string& number,
                                             const std::string& language,
                                             std::vector<std::string> fields = {}) {
  RETURN_IF_ERROR(AuthoriseCaller(context, allowed));
  absl::StatusOr<std::string> canonical = CanonicalEnterpriseNumber(number);
  if (!canonical.ok()) {
    return InvalidField("enterprise_number", "INVALID_ENTERPRISE_NUMBER",
                        canonical.status().message());
  }
  FetchRequest request;
  request.enterprise_number = *canonical;
  if (!language.empty()) request.language = language;
  request.deadline = absl::FromChrono(context.deadline());
  request.fields = std::move(fields);
  return connector.Fetch(request);
}

class CompanyService final : public rv1::CompanyRegistry::Service {
 public:
  CompanyService(RegistryConnector& c, const std::vector<std::string>& allowed)
      : connector_(c), allowed_(allowed) {}
  grpc::Status GetEnterprise(grpc::ServerContext* context, const rv1::GetEnterpriseRequest* req,
                             rv1::GetEnterpriseResponse* resp) override {
    auto records = FetchFor(connector_, allowed_, *context, req->enterprise_number(), req->language(),
                            {req->read_mask().paths().begin(), req->read_mask().paths().end()});
    if (!records.ok()) return ToGrpcStatus(records.status());
    *resp->mutable_enterprise() = std::move(*records->mutable_enterprise());
    return grpc::Status::OK;
  }

  grpc::Status SearchEnterprises(grpc::ServerContext* context,
                                 const rv1::SearchEnterprisesRequest* req,
                                 rv1::SearchEnterprisesResponse* resp) override {
    absl::Status allowed = AuthoriseCaller(*context, allowed_);
    if (!allowed.ok()) return ToGrpcStatus(allowed);
    EnterpriseSearch* search = connector_.enterprise_search();
    if (search == nullptr) {
      return ToGrpcStatus(ErrorWithReason(
          absl::StatusCode::kUnimplemented, "SEARCH_NOT_SUPPORTED",
          "this companies registry cannot search enterprises (its connector has no search); "
          "look enterprises up by number with GetEnterprise"));
    }
    auto page = search->SearchEnterprises(*req, absl::FromChrono(context->deadline()));
    if (!page.ok()) return ToGrpcStatus(page.status());
    *resp = std::move(*page);
    return grpc::Status::OK;
  }

 private:
  RegistryConnector& connector_;
  const std::vector<std::string>& allowed_;
};

class PermitService final : public rv1::PermitRegistry::Service {
 public:
  PermitService(RegistryConnector& c, const std::vector<std::string>& allowed)
      : connector_(c), allowed_(allowed) {}
  grpc::Status ListPermits(grpc::ServerContext* context, const rv1::ListPermitsRequest* req,
                           rv1::ListPermitsResponse* resp) override {
    auto records = FetchFor(connector_, allowed_, *context, req->enterprise_number(), "");
    if (!records.ok()) return ToGrpcStatus(records.status());
    resp->mutable_permits()->Swap(records->mutable_permits());
    return grpc::Status::OK;
  }

 private:
  RegistryConnector& connector_;
  const std::vector<std::string>& allowed_;
};

class TaxService final : public rv1::TaxRegistry::Service {
 public:
  TaxService(RegistryConnector& c, const std::vector<std::string>& allowed)
      : connector_(c), allowed_(allowed) {}
  grpc::Status GetTaxStatus(grpc::ServerContext* context, const rv1::GetTaxStatusRequest* req,
                            rv1::GetTaxStatusResponse* resp) override {
    auto records = FetchFor(connector_, allowed_, *context, req->enterprise_number(), "");
    if (!records.ok()) return ToGrpcStatus(records.status());
    *resp->mutable_tax_status() = std::move(*records->mutable_tax_status());
    return grpc::Status::OK;
  }

 private:
  RegistryConnector& connector_;
  const std::vector<std::string>& allowed_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<RegistryServer>> RegistryServer::Start(
    std::unique_ptr<RegistryConnector> connector, const std::string& listen_address,
    const config::v1::TlsFiles& tls, std::vector<std::string> allowed_clients) {
  if (allowed_clients.empty()) {
    return absl::InvalidArgumentError(
        "name at least one allowed client identity (the gateway's URI SAN)");
  }
  ASSIGN_OR_RETURN(auto credentials, MutualTlsServerCredentials(tls));
  std::unique_ptr<RegistryServer> server(new RegistryServer());
  server->connector_ = std::move(connector);
  server->allowed_clients_ = std::move(allowed_clients);
  const std::vector<std::string>& allowed = server->allowed_clients_;
  RegistryConnector& c = *server->connector_;
  if (c.name() == "companies") {
    server->service_ = std::make_unique<CompanyService>(c, allowed);
  } else if (c.name() == "permits") {
    server->service_ = std::make_unique<PermitService>(c, allowed);
  } else if (c.name() == "tax") {
    server->service_ = std::make_unique<TaxService>(c, allowed);
  } else {
    return absl::InvalidArgumentError(absl::StrCat("no registry contract for \"", c.name(), "\""));
  }
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(listen_address, credentials, &server->port_);
  builder.RegisterService(server->service_.get());
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", listen_address));
  }
  return server;
}

RegistryServer::~RegistryServer() { Shutdown(); }

void RegistryServer::Wait() { server_->Wait(); }

void RegistryServer::Shutdown() {
  if (server_ != nullptr) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
}

}  // namespace onceonly
