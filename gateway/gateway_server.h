// The gateway process as an object: builds the registries, the access log and the policy
// from a config, serves onceonly.v1 over mTLS only (callback API), plus grpc.health.v1 and
// server reflection. Tests start it on port 0.
#ifndef ONCEONLY_GATEWAY_GATEWAY_SERVER_H_
#define ONCEONLY_GATEWAY_GATEWAY_SERVER_H_

#include <memory>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "onceonly/config/v1/config.pb.h"

namespace grpc {
class Server;
}

namespace onceonly {

class AccessLog;
class DossierPipeline;
class ThreadPool;

class GatewayServer {
 public:
  // `config` must have gone through LoadGatewayConfig / FinishGatewayConfig.
  static absl::StatusOr<std::unique_ptr<GatewayServer>> Start(
      const config::v1::GatewayConfig& config, const Clock& clock = Clock::Real());
  // Drains in-flight calls (up to 5 s), then stops.
  ~GatewayServer();

  int port() const { return port_; }
  void Wait();
  void Shutdown();
  // Reloads the policy file; a bad file keeps the current policy and returns why.
  absl::Status ReloadPolicy();

 private:
  class Services;
  GatewayServer() = default;

  config::v1::GatewayConfig config_;
  std::unique_ptr<ThreadPool> fetch_pool_;
  std::unique_ptr<AccessLog> access_log_;
  std::unique_ptr<DossierPipeline> pipeline_;
  std::unique_ptr<Services> services_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace onceonly

#endif  // ONCEONLY_GATEWAY_GATEWAY_SERVER_H_
