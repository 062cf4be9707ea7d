// The request path of GetDossier, independent of gRPC: validate, authorise, fan out to the
// registries in parallel under the caller's deadline, minimise, log durably, answer.
// Nothing is answered before its access record committed; if the log cannot be written the
// answer is UNAVAILABLE and no data leaves.
#ifndef ONCEONLY_GATEWAY_DOSSIER_PIPELINE_H_
#define ONCEONLY_GATEWAY_DOSSIER_PIPELINE_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "audit/access_log.h"
#include "authz/identity.h"
#include "authz/policy.h"
#include "common/clock.h"
#include "common/thread_pool.h"
#include "common/timer.h"
#include "connectors/registry_connector.h"
#include "gateway/call_info.h"
#include "gateway/dossier_wire.h"
#include "gateway/registry_cache.h"
#include "onceonly/v1/dossier.pb.h"

namespace onceonly {

struct RegistryEndpoint {
  std::unique_ptr<RegistryConnector> connector;
  absl::Duration timeout = absl::Seconds(2);
  // Threads of this registry's own fetch pool, so that a hung registry holds only its own
  // threads and the others keep serving (a bulkhead). 0: the pipeline's shared pool. A
  // registry read asynchronously has no pool: this only sizes its limit on reads in flight.
  int threads = 0;
  // Fetches waiting for a thread beyond which this registry's part of a dossier fails at
  // once (REGISTRY_OVERLOADED) instead of queueing behind a registry that does not answer.
  // 0: no limit.
  int max_queued = 0;
  // Fetches queued or running.
  std::shared_ptr<std::atomic<int>> in_flight = std::make_shared<std::atomic<int>>(0);
  // How long answers may be served from the cache (to callers whose max_age allows it).
  absl::Duration cache_ttl = absl::ZeroDuration();
};

// An allowed dossier as it leaves: its bytes (gateway/dossier_wire.h), a serialized
// onceonly.v1.Dossier, and the access_id they carry.
struct DossierAnswer {
  std::string wire;
  uint64_t access_id = 0;
};

class DossierPipeline {
 public:
  using Done = std::function<void(absl::StatusOr<DossierAnswer>)>;

  // `registries` is keyed by registry name; collaborators must outlive the pipeline. An
  // answer longer than `max_answer_bytes` (the server's largest message; 0: no limit) is not
  // released: it is logged as a denial, ANSWER_TOO_LARGE, and refused RESOURCE_EXHAUSTED,
  // rather than logged as released and then refused by gRPC.
  DossierPipeline(std::shared_ptr<const PolicySnapshot> policy,
                  std::map<std::string, RegistryEndpoint> registries, AccessLog& access_log,
                  const AuthzStore& authz_store, ThreadPool& fetch_pool, const Clock& clock,
                  int64_t cache_max_bytes = int64_t{64} << 20, int64_t max_answer_bytes = 0);

  // The decision GetDossier would take for `request`, without fetching or logging anything
  // (DirectoryService.ExplainAccess). Caller mistakes come back as the same statuses.
  absl::StatusOr<AccessDecision> Explain(const CallInfo& call,
                                         const v1::GetDossierRequest& request) const;

  // Runs the request; `done` is called exactly once, from any thread.
  void GetDossier(const CallInfo& call, const v1::GetDossierRequest& request, Done done);

  // Drains the registries' pools (DrainFetches) before anything they use goes.
  ~DossierPipeline();

  // At shutdown, once no new call can come: runs the fetches still queued in the registries'
  // own pools and joins their threads, and waits for the asynchronous reads (each ends by its
  // deadline), so that their records reach the log before it closes.
  void DrainFetches();

  // Replaces the policy for the next requests; in-flight ones keep the snapshot they have.
  void SetPolicy(std::shared_ptr<const PolicySnapshot> policy);
  std::shared_ptr<const PolicySnapshot> policy() const;

 private:
  struct FanOut;
  struct Prepared;
  // Steps 1-3 for GetDossier and Explain: identity, validation, decision.
  Prepared Prepare(const CallInfo& call, const v1::GetDossierRequest& request) const;
  // Logs a denial (or a logged refusal) and answers it once the record committed.
  void AppendDenial(const CallInfo& call, const Prepared& p, Done done);
  // What one registry is asked for this fan-out: its time budget within the caller's.
  FetchRequest RequestFor(const FanOut& fan_out, const std::string& registry,
                          const RegistryEndpoint& endpoint) const;
  // Starts one registry's part: from the cache, as an asynchronous read, or on a fetch thread.
  void StartFetch(const std::shared_ptr<FanOut>& fan_out, const std::string& registry);
  // One registry's part on a fetch thread, through the cache's single flight.
  void Fetch(const std::shared_ptr<FanOut>& fan_out, const std::string& registry,
             const FetchRequest& request);
  // A part started by StartFetch is back (from the registry or the cache, `asked` when it
  // started): frees its place in the registry's queue, times it, and Completes it.
  void Arrived(const std::shared_ptr<FanOut>& fan_out, const std::string& registry,
               const RegistryEndpoint& endpoint, absl::Time asked,
               absl::StatusOr<registry::v1::SubjectRecords> records, absl::Time retrieved,
               bool from_cache, std::shared_ptr<const FieldWire> cached_company = nullptr);
  // Arrived, for a part whose queue place its caller frees: times it and Completes it.
  void Timed(const std::shared_ptr<FanOut>& fan_out, const std::string& registry,
             absl::Time asked, absl::StatusOr<registry::v1::SubjectRecords> records,
             absl::Time retrieved, bool from_cache,
             std::shared_ptr<const FieldWire> cached_company = nullptr);
  // Records one registry's outcome (already checked by OwnPart); the last one (or the
  // deadline) finishes the fan-out.
  void Complete(const std::shared_ptr<FanOut>& fan_out, const std::string& registry,
                absl::StatusOr<registry::v1::SubjectRecords> records,
                absl::Time retrieved_at = absl::Now(), bool from_cache = false,
                std::shared_ptr<const FieldWire> cached_company = nullptr);
  // At the fetch deadline: the registries that have not answered are labelled
  // REGISTRY_TIMEOUT and the dossier goes out without them.
  void FinishAtDeadline(const std::shared_ptr<FanOut>& fan_out);
  void Finish(std::shared_ptr<FanOut> fan_out);
  // An allowed answer that may not leave after all: logged as a denial for `reason`, nothing
  // released, and answered `refusal` (with the record's access_id).
  void Withhold(const std::shared_ptr<FanOut>& fan_out, const std::string& reason,
                absl::Status refusal);
  // Appends `record` as a denial for `reason` (nothing released, no hash) and answers
  // `refusal`, with the record's access_id.
  void AppendWithheld(v1::AccessRecord record, const std::string& reason, absl::Status refusal,
                      Done done);
  // An allowed answer whose record committed, withdrawn (`reason`) before it left: a second
  // record, a denial naming `released_id`, and the refusal.
  void WithholdAfterCommit(v1::AccessRecord record, uint64_t released_id,
                           const std::string& reason, Done done);
  // The reason to withhold an allowed answer whose consent was revoked, or registration ended,
  // since the decision; "" if it still stands.
  std::string Withdrawn(const FanOut& fan_out) const;

  // Constant after construction.
  const std::map<std::string, RegistryEndpoint> registries_;
  // The pools of the registries with threads > 0.
  std::map<std::string, std::unique_ptr<ThreadPool>> registry_pools_;
  RegistryCache cache_;
  AccessLog& access_log_;
  const AuthzStore& authz_store_;
  ThreadPool& fetch_pool_;
  const Clock& clock_;
  const int64_t max_answer_bytes_;

  // Asynchronous reads not yet answered; DrainFetches waits for them.
  absl::Mutex async_mu_;
  int async_in_flight_ ABSL_GUARDED_BY(async_mu_) = 0;

  mutable absl::Mutex policy_mu_;
  std::shared_ptr<const PolicySnapshot> policy_ ABSL_GUARDED_BY(policy_mu_);
  // Last member: destroyed first, so that no deadline fires into a half-destroyed pipeline.
  Timer deadlines_;
};

// Hex SHA-256 of the deterministic serialization of `dossier`: the auditor's recipe for
// payload_sha256 (with access_id cleared), written independently of the pipeline's bytes.
std::string DossierSha256(const v1::Dossier& dossier);

}  // namespace onceonly

#endif  // ONCEONLY_GATEWAY_DOSSIER_PIPELINE_H_
