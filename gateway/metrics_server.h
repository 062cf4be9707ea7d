// The Prometheus scrape endpoint: GET /metrics on its own port, plain HTTP, served by
// libmicrohttpd (a packaged HTTP server, on its own thread). Keep the port off the public
// network: metrics carry registry names and member ids, no dossier data.
#ifndef ONCEONLY_GATEWAY_METRICS_SERVER_H_
#define ONCEONLY_GATEWAY_METRICS_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/metrics.h"

struct MHD_Daemon;

namespace onceonly {

class MetricsServer {
 public:
  // Serves `registry` on `listen_address`, "HOST:PORT" (port 0 picks one). HOST is an IPv4
  // address or localhost; left empty (":9464") it is 127.0.0.1: the port is exposed beyond
  // the machine only when asked for by address, e.g. "0.0.0.0:9464".
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(const std::string& listen_address,
                                                              const MetricsRegistry& registry);
  ~MetricsServer();
  int port() const { return port_; }
  // The address the socket is bound to, "HOST:PORT" with HOST in numbers.
  const std::string& bound_address() const { return bound_address_; }

 private:
  explicit MetricsServer(const MetricsRegistry& registry) : registry_(registry) {}
  const MetricsRegistry& registry_;
  MHD_Daemon* daemon_ = nullptr;
  int port_ = 0;
  std::string bound_address_;
};

}  // namespace onceonly

#endif  // ONCEONLY_GATEWAY_METRICS_SERVER_H_
