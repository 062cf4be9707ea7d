// The gateway process as an object: builds the registries, the access log and the policy
// from a config, serves onceonly.v1 over mTLS only (callback API), plus grpc.health.v1 and
// server reflection if configured. Tests start it on port 0.
#ifndef ONCEONLY_GATEWAY_GATEWAY_SERVER_H_
#define ONCEONLY_GATEWAY_GATEWAY_SERVER_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/clock.h"
#include "onceonly/config/v1/config.pb.h"

namespace grpc {
class Server;
}

namespace onceonly {

class AccessLog;
class AccessLogStore;
class AuthzStore;
class Ed25519Signer;
class RevocationList;
class DossierPipeline;
class ThreadPool;
class CallAdmission;
class MetricsServer;

class GatewayServer {
 public:
  // `config` must have gone through LoadGatewayConfig / FinishGatewayConfig.
  static absl::StatusOr<std::unique_ptr<GatewayServer>> Start(
      const config::v1::GatewayConfig& config, const Clock& clock = Clock::Real());
  // Drains in-flight calls (up to 5 s), then stops.
  ~GatewayServer();

  int port() const { return port_; }
  // The Prometheus port (metrics_listen_address), or 0 if metrics are not served.
  int metrics_port() const;
  void Wait();
  void Shutdown();
  // Reloads the policy file (SIGHUP); a bad file keeps the current policy and returns why.
  absl::Status ReloadPolicy();
  // Reloads only if the file changed since the last load (what the watcher thread runs every
  // policy_poll_interval). True if it reloaded.
  absl::StatusOr<bool> ReloadPolicyIfChanged();
  // Reloads the CRL now if its file changed (SIGHUP; the watcher also does it every poll, and
  // each call re-checks it at most once a second). A bad file keeps the previous list.
  absl::Status ReloadRevocations();
  // Drops the content of access records older than audit.retention (their leaf hashes stay;
  // see AccessLogStore::Prune). A thread runs it every minute; 0 without a retention.
  absl::StatusOr<uint64_t> PruneExpiredRecords();
  // Brings the access log's query indexes up to the writer (AccessLogStore::IndexPending).
  // The same thread runs it every 250 ms. Returns how many records it indexed.
  absl::StatusOr<uint64_t> IndexAccessLog();

 private:
  class Services;
  GatewayServer() = default;
  static std::string PolicyFileVersion(const std::string& path);
  absl::Status ReloadPolicyLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(reload_mu_);

  config::v1::GatewayConfig config_;
  const Clock* clock_ = nullptr;
  std::unique_ptr<ThreadPool> fetch_pool_;
  std::unique_ptr<CallAdmission> admission_;
  std::unique_ptr<MetricsServer> metrics_;
  std::unique_ptr<RevocationList> revocations_;
  std::unique_ptr<AuthzStore> authz_store_;
  std::unique_ptr<Ed25519Signer> receipt_signer_;
  std::unique_ptr<AccessLog> access_log_;
  std::unique_ptr<DossierPipeline> pipeline_;
  std::unique_ptr<Services> services_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;

  absl::Mutex reload_mu_;
  std::string policy_version_ ABSL_GUARDED_BY(reload_mu_);  // inode:size:mtime last loaded
  absl::Notification stop_watching_;
  std::thread policy_watcher_;
  absl::Mutex maintenance_mu_;
  std::unique_ptr<AccessLogStore> maintenance_store_ ABSL_GUARDED_BY(maintenance_mu_);
  std::thread audit_maintenance_;
};

}  // namespace onceonly

#endif  // ONCEONLY_GATEWAY_GATEWAY_SERVER_H_
