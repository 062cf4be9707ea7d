#include "authz/identity.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/rich_status.h"

namespace onceonly {
namespace {

bool IsIdSegment(absl::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) {
      return false;
    }
  }
  return true;
}

}  // namespace

absl::StatusOr<MemberIdentity> ParseMemberUri(absl::string_view uri) {
  constexpr absl::string_view kScheme = "spiffe://";
  if (!absl::StartsWith(uri, kScheme)) {
    return absl::InvalidArgumentError(absl::StrCat("\"", uri, "\" is not a spiffe:// URI"));
  }
  std::vector<absl::string_view> parts =
      absl::StrSplit(uri.substr(kScheme.size()), '/');
  if (parts.size() < 3 || parts.size() > 4 || parts[1] != "member" || parts[0].empty() ||
      !IsIdSegment(parts[2]) || (parts.size() == 4 && !IsIdSegment(parts[3]))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", uri, "\" is not of the form spiffe://<trust-domain>/member/<id>[/<subsystem>]"));
  }
  MemberIdentity id;
  id.uri = std::string(uri);
  id.trust_domain = std::string(parts[0]);
  id.member_id = std::string(parts[2]);
  if (parts.size() == 4) id.subsystem = std::string(parts[3]);
  return id;
}

absl::StatusOr<MemberIdentity> IdentityFromUriSans(const std::vector<std::string>& uris,
                                                   absl::string_view trust_domain) {
  std::vector<MemberIdentity> found;
  for (const std::string& uri : uris) {
    absl::StatusOr<MemberIdentity> id = ParseMemberUri(uri);
    if (id.ok() && id->trust_domain == trust_domain) found.push_back(*std::move(id));
  }
  if (found.size() == 1) return found[0];
  return ErrorWithReason(
      absl::StatusCode::kPermissionDenied, "UNKNOWN_IDENTITY",
      found.empty()
          ? absl::StrCat("the client certificate has no URI SAN spiffe://", trust_domain,
                         "/member/<id>; ask the operator for a member certificate")
          : "the client certificate names more than one member; use one member per "
            "certificate");
}

}  // namespace onceonly
