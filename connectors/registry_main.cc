// onceonly-registry: serves one registry (companies, permits or tax) over the
// onceonly.registry.v1 contract, over mTLS.
#include <csignal>
#include <cstdio>
#include <iostream>
#include <thread>

#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/command_line.h"
#include "common/output_file.h"
#include "connectors/remote/fault_injection.h"
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
    "  (default: spiffe://<trust-domain>/gateway; trust domain default onceonly.brussels).\n"
    "faults, for tests and demos:\n"
    "  --fault-latency DURATION   added before every answer (e.g. 50ms)\n"
    "  --fault-error-rate P       share of calls answered UNAVAILABLE (0 to 1)\n"
    "  --fault-hang-rate P        share of calls never answered before their deadline\n"
    "  --fault-close-on-accept    accept TCP connections and close them at once (no gRPC)\n";

volatile std::sig_atomic_t g_stop = 0;

int Fail(const std::string& message) {
  std::cerr << "onceonly-registry: " << message << "\n";
  return 1;
}

// --fault-* flags; INVALID_ARGUMENT naming the flag.
absl::StatusOr<onceonly::FaultSpec> ParseFaults(const onceonly::CommandLine& cl) {
  onceonly::FaultSpec spec;
  if (cl.Has("fault-latency") &&
      (!absl::ParseDuration(cl.Get("fault-latency"), &spec.latency) ||
       spec.latency < absl::ZeroDuration())) {
    return absl::InvalidArgumentError("--fault-latency takes a duration such as 50ms, not \"" +
                                      cl.Get("fault-latency") + "\"");
  }
  for (auto [flag, rate] : {std::pair<const char*, double*>{"fault-error-rate", &spec.error_rate},
                            {"fault-hang-rate", &spec.hang_rate}}) {
    if (cl.Has(flag) && (!absl::SimpleAtod(cl.Get(flag), rate) || *rate < 0 || *rate > 1)) {
      return absl::InvalidArgumentError(std::string("--") + flag +
                                        " takes a share from 0 to 1, not \"" + cl.Get(flag) +
                                        "\"");
    }
  }
  return spec;
}

// --fault-close-on-accept: a registry whose port accepts TCP connections and closes them at
// once, until SIGTERM.
absl::Status CloseEveryConnection(const std::string& listen, const std::string& port_file) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError("--listen must be HOST:PORT, not \"" + listen + "\"");
  }
  std::string host = listen.substr(0, colon);
  if (host.size() > 1 && host.front() == '[') host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), listen.substr(colon + 1).c_str(),
                           &hints, &found);
      rc != 0) {
    return absl::InvalidArgumentError("--listen " + listen + ": " + gai_strerror(rc));
  }
  const int fd = socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  const bool bound = fd >= 0 && bind(fd, found->ai_addr, found->ai_addrlen) == 0 &&
                     ::listen(fd, 128) == 0;
  freeaddrinfo(found);
  if (!bound) {
    return absl::UnavailableError("cannot listen on " + listen + ": " + std::strerror(errno));
  }
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  const int port = ntohs(address.ss_family == AF_INET6
                             ? reinterpret_cast<sockaddr_in6*>(&address)->sin6_port
                             : reinterpret_cast<sockaddr_in*>(&address)->sin_port);
  if (!port_file.empty()) {
    if (absl::Status written = onceonly::WritePortFile(port_file, port); !written.ok()) {
      close(fd);
      return written;
    }
  }
  std::cerr << "onceonly-registry: closing every connection on port " << port << "\n";
  while (!g_stop) {
    pollfd waiting{fd, POLLIN, 0};
    if (poll(&waiting, 1, 200) > 0) {
      const int client = accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (client >= 0) close(client);
    }
  }
  close(fd);
  if (!port_file.empty()) std::remove(port_file.c_str());
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  using namespace onceonly;
  // Debian's Abseil checks every Mutex acquisition for lock-order cycles, a debugging aid
  // that costs a few percent on the request path; the tests keep it on.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  auto cl = CommandLine::Parse(std::vector<std::string>(argv + 1, argv + argc),
                               {"registry", "db", "listen", "cert", "key", "ca", "port-file",
                                "allow-client", "trust-domain", "fault-latency",
                                "fault-error-rate", "fault-hang-rate"},
                               {"help", "fault-close-on-accept"});
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
  absl::StatusOr<FaultSpec> faults = ParseFaults(*cl);
  if (!faults.ok()) return Fail(std::string(faults.status().message()) + "\n" + kUsage);
  if (faults->latency > absl::ZeroDuration() || faults->error_rate > 0 ||
      faults->hang_rate > 0) {
    connector = std::unique_ptr<RegistryConnector>(
        new FaultInjectingConnector(*std::move(connector), *faults));
    std::cerr << "onceonly-registry: injecting faults: latency "
              << absl::FormatDuration(faults->latency) << ", error rate " << faults->error_rate
              << ", hang rate " << faults->hang_rate << "\n";
  }
  if (cl->Has("port-file")) {
    if (absl::Status free = CheckOutputPathFree(cl->Get("port-file")); !free.ok()) {
      return Fail("--port-file: " + std::string(free.message()));
    }
  }
  std::signal(SIGTERM, [](int) { g_stop = 1; });
  std::signal(SIGINT, [](int) { g_stop = 1; });
  if (cl->Has("fault-close-on-accept")) {
    absl::Status closed = CloseEveryConnection(cl->Get("listen"), cl->Get("port-file"));
    if (!closed.ok()) return Fail(std::string(closed.message()));
    return 0;
  }

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
  if (cl->Has("port-file")) {
    if (absl::Status written = WritePortFile(cl->Get("port-file"), (*server)->port());
        !written.ok()) {
      return Fail("--port-file: " + std::string(written.message()));
    }
  }
  std::cerr << "onceonly-registry: serving " << registry << " on port " << (*server)->port()
            << " (mTLS)\n";

  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  std::cerr << "onceonly-registry: draining\n";
  (*server)->Shutdown();
  if (cl->Has("port-file")) std::remove(cl->Get("port-file").c_str());
  return 0;
}
