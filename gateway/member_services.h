// The services members use besides GetDossier: the reference directory (RegistrationService),
// consents (ConsentService, firm-portal role) and DirectoryService (what may I ask, and why
// would this request be allowed or denied). All run on the gRPC callback API; their writes
// are synchronous SQLite commits, fine for their administrative call rates.
#ifndef ONCEONLY_GATEWAY_MEMBER_SERVICES_H_
#define ONCEONLY_GATEWAY_MEMBER_SERVICES_H_

#include <string>

#include "absl/time/time.h"
#include "authz/authz_store.h"
#include "common/clock.h"
#include "common/crl.h"
#include "common/ed25519.h"
#include "common/grpc_status.h"
#include "gateway/call_context.h"
#include "gateway/admission.h"
#include "gateway/dossier_pipeline.h"
#include "onceonly/v1/consent.grpc.pb.h"
#include "onceonly/v1/directory.grpc.pb.h"
#include "onceonly/v1/registration.grpc.pb.h"

namespace onceonly {

// What the services share; every reference must outlive them.
struct ServiceContext {
  DossierPipeline& pipeline;  // the policy in force, and the decision for ExplainAccess
  AuthzStore& authz_store;
  const Ed25519Signer& receipt_signer;
  const Clock& clock;
  std::string trust_domain;
  std::string instance_name;
  absl::Duration default_deadline;
  RevocationList* revocations;  // null when no CRL is configured
  MemberAdmission* admission = nullptr;  // GetDossier's per-member limits; null: none
};

// The calling member (UNKNOWN_MEMBER if its certificate names none), and the same requiring
// `role` (ROLE_REQUIRED).
absl::StatusOr<const config::v1::Member*> CallerMember(const PolicySnapshot& policy,
                                                       const CallInfo& call);
absl::StatusOr<const config::v1::Member*> CallerWithRole(const PolicySnapshot& policy,
                                                         const CallInfo& call,
                                                         config::v1::Role role);
// The canonical form of an enterprise number sent in `field` (INVALID_ENTERPRISE_NUMBER).
absl::StatusOr<std::string> CanonicalSubject(absl::string_view number, absl::string_view field);

// Runs `body(call)` for a unary call on the callback API, then finishes the call with its
// (public) status and one log line. The body runs synchronously, before Finish.
template <typename Body>
grpc::ServerUnaryReactor* RunUnary(grpc::CallbackServerContext* context,
                                   const ServiceContext& ctx, absl::string_view method,
                                   Body body) {
  const absl::Time started = absl::Now();
  CallInfo call =
      ResolveCall(*context, method, ctx.trust_domain, ctx.default_deadline, ctx.revocations);
  absl::Status status = PublicStatus(body(call), call);
  LogRpc(call, status, started, "");
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

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
