// What the gateway learns about a call from gRPC: the caller's identity from its verified
// certificate, the metadata it sent, its deadline. Shared by every service.
#ifndef ONCEONLY_GATEWAY_CALL_CONTEXT_H_
#define ONCEONLY_GATEWAY_CALL_CONTEXT_H_

#include <grpcpp/server_context.h>

#include <string>

#include "absl/time/time.h"
#include "common/crl.h"
#include "gateway/call_info.h"

namespace onceonly {

// Reads identity (URI SAN in `trust_domain`), x-onceonly-case-ref, x-onceonly-user,
// x-onceonly-acting-for, x-request-id (or makes one), and the deadline (the caller's, else
// now + default). Metadata values are checked (CheckMetadataValue; each header at most once,
// any other x-onceonly-* header too): the first refusal goes to `metadata_error`, and then
// no metadata is kept. A
// certificate that `revocations` (if set) refuses has no identity: the call is then denied
// with that reason (CERTIFICATE_REVOKED).
CallInfo ResolveCall(grpc::CallbackServerContext& context, absl::string_view method,
                     absl::string_view trust_domain, absl::Duration default_deadline,
                     RevocationList* revocations);

// What a caller may see of `status`: store and internal failures (which carry paths and SQL)
// become a generic message, their details going to the log under the request id.
absl::Status PublicStatus(absl::Status status, const CallInfo& call);

// One JSON line on stderr for a finished RPC.
void LogRpc(const CallInfo& call, const absl::Status& status, absl::Time started,
            absl::string_view access_id);

}  // namespace onceonly

#endif  // ONCEONLY_GATEWAY_CALL_CONTEXT_H_
