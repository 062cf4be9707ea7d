// AuditService: the proofs side is served (GetCheckpoint, GetInclusionProof,
// GetConsistencyProof) so that a member or a firm can check that an access is in the log and
// that the log was not rewritten. QueryAccessLog and GetAccessHistory still answer
// UNIMPLEMENTED (audit-log issue).
#ifndef ONCEONLY_GATEWAY_AUDIT_SERVICE_H_
#define ONCEONLY_GATEWAY_AUDIT_SERVICE_H_

#include "audit/access_log.h"
#include "gateway/member_services.h"
#include "onceonly/v1/audit.grpc.pb.h"

namespace onceonly {

class AuditServiceImpl final : public v1::AuditService::CallbackService {
 public:
  AuditServiceImpl(const ServiceContext& context, AccessLog& log)
      : ctx_(context), log_(log) {}
  grpc::ServerUnaryReactor* GetCheckpoint(grpc::CallbackServerContext* context,
                                          const v1::GetCheckpointRequest* request,
                                          v1::GetCheckpointResponse* response) override;
  grpc::ServerUnaryReactor* GetInclusionProof(grpc::CallbackServerContext* context,
                                              const v1::GetInclusionProofRequest* request,
                                              v1::GetInclusionProofResponse* response) override;
  grpc::ServerUnaryReactor* GetConsistencyProof(
      grpc::CallbackServerContext* context, const v1::GetConsistencyProofRequest* request,
      v1::GetConsistencyProofResponse* response) override;

 private:
  const ServiceContext& ctx_;
  AccessLog& log_;
};

}  // namespace onceonly

#endif  // ONCEONLY_GATEWAY_AUDIT_SERVICE_H_
