#include "gateway/call_context.h"

#include "common/metrics.h"

#include <atomic>
#include <iostream>

#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/json_escape.h"
#include "common/rich_status.h"
#include "common/tls.h"

namespace onceonly {
namespace {

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

std::atomic<uint64_t> next_request{0};

}  // namespace

CallInfo ResolveCall(grpc::CallbackServerContext& context, absl::string_view method,
                     absl::string_view trust_domain, absl::Duration default_deadline,
                     RevocationList* revocations) {
  const absl::Time now = absl::Now();
  CallInfo call;
  call.method = std::string(method);
  absl::InlinedVector<std::pair<absl::string_view, absl::string_view>, 8> headers;
  for (const auto& [key, value] : context.client_metadata()) {
    headers.emplace_back(absl::string_view(key.data(), key.size()),
                         absl::string_view(value.data(), value.size()));
  }
  ReadCallMetadata(headers, call);
  call.request_id_from_caller = !call.request_id.empty();
  if (call.request_id.empty()) {
    call.request_id = absl::StrFormat(
        "%s-%d", absl::FormatTime("%Y%m%dT%H%M%S", now, absl::UTCTimeZone()),
        next_request.fetch_add(1));
  }
  // The caller's deadline if it set one; the configured default only if it did not.
  call.deadline = context.deadline() == std::chrono::system_clock::time_point::max()
                      ? now + default_deadline
                      : absl::FromChrono(context.deadline());
  // The identity is the URI SAN of the verified client certificate, nothing the client says.
  absl::StatusOr<std::vector<std::string>> uris = PeerUriSans(*context.auth_context());
  call.identity = uris.ok() ? IdentityFromUriSans(*uris, trust_domain)
                            : absl::StatusOr<MemberIdentity>(uris.status());
  std::vector<grpc::string_ref> pems = context.auth_context()->FindPropertyValues("x509_pem_cert");
  if (!pems.empty()) call.peer_certificate_pem.assign(pems[0].data(), pems[0].size());
  if (!call.identity.ok()) call.peer_description = PeerSubject(*context.auth_context());
  if (revocations != nullptr && call.identity.ok()) {
    absl::Status valid = revocations->Check(call.peer_certificate_pem);
    if (!valid.ok()) {
      call.peer_description = call.identity->uri;  // still worth a line in the access log
      // The caller learns why, not where the CRL lives.
      std::string reason = ErrorReason(valid);
      std::string serial = ErrorMetadata(valid, "serial");
      const std::string refused_since = ErrorMetadata(valid, "refused_since");
      if (reason == kRevocationUnknownReason && !refused_since.empty()) {
        const std::string next_update = ErrorMetadata(valid, "next_update");
        call.identity = ErrorWithReason(
            absl::StatusCode::kPermissionDenied, reason,
            absl::StrCat("this gateway's certificate revocation list is stale (its nextUpdate was ",
                         next_update, "; calls are refused since ", refused_since,
                         "): the gateway operator must publish a current CRL"),
            {{"next_update", next_update}, {"refused_since", refused_since}});
      } else {
        call.identity = ErrorWithReason(
            absl::StatusCode::kPermissionDenied, reason.empty() ? "CERTIFICATE_REVOKED" : reason,
            reason == "CERTIFICATE_REVOKED"
                ? absl::StrCat("certificate serial ", serial, " was revoked on ",
                               ErrorMetadata(valid, "revocation_date"), "; ask for a new one")
                : "the certificate's revocation status is unknown to this gateway");
      }
    }
  }
  return call;
}

// Store failures carry paths and SQL: the caller gets the kind of failure, the log the rest.
absl::Status PublicStatus(absl::Status status, const CallInfo& call) {
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kDataLoss:
    case absl::StatusCode::kUnknown:
      std::cerr << "{\"event\":\"store_error\",\"request_id\":\"" << JsonEscape(call.request_id)
                << "\",\"method\":\"" << call.method << "\",\"detail\":\""
                << JsonEscape(status.message()) << "\"}\n";
      return absl::Status(status.code(),
                          absl::StrCat("the gateway could not complete this; the operator's log "
                                       "has the details under request id ", call.request_id));
    default:
      return status;
  }
}

void LogRpc(const CallInfo& call, const absl::Status& status, absl::Time started,
            absl::string_view access_id) {
  std::string line = absl::StrFormat(
      "{\"time\":\"%s\",\"method\":\"%s\",\"identity\":\"%s\",\"status\":\"%s\","
      "\"reason\":\"%s\",\"latency_ms\":%.3f,\"access_id\":\"%s\",\"request_id\":\"%s\"}\n",
      absl::FormatTime(absl::RFC3339_full, absl::Now(), absl::UTCTimeZone()), call.method,
      JsonEscape(call.identity.ok() ? call.identity->uri : call.peer_description),
      absl::StatusCodeToString(status.code()), JsonEscape(ErrorReason(status)),
      absl::ToDoubleMilliseconds(absl::Now() - started), access_id, JsonEscape(call.request_id));
  std::cerr << line;
  static Counter& calls = DefaultMetrics().counter(
      "onceonly_rpc_total", "gRPC calls answered, by method and status code", {"method", "code"});
  static Histogram& latency = DefaultMetrics().histogram(
      "onceonly_rpc_duration_seconds", "gRPC call latency at the gateway, by method", {"method"});
  calls.Add({call.method, absl::StatusCodeToString(status.code())});
  latency.Observe({call.method}, absl::ToDoubleSeconds(absl::Now() - started));
}

}  // namespace onceonly
