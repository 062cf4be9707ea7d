// Who is calling: the SPIFFE identity in the URI SAN of the caller's mTLS certificate.
#ifndef ONCEONLY_AUTHZ_IDENTITY_H_
#define ONCEONLY_AUTHZ_IDENTITY_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace onceonly {

// spiffe://<trust_domain>/member/<member_id>[/<subsystem>]
struct MemberIdentity {
  std::string uri;           // the whole URI SAN
  std::string trust_domain;  // "onceonly.brussels"
  std::string member_id;     // "brussels-economy"
  std::string subsystem;     // "" or e.g. "public-procurement-app"
};

// Parses one SPIFFE member URI. InvalidArgument explains what is wrong.
absl::StatusOr<MemberIdentity> ParseMemberUri(absl::string_view uri);

// Picks the member identity among a certificate's URI SANs: exactly one must be a member URI
// in `trust_domain`. PermissionDenied (reason UNKNOWN_IDENTITY) otherwise.
absl::StatusOr<MemberIdentity> IdentityFromUriSans(const std::vector<std::string>& uris,
                                                   absl::string_view trust_domain);

}  // namespace onceonly

#endif  // ONCEONLY_AUTHZ_IDENTITY_H_
