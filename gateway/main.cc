// onceonly-gateway: the "only once" data exchange gateway. Parses flags, builds the server
// from its config, and waits; SIGHUP reloads the policy, SIGTERM/SIGINT drain and stop.
#include <csignal>
#include <cstdio>
#include <iostream>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "common/command_line.h"
#include "common/output_file.h"
#include "gateway/gateway_config.h"
#include "gateway/gateway_server.h"

namespace {

constexpr char kUsage[] =
    "usage: onceonly-gateway --config FILE [--port-file FILE]\n"
    "  FILE is a gateway config (schema onceonly.config.v1.GatewayConfig, YAML);\n"
    "  see docs/operator-guide.md. --port-file receives the bound port (for port 0).\n";

volatile std::sig_atomic_t g_stop = 0;
volatile std::sig_atomic_t g_reload = 0;

}  // namespace

int main(int argc, char** argv) {
  using namespace onceonly;
  // Debian's Abseil checks every Mutex acquisition for lock-order cycles, a debugging aid
  // that costs a few percent on the request path; the tests keep it on.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  auto cl = CommandLine::Parse(std::vector<std::string>(argv + 1, argv + argc),
                               {"config", "port-file"}, {"help"});
  if (!cl.ok()) {
    std::cerr << "onceonly-gateway: " << cl.status().message() << "\n" << kUsage;
    return 2;
  }
  if (cl->Has("help") || !cl->Has("config")) {
    std::cerr << kUsage;
    return cl->Has("help") ? 0 : 2;
  }
  auto config = LoadGatewayConfig(cl->Get("config"));
  if (!config.ok()) {
    std::cerr << "onceonly-gateway: " << config.status().message() << "\n";
    return 1;
  }
  if (absl::Status files = CheckGatewayFiles(*config); !files.ok()) {
    std::cerr << "onceonly-gateway: " << cl->Get("config") << ": " << files.message() << "\n";
    return 1;
  }
  if (cl->Has("port-file")) {
    if (absl::Status free = CheckOutputPathFree(cl->Get("port-file")); !free.ok()) {
      std::cerr << "onceonly-gateway: --port-file: " << free.message() << "\n";
      return 1;
    }
  }
  // Handlers first: a SIGHUP during start-up must not kill the process.
  std::signal(SIGTERM, [](int) { g_stop = 1; });
  std::signal(SIGINT, [](int) { g_stop = 1; });
  std::signal(SIGHUP, [](int) { g_reload = 1; });
  auto server = GatewayServer::Start(*config);
  if (!server.ok()) {
    std::cerr << "onceonly-gateway: " << server.status().message() << "\n";
    return 1;
  }
  if (cl->Has("port-file")) {
    if (absl::Status written = WritePortFile(cl->Get("port-file"), (*server)->port());
        !written.ok()) {
      std::cerr << "onceonly-gateway: --port-file: " << written.message() << "\n";
      return 1;
    }
  }
  if ((*server)->metrics_port() != 0) {
    std::cerr << "onceonly-gateway: Prometheus metrics on port " << (*server)->metrics_port()
              << " (GET /metrics)\n";
  }
  std::cerr << "onceonly-gateway: " << config->instance_name() << " serving on port "
            << (*server)->port() << " (mTLS only)\n";

  while (!g_stop) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (g_reload) {
      g_reload = 0;
      absl::Status reloaded = (*server)->ReloadPolicy();
      std::cerr << "onceonly-gateway: policy reload: "
                << (reloaded.ok() ? "ok" : std::string(reloaded.message())) << "\n";
      absl::Status crl = (*server)->ReloadRevocations();
      if (!crl.ok()) std::cerr << "onceonly-gateway: CRL reload: " << crl.message() << "\n";
    }
  }
  std::cerr << "onceonly-gateway: draining\n";
  server->reset();
  if (cl->Has("port-file")) std::remove(cl->Get("port-file").c_str());
  return 0;
}
