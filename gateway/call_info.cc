#include "gateway/call_info.h"

#include <openssl/sha.h>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "authz/categories.h"
#include "common/enterprise_number.h"
#include "common/proto_time.h"
#include "common/rich_status.h"
#include "common/utf8.h"

namespace onceonly {
namespace {

// The refusal as the log keeps it: fixed text, nothing of what was sent.
constexpr absl::string_view kRefusedMetadata =
    "refused metadata: a value that is not printable ASCII, or over 256 bytes, or sent twice";

// An identity read off a certificate the CA signed: kept if it is short printable text, for
// the auditors to see who knocked; otherwise its digest.
std::string FixedIdentity(const std::string& text) {
  if (text.size() <= kMaxMetadataBytes && IsPrintableAscii(text)) return text;
  return TextDigest(text);
}

std::string DigestUnlessEmpty(const std::string& text) {
  return text.empty() ? std::string() : TextDigest(text);
}

}  // namespace

std::string TextDigest(absl::string_view text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  return absl::StrCat("sha256:", absl::BytesToHexString(absl::string_view(
                                     reinterpret_cast<const char*>(digest), sizeof(digest))));
}

absl::Status CheckMetadataValue(absl::string_view header, absl::string_view value) {
  if (value.size() > kMaxMetadataBytes) {
    return InvalidField(header, "INVALID_METADATA",
                        absl::StrCat(header, " is ", value.size(), " bytes; at most ",
                                     kMaxMetadataBytes, " are accepted"));
  }
  if (!IsPrintableAscii(value)) {
    return InvalidField(header, "INVALID_METADATA",
                        absl::StrCat(header, " must be printable ASCII (space to '~'): no "
                                             "control characters, line breaks or non-ASCII "
                                             "bytes"));
  }
  return absl::OkStatus();
}

void ReadCallMetadata(absl::Span<const std::pair<absl::string_view, absl::string_view>> headers,
                      CallInfo& call) {
  struct Wanted {
    absl::string_view header;
    std::string* value;
    bool seen = false;
  };
  Wanted wanted[] = {{"x-onceonly-case-ref", &call.case_ref},
                     {"x-onceonly-user", &call.user},
                     {"x-onceonly-acting-for", &call.acting_for},
                     {"x-request-id", &call.request_id}};
  auto refuse = [&call](absl::Status why) {
    if (call.metadata_error.ok()) call.metadata_error = std::move(why);
  };
  for (const auto& [key, value] : headers) {
    Wanted* slot = nullptr;
    for (Wanted& w : wanted) {
      if (w.header == key) slot = &w;
    }
    // Headers of ours the gateway does not read are checked too: a client that sends them
    // expects them to mean something.
    if (slot == nullptr && !absl::StartsWith(key, "x-onceonly-")) continue;
    const absl::string_view name = slot != nullptr ? slot->header : "x-onceonly-*";
    if (absl::Status ok = CheckMetadataValue(name, value); !ok.ok()) {
      refuse(std::move(ok));
    } else if (slot != nullptr && slot->seen) {
      refuse(InvalidField(name, "INVALID_METADATA",
                          absl::StrCat(name, " was sent more than once; send it once")));
    } else if (slot != nullptr) {
      slot->seen = true;
      slot->value->assign(value.data(), value.size());
    }
  }
  if (!call.metadata_error.ok()) {
    for (Wanted& w : wanted) w.value->clear();
  }
}

v1::AccessRecord CallRecord(const CallInfo& call, absl::Time now) {
  v1::AccessRecord r;
  *r.mutable_time() = ToProto(now);
  if (call.identity.ok()) {
    r.set_identity(call.identity->uri);
    r.set_subsystem(call.identity->subsystem);
  } else {
    r.set_identity(call.peer_description);
  }
  r.set_user(call.user);
  r.set_case_ref(call.case_ref);
  r.set_request_id(call.request_id);
  r.set_method(call.method);
  if (!call.metadata_error.ok()) r.set_query(std::string(kRefusedMetadata));
  return r;
}

void ConfineToFixedFields(const PolicySnapshot& policy, const CallInfo& call,
                          v1::AccessRecord* record) {
  record->set_identity(FixedIdentity(record->identity()));
  record->set_subsystem(FixedIdentity(record->subsystem()));
  record->set_user(DigestUnlessEmpty(record->user()));
  record->set_case_ref(DigestUnlessEmpty(record->case_ref()));
  if (call.request_id_from_caller) record->set_request_id(DigestUnlessEmpty(record->request_id()));
  if (record->query() != kRefusedMetadata) record->set_query(DigestUnlessEmpty(record->query()));
  if (!record->subject().empty()) {
    absl::StatusOr<std::string> canonical = CanonicalEnterpriseNumber(record->subject());
    record->set_subject(canonical.ok() ? *canonical : TextDigest(record->subject()));
  }
  if (!record->purpose().empty() && policy.FindPurpose(record->purpose()) == nullptr) {
    record->set_purpose(TextDigest(record->purpose()));
  }
  auto* categories = record->mutable_categories_requested();
  int kept = categories->size();
  if (kept > kMaxStrangerCategories) {
    const int dropped = kept - (kMaxStrangerCategories - 1);
    categories->DeleteSubrange(kMaxStrangerCategories - 1, dropped);
    kept = kMaxStrangerCategories - 1;
    categories->Add(absl::StrCat("(", dropped, " more)"));
  }
  for (int i = 0; i < kept; ++i) {
    std::string* category = categories->Mutable(i);
    if (FindDataCategory(*category) == nullptr) *category = TextDigest(*category);
  }
}

}  // namespace onceonly
