#include "gateway/service_call.h"

#include "absl/strings/str_cat.h"
#include "common/enterprise_number.h"
#include "common/status_macros.h"
#include "common/utf8.h"

namespace onceonly {

absl::StatusOr<const config::v1::Member*> CallerMember(const PolicySnapshot& policy,
                                                       const CallInfo& call) {
  if (!call.identity.ok()) return call.identity.status();
  const config::v1::Member* member = policy.FindMember(*call.identity);
  if (member == nullptr) {
    return ErrorWithReason(absl::StatusCode::kPermissionDenied, "UNKNOWN_MEMBER",
                           absl::StrCat("certificate identity ", call.identity->uri,
                                        " is not a member in the policy"));
  }
  return member;
}

absl::StatusOr<const config::v1::Member*> CallerWithRole(const PolicySnapshot& policy,
                                                         const CallInfo& call,
                                                         config::v1::Role role) {
  ASSIGN_OR_RETURN(const config::v1::Member* member, CallerMember(policy, call));
  if (!HasRole(*member, role)) {
    return ErrorWithReason(absl::StatusCode::kPermissionDenied, "ROLE_REQUIRED",
                           absl::StrCat("member ", member->id(), " lacks the ",
                                        config::v1::Role_Name(role), " role for this call"));
  }
  return member;
}

absl::StatusOr<std::string> CanonicalSubject(absl::string_view number, absl::string_view field) {
  absl::StatusOr<std::string> subject = CanonicalEnterpriseNumber(number);
  if (!subject.ok()) {
    return InvalidField(field, "INVALID_ENTERPRISE_NUMBER", subject.status().message());
  }
  return subject;
}

absl::Status RequireActingFor(const CallInfo& call, const std::string& subject) {
  if (call.acting_for.empty()) {
    return ErrorWithReason(absl::StatusCode::kPermissionDenied, "ACTING_FOR_REQUIRED",
                           "send x-onceonly-acting-for: the enterprise number of the firm "
                           "whose representative is signed in");
  }
  absl::StatusOr<std::string> acting_for = CanonicalEnterpriseNumber(call.acting_for);
  if (!acting_for.ok() || *acting_for != subject) {
    return ErrorWithReason(absl::StatusCode::kPermissionDenied, "NOT_ACTING_FOR_SUBJECT",
                           absl::StrCat("the portal acts for ", call.acting_for, ", not for ",
                                        subject, "; a firm sees and changes only its own "
                                        "affairs"));
  }
  return absl::OkStatus();
}

absl::StatusOr<StartedCall> StartCall(grpc::CallbackServerContext& context,
                                      const ServiceContext& ctx, absl::string_view method,
                                      grpc::ServerUnaryReactor* reactor) {
  StartedCall started;
  started.started = absl::Now();
  started.call =
      ResolveCall(context, method, ctx.trust_domain, ctx.default_deadline, ctx.revocations);
  started.policy = ctx.pipeline.policy();
  if (ctx.admission != nullptr) {
    absl::StatusOr<std::unique_ptr<CallAdmission::Ticket>> ticket =
        ctx.admission->Admit(*started.policy, started.call, CallKind::kService);
    if (!ticket.ok()) {
      LogRpc(started.call, ticket.status(), started.started, "");
      reactor->Finish(ToGrpcStatus(ticket.status()));
      return ticket.status();
    }
    started.ticket = *std::move(ticket);
  }
  return started;
}

void CompleteServiceRecord(const PolicySnapshot& policy, const CallInfo& call,
                           const absl::Status& status, v1::AccessRecord& record) {
  const config::v1::Member* member =
      call.identity.ok() ? policy.FindMember(*call.identity) : nullptr;
  if (member != nullptr) record.set_member(member->id());
  record.set_decision(status.ok() ? v1::DECISION_ALLOW : v1::DECISION_DENY);
  record.set_reason(status.ok() ? "ALLOWED" : ErrorReason(status));
  if (member == nullptr || !call.metadata_error.ok()) {
    // Nothing of this call was checked against the policy: fixed fields only.
    ConfineToFixedFields(policy, call, &record);
  } else {
    record.set_query(BoundedUtf8(record.query(), kMaxQueryBytes));
  }
}

}  // namespace onceonly
