// The policy as an immutable, validated snapshot, and the access decision over it.
//
// Decide() is a pure function of (identity, request, snapshot, clock reading): no I/O, no
// hidden state, so the same code answers GetDossier and, later, ExplainAccess.
#ifndef ONCEONLY_AUTHZ_POLICY_H_
#define ONCEONLY_AUTHZ_POLICY_H_

#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "authz/authz_store.h"
#include "authz/identity.h"
#include "common/yaml_proto.h"
#include "onceonly/config/v1/policy.pb.h"

namespace onceonly {

class PolicySnapshot {
 public:
  // Validates `policy`: unique ids, members and purposes that grants name exist, known
  // categories, well-formed identities, valid_from < valid_until. Errors cite `source`.
  static absl::StatusOr<std::shared_ptr<const PolicySnapshot>> Create(
      config::v1::Policy policy, const SourceMap& source = SourceMap());
  // Reads, parses and validates a policy YAML file.
  static absl::StatusOr<std::shared_ptr<const PolicySnapshot>> Load(const std::string& path);

  PolicySnapshot(const PolicySnapshot&) = delete;  // the indexes point into policy_
  PolicySnapshot& operator=(const PolicySnapshot&) = delete;

  const config::v1::Policy& policy() const { return policy_; }
  // The member whose identities match the certificate URI (equal, or a subsystem path below
  // it); nullptr if none.
  const config::v1::Member* FindMember(const MemberIdentity& identity) const;
  const config::v1::Member* FindMemberById(absl::string_view id) const;
  const config::v1::Purpose* FindPurpose(absl::string_view id) const;
  // Grants of `member` for `purpose`, in file order.
  const std::vector<const config::v1::Grant*>& GrantsFor(absl::string_view member,
                                                         absl::string_view purpose) const;
  // Every grant of `member`, in file order.
  std::vector<const config::v1::Grant*> GrantsOf(absl::string_view member) const;

 private:
  explicit PolicySnapshot(config::v1::Policy policy);
  // Constant after construction; the indexes point into policy_.
  const config::v1::Policy policy_;
  // Looked up with string_views (absl's string hash is transparent): no allocation per call.
  absl::flat_hash_map<std::string, const config::v1::Member*> member_by_identity_;
  absl::flat_hash_map<std::string, const config::v1::Member*> member_by_id_;
  absl::flat_hash_map<std::string, const config::v1::Purpose*> purpose_by_id_;
  // key: member \0 purpose
  absl::flat_hash_map<std::string, std::vector<const config::v1::Grant*>> grants_;
};

bool HasRole(const config::v1::Member& member, config::v1::Role role);

struct AccessRequest {
  MemberIdentity identity;
  std::string subject;  // canonical enterprise number
  std::string purpose;
  std::vector<std::string> categories;
  // The case the caller names (x-onceonly-case-ref), if any: for a purpose that requires a
  // registration, only an open registration under this reference allows the access.
  std::string case_ref;
};

struct AccessDecision {
  bool allowed = false;
  // "ALLOWED", or a denial reason: UNKNOWN_MEMBER, ROLE_REQUIRED, NO_GRANT,
  // GRANT_NOT_YET_VALID, GRANT_EXPIRED, CATEGORY_NOT_GRANTED, REGISTRATION_REQUIRED,
  // CASE_REF_MISMATCH, CONSENT_REQUIRED, CONSENT_REVOKED, CONSENT_EXPIRED (docs/api.md
  // explains each).
  std::string reason;
  std::string explanation;  // says what to do about a denial
  std::string member_id;
  std::string grant_id;
  std::string legal_basis;
  std::string registration_id;  // the open case relied on, if the purpose needs one
  std::string case_ref;         // that case's reference
  std::string consent_id;       // the consent relied on, if the purpose needs one
  std::vector<std::string> released_categories;  // == asked, when allowed
  std::vector<std::string> missing_categories;   // for CATEGORY_NOT_GRANTED
};

// INVALID_ARGUMENT (with BadRequest) for an unknown purpose or category, no categories, or
// a category asked twice. These are caller mistakes, not decisions.
absl::Status ValidateAccessRequest(const PolicySnapshot& policy, const AccessRequest& request);

// Default deny. Checks, in order: member, CONSUMER role, a grant in force for the purpose
// covering every category (asking for some categories that are not granted is denied, naming
// them; categories are never silently dropped), an open registration if the purpose requires
// one, and an active consent covering the categories if the purpose requires consent.
// `facts` are the store's registrations and consents for (member, subject, purpose).
AccessDecision Decide(const PolicySnapshot& policy, const AccessRequest& request,
                      absl::Time now, const AccessFacts& facts = AccessFacts());

// The decision as a status: OK when allowed, PERMISSION_DENIED with ErrorInfo otherwise.
absl::Status DecisionStatus(const AccessDecision& decision);

}  // namespace onceonly

#endif  // ONCEONLY_AUTHZ_POLICY_H_
