#include "authz/policy.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "authz/categories.h"
#include "common/rich_status.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "google/protobuf/util/time_util.h"

namespace onceonly {
namespace {

using config::v1::Grant;
using config::v1::Member;
using config::v1::Policy;
using google::protobuf::util::TimeUtil;

bool IsPolicyId(absl::string_view s) {
  if (s.empty() || s.size() > 100) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '-' || c == '_' || c == '.' || c == '/')) {
      return false;
    }
  }
  return true;
}

absl::Status ValidatePolicy(const Policy& policy, const SourceMap& src) {
  std::set<std::string> members, purposes, grants;
  std::map<std::string, std::string> identity_owner;  // identity URI -> member id
  for (int i = 0; i < policy.members_size(); ++i) {
    const Member& m = policy.members(i);
    std::string at = absl::StrCat("members[", i, "]");
    if (!IsPolicyId(m.id())) {
      return src.InvalidArgument(at + ".id",
                                 "a member id is required (letters, digits, - _ . /)");
    }
    if (!members.insert(m.id()).second) {
      return src.InvalidArgument(at + ".id", absl::StrCat("duplicate member id \"", m.id(), "\""));
    }
    if (m.identities().empty()) {
      return src.InvalidArgument(at + ".identities",
                                 "at least one certificate identity (spiffe URI) is required");
    }
    for (int j = 0; j < m.identities_size(); ++j) {
      const std::string field = absl::StrCat(at, ".identities[", j, "]");
      absl::StatusOr<MemberIdentity> id = ParseMemberUri(m.identities(j));
      if (!id.ok()) return src.InvalidArgument(field, id.status().message());
      // One certificate must map to one member: no identity may equal, or lie below (a
      // subsystem path), another member's identity.
      for (const auto& [uri, owner] : identity_owner) {
        const std::string& mine = m.identities(j);
        bool nested = mine == uri || absl::StartsWith(mine, uri + "/") ||
                      absl::StartsWith(uri, mine + "/");
        if (nested && owner != m.id()) {
          return src.InvalidArgument(
              field, absl::StrCat("identity ", mine, " overlaps ", uri, " of member ", owner,
                                  "; a certificate must identify exactly one member"));
        }
      }
      identity_owner.emplace(m.identities(j), m.id());
    }
    if (m.roles().empty()) {
      return src.InvalidArgument(at + ".roles",
                                 "at least one role: CONSUMER, FIRM_PORTAL, AUDITOR, OPERATOR");
    }
    for (int j = 0; j < m.roles_size(); ++j) {
      if (m.roles(j) == config::v1::ROLE_UNSPECIFIED) {
        return src.InvalidArgument(absl::StrCat(at, ".roles[", j, "]"), "role must be set");
      }
    }
    if (HasRole(m, config::v1::CONSUMER) && HasRole(m, config::v1::FIRM_PORTAL)) {
      return src.InvalidArgument(at + ".roles",
                                 "one member cannot be both CONSUMER and FIRM_PORTAL: it could "
                                 "record consents to itself");
    }
  }
  for (int i = 0; i < policy.purposes_size(); ++i) {
    const auto& p = policy.purposes(i);
    std::string at = absl::StrCat("purposes[", i, "]");
    if (!IsPolicyId(p.id())) return src.InvalidArgument(at + ".id", "a purpose id is required");
    if (!purposes.insert(p.id()).second) {
      return src.InvalidArgument(at + ".id", absl::StrCat("duplicate purpose id \"", p.id(), "\""));
    }
    if (p.legal_basis().empty()) {
      return src.InvalidArgument(at + ".legal_basis",
                                 "every purpose needs its legal basis (it is logged)");
    }
    if (p.has_max_registration_period() && p.max_registration_period().seconds() <= 0) {
      return src.InvalidArgument(at + ".max_registration_period", "must be positive, e.g. 365d");
    }
  }
  for (int i = 0; i < policy.grants_size(); ++i) {
    const Grant& g = policy.grants(i);
    std::string at = absl::StrCat("grants[", i, "]");
    if (!IsPolicyId(g.id())) return src.InvalidArgument(at + ".id", "a grant id is required");
    if (!grants.insert(g.id()).second) {
      return src.InvalidArgument(at + ".id", absl::StrCat("duplicate grant id \"", g.id(), "\""));
    }
    if (!members.count(g.member())) {
      return src.InvalidArgument(at + ".member",
                                 absl::StrCat("no member \"", g.member(), "\" in members"));
    }
    if (!purposes.count(g.purpose())) {
      return src.InvalidArgument(at + ".purpose",
                                 absl::StrCat("no purpose \"", g.purpose(), "\" in purposes"));
    }
    if (g.categories().empty()) {
      return src.InvalidArgument(at + ".categories", "a grant must name at least one category");
    }
    for (int j = 0; j < g.categories_size(); ++j) {
      if (FindDataCategory(g.categories(j)) == nullptr) {
        std::vector<std::string> names;
        for (const DataCategory& c : AllDataCategories()) names.push_back(c.name);
        return src.InvalidArgument(
            absl::StrCat(at, ".categories[", j, "]"),
            absl::StrCat("unknown category \"", g.categories(j),
                         "\"; known: ", absl::StrJoin(names, ", ")));
      }
    }
    if (g.has_valid_from() && g.has_valid_until() &&
        !(FromProto(g.valid_from()) < FromProto(g.valid_until()))) {
      return src.InvalidArgument(at + ".valid_until", "must be after valid_from");
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<const PolicySnapshot>> PolicySnapshot::Create(
    Policy policy, const SourceMap& source) {
  RETURN_IF_ERROR(ValidatePolicy(policy, source));
  return std::shared_ptr<const PolicySnapshot>(new PolicySnapshot(std::move(policy)));
}

absl::StatusOr<std::shared_ptr<const PolicySnapshot>> PolicySnapshot::Load(
    const std::string& path) {
  Policy policy;
  SourceMap source;
  RETURN_IF_ERROR(LoadYamlFile(path, &policy, &source));
  return Create(std::move(policy), source);
}

PolicySnapshot::PolicySnapshot(Policy policy) : policy_(std::move(policy)) {
  for (const Member& m : policy_.members()) {
    member_by_id_.emplace(m.id(), &m);
    for (const std::string& uri : m.identities()) member_by_identity_.emplace(uri, &m);
  }
  for (const auto& p : policy_.purposes()) purpose_by_id_.emplace(p.id(), &p);
  for (const Grant& g : policy_.grants()) {
    grants_[absl::StrCat(g.member(), absl::string_view("\0", 1), g.purpose())].push_back(&g);
  }
}

const Member* PolicySnapshot::FindMember(const MemberIdentity& identity) const {
  // The URI itself, then each parent path: ".../member/a/app1" is member a's subsystem.
  absl::string_view uri = identity.uri;
  while (true) {
    auto it = member_by_identity_.find(uri);
    if (it != member_by_identity_.end()) return it->second;
    size_t slash = uri.rfind('/');
    if (slash == absl::string_view::npos || slash <= 9) return nullptr;  // past "spiffe://x"
    uri = uri.substr(0, slash);
  }
}

const Member* PolicySnapshot::FindMemberById(absl::string_view id) const {
  auto it = member_by_id_.find(id);
  return it == member_by_id_.end() ? nullptr : it->second;
}

const config::v1::Purpose* PolicySnapshot::FindPurpose(absl::string_view id) const {
  auto it = purpose_by_id_.find(id);
  return it == purpose_by_id_.end() ? nullptr : it->second;
}

const std::vector<const Grant*>& PolicySnapshot::GrantsFor(absl::string_view member,
                                                          absl::string_view purpose) const {
  static const std::vector<const Grant*>* const kNone = new std::vector<const Grant*>();
  char buffer[256];
  std::string long_key;
  absl::string_view key;
  if (member.size() + purpose.size() + 1 <= sizeof(buffer)) {
    char* end = std::copy(member.begin(), member.end(), buffer);
    *end++ = '\0';
    end = std::copy(purpose.begin(), purpose.end(), end);
    key = absl::string_view(buffer, static_cast<size_t>(end - buffer));
  } else {
    long_key = absl::StrCat(member, absl::string_view("\0", 1), purpose);
    key = long_key;
  }
  auto it = grants_.find(key);
  return it == grants_.end() ? *kNone : it->second;
}

std::vector<const Grant*> PolicySnapshot::GrantsOf(absl::string_view member) const {
  std::vector<const Grant*> out;
  for (const Grant& g : policy_.grants()) {
    if (g.member() == member) out.push_back(&g);
  }
  return out;
}

bool HasRole(const Member& member, config::v1::Role role) {
  return std::find(member.roles().begin(), member.roles().end(), role) != member.roles().end();
}

absl::Status ValidateAccessRequest(const PolicySnapshot& policy, const AccessRequest& request) {
  if (request.purpose.empty()) {
    return InvalidField("purpose", "PURPOSE_REQUIRED",
                        "purpose is required: name the legal purpose of this request");
  }
  if (policy.FindPurpose(request.purpose) == nullptr) {
    std::vector<std::string> ids;
    for (const auto& p : policy.policy().purposes()) ids.push_back(p.id());
    return InvalidField("purpose", "UNKNOWN_PURPOSE",
                        absl::StrCat("unknown purpose \"", request.purpose,
                                     "\"; the policy defines: ", absl::StrJoin(ids, ", ")));
  }
  if (request.categories.empty()) {
    return InvalidField("categories", "CATEGORIES_REQUIRED",
                        "ask for at least one data category, e.g. company.identity");
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < request.categories.size(); ++i) {
    const std::string& c = request.categories[i];
    std::string field = absl::StrCat("categories[", i, "]");
    if (FindDataCategory(c) == nullptr) {
      std::vector<std::string> names;
      for (const DataCategory& d : AllDataCategories()) names.push_back(d.name);
      return InvalidField(field, "UNKNOWN_CATEGORY",
                          absl::StrCat("unknown data category \"", c,
                                       "\"; known: ", absl::StrJoin(names, ", ")));
    }
    if (!seen.insert(c).second) {
      return InvalidField(field, "DUPLICATE_CATEGORY",
                          absl::StrCat("category \"", c, "\" is asked twice"));
    }
  }
  return absl::OkStatus();
}

namespace {

bool Covers(const google::protobuf::RepeatedPtrField<std::string>& have,
            const std::vector<std::string>& wanted, std::vector<std::string>* missing) {
  for (const std::string& c : wanted) {
    if (std::find(have.begin(), have.end(), c) == have.end()) {
      if (missing == nullptr) return false;
      missing->push_back(c);
    }
  }
  return missing == nullptr || missing->empty();
}

}  // namespace

AccessDecision Decide(const PolicySnapshot& policy, const AccessRequest& request,
                      absl::Time now, const AccessFacts& facts) {
  AccessDecision d;
  auto deny = [&d](std::string reason, std::string explanation) {
    d.allowed = false;
    d.reason = std::move(reason);
    d.explanation = std::move(explanation);
    d.grant_id.clear();
    d.registration_id.clear();
    d.case_ref.clear();
    d.consent_id.clear();
    return std::move(d);
  };
  const Member* member = policy.FindMember(request.identity);
  if (member == nullptr) {
    return deny("UNKNOWN_MEMBER",
                absl::StrCat("certificate identity ", request.identity.uri,
                             " is not a member in the policy; ask the operator to add it"));
  }
  d.member_id = member->id();
  if (!HasRole(*member, config::v1::CONSUMER)) {
    return deny("ROLE_REQUIRED", absl::StrCat("member ", member->id(),
                                              " lacks the CONSUMER role needed to fetch data"));
  }
  const config::v1::Purpose* purpose = policy.FindPurpose(request.purpose);
  if (purpose == nullptr) {
    return deny("UNKNOWN_PURPOSE", absl::StrCat("unknown purpose \"", request.purpose, "\""));
  }
  d.legal_basis = purpose->legal_basis();

  // 1. A grant in force covering every category. Grants may overlap: any one that covers
  // the whole request will do; the first in file order is cited.
  const std::vector<const Grant*>& grants = policy.GrantsFor(member->id(), request.purpose);
  if (grants.empty()) {
    return deny("NO_GRANT", absl::StrCat("member ", member->id(), " has no grant for purpose ",
                                         request.purpose));
  }
  bool not_yet = false, expired = false;
  const Grant* best_partial = nullptr;
  size_t best_overlap = 0;
  for (const Grant* g : grants) {
    if (g->has_valid_from() && now < FromProto(g->valid_from())) {
      not_yet = true;
      continue;
    }
    if (g->has_valid_until() && now >= FromProto(g->valid_until())) {
      expired = true;
      continue;
    }
    size_t overlap = 0;
    for (const std::string& c : request.categories) {
      if (std::find(g->categories().begin(), g->categories().end(), c) != g->categories().end()) {
        ++overlap;
      }
    }
    if (overlap == request.categories.size()) {
      d.grant_id = g->id();
      break;
    }
    if (best_partial == nullptr || overlap > best_overlap) {
      best_partial = g;
      best_overlap = overlap;
    }
  }
  if (d.grant_id.empty()) {
    if (best_partial != nullptr) {
      Covers(best_partial->categories(), request.categories, &d.missing_categories);
      return deny("CATEGORY_NOT_GRANTED",
                  absl::StrCat("grant ", best_partial->id(), " does not cover: ",
                               absl::StrJoin(d.missing_categories, ", "),
                               "; ask only for granted categories"));
    }
    if (expired && !not_yet) {
      return deny("GRANT_EXPIRED", "every grant for this purpose has expired");
    }
    if (not_yet && !expired) {
      return deny("GRANT_NOT_YET_VALID", "no grant for this purpose is valid yet");
    }
    return deny("GRANT_EXPIRED",
                "no grant for this purpose is in force (some expired, some not yet valid)");
  }

  // 2. The reference directory: an open case of this member for this subject and purpose.
  if (purpose->requires_registration()) {
    const v1::Registration* last_closed = nullptr;  // explains a denial; text built only then
    const v1::Registration* other_case = nullptr;   // open, but under another reference
    for (const RegistrationPtr& r : facts.registrations) {
      if (!r->has_ended_at() && FromProto(r->valid_from()) <= now &&
          now < FromProto(r->valid_until())) {
        // The case the caller names is the case relied on, and the one the log records.
        if (!request.case_ref.empty() && r->case_ref() != request.case_ref) {
          other_case = r.get();
          continue;
        }
        d.registration_id = r->registration_id();
        d.case_ref = r->case_ref();
        break;
      }
      last_closed = r.get();
    }
    if (d.registration_id.empty() && other_case != nullptr) {
      return deny("CASE_REF_MISMATCH",
                  absl::StrCat("no open case for ", request.subject, " under purpose ",
                               purpose->id(), " has the reference sent in x-onceonly-case-ref; "
                               "registration ", other_case->registration_id(), " is open under "
                               "its own reference: send that one, or none"));
    }
    if (d.registration_id.empty()) {
      std::string why = "no registration";
      if (const v1::Registration* r = last_closed; r != nullptr) {
        if (r->has_ended_at()) {
          why = absl::StrCat("registration ", r->registration_id(), " was ended at ",
                             Rfc3339(r->ended_at()));
        } else if (now < FromProto(r->valid_from())) {
          why = absl::StrCat("registration ", r->registration_id(), " starts at ",
                             Rfc3339(r->valid_from()));
        } else {
          why = absl::StrCat("registration ", r->registration_id(), " ended at ",
                             Rfc3339(r->valid_until()));
        }
      }
      return deny("REGISTRATION_REQUIRED",
                  absl::StrCat("purpose ", purpose->id(), " requires an open case for ",
                               request.subject, " (", why,
                               "); declare it with RegistrationService.RegisterCase"));
    }
  }

  // 3. Consent or explicit request of the subject, covering every category asked.
  if (purpose->requires_consent()) {
    const v1::Consent* revoked = nullptr;
    const v1::Consent* lapsed = nullptr;
    const v1::Consent* partial = nullptr;
    for (const ConsentPtr& c : facts.consents) {
      if (!Covers(c->categories(), request.categories, nullptr)) {
        partial = c.get();
      } else if (c->has_revoked_at()) {
        revoked = c.get();
      } else if (now >= FromProto(c->valid_until())) {
        lapsed = c.get();
      } else if (now >= FromProto(c->valid_from())) {
        d.consent_id = c->consent_id();
        break;
      }
    }
    if (d.consent_id.empty()) {
      if (revoked != nullptr) {
        return deny("CONSENT_REVOKED",
                    absl::StrCat("consent ", revoked->consent_id(), " was revoked at ",
                                 Rfc3339(revoked->revoked_at())));
      }
      if (lapsed != nullptr) {
        return deny("CONSENT_EXPIRED", absl::StrCat("consent ", lapsed->consent_id(),
                                                    " expired at ",
                                                    Rfc3339(lapsed->valid_until())));
      }
      if (partial != nullptr) {
        Covers(partial->categories(), request.categories, &d.missing_categories);
        return deny("CONSENT_REQUIRED",
                    absl::StrCat("consent ", partial->consent_id(), " does not cover: ",
                                 absl::StrJoin(d.missing_categories, ", ")));
      }
      return deny("CONSENT_REQUIRED",
                  absl::StrCat("purpose ", purpose->id(), " requires the consent of ",
                               request.subject, " for member ", member->id(),
                               "; none is in force"));
    }
  }
  d.allowed = true;
  d.reason = "ALLOWED";
  d.released_categories = request.categories;
  return d;
}

absl::Status DecisionStatus(const AccessDecision& decision) {
  if (decision.allowed) return absl::OkStatus();
  std::map<std::string, std::string> metadata;
  if (!decision.member_id.empty()) metadata["member"] = decision.member_id;
  if (!decision.missing_categories.empty()) {
    metadata["missing_categories"] = absl::StrJoin(decision.missing_categories, ",");
  }
  return ErrorWithReason(absl::StatusCode::kPermissionDenied, decision.reason,
                         decision.explanation, metadata);
}

}  // namespace onceonly
