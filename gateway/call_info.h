// What the gateway knows about a call once the transport has been read (gateway/call_context.h
// reads it from gRPC), and the part of the access record that comes from it. This is where
// caller-chosen text meets the append-only log: whatever enters a record here is checked,
// bounded and, for callers who are not members, reduced to fixed fields, because a record
// that cannot be read back would blind every auditor for good.
#ifndef ONCEONLY_GATEWAY_CALL_INFO_H_
#define ONCEONLY_GATEWAY_CALL_INFO_H_

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "authz/identity.h"
#include "authz/policy.h"
#include "onceonly/v1/audit.pb.h"

namespace onceonly {

// Metadata values the gateway accepts: printable ASCII, at most this many bytes.
inline constexpr size_t kMaxMetadataBytes = 256;

// What the transport knows about a call.
struct CallInfo {
  // The caller's identity, or why there is none (the call is then denied and logged).
  absl::StatusOr<MemberIdentity> identity = absl::UnauthenticatedError("no identity");
  // Metadata, each checked (printable ASCII, at most kMaxMetadataBytes) or left empty.
  std::string case_ref;    // x-onceonly-case-ref
  std::string user;        // x-onceonly-user
  std::string acting_for;  // x-onceonly-acting-for: the firm a portal acts for
  std::string request_id;  // x-request-id, or generated
  bool request_id_from_caller = false;  // x-request-id was sent (and kept)
  // OK, or why the call's metadata is refused: INVALID_ARGUMENT, reason INVALID_METADATA,
  // naming the header. Every service refuses such a call, and logs it with fixed text.
  absl::Status metadata_error;
  // The peer certificate's subject, for the log when it carries no member identity.
  std::string peer_description;
  // The verified peer certificate (PEM), for the revocation check.
  std::string peer_certificate_pem;
  std::string method;
  absl::Time deadline = absl::InfiniteFuture();
};

// Checks one metadata value of `header`: OK, or INVALID_ARGUMENT with reason INVALID_METADATA
// and a BadRequest violation naming the header. The message says what is wrong without
// quoting the value.
absl::Status CheckMetadataValue(absl::string_view header, absl::string_view value);

// Reads the metadata the gateway uses from `headers` (as received, in order) into `call`:
// x-onceonly-case-ref, x-onceonly-user, x-onceonly-acting-for and x-request-id. Every value
// of those, and of any other x-onceonly-* header, is checked (CheckMetadataValue), and each of
// the four may come once; the first refusal goes to `call.metadata_error`, and then none of
// the metadata is kept: what the caller sent is not what the log may hold.
void ReadCallMetadata(absl::Span<const std::pair<absl::string_view, absl::string_view>> headers,
                      CallInfo& call);

// The part of an access record every call has: when, who (certificate identity, subsystem,
// user, case reference) and how (request id, method). A call whose metadata was refused
// records the refusal's fixed text in `query` instead of any of its metadata.
v1::AccessRecord CallRecord(const CallInfo& call, absl::Time now);

// For the record of `call` by a caller who is not a member (no identity, a revoked
// certificate, or one the policy does not know), or whose request was refused before it was
// validated: keeps fixed fields as they are (known purposes and categories, a canonical
// enterprise number, reason codes, a request id the gateway made) and printable identities of
// at most kMaxMetadataBytes; any other text the caller chose becomes "sha256:<hex>" of it, and
// at most kMaxStrangerCategories categories are kept. What is left is bounded whatever was
// sent.
inline constexpr int kMaxStrangerCategories = 16;
void ConfineToFixedFields(const PolicySnapshot& policy, const CallInfo& call,
                          v1::AccessRecord* record);

// "sha256:" and the hex SHA-256 of `text`: stands in a record for text nobody vouches for, so
// that an investigator holding a candidate value can confirm it, and nobody can read it.
std::string TextDigest(absl::string_view text);

}  // namespace onceonly

#endif  // ONCEONLY_GATEWAY_CALL_INFO_H_
