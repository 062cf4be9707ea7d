// Rich error details carried inside absl::Status as payloads, so that every layer can say
// *why* (google.rpc.ErrorInfo) and *which field* (google.rpc.BadRequest) without knowing gRPC.
// The gateway turns them into `grpc-status-details-bin` at the edge.
#ifndef ONCEONLY_COMMON_RICH_STATUS_H_
#define ONCEONLY_COMMON_RICH_STATUS_H_

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/rpc/error_details.pb.h"

namespace onceonly {

inline constexpr absl::string_view kErrorDomain = "onceonly.brussels";
inline constexpr absl::string_view kErrorInfoTypeUrl =
    "type.googleapis.com/google.rpc.ErrorInfo";
inline constexpr absl::string_view kBadRequestTypeUrl =
    "type.googleapis.com/google.rpc.BadRequest";

// A status of `code` with an ErrorInfo{reason, domain, metadata}.
absl::Status ErrorWithReason(absl::StatusCode code, absl::string_view reason,
                             absl::string_view message,
                             const std::map<std::string, std::string>& metadata = {});

// INVALID_ARGUMENT with an ErrorInfo reason and a BadRequest violation of `field`.
absl::Status InvalidField(absl::string_view field, absl::string_view reason,
                          absl::string_view description);

// Adds (or replaces) one ErrorInfo metadata entry, e.g. the access_id of a denial.
absl::Status AddErrorMetadata(absl::Status status, absl::string_view key,
                              absl::string_view value);

// The ErrorInfo reason of `status`, or "" if it carries none.
std::string ErrorReason(const absl::Status& status);
// One ErrorInfo metadata value of `status`, or "".
std::string ErrorMetadata(const absl::Status& status, absl::string_view key);

}  // namespace onceonly

#endif  // ONCEONLY_COMMON_RICH_STATUS_H_
