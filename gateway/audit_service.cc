#include "gateway/audit_service.h"

#include <algorithm>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "audit/log_export.h"
#include "authz/categories.h"
#include "common/enterprise_number.h"
#include "common/grpc_status.h"
#include "common/proto_time.h"
#include "common/rich_status.h"
#include "common/status_macros.h"
#include "gateway/call_context.h"

namespace onceonly {
namespace {

using config::v1::Member;

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;
constexpr int kDefaultExportPage = 1000;
constexpr int kMaxExportPage = 10000;

absl::Status RequireOwnLog(const AccessLog& log, const std::string& log_id) {
  if (!log_id.empty() && log_id != log.log_id()) {
    return ErrorWithReason(absl::StatusCode::kNotFound, "UNKNOWN_LOG",
                           absl::StrCat("this gateway serves log ", log.log_id(),
                                        ", not ", log_id));
  }
  return absl::OkStatus();
}

absl::StatusOr<int> PageSize(int32_t asked, int fallback, int most) {
  if (asked < 0) return InvalidField("page_size", "INVALID_PAGE_SIZE", "must not be negative");
  if (asked == 0) return fallback;
  return asked > most ? most : asked;
}

// Page tokens are opaque to callers: the store position of the last record returned.
std::string PageToken(uint64_t last_position) {
  return absl::WebSafeBase64Escape(absl::StrCat("v2:", last_position));
}

absl::Status ApplyPageToken(const std::string& token, AccessQuery& query) {
  if (token.empty()) return absl::OkStatus();
  std::string raw;
  absl::string_view position;
  if (absl::WebSafeBase64Unescape(token, &raw)) position = raw;
  if (!absl::ConsumePrefix(&position, "v2:") ||
      !absl::SimpleAtoi(position, &query.after_position) || query.after_position == 0) {
    return InvalidField("page_token", "INVALID_PAGE_TOKEN",
                        "not a token this service returned; start again without one");
  }
  return absl::OkStatus();
}

absl::Status ValidTime(const google::protobuf::Timestamp& t, absl::string_view field) {
  if (t.seconds() < -62135596800 || t.seconds() > 253402300799 || t.nanos() < 0 ||
      t.nanos() > 999999999) {
    return InvalidField(field, "INVALID_TIME", "not a valid time (years 0001 to 9999)");
  }
  return absl::OkStatus();
}

// What a firm sees of an access to its data: who (the administration), why, what, when; not
// which civil servant (their pseudonym is for the administration and the auditors).
void RedactForFirm(v1::AccessRecord& record) {
  record.clear_user();
  record.clear_identity();
  record.clear_subsystem();
  record.clear_request_id();
  if (record.member().empty()) {
    // A caller who is not a member chose every word of its record (its digests included):
    // the firm sees that someone was refused, and why, not what they wrote.
    record.clear_case_ref();
    record.clear_query();
    if (absl::StartsWith(record.purpose(), "sha256:")) record.clear_purpose();
    auto* categories = record.mutable_categories_requested();
    categories->erase(std::remove_if(categories->begin(), categories->end(),
                                     [](const std::string& c) {
                                       return FindDataCategory(c) == nullptr;
                                     }),
                      categories->end());
  }
}

}  // namespace

grpc::ServerUnaryReactor* AuditServiceImpl::QueryAccessLog(
    grpc::CallbackServerContext* context, const v1::QueryAccessLogRequest* request,
    v1::QueryAccessLogResponse* response) {
  return RunLogged(context, ctx_, "/onceonly.v1.AuditService/QueryAccessLog",
                   [&](const CallInfo& call, v1::AccessRecord& asked) -> absl::Status {
    AccessQuery query;
    std::vector<std::string> described;
    if (!request->subject().empty()) {
      ASSIGN_OR_RETURN(query.subject, CanonicalSubject(request->subject(), "subject"));
      asked.set_subject(query.subject);
      described.push_back(absl::StrCat("subject=", query.subject));
    }
    query.member = request->member();
    query.purpose = request->purpose();
    query.log_id = request->log_id();
    query.decision = request->decision();
    for (const auto& [name, value] : {std::pair<const char*, const std::string*>{
                                          "member", &query.member},
                                      {"purpose", &query.purpose},
                                      {"log_id", &query.log_id}}) {
      if (!value->empty()) described.push_back(absl::StrCat(name, "=", *value));
    }
    if (query.decision != v1::DECISION_UNSPECIFIED) {
      described.push_back(absl::StrCat("decision=", v1::Decision_Name(query.decision)));
    }
    if (request->has_from()) {
      RETURN_IF_ERROR(ValidTime(request->from(), "from"));
      query.from = FromProto(request->from());
      described.push_back(absl::StrCat("from=", absl::FormatTime(query.from)));
    }
    if (request->has_until()) {
      RETURN_IF_ERROR(ValidTime(request->until(), "until"));
      query.until = FromProto(request->until());
      described.push_back(absl::StrCat("until=", absl::FormatTime(query.until)));
    }
    if (query.from >= query.until) {
      return InvalidField("until", "EMPTY_TIME_RANGE", "until must be after from");
    }
    ASSIGN_OR_RETURN(query.limit, PageSize(request->page_size(), kDefaultPageSize, kMaxPageSize));
    RETURN_IF_ERROR(ApplyPageToken(request->page_token(), query));
    if (query.after_position > 0) described.push_back("next page");
    asked.set_query(absl::StrJoin(described, " "));

    auto policy = ctx_.pipeline.policy();
    ASSIGN_OR_RETURN(const Member* member, CallerMember(*policy, call));
    if (!HasRole(*member, config::v1::AUDITOR)) {
      // Everyone else sees their own accesses, and only those.
      if (!query.member.empty() && query.member != member->id()) {
        return ErrorWithReason(
            absl::StatusCode::kPermissionDenied, "NOT_OWN_ACCESSES",
            absl::StrCat("member ", member->id(), " may query only its own accesses; leave "
                         "member empty or set it to ", member->id(),
                         " (all records need the AUDITOR role)"));
      }
      query.member = member->id();
    }
    AccessQueryResult found;
    {
      absl::MutexLock lock(&reader_mu_);
      ASSIGN_OR_RETURN(found, reader_->Query(query));
    }
    if (static_cast<int>(found.records.size()) == query.limit) {
      response->set_next_page_token(PageToken(found.last_position));
    }
    for (v1::AccessRecord& r : found.records) *response->add_records() = std::move(r);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* AuditServiceImpl::GetAccessHistory(
    grpc::CallbackServerContext* context, const v1::GetAccessHistoryRequest* request,
    v1::GetAccessHistoryResponse* response) {
  return RunLogged(context, ctx_, "/onceonly.v1.AuditService/GetAccessHistory",
                   [&](const CallInfo& call, v1::AccessRecord& asked) -> absl::Status {
    AccessQuery query;
    ASSIGN_OR_RETURN(query.subject, CanonicalSubject(request->subject(), "subject"));
    asked.set_subject(query.subject);
    asked.set_query(absl::StrCat("history of ", query.subject,
                               request->page_token().empty() ? "" : " (next page)"));
    auto policy = ctx_.pipeline.policy();
    RETURN_IF_ERROR(CallerWithRole(*policy, call, config::v1::FIRM_PORTAL).status());
    // The portal authenticates the firm; the gateway holds it to the one firm it says it
    // acts for.
    RETURN_IF_ERROR(RequireActingFor(call, query.subject));
    ASSIGN_OR_RETURN(query.limit, PageSize(request->page_size(), kDefaultPageSize, kMaxPageSize));
    RETURN_IF_ERROR(ApplyPageToken(request->page_token(), query));
    // Accesses to the firm's data: the records of audit calls about it (an auditor's
    // queries) are the auditors' business, and the firm's own history reads are its own.
    query.data_accesses_only = true;
    AccessQueryResult found;
    {
      absl::MutexLock lock(&reader_mu_);
      ASSIGN_OR_RETURN(found, reader_->Query(query));
    }
    if (static_cast<int>(found.records.size()) == query.limit) {
      response->set_next_page_token(PageToken(found.last_position));
    }
    for (v1::AccessRecord& r : found.records) {
      RedactForFirm(r);
      *response->add_records() = std::move(r);
    }
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* AuditServiceImpl::ExportAccessLog(
    grpc::CallbackServerContext* context, const v1::ExportAccessLogRequest* request,
    v1::ExportAccessLogResponse* response) {
  return RunLogged(context, ctx_, "/onceonly.v1.AuditService/ExportAccessLog",
                   [&](const CallInfo& call, v1::AccessRecord& asked) -> absl::Status {
    const std::string log_id = request->log_id().empty() ? log_.log_id() : request->log_id();
    asked.set_query(absl::StrCat("export ", log_id, " from ", request->start_index()));
    auto policy = ctx_.pipeline.policy();
    RETURN_IF_ERROR(CallerWithRole(*policy, call, config::v1::AUDITOR).status());
    ASSIGN_OR_RETURN(int page_size,
                     PageSize(request->page_size(), kDefaultExportPage, kMaxExportPage));
    LogPage page;
    {
      absl::MutexLock lock(&reader_mu_);
      ASSIGN_OR_RETURN(std::vector<std::string> logs, reader_->LogIds());
      if (std::find(logs.begin(), logs.end(), log_id) == logs.end()) {
        return ErrorWithReason(absl::StatusCode::kNotFound, "UNKNOWN_LOG",
                               absl::StrCat("no log ", log_id, " in this gateway's store; it "
                                            "holds ", absl::StrJoin(logs, ", ")));
      }
      ASSIGN_OR_RETURN(page, ReadLogPage(*reader_, log_id, request->start_index(), page_size));
    }
    for (v1::LogEntry& entry : page.entries) *response->add_entries() = std::move(entry);
    response->set_next_index(page.next_index);
    response->set_end(page.end);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* AuditServiceImpl::GetCheckpoint(
    grpc::CallbackServerContext* context, const v1::GetCheckpointRequest* request,
    v1::GetCheckpointResponse* response) {
  return RunLogged(context, ctx_, "/onceonly.v1.AuditService/GetCheckpoint",
                   [&](const CallInfo& call, v1::AccessRecord& asked) -> absl::Status {
    asked.set_query("checkpoint");
    auto policy = ctx_.pipeline.policy();
    RETURN_IF_ERROR(CallerMember(*policy, call).status());  // any member: hashes only
    RETURN_IF_ERROR(RequireOwnLog(log_, request->log_id()));
    std::optional<v1::Checkpoint> checkpoint = log_.LatestCheckpoint();
    if (!checkpoint.has_value()) {
      return ErrorWithReason(absl::StatusCode::kFailedPrecondition, "NO_CHECKPOINT_YET",
                             "the log has not stored a checkpoint yet; retry in a second");
    }
    *response->mutable_checkpoint() = *std::move(checkpoint);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* AuditServiceImpl::GetInclusionProof(
    grpc::CallbackServerContext* context, const v1::GetInclusionProofRequest* request,
    v1::GetInclusionProofResponse* response) {
  return RunLogged(context, ctx_, "/onceonly.v1.AuditService/GetInclusionProof",
                   [&](const CallInfo& call, v1::AccessRecord& asked) -> absl::Status {
    asked.set_query(absl::StrCat("inclusion of ", request->leaf_index(), " in ",
                               request->tree_size()));
    auto policy = ctx_.pipeline.policy();
    RETURN_IF_ERROR(CallerMember(*policy, call).status());
    RETURN_IF_ERROR(RequireOwnLog(log_, request->log_id()));
    absl::StatusOr<std::vector<std::string>> proof =
        log_.InclusionProof(request->leaf_index(), request->tree_size());
    if (!proof.ok()) {
      // Name the field that is wrong: a size beyond the log, or an index beyond the size.
      return request->tree_size() > log_.TreeSize()
                 ? InvalidField("tree_size", "NO_SUCH_SIZE", proof.status().message())
                 : InvalidField("leaf_index", "NO_SUCH_LEAF", proof.status().message());
    }
    for (std::string& hash : *proof) response->add_hashes(std::move(hash));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* AuditServiceImpl::GetConsistencyProof(
    grpc::CallbackServerContext* context, const v1::GetConsistencyProofRequest* request,
    v1::GetConsistencyProofResponse* response) {
  return RunLogged(context, ctx_, "/onceonly.v1.AuditService/GetConsistencyProof",
                   [&](const CallInfo& call, v1::AccessRecord& asked) -> absl::Status {
    asked.set_query(absl::StrCat("consistency of ", request->first_size(), " with ",
                               request->second_size()));
    auto policy = ctx_.pipeline.policy();
    RETURN_IF_ERROR(CallerMember(*policy, call).status());
    RETURN_IF_ERROR(RequireOwnLog(log_, request->log_id()));
    absl::StatusOr<std::vector<std::string>> proof =
        log_.ConsistencyProof(request->first_size(), request->second_size());
    if (!proof.ok()) {
      return request->first_size() > request->second_size()
                 ? InvalidField("first_size", "NO_SUCH_SIZE",
                                "first_size must not exceed second_size")
                 : InvalidField("second_size", "NO_SUCH_SIZE", proof.status().message());
    }
    for (std::string& hash : *proof) response->add_hashes(std::move(hash));
    return absl::OkStatus();
  });
}

}  // namespace onceonly
