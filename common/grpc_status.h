// absl::Status <-> grpc::Status, keeping rich details: ErrorInfo and BadRequest payloads
// become google.rpc.Status details in `grpc-status-details-bin`, as standard clients expect.
#ifndef ONCEONLY_COMMON_GRPC_STATUS_H_
#define ONCEONLY_COMMON_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace onceonly {

grpc::Status ToGrpcStatus(const absl::Status& status);
// The details of a grpc::Status come back as payloads, so errors cross processes intact.
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace onceonly

#endif  // ONCEONLY_COMMON_GRPC_STATUS_H_
