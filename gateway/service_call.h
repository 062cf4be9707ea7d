// How every unary service call of the gateway runs on the gRPC callback API: read the call
// (identity, metadata, deadline), admit it, refuse refused metadata, run the service's body,
// and finish with the public status and one log line. RunLogged also appends the call's
// access record and answers only once it is committed (fail closed); RunUnary is for calls
// that read only what the caller may already see.
#ifndef ONCEONLY_GATEWAY_SERVICE_CALL_H_
#define ONCEONLY_GATEWAY_SERVICE_CALL_H_

#include <grpcpp/server_context.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "audit/access_log.h"
#include "authz/authz_store.h"
#include "authz/policy.h"
#include "common/clock.h"
#include "common/crl.h"
#include "common/ed25519.h"
#include "common/grpc_status.h"
#include "common/rich_status.h"
#include "gateway/admission.h"
#include "gateway/call_context.h"
#include "gateway/dossier_pipeline.h"

namespace onceonly {

// What the services share; every reference must outlive them.
struct ServiceContext {
  DossierPipeline& pipeline;  // the policy in force, and the decision for ExplainAccess
  AuthzStore& authz_store;
  AccessLog& access_log;
  const Ed25519Signer& receipt_signer;
  const Clock& clock;
  std::string trust_domain;
  std::string instance_name;
  absl::Duration default_deadline;
  RevocationList* revocations;         // null when no CRL is configured
  CallAdmission* admission = nullptr;  // null: no limits
  // Open registrations one member may hold for one subject and purpose.
  int max_open_registrations = 16;
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

// The firm portal says for which firm it acts (x-onceonly-acting-for); a call about `subject`
// must be about that firm (ACTING_FOR_REQUIRED, NOT_ACTING_FOR_SUBJECT otherwise), so that a
// mix-up in the portal cannot show or change one firm's affairs for another.
absl::Status RequireActingFor(const CallInfo& call, const std::string& subject);

// The longest `query` a member's call leaves in its record; the rest is cut (on a character).
inline constexpr size_t kMaxQueryBytes = 1024;

// The start of every service call: the call read (ResolveCall) and admitted. The ticket is
// held until the call is answered. A call over its limits is finished here, with the refusal
// and one log line, and the refusal is returned: the service then only returns `reactor`.
struct StartedCall {
  absl::Time started;
  CallInfo call;
  std::shared_ptr<const PolicySnapshot> policy;
  std::unique_ptr<CallAdmission::Ticket> ticket;
};
absl::StatusOr<StartedCall> StartCall(grpc::CallbackServerContext& context,
                                      const ServiceContext& ctx, absl::string_view method,
                                      grpc::ServerUnaryReactor* reactor);

// Runs `body(call)` (an absl::Status) for a unary call, then finishes it with its (public)
// status and one log line. The body runs synchronously, before Finish.
template <typename Body>
grpc::ServerUnaryReactor* RunUnary(grpc::CallbackServerContext* context,
                                   const ServiceContext& ctx, absl::string_view method,
                                   Body body) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<StartedCall> started = StartCall(*context, ctx, method, reactor);
  if (!started.ok()) return reactor;
  const CallInfo& call = started->call;
  absl::Status status =
      call.metadata_error.ok() ? PublicStatus(body(call), call) : call.metadata_error;
  LogRpc(call, status, started->started, "");
  started->ticket.reset();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

// The outcome part of a logged call's record, and its confinement (gateway/call_info.h):
// `record` holds CallRecord and what the body said was asked.
void CompleteServiceRecord(const PolicySnapshot& policy, const CallInfo& call,
                           const absl::Status& status, v1::AccessRecord& record);

// Like RunUnary, but `body(call, record)` also says in `record` what was asked (subject,
// purpose, query, ids); the call's access record is appended, and the answer (or refusal)
// leaves only once it committed.
template <typename Body>
grpc::ServerUnaryReactor* RunLogged(grpc::CallbackServerContext* context,
                                    const ServiceContext& ctx, absl::string_view method,
                                    Body body) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<StartedCall> started = StartCall(*context, ctx, method, reactor);
  if (!started.ok()) return reactor;
  v1::AccessRecord record = CallRecord(started->call, ctx.clock.Now());
  const absl::Status status = started->call.metadata_error.ok()
                                  ? PublicStatus(body(started->call, record), started->call)
                                  : started->call.metadata_error;
  CompleteServiceRecord(*started->policy, started->call, status, record);
  ctx.access_log.Append(
      std::move(record), [reactor, status, started = std::make_shared<StartedCall>(
                                               *std::move(started))](
                             absl::StatusOr<uint64_t> access_id) {
        absl::Status final_status = status;
        std::string id;
        if (access_id.ok()) {
          id = absl::StrCat(*access_id);
          if (!final_status.ok()) final_status = AddErrorMetadata(final_status, "access_id", id);
        } else {
          final_status = access_id.status();
        }
        LogRpc(started->call, final_status, started->started, id);
        started->ticket.reset();
        reactor->Finish(ToGrpcStatus(final_status));
      });
  return reactor;
}

}  // namespace onceonly

#endif  // ONCEONLY_GATEWAY_SERVICE_CALL_H_
