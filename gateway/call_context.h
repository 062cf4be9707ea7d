// What the gateway learns about a call from gRPC: the caller's identity from its verified
// certificate, the metadata it sent, its deadline. Shared by every service.
#ifndef ONCEONLY_GATEWAY_CALL_CONTEXT_H_
#define ONCEONLY_GATEWAY_CALL_CONTEXT_H_

#include <grpcpp/server_context.h>

#include <string>

#include "absl/time/time.h"
#include "gateway/dossier_pipeline.h"

namespace onceonly {

// Reads identity (URI SAN in `trust_domain`), x-onceonly-case-ref, x-onceonly-user,
// x-request-id (or makes one), and the deadline (the caller's, else now + default).
CallInfo ResolveCall(grpc::CallbackServerContext& context, absl::string_view method,
                     absl::string_view trust_domain, absl::Duration default_deadline);

// One JSON line on stderr for a finished RPC.
void LogRpc(const CallInfo& call, const absl::Status& status, absl::Time started,
            absl::string_view access_id);

}  // namespace onceonly

#endif  // ONCEONLY_GATEWAY_CALL_CONTEXT_H_
