#include "gateway/metrics_server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace onceonly {
namespace {

MHD_Result Answer(void* cls, MHD_Connection* connection, const char* url, const char* method,
                  const char* /*version*/, const char* /*upload_data*/,
                  size_t* /*upload_data_size*/, void** /*con_cls*/) {
  const auto* registry = static_cast<const MetricsRegistry*>(cls);
  std::string body;
  unsigned int code = MHD_HTTP_OK;
  const char* type = "text/plain; version=0.0.4; charset=utf-8";
  if (std::strcmp(method, "GET") != 0 && std::strcmp(method, "HEAD") != 0) {
    code = MHD_HTTP_METHOD_NOT_ALLOWED;
    body = "GET /metrics\n";
  } else if (std::strcmp(url, "/metrics") != 0) {
    code = MHD_HTTP_NOT_FOUND;
    body = "the metrics are at /metrics\n";
  } else {
    body = registry->Render();
  }
  MHD_Response* response =
      MHD_create_response_from_buffer(body.size(), body.data(), MHD_RESPMEM_MUST_COPY);
  MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, type);
  MHD_Result queued = MHD_queue_response(connection, code, response);
  MHD_destroy_response(response);
  return queued;
}

}  // namespace

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const std::string& listen_address, const MetricsRegistry& registry) {
  const size_t colon = listen_address.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(listen_address.substr(colon + 1), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "metrics_listen_address \"", listen_address, "\" is not HOST:PORT (e.g. 127.0.0.1:9464)"));
  }
  std::string host = listen_address.substr(0, colon);
  if (host == "localhost") host = "127.0.0.1";
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  // Metrics name registries and members: a host left out means this machine only.
  if (host.empty()) host = "127.0.0.1";
  if (inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "metrics_listen_address: \"", host, "\" is not an IPv4 address or localhost"));
  }
  std::unique_ptr<MetricsServer> server(new MetricsServer(registry));
  server->daemon_ = MHD_start_daemon(
      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL_LINUX_ONLY, static_cast<uint16_t>(port),
      nullptr, nullptr, &Answer, const_cast<MetricsRegistry*>(&server->registry_),
      MHD_OPTION_SOCK_ADDR, reinterpret_cast<sockaddr*>(&address),
      MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
  if (server->daemon_ == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", listen_address, " (in use?)"));
  }
  const MHD_DaemonInfo* info = MHD_get_daemon_info(server->daemon_, MHD_DAEMON_INFO_BIND_PORT);
  server->port_ = info != nullptr ? info->port : port;
  // What the kernel holds, not what was asked: the proof of where the port is open.
  const MHD_DaemonInfo* socket = MHD_get_daemon_info(server->daemon_, MHD_DAEMON_INFO_LISTEN_FD);
  sockaddr_in bound{};
  socklen_t length = sizeof(bound);
  char bound_host[INET_ADDRSTRLEN] = "?";
  if (socket != nullptr &&
      getsockname(socket->listen_fd, reinterpret_cast<sockaddr*>(&bound), &length) == 0) {
    inet_ntop(AF_INET, &bound.sin_addr, bound_host, sizeof(bound_host));
  }
  server->bound_address_ = absl::StrCat(bound_host, ":", ntohs(bound.sin_port));
  return server;
}

MetricsServer::~MetricsServer() {
  if (daemon_ != nullptr) MHD_stop_daemon(daemon_);
}

}  // namespace onceonly
