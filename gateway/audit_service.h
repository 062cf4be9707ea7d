// AuditService: who accessed what, for whom may see it, and the proofs that the log was not
// rewritten.
// - QueryAccessLog: the AUDITOR role sees every record; any other member its own only.
// - GetAccessHistory: the FIRM_PORTAL role, acting for one firm (x-onceonly-acting-for),
//   sees every access to that firm's data, without the civil servants' pseudonyms.
// - ExportAccessLog: the AUDITOR role reads the log leaf by leaf with its checkpoints.
// - GetCheckpoint, GetInclusionProof, GetConsistencyProof: any member; hashes only.
// Every call is itself an access record, committed before the answer leaves (fail closed).
#ifndef ONCEONLY_GATEWAY_AUDIT_SERVICE_H_
#define ONCEONLY_GATEWAY_AUDIT_SERVICE_H_

#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "audit/access_log.h"
#include "audit/access_log_store.h"
#include "gateway/service_call.h"
#include "onceonly/v1/audit.grpc.pb.h"

namespace onceonly {

class AuditServiceImpl final : public v1::AuditService::CallbackService {
 public:
  // `reader`: a read-only store on the log's database, so queries never wait for the writer.
  AuditServiceImpl(const ServiceContext& context, AccessLog& log,
                   std::unique_ptr<AccessLogStore> reader)
      : ctx_(context), log_(log), reader_(std::move(reader)) {}
  grpc::ServerUnaryReactor* QueryAccessLog(grpc::CallbackServerContext* context,
                                           const v1::QueryAccessLogRequest* request,
                                           v1::QueryAccessLogResponse* response) override;
  grpc::ServerUnaryReactor* GetAccessHistory(grpc::CallbackServerContext* context,
                                             const v1::GetAccessHistoryRequest* request,
                                             v1::GetAccessHistoryResponse* response) override;
  grpc::ServerUnaryReactor* ExportAccessLog(grpc::CallbackServerContext* context,
                                            const v1::ExportAccessLogRequest* request,
                                            v1::ExportAccessLogResponse* response) override;
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
  absl::Mutex reader_mu_;
  std::unique_ptr<AccessLogStore> reader_ ABSL_GUARDED_BY(reader_mu_);
};

}  // namespace onceonly

#endif  // ONCEONLY_GATEWAY_AUDIT_SERVICE_H_
