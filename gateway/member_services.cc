#include "gateway/member_services.h"

#include <iostream>

#include "absl/strings/str_cat.h"
#include "authz/categories.h"
#include "authz/consent_receipt.h"
#include "common/enterprise_number.h"
#include "common/grpc_status.h"
#include "common/rich_status.h"
#include "common/status_macros.h"
#include "common/json_escape.h"
#include "common/proto_time.h"
#include "common/utf8.h"
#include "gateway/call_context.h"
#include "google/protobuf/util/time_util.h"

namespace onceonly {
namespace {

using config::v1::Member;
using config::v1::Role;

constexpr absl::Duration kDefaultMaxRegistration = absl::Hours(24 * 365);



// Within google.protobuf.Timestamp's range: years 0001 to 9999, nanos in [0, 1e9).
bool ValidTimestamp(const google::protobuf::Timestamp& ts) {
  return ts.seconds() >= -62135596800 && ts.seconds() <= 253402300799 && ts.nanos() >= 0 &&
         ts.nanos() <= 999999999;
}


// Signs the receipt of a consent already committed. Signing with a loaded key does not fail in
// practice; if it ever does, the caller still learns its consent id, and the log says why.
v1::SignedReceipt SignReceipt(const ServiceContext& ctx, const v1::Consent& consent,
                              const CallInfo& call) {
  absl::StatusOr<v1::SignedReceipt> receipt =
      SignConsentReceipt(consent, ctx.instance_name, ctx.receipt_signer);
  if (!receipt.ok()) {
    std::cerr << "{\"event\":\"receipt_signing_failed\",\"request_id\":\""
              << JsonEscape(call.request_id) << "\",\"detail\":\""
              << JsonEscape(receipt.status().message()) << "\"}\n";
    return v1::SignedReceipt();
  }
  return *std::move(receipt);
}


}  // namespace

// ---- RegistrationService ------------------------------------------------------------------

grpc::ServerUnaryReactor* RegistrationServiceImpl::RegisterCase(
    grpc::CallbackServerContext* context, const v1::RegisterCaseRequest* request,
    v1::RegisterCaseResponse* response) {
  return RunLogged(context, ctx_, "/onceonly.v1.RegistrationService/RegisterCase",
               [&](const CallInfo& call, v1::AccessRecord& record) -> absl::Status {
    auto policy = ctx_.pipeline.policy();
    // What was asked, as far as it is known; a caller who is not a member leaves digests.
    record.set_subject(request->subject());
    record.set_purpose(request->purpose());
    record.set_case_ref(request->case_ref());
    record.set_query("register case");
    ASSIGN_OR_RETURN(const Member* member, CallerWithRole(*policy, call, config::v1::CONSUMER));
    ASSIGN_OR_RETURN(std::string subject, CanonicalSubject(request->subject(), "subject"));
    record.set_subject(subject);
    const config::v1::Purpose* purpose = policy->FindPurpose(request->purpose());
    if (purpose == nullptr) {
      return InvalidField("purpose", "UNKNOWN_PURPOSE",
                          absl::StrCat("unknown purpose \"", request->purpose(), "\""));
    }
    if (!purpose->requires_registration()) {
      return ErrorWithReason(absl::StatusCode::kFailedPrecondition, "REGISTRATION_NOT_USED",
                             absl::StrCat("purpose ", purpose->id(),
                                          " does not use registrations; fetch without one"));
    }
    // The case reference travels in x-onceonly-case-ref when the case is used, so it must
    // be a valid metadata value.
    if (request->case_ref().empty() || request->case_ref().size() > 200 ||
        !IsPrintableAscii(request->case_ref())) {
      record.clear_case_ref();
      return InvalidField("case_ref", "CASE_REF_REQUIRED",
                          "name the case in printable ASCII (at most 200 characters): the "
                          "reference of your file for this subject, as you will send it in "
                          "x-onceonly-case-ref");
    }
    for (const auto& [field, ts] : {std::pair<const char*, const google::protobuf::Timestamp*>{
                                        "valid_from", &request->valid_from()},
                                    {"valid_until", &request->valid_until()}}) {
      if (!ValidTimestamp(*ts)) {
        return InvalidField(field, "INVALID_TIME", "not a valid time (years 0001 to 9999)");
      }
    }
    const absl::Time now = ctx_.clock.Now();
    // Registering needs a grant in force for the purpose: a case opens no data by itself.
    bool granted = false;
    for (const config::v1::Grant* g : policy->GrantsFor(member->id(), purpose->id())) {
      if ((!g->has_valid_from() || FromProto(g->valid_from()) <= now) &&
          (!g->has_valid_until() || now < FromProto(g->valid_until()))) {
        granted = true;
      }
    }
    if (!granted) {
      return ErrorWithReason(absl::StatusCode::kPermissionDenied, "NO_GRANT",
                             absl::StrCat("member ", member->id(), " has no grant in force for ",
                                          purpose->id()));
    }
    absl::Time from = request->has_valid_from() ? FromProto(request->valid_from()) : now;
    absl::Duration max_period =
        purpose->has_max_registration_period()
            ? absl::Seconds(purpose->max_registration_period().seconds())
            : kDefaultMaxRegistration;
    absl::Time until =
        request->has_valid_until() ? FromProto(request->valid_until()) : from + max_period;
    if (until <= from) {
      return InvalidField("valid_until", "INVALID_PERIOD", "valid_until must be after valid_from");
    }
    if (until - from > max_period) {
      return InvalidField("valid_until", "PERIOD_TOO_LONG",
                          absl::StrCat("purpose ", purpose->id(), " allows registrations of at "
                                       "most ", absl::FormatDuration(max_period)));
    }
    v1::Registration r;
    r.set_member(member->id());
    r.set_subject(subject);
    r.set_purpose(purpose->id());
    r.set_case_ref(request->case_ref());
    *r.mutable_valid_from() = ToProto(from);
    *r.mutable_valid_until() = ToProto(until);
    ASSIGN_OR_RETURN(*response->mutable_registration(),
                     ctx_.authz_store.AddRegistration(r, now, ctx_.max_open_registrations));
    record.set_registration_id(response->registration().registration_id());
    record.set_query(absl::StrCat("register case from ", Rfc3339(r.valid_from()), " until ",
                                  Rfc3339(r.valid_until())));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* RegistrationServiceImpl::EndCase(grpc::CallbackServerContext* context,
                                                           const v1::EndCaseRequest* request,
                                                           v1::EndCaseResponse* response) {
  return RunLogged(context, ctx_, "/onceonly.v1.RegistrationService/EndCase",
               [&](const CallInfo& call, v1::AccessRecord& record) -> absl::Status {
    auto policy = ctx_.pipeline.policy();
    record.set_registration_id(request->registration_id());
    record.set_query("end case");
    ASSIGN_OR_RETURN(const Member* member, CallerWithRole(*policy, call, config::v1::CONSUMER));
    ASSIGN_OR_RETURN(*response->mutable_registration(),
                     ctx_.authz_store.EndRegistration(request->registration_id(), member->id(),
                                                      ctx_.clock.Now()));
    const v1::Registration& ended = response->registration();
    record.set_subject(ended.subject());
    record.set_purpose(ended.purpose());
    record.set_case_ref(ended.case_ref());
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* RegistrationServiceImpl::ListRegistrations(
    grpc::CallbackServerContext* context, const v1::ListRegistrationsRequest* request,
    v1::ListRegistrationsResponse* response) {
  return RunUnary(context, ctx_, "/onceonly.v1.RegistrationService/ListRegistrations",
               [&](const CallInfo& call) -> absl::Status {
    auto policy = ctx_.pipeline.policy();
    ASSIGN_OR_RETURN(const Member* member, CallerWithRole(*policy, call, config::v1::CONSUMER));
    std::string subject;
    if (!request->subject().empty()) {
      ASSIGN_OR_RETURN(subject, CanonicalSubject(request->subject(), "subject"));
    }
    for (v1::Registration& r : ctx_.authz_store.ListRegistrations(
             member->id(), subject, request->include_inactive(), ctx_.clock.Now())) {
      *response->add_registrations() = std::move(r);
    }
    return absl::OkStatus();
  });
}

// ---- ConsentService -----------------------------------------------------------------------

grpc::ServerUnaryReactor* ConsentServiceImpl::GrantConsent(grpc::CallbackServerContext* context,
                                                           const v1::GrantConsentRequest* request,
                                                           v1::GrantConsentResponse* response) {
  return RunLogged(context, ctx_, "/onceonly.v1.ConsentService/GrantConsent",
               [&](const CallInfo& call, v1::AccessRecord& record) -> absl::Status {
    auto policy = ctx_.pipeline.policy();
    const v1::Consent& in = request->consent();
    record.set_subject(in.subject());
    record.set_purpose(in.purpose());
    *record.mutable_categories_requested() = in.categories();
    record.set_query(absl::StrCat("grant consent to ", in.grantee_member()));
    ASSIGN_OR_RETURN(const Member* portal,
                     CallerWithRole(*policy, call, config::v1::FIRM_PORTAL));
    ASSIGN_OR_RETURN(std::string subject, CanonicalSubject(in.subject(), "consent.subject"));
    record.set_subject(subject);
    RETURN_IF_ERROR(RequireActingFor(call, subject));
    const Member* grantee = policy->FindMemberById(in.grantee_member());
    if (grantee == portal) {
      return ErrorWithReason(absl::StatusCode::kPermissionDenied, "SELF_CONSENT",
                             "the portal cannot record a consent to itself");
    }
    if (grantee == nullptr || !HasRole(*grantee, config::v1::CONSUMER)) {
      return InvalidField("consent.grantee_member", "UNKNOWN_MEMBER",
                          absl::StrCat("\"", in.grantee_member(),
                                       "\" is not a consumer member in the policy"));
    }
    const config::v1::Purpose* purpose = policy->FindPurpose(in.purpose());
    if (purpose == nullptr) {
      return InvalidField("consent.purpose", "UNKNOWN_PURPOSE",
                          absl::StrCat("unknown purpose \"", in.purpose(), "\""));
    }
    if (!purpose->requires_consent()) {
      return ErrorWithReason(absl::StatusCode::kFailedPrecondition, "CONSENT_NOT_USED",
                             absl::StrCat("purpose ", purpose->id(), " does not rest on consent; "
                                          "recording one would mislead the firm"));
    }
    if (in.categories().empty()) {
      return InvalidField("consent.categories", "CATEGORIES_REQUIRED",
                          "name the data categories consented to");
    }
    for (int i = 0; i < in.categories_size(); ++i) {
      if (FindDataCategory(in.categories(i)) == nullptr) {
        return InvalidField(absl::StrCat("consent.categories[", i, "]"), "UNKNOWN_CATEGORY",
                            absl::StrCat("unknown data category \"", in.categories(i), "\""));
      }
    }
    const absl::Time now = ctx_.clock.Now();
    v1::Consent consent = in;
    consent.set_subject(subject);
    if (!consent.has_valid_from()) *consent.mutable_valid_from() = ToProto(now);
    if (!consent.has_valid_until()) {
      return InvalidField("consent.valid_until", "VALID_UNTIL_REQUIRED",
                          "a consent must say until when it holds");
    }
    for (const auto& [field, ts] : {std::pair<const char*, const google::protobuf::Timestamp*>{
                                        "consent.valid_from", &consent.valid_from()},
                                    {"consent.valid_until", &consent.valid_until()}}) {
      if (!ValidTimestamp(*ts)) {
        return InvalidField(field, "INVALID_TIME", "not a valid time (years 0001 to 9999)");
      }
    }
    if (FromProto(consent.valid_until()) <= FromProto(consent.valid_from()) ||
        FromProto(consent.valid_until()) <= now) {
      return InvalidField("consent.valid_until", "INVALID_PERIOD",
                          "valid_until must be in the future and after valid_from");
    }
    // What the firm agrees to is recorded with the consent, for its receipts to quote.
    consent.set_recorded_by(portal->id());
    consent.set_controller_name(grantee->display_name());
    consent.set_purpose_description(purpose->description());
    consent.set_legal_basis(purpose->legal_basis());
    consent.set_legal_reference(purpose->legal_reference());
    ASSIGN_OR_RETURN(v1::Consent stored, ctx_.authz_store.AddConsent(consent, now));
    record.set_consent_id(stored.consent_id());
    record.set_query(absl::StrCat("grant consent to ", grantee->id(), " from ",
                                  Rfc3339(stored.valid_from()), " until ",
                                  Rfc3339(stored.valid_until())));
    *response->mutable_receipt() = SignReceipt(ctx_, stored, call);
    *response->mutable_consent() = std::move(stored);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ConsentServiceImpl::RevokeConsent(
    grpc::CallbackServerContext* context, const v1::RevokeConsentRequest* request,
    v1::RevokeConsentResponse* response) {
  return RunLogged(context, ctx_, "/onceonly.v1.ConsentService/RevokeConsent",
               [&](const CallInfo& call, v1::AccessRecord& record) -> absl::Status {
    auto policy = ctx_.pipeline.policy();
    record.set_subject(request->subject());
    record.set_consent_id(request->consent_id());
    record.set_query("revoke consent");
    ASSIGN_OR_RETURN(const Member* caller, CallerMember(*policy, call));
    // The portal that recorded a consent revokes it, for the firm it acts for; an operator may
    // revoke any (a portal that is gone, a court order).
    const bool operator_role = HasRole(*caller, config::v1::OPERATOR);
    if (!operator_role) {
      RETURN_IF_ERROR(CallerWithRole(*policy, call, config::v1::FIRM_PORTAL).status());
    }
    ASSIGN_OR_RETURN(std::string subject, CanonicalSubject(request->subject(), "subject"));
    record.set_subject(subject);
    if (!operator_role) RETURN_IF_ERROR(RequireActingFor(call, subject));
    // In force for the very next request: the store's index changes before this returns.
    ASSIGN_OR_RETURN(v1::Consent revoked,
                     ctx_.authz_store.RevokeConsent(request->consent_id(), subject,
                                                    ctx_.clock.Now(),
                                                    operator_role ? "" : caller->id()));
    record.set_purpose(revoked.purpose());
    *record.mutable_categories_requested() = revoked.categories();
    record.set_query(absl::StrCat("revoke consent to ", revoked.grantee_member(),
                                  operator_role ? " (operator)" : ""));
    *response->mutable_receipt() = SignReceipt(ctx_, revoked, call);
    *response->mutable_consent() = std::move(revoked);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ConsentServiceImpl::ListConsents(grpc::CallbackServerContext* context,
                                                           const v1::ListConsentsRequest* request,
                                                           v1::ListConsentsResponse* response) {
  return RunLogged(context, ctx_, "/onceonly.v1.ConsentService/ListConsents",
               [&](const CallInfo& call, v1::AccessRecord& record) -> absl::Status {
    auto policy = ctx_.pipeline.policy();
    record.set_subject(request->subject());
    record.set_query(request->include_inactive() ? "list consents, inactive too"
                                                 : "list consents");
    RETURN_IF_ERROR(CallerWithRole(*policy, call, config::v1::FIRM_PORTAL).status());
    ASSIGN_OR_RETURN(std::string subject, CanonicalSubject(request->subject(), "subject"));
    record.set_subject(subject);
    RETURN_IF_ERROR(RequireActingFor(call, subject));
    for (v1::Consent& c :
         ctx_.authz_store.ListConsents(subject, request->include_inactive(), ctx_.clock.Now())) {
      *response->add_consents() = std::move(c);
    }
    return absl::OkStatus();
  });
}

// ---- DirectoryService ---------------------------------------------------------------------

grpc::ServerUnaryReactor* DirectoryServiceImpl::ListAllowedAccess(
    grpc::CallbackServerContext* context, const v1::ListAllowedAccessRequest* request,
    v1::ListAllowedAccessResponse* response) {
  return RunUnary(context, ctx_, "/onceonly.v1.DirectoryService/ListAllowedAccess",
               [&](const CallInfo& call) -> absl::Status {
    auto policy = ctx_.pipeline.policy();
    if (!call.identity.ok()) return call.identity.status();
    const Member* member = policy->FindMember(*call.identity);
    if (member == nullptr) {
      return ErrorWithReason(absl::StatusCode::kPermissionDenied, "UNKNOWN_MEMBER",
                             absl::StrCat(call.identity->uri, " is not a member in the policy"));
    }
    const absl::Time now = ctx_.clock.Now();
    for (const config::v1::Grant* g : policy->GrantsOf(member->id())) {
      if (g->has_valid_until() && now >= FromProto(g->valid_until())) continue;  // past
      v1::AllowedAccess* allowed = response->add_allowed();
      allowed->set_purpose(g->purpose());
      allowed->set_grant_id(g->id());
      *allowed->mutable_categories() = g->categories();
      if (g->has_valid_from()) *allowed->mutable_valid_from() = g->valid_from();
      if (g->has_valid_until()) *allowed->mutable_valid_until() = g->valid_until();
    }
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* DirectoryServiceImpl::ExplainAccess(
    grpc::CallbackServerContext* context, const v1::ExplainAccessRequest* request,
    v1::ExplainAccessResponse* response) {
  return RunUnary(context, ctx_, "/onceonly.v1.DirectoryService/ExplainAccess",
               [&](const CallInfo& call) -> absl::Status {
    v1::GetDossierRequest as_dossier;
    as_dossier.set_enterprise_number(request->enterprise_number());
    as_dossier.set_purpose(request->purpose());
    *as_dossier.mutable_categories() = request->categories();
    ASSIGN_OR_RETURN(AccessDecision decision, ctx_.pipeline.Explain(call, as_dossier));
    response->set_allowed(decision.allowed);
    response->set_reason(decision.reason);
    response->set_explanation(decision.allowed
                                  ? absl::StrCat("allowed under grant ", decision.grant_id)
                                  : decision.explanation);
    response->set_grant_id(decision.grant_id);
    for (const std::string& c : decision.released_categories) {
      response->add_released_categories(c);
    }
    return absl::OkStatus();
  });
}

}  // namespace onceonly
