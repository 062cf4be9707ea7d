#include "gateway/audit_service.h"

#include "absl/strings/str_cat.h"
#include "audit/checkpoint.h"
#include "common/rich_status.h"
#include "common/status_macros.h"

namespace onceonly {
namespace {

// Any member may ask: proofs reveal hashes only, never records.
absl::Status RequireMember(const ServiceContext& ctx, const CallInfo& call) {
  if (!call.identity.ok()) return call.identity.status();
  if (ctx.pipeline.policy()->FindMember(*call.identity) == nullptr) {
    return ErrorWithReason(absl::StatusCode::kPermissionDenied, "UNKNOWN_MEMBER",
                           absl::StrCat(call.identity->uri, " is not a member in the policy"));
  }
  return absl::OkStatus();
}

absl::Status RequireOwnLog(const AccessLog& log, const std::string& log_id) {
  if (!log_id.empty() && log_id != log.log_id()) {
    return ErrorWithReason(absl::StatusCode::kNotFound, "UNKNOWN_LOG",
                           absl::StrCat("this gateway serves log ", log.log_id(),
                                        ", not ", log_id));
  }
  return absl::OkStatus();
}

}  // namespace

grpc::ServerUnaryReactor* AuditServiceImpl::GetCheckpoint(
    grpc::CallbackServerContext* context, const v1::GetCheckpointRequest* request,
    v1::GetCheckpointResponse* response) {
  return RunUnary(context, ctx_, "/onceonly.v1.AuditService/GetCheckpoint",
                  [&](const CallInfo& call) -> absl::Status {
    RETURN_IF_ERROR(RequireMember(ctx_, call));
    RETURN_IF_ERROR(RequireOwnLog(log_, request->log_id()));
    v1::Checkpoint* checkpoint = response->mutable_checkpoint();
    const uint64_t size = log_.TreeSize();
    ASSIGN_OR_RETURN(std::string root, log_.RootAt(size));
    checkpoint->set_log_id(log_.log_id());
    checkpoint->set_tree_size(size);
    checkpoint->set_root_hash(root);
    checkpoint->mutable_time()->set_seconds(absl::ToUnixSeconds(ctx_.clock.Now()));
    ASSIGN_OR_RETURN(std::string signature,
                     ctx_.receipt_signer.Sign(CheckpointSignedText(*checkpoint)));
    checkpoint->set_signature(signature);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* AuditServiceImpl::GetInclusionProof(
    grpc::CallbackServerContext* context, const v1::GetInclusionProofRequest* request,
    v1::GetInclusionProofResponse* response) {
  return RunUnary(context, ctx_, "/onceonly.v1.AuditService/GetInclusionProof",
                  [&](const CallInfo& call) -> absl::Status {
    RETURN_IF_ERROR(RequireMember(ctx_, call));
    RETURN_IF_ERROR(RequireOwnLog(log_, request->log_id()));
    absl::StatusOr<std::vector<std::string>> proof =
        log_.InclusionProof(request->leaf_index(), request->tree_size());
    if (!proof.ok()) {
      return InvalidField("leaf_index", "NO_SUCH_LEAF", proof.status().message());
    }
    for (std::string& hash : *proof) response->add_hashes(std::move(hash));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* AuditServiceImpl::GetConsistencyProof(
    grpc::CallbackServerContext* context, const v1::GetConsistencyProofRequest* request,
    v1::GetConsistencyProofResponse* response) {
  return RunUnary(context, ctx_, "/onceonly.v1.AuditService/GetConsistencyProof",
                  [&](const CallInfo& call) -> absl::Status {
    RETURN_IF_ERROR(RequireMember(ctx_, call));
    RETURN_IF_ERROR(RequireOwnLog(log_, request->log_id()));
    absl::StatusOr<std::vector<std::string>> proof =
        log_.ConsistencyProof(request->first_size(), request->second_size());
    if (!proof.ok()) {
      return InvalidField("second_size", "NO_SUCH_SIZE", proof.status().message());
    }
    for (std::string& hash : *proof) response->add_hashes(std::move(hash));
    return absl::OkStatus();
  });
}

}  // namespace onceonly
