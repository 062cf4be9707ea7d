// The services members use besides GetDossier: the reference directory (RegistrationService),
// consents (ConsentService, firm-portal role) and DirectoryService (what may I ask, and why
// would this request be allowed or denied). All run on the gRPC callback API; their writes
// are synchronous SQLite commits, fine for their administrative call rates.
#ifndef ONCEONLY_GATEWAY_MEMBER_SERVICES_H_
#define ONCEONLY_GATEWAY_MEMBER_SERVICES_H_

#include <string>

#include "gateway/service_call.h"
#include "onceonly/v1/consent.grpc.pb.h"
#include "onceonly/v1/directory.grpc.pb.h"
#include "onceonly/v1/registration.grpc.pb.h"

namespace onceonly {

class RegistrationServiceImpl final : public v1::RegistrationService::CallbackService {
 public:
  explicit RegistrationServiceImpl(const ServiceContext& context) : ctx_(context) {}
  grpc::ServerUnaryReactor* RegisterCase(grpc::CallbackServerContext* context,
                                         const v1::RegisterCaseRequest* request,
                                         v1::RegisterCaseResponse* response) override;
  grpc::ServerUnaryReactor* EndCase(grpc::CallbackServerContext* context,
                                    const v1::EndCaseRequest* request,
                                    v1::EndCaseResponse* response) override;
  grpc::ServerUnaryReactor* ListRegistrations(grpc::CallbackServerContext* context,
                                              const v1::ListRegistrationsRequest* request,
                                              v1::ListRegistrationsResponse* response) override;

 private:
  const ServiceContext& ctx_;
};

class ConsentServiceImpl final : public v1::ConsentService::CallbackService {
 public:
  explicit ConsentServiceImpl(const ServiceContext& context) : ctx_(context) {}
  grpc::ServerUnaryReactor* GrantConsent(grpc::CallbackServerContext* context,
                                         const v1::GrantConsentRequest* request,
                                         v1::GrantConsentResponse* response) override;
  grpc::ServerUnaryReactor* RevokeConsent(grpc::CallbackServerContext* context,
                                          const v1::RevokeConsentRequest* request,
                                          v1::RevokeConsentResponse* response) override;
  grpc::ServerUnaryReactor* ListConsents(grpc::CallbackServerContext* context,
                                         const v1::ListConsentsRequest* request,
                                         v1::ListConsentsResponse* response) override;

 private:
  const ServiceContext& ctx_;
};

class DirectoryServiceImpl final : public v1::DirectoryService::CallbackService {
 public:
  explicit DirectoryServiceImpl(const ServiceContext& context) : ctx_(context) {}
  grpc::ServerUnaryReactor* ListAllowedAccess(grpc::CallbackServerContext* context,
                                              const v1::ListAllowedAccessRequest* request,
                                              v1::ListAllowedAccessResponse* response) override;
  grpc::ServerUnaryReactor* ExplainAccess(grpc::CallbackServerContext* context,
                                          const v1::ExplainAccessRequest* request,
                                          v1::ExplainAccessResponse* response) override;

 private:
  const ServiceContext& ctx_;
};

}  // namespace onceonly

#endif  // ONCEONLY_GATEWAY_MEMBER_SERVICES_H_
