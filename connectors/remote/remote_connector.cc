#include "connectors/remote/remote_connector.h"

#include <grpcpp/client_context.h>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/status_macros.h"
#include "common/tls.h"
#include "onceonly/registry/v1/registry.grpc.pb.h"

namespace onceonly {
namespace {

namespace rv1 = registry::v1;

class RemoteConnector : public RegistryConnector {
 public:
  RemoteConnector(std::string registry, std::string address,
                  std::shared_ptr<grpc::Channel> channel)
      : registry_(std::move(registry)),
        address_(std::move(address)),
        companies_(rv1::CompanyRegistry::NewStub(channel)),
        permits_(rv1::PermitRegistry::NewStub(channel)),
        tax_(rv1::TaxRegistry::NewStub(channel)) {}

  absl::string_view name() const override { return registry_; }

  absl::StatusOr<rv1::SubjectRecords> Fetch(const FetchRequest& request) override {
    grpc::ClientContext context;
    if (request.deadline != absl::InfiniteFuture()) {
      context.set_deadline(absl::ToChronoTime(request.deadline));
    }
    rv1::SubjectRecords out;
    grpc::Status status;
    if (registry_ == "companies") {
      rv1::GetEnterpriseRequest req;
      req.set_enterprise_number(request.enterprise_number);
      req.set_language(request.language);
      rv1::GetEnterpriseResponse resp;
      status = companies_->GetEnterprise(&context, req, &resp);
      if (status.ok()) *out.mutable_enterprise() = std::move(*resp.mutable_enterprise());
    } else if (registry_ == "permits") {
      rv1::ListPermitsRequest req;
      req.set_enterprise_number(request.enterprise_number);
      rv1::ListPermitsResponse resp;
      status = permits_->ListPermits(&context, req, &resp);
      if (status.ok()) out.mutable_permits()->Swap(resp.mutable_permits());
    } else {
      rv1::GetTaxStatusRequest req;
      req.set_enterprise_number(request.enterprise_number);
      rv1::GetTaxStatusResponse resp;
      status = tax_->GetTaxStatus(&context, req, &resp);
      if (status.ok()) *out.mutable_tax_status() = std::move(*resp.mutable_tax_status());
    }
    if (!status.ok()) {
      absl::Status error = FromGrpcStatus(status);
      return absl::Status(error.code(),
                          absl::StrCat("registry ", registry_, " at ", address_, ": ",
                                       error.message()));
    }
    return out;
  }

 private:
  const std::string registry_;
  const std::string address_;
  std::unique_ptr<rv1::CompanyRegistry::Stub> companies_;
  std::unique_ptr<rv1::PermitRegistry::Stub> permits_;
  std::unique_ptr<rv1::TaxRegistry::Stub> tax_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<RegistryConnector>> CreateRemoteConnector(
    const std::string& registry, const config::v1::RemoteSource& source) {
  if (registry != "companies" && registry != "permits" && registry != "tax") {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown registry \"", registry, "\"; use companies, permits or tax"));
  }
  if (source.address().empty()) {
    return absl::InvalidArgumentError(absl::StrCat("registry ", registry, ": remote.address is not set"));
  }
  ASSIGN_OR_RETURN(auto channel,
                   CreateMutualTlsChannel(source.address(), source.tls(), source.server_name()));
  return std::unique_ptr<RegistryConnector>(
      new RemoteConnector(registry, source.address(), std::move(channel)));
}

}  // namespace onceonly
