// onceonly-registry: serves one registry (companies, permits or tax) over the
// onceonly.registry.v1 contract, over mTLS.
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <thread>

#include "common/command_line.h"
#include "connectors/kbo/kbo_connector.h"
#include "connectors/remote/registry_server.h"
#include "connectors/sql/sql_connectors.h"

namespace {

constexpr char kUsage[] =
    "usage: onceonly-registry --registry companies|permits|tax --db FILE --listen HOST:PORT\n"
    "                         --cert FILE --key FILE --ca FILE [--port-file FILE]\n"
    "                         [--allow-client URI]... [--trust-domain TD]\n"
    "  companies reads a database written by `onceonly kbo import`;\n"
    "  permits and tax read one written by `onceonly registry seed`.\n"
    "  Clients must present a certificate signed by --ca whose URI SAN is an --allow-client\n"
    "  (default: spiffe://<trust-domain>/gateway; trust domain default onceonly.brussels).\n";

volatile std::sig_atomic_t g_stop = 0;

int Fail(const std::string& message) {
  std::cerr << "onceonly-registry: " << message << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace onceonly;
  auto cl = CommandLine::Parse(std::vector<std::string>(argv + 1, argv + argc),
                               {"registry", "db", "listen", "cert", "key", "ca", "port-file",
                                "allow-client", "trust-domain"},
                               {"help"});
  if (!cl.ok()) return Fail(std::string(cl.status().message()) + "\n" + kUsage);
  if (cl->Has("help")) {
    std::cout << kUsage;
    return 0;
  }
  for (const char* flag : {"registry", "db", "listen", "cert", "key", "ca"}) {
    if (!cl->Has(flag)) return Fail(std::string("missing --") + flag + "\n" + kUsage);
  }
  std::string registry = cl->Get("registry");
  absl::StatusOr<std::unique_ptr<RegistryConnector>> connector;
  if (registry == "companies") {
    auto kbo = KboConnector::Create(cl->Get("db"));
    if (kbo.ok()) connector = std::unique_ptr<RegistryConnector>(std::move(*kbo));
    else connector = kbo.status();
  } else if (registry == "permits") {
    auto permits = PermitConnector::Create(cl->Get("db"));
    if (permits.ok()) connector = std::unique_ptr<RegistryConnector>(std::move(*permits));
    else connector = permits.status();
  } else if (registry == "tax") {
    auto tax = TaxConnector::Create(cl->Get("db"));
    if (tax.ok()) connector = std::unique_ptr<RegistryConnector>(std::move(*tax));
    else connector = tax.status();
  } else {
    return Fail("--registry must be companies, permits or tax, not \"" + registry + "\"");
  }
  if (!connector.ok()) return Fail(std::string(connector.status().message()));

  config::v1::TlsFiles tls;
  tls.set_cert_file(cl->Get("cert"));
  tls.set_key_file(cl->Get("key"));
  tls.set_ca_file(cl->Get("ca"));
  std::vector<std::string> allowed = cl->GetAll("allow-client");
  if (allowed.empty()) {
    allowed.push_back("spiffe://" + cl->Get("trust-domain", "onceonly.brussels") + "/gateway");
  }
  auto server = RegistryServer::Start(*std::move(connector), cl->Get("listen"), tls, allowed);
  if (!server.ok()) return Fail(std::string(server.status().message()));
  if (cl->Has("port-file")) std::ofstream(cl->Get("port-file")) << (*server)->port() << "\n";
  std::cerr << "onceonly-registry: serving " << registry << " on port " << (*server)->port()
            << " (mTLS)\n";

  std::signal(SIGTERM, [](int) { g_stop = 1; });
  std::signal(SIGINT, [](int) { g_stop = 1; });
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  std::cerr << "onceonly-registry: draining\n";
  (*server)->Shutdown();
  if (cl->Has("port-file")) std::remove(cl->Get("port-file").c_str());
  return 0;
}
