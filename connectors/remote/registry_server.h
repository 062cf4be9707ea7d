// Serves one RegistryConnector over the onceonly.registry.v1 contract, over mTLS, so that a
// registry can run as its own process, owned by its own administration. Used by the
// `onceonly-registry` binary and by tests.
#ifndef ONCEONLY_CONNECTORS_REMOTE_REGISTRY_SERVER_H_
#define ONCEONLY_CONNECTORS_REMOTE_REGISTRY_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "connectors/registry_connector.h"
#include "onceonly/config/v1/config.pb.h"

namespace grpc {
class Server;
class Service;
}  // namespace grpc

namespace onceonly {

class RegistryServer {
 public:
  // Starts serving `connector` on `listen_address` ("127.0.0.1:0" picks a port). Clients
  // must present a certificate signed by tls.ca_file AND carry one of `allowed_clients` as a
  // URI SAN (typically spiffe://<trust-domain>/gateway): members hold certificates from the
  // same CA, and must not reach a registry around the gateway's checks and log.
  static absl::StatusOr<std::unique_ptr<RegistryServer>> Start(
      std::unique_ptr<RegistryConnector> connector, const std::string& listen_address,
      const config::v1::TlsFiles& tls, std::vector<std::string> allowed_clients);
  ~RegistryServer();

  int port() const { return port_; }
  void Wait();
  void Shutdown();

 private:
  RegistryServer() = default;
  std::unique_ptr<RegistryConnector> connector_;
  std::vector<std::string> allowed_clients_;
  std::unique_ptr<grpc::Service> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace onceonly

#endif  // ONCEONLY_CONNECTORS_REMOTE_REGISTRY_SERVER_H_
