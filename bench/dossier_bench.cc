// Benchmark (not a test): DossierService.GetDossier over mTLS on a gateway with in-process
// connectors, next to a direct CompanyRegistry.GetEnterprise call on a registry server that
// reads the same kbo.db, in the same run, on the same machine.
//
// Reported per benchmark and client concurrency (Threads(1/4/16), real time):
//   p50_us, p99_us   per-call latency in microseconds, over ALL calls of ALL threads of the
//                    run (see bench/latency_collector.h)
//   items_per_second calls per second of wall time, all threads together
//
// Every response is checked (gRPC status, the enterprise number answered, and for the
// gateway every SourceStatus): a failing call stops the benchmark with SkipWithError, so an
// error can never make a configuration look fast.
//
// Both servers run in this process and share the machine's cores with the client threads,
// just as a gateway and its clients would on a 2-core box. See bench/README.md.

#include <benchmark/benchmark.h>
#include <grpcpp/grpcpp.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "bench/latency_collector.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/tls.h"
#include "connectors/kbo/kbo_connector.h"
#include "connectors/kbo/kbo_import.h"
#include "connectors/kbo/kbo_store.h"
#include "connectors/remote/registry_server.h"
#include "connectors/sql/sample_seed.h"
#include "gateway/gateway_config.h"
#include "gateway/gateway_server.h"
#include "onceonly/registry/v1/registry.grpc.pb.h"
#include "onceonly/v1/dossier.grpc.pb.h"
#include "tools/pki/dev_pki.h"

#ifndef ONCEONLY_KBO_EXTRACT
#error "ONCEONLY_KBO_EXTRACT must point at the KBO extract (set by bench/CMakeLists.txt)"
#endif

namespace onceonly {
namespace {

// An enterprise of the real update extract (enterprise_insert.csv), seeded with tax data.
constexpr char kEnterprise[] = "1029.028.161";
constexpr char kMember[] = "brussels-economy";
constexpr char kPurpose[] = "public-procurement";
// Per-call deadline: generous, only there so that a stuck server fails instead of hanging.
constexpr auto kCallDeadline = std::chrono::seconds(10);

// The categories of the like-for-like benchmark: served by the companies registry alone.
const std::vector<std::string>& CompanyCategories() {
  static const auto* c = new std::vector<std::string>{"company.identity", "company.addresses"};
  return *c;
}
// Everything the grant below allows: companies, permits and tax are all contacted.
const std::vector<std::string>& FullCategories() {
  static const auto* c = new std::vector<std::string>{
      "company.identity",    "company.addresses", "company.activities", "company.contacts",
      "permits.environment", "permits.urbanism",  "tax.good_standing"};
  return *c;
}

// The member and grant of deploy/demo/policy.yaml that the benchmark needs, kept here so that
// edits to the demo cannot silently change what is measured.
constexpr char kPolicyYaml[] = R"(members:
  - id: brussels-economy
    display_name: "Brussels Economy and Employment"
    identities: ["spiffe://onceonly.brussels/member/brussels-economy"]
    roles: [CONSUMER]
purposes:
  - id: public-procurement
    description: "Checking a bidder's identity, permits and good standing in a public tender"
    legal_basis: "Law of 17 June 2016 on public procurement, art. 68"
    legal_reference: "DEL-2025-014"
grants:
  - id: DEL-2025-014
    member: brussels-economy
    purpose: public-procurement
    categories: [company.identity, company.addresses, company.activities, company.contacts,
                 permits.environment, permits.urbanism, tax.good_standing]
    valid_from: "2025-01-01T00:00:00Z"
    valid_until: "2030-01-01T00:00:00Z"
)";

void Progress(absl::string_view line) { std::cerr << "[dossier_bench] " << line << std::endl; }

absl::Status WriteFile(const std::string& path, absl::string_view text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.close();
  if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

// Everything the benchmarks share, built once on first use (the first benchmark run) and
// torn down by main() after the last one.
struct Environment {
  std::string dir;  // temporary directory holding PKI, databases, config, logs
  std::unique_ptr<GatewayServer> gateway;
  std::unique_ptr<RegistryServer> registry;
  // One channel per server, shared by all benchmark threads; each thread makes its own stub.
  // Why shared: it models one back-office client process (one HTTP/2 connection, concurrent
  // calls multiplexed as streams), the mTLS handshake happens once here and not inside a
  // timed loop, and both the baseline and the gateway are driven the same way so their
  // ratio is fair. (Per-thread channels with identical arguments would share one
  // connection anyway through gRPC's global subchannel pool.)
  std::shared_ptr<grpc::Channel> gateway_channel;
  std::shared_ptr<grpc::Channel> registry_channel;
  int saved_stderr = -1;
};

absl::Status CheckEnterpriseNumber(absl::string_view what, absl::string_view got) {
  if (got == kEnterprise) return absl::OkStatus();
  return absl::InternalError(
      absl::StrCat(what, ": answered enterprise \"", got, "\", expected ", kEnterprise));
}

// Validates one gateway answer: RPC OK, right subject, and every registry contacted OK (a
// failing registry is not an RPC error for the gateway, only a SourceStatus).
absl::Status CheckDossier(const grpc::Status& status, const v1::Dossier& dossier,
                          size_t expected_sources) {
  if (!status.ok()) {
    return absl::InternalError(absl::StrCat("GetDossier: ", status.error_code(), " ",
                                            status.error_message()));
  }
  if (absl::Status s = CheckEnterpriseNumber("GetDossier", dossier.enterprise_number()); !s.ok()) {
    return s;
  }
  if (dossier.company().enterprise_number() != kEnterprise) {
    return absl::InternalError("GetDossier: no company data in the dossier");
  }
  if (static_cast<size_t>(dossier.sources_size()) != expected_sources) {
    return absl::InternalError(absl::StrCat("GetDossier: ", dossier.sources_size(),
                                            " sources, expected ", expected_sources));
  }
  for (const v1::SourceStatus& source : dossier.sources()) {
    if (source.code() != 0) {
      return absl::InternalError(absl::StrCat("GetDossier: registry ", source.registry(),
                                              " answered code ", source.code(), ": ",
                                              source.message()));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckEnterprise(const grpc::Status& status,
                             const registry::v1::GetEnterpriseResponse& response) {
  if (!status.ok()) {
    return absl::InternalError(absl::StrCat("GetEnterprise: ", status.error_code(), " ",
                                            status.error_message()));
  }
  return CheckEnterpriseNumber("GetEnterprise", response.enterprise().enterprise_number());
}

v1::GetDossierRequest DossierRequest(const std::vector<std::string>& categories) {
  v1::GetDossierRequest request;
  request.set_enterprise_number(kEnterprise);
  request.set_purpose(kPurpose);
  for (const std::string& c : categories) request.add_categories(c);
  return request;
}

registry::v1::GetEnterpriseRequest EnterpriseRequest() {
  registry::v1::GetEnterpriseRequest request;
  request.set_enterprise_number(kEnterprise);
  request.set_language("fr");  // the language the gateway asks its connectors for by default
  return request;
}

absl::StatusOr<std::unique_ptr<Environment>> BuildEnvironment() {
  auto env = std::make_unique<Environment>();
  const char* tmp = std::getenv("TMPDIR");
  std::string templ = absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp",
                                   "/onceonly-bench-XXXXXX");
  if (mkdtemp(templ.data()) == nullptr) {
    return absl::UnavailableError(absl::StrCat("mkdtemp ", templ, " failed"));
  }
  env->dir = templ;
  const std::string& dir = env->dir;
  Progress(absl::StrCat("working directory ", dir));

  // 1. Development PKI: CA, gateway/registry server certificate, one member certificate.
  const std::string pki = dir + "/pki";
  DevPkiOptions pki_options;
  if (absl::Status s = InitDevPki(pki, pki_options); !s.ok()) return s;
  if (auto cert = IssueMemberCertificate(pki, kMember, "", pki_options); !cert.ok()) {
    return cert.status();
  }
  Progress("dev PKI ready");

  // 2. The real KBO update extract into kbo.db.
  const std::string kbo_db = dir + "/kbo.db";
  Progress(absl::StrCat("importing KBO extract ", ONCEONLY_KBO_EXTRACT));
  auto summary = ImportKboExtract(ONCEONLY_KBO_EXTRACT, kbo_db,
                                  [](absl::string_view line) { Progress(line); });
  if (!summary.ok()) return summary.status();
  Progress(absl::StrCat("imported ", summary->extract_type, " extract ", summary->extract_number,
                        " (snapshot ", summary->snapshot_date, ")"));

  // 3. Sample permits and tax registries for every enterprise of kbo.db.
  const std::string registries_db = dir + "/registries.db";
  {
    auto store = KboStore::Open(kbo_db);
    if (!store.ok()) return store.status();
    auto enterprises = (*store)->ListEnterpriseSummaries(10'000'000);
    if (!enterprises.ok()) return enterprises.status();
    auto seeded = SeedSampleRegistries(*enterprises, registries_db);
    if (!seeded.ok()) return seeded.status();
    Progress(absl::StrCat("seeded ", seeded->tax_rows, " tax records and ", seeded->permits,
                          " permits for ", seeded->enterprises, " enterprises"));
  }

  // 4. The gateway: in-process connectors (companies from kbo.db, permits and tax from
  //    registries.db), SQLite access log, mTLS on an ephemeral port.
  if (absl::Status s = WriteFile(dir + "/policy.yaml", kPolicyYaml); !s.ok()) return s;
  config::v1::GatewayConfig config;
  config.set_instance_name("gateway-bench");
  config.set_listen_address("localhost:0");
  config.set_trust_domain("onceonly.brussels");
  config.mutable_tls()->set_cert_file("pki/server.crt");
  config.mutable_tls()->set_key_file("pki/server.key");
  config.mutable_tls()->set_ca_file("pki/ca.crt");
  config.set_policy_file("policy.yaml");
  config.mutable_audit()->set_sqlite_path("audit.db");
  config.mutable_authz_store()->set_sqlite_path("authz.db");
  config.set_signing_key_file("pki/checkpoint.key");
  {
    auto* r = config.add_registries();
    r->set_name("companies");
    r->mutable_kbo()->set_sqlite_path("kbo.db");
    r->mutable_timeout()->set_seconds(2);
  }
  for (const char* name : {"permits", "tax"}) {
    auto* r = config.add_registries();
    r->set_name(name);
    r->mutable_sql()->set_sqlite_path("registries.db");
    r->mutable_timeout()->set_seconds(2);
  }
  auto finished = FinishGatewayConfig(config, dir + "/gateway.yaml");
  if (!finished.ok()) return finished.status();
  auto gateway = GatewayServer::Start(*finished);
  if (!gateway.ok()) return gateway.status();
  env->gateway = *std::move(gateway);
  Progress(absl::StrCat("gateway listening on localhost:", env->gateway->port(),
                        " (fetch_threads=", finished->fetch_threads(), ")"));

  // 5. The baseline: the same kbo.db served directly as CompanyRegistry, same server cert.
  config::v1::TlsFiles server_tls;
  server_tls.set_cert_file(pki + "/server.crt");
  server_tls.set_key_file(pki + "/server.key");
  server_tls.set_ca_file(pki + "/ca.crt");
  auto connector = KboConnector::Create(kbo_db);
  if (!connector.ok()) return connector.status();
  // The benchmark client itself calls the registry for the baseline, so its member identity
  // is allowed here (a deployed registry allows only the gateway).
  auto registry = RegistryServer::Start(*std::move(connector), "localhost:0", server_tls,
                                        {"spiffe://onceonly.brussels/member/brussels-economy"});
  if (!registry.ok()) return registry.status();
  env->registry = *std::move(registry);
  Progress(absl::StrCat("registry server listening on localhost:", env->registry->port()));

  // 6. Client channels with the member certificate, warmed up (handshake + first call
  //    checked) so that no timed loop pays for connection setup.
  config::v1::TlsFiles client_tls;
  client_tls.set_cert_file(absl::StrCat(pki, "/members/", kMember, ".crt"));
  client_tls.set_key_file(absl::StrCat(pki, "/members/", kMember, ".key"));
  client_tls.set_ca_file(pki + "/ca.crt");
  auto gateway_channel =
      CreateMutualTlsChannel(absl::StrCat("localhost:", env->gateway->port()), client_tls);
  if (!gateway_channel.ok()) return gateway_channel.status();
  env->gateway_channel = *gateway_channel;
  auto registry_channel =
      CreateMutualTlsChannel(absl::StrCat("localhost:", env->registry->port()), client_tls);
  if (!registry_channel.ok()) return registry_channel.status();
  env->registry_channel = *registry_channel;
  {
    auto stub = registry::v1::CompanyRegistry::NewStub(env->registry_channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kCallDeadline);
    registry::v1::GetEnterpriseResponse response;
    grpc::Status status = stub->GetEnterprise(&context, EnterpriseRequest(), &response);
    if (absl::Status s = CheckEnterprise(status, response); !s.ok()) return s;
  }
  for (const auto* categories : {&CompanyCategories(), &FullCategories()}) {
    auto stub = v1::DossierService::NewStub(env->gateway_channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kCallDeadline);
    v1::Dossier dossier;
    grpc::Status status = stub->GetDossier(&context, DossierRequest(*categories), &dossier);
    size_t sources = categories == &CompanyCategories() ? 1 : 3;
    if (absl::Status s = CheckDossier(status, dossier, sources); !s.ok()) return s;
  }
  Progress("warm-up calls OK");

  // The gateway writes one JSON line per RPC to stderr. Send them to a file so that the
  // figures do not depend on how fast the terminal scrolls and the table stays readable;
  // the write itself (one unbuffered write per call) is still part of the measured cost.
  const std::string log_path = dir + "/gateway-stderr.log";
  if (std::getenv("ONCEONLY_BENCH_KEEP_STDERR") == nullptr) {
    std::fflush(stderr);
    int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
    if (fd >= 0) {
      Progress(absl::StrCat("gateway per-call log lines now go to ", log_path));
      env->saved_stderr = ::dup(STDERR_FILENO);
      ::dup2(fd, STDERR_FILENO);
      ::close(fd);
    }
  }
  return env;
}

// The shared environment, built on first use. On failure every benchmark reports the error.
struct EnvironmentHolder {
  absl::StatusOr<std::unique_ptr<Environment>> env = absl::UnknownError("not built");
  std::once_flag once;
};
EnvironmentHolder& Holder() {
  static EnvironmentHolder* holder = new EnvironmentHolder();
  return *holder;
}
Environment* GetEnvironment(benchmark::State& state) {
  EnvironmentHolder& h = Holder();
  std::call_once(h.once, [&h] {
    h.env = BuildEnvironment();
    if (!h.env.ok()) Progress(absl::StrCat("setup failed: ", h.env.status().ToString()));
  });
  if (!h.env.ok()) {
    state.SkipWithError(h.env.status().ToString().c_str());
    return nullptr;
  }
  return h.env->get();
}

// Runs `call` (returning absl::Status) once per iteration, timing each call, then reports
// percentiles and throughput. Stops with SkipWithError at the first bad answer.
template <typename Call>
void RunTimed(benchmark::State& state, LatencyCollector& collector, Call call) {
  thread_local std::vector<int64_t> samples;
  samples.clear();
  samples.reserve(1 << 16);
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    absl::Status status = call();
    const auto end = std::chrono::steady_clock::now();
    if (!status.ok()) {
      state.SkipWithError(status.ToString().c_str());
      break;
    }
    samples.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(end - start).count());
  }
  state.SetItemsProcessed(static_cast<int64_t>(samples.size()));
  collector.Submit(state, samples, [&state](std::vector<int64_t>& all) {
    if (all.empty()) return;
    state.counters["p50_us"] = Percentile(all, 0.50) / 1e3;
    state.counters["p99_us"] = Percentile(all, 0.99) / 1e3;
  });
}

void BM_DirectGetEnterprise(benchmark::State& state) {
  static LatencyCollector collector;
  Environment* env = GetEnvironment(state);
  std::vector<int64_t> none;
  if (env == nullptr) {
    for (auto _ : state) {
    }
    return collector.Submit(state, none, [](std::vector<int64_t>&) {});
  }
  auto stub = registry::v1::CompanyRegistry::NewStub(env->registry_channel);
  const registry::v1::GetEnterpriseRequest request = EnterpriseRequest();
  RunTimed(state, collector, [&] {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kCallDeadline);
    registry::v1::GetEnterpriseResponse response;
    grpc::Status status = stub->GetEnterprise(&context, request, &response);
    return CheckEnterprise(status, response);
  });
}

void RunGetDossier(benchmark::State& state, LatencyCollector& collector,
                   const std::vector<std::string>& categories, size_t expected_sources) {
  Environment* env = GetEnvironment(state);
  std::vector<int64_t> none;
  if (env == nullptr) {
    for (auto _ : state) {
    }
    return collector.Submit(state, none, [](std::vector<int64_t>&) {});
  }
  auto stub = v1::DossierService::NewStub(env->gateway_channel);
  const v1::GetDossierRequest request = DossierRequest(categories);
  RunTimed(state, collector, [&] {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kCallDeadline);
    context.AddMetadata("x-onceonly-case-ref", "BENCH/2025/00001");
    v1::Dossier dossier;
    grpc::Status status = stub->GetDossier(&context, request, &dossier);
    return CheckDossier(status, dossier, expected_sources);
  });
}

void BM_GatewayGetDossier_Company(benchmark::State& state) {
  static LatencyCollector collector;
  RunGetDossier(state, collector, CompanyCategories(), 1);
}

void BM_GatewayGetDossier_Full(benchmark::State& state) {
  static LatencyCollector collector;
  RunGetDossier(state, collector, FullCategories(), 3);
}

BENCHMARK(BM_DirectGetEnterprise)->UseRealTime()->Threads(1)->Threads(4)->Threads(16);
BENCHMARK(BM_GatewayGetDossier_Company)->UseRealTime()->Threads(1)->Threads(4)->Threads(16);
BENCHMARK(BM_GatewayGetDossier_Full)->UseRealTime()->Threads(1)->Threads(4)->Threads(16);

// Stops the servers and removes the working directory (unless ONCEONLY_BENCH_KEEP_DIR).
void TearDownEnvironment() {
  EnvironmentHolder& h = Holder();
  if (!h.env.ok() || *h.env == nullptr) return;
  Environment& env = **h.env;
  env.gateway_channel.reset();
  env.registry_channel.reset();
  env.registry.reset();
  env.gateway.reset();
  if (env.saved_stderr >= 0) {
    std::fflush(stderr);
    ::dup2(env.saved_stderr, STDERR_FILENO);
    ::close(env.saved_stderr);
  }
  if (std::getenv("ONCEONLY_BENCH_KEEP_DIR") != nullptr) {
    Progress(absl::StrCat("kept ", env.dir));
  } else {
    std::error_code ignored;
    std::filesystem::remove_all(env.dir, ignored);
  }
  h.env->reset();
}

}  // namespace
}  // namespace onceonly

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  onceonly::TearDownEnvironment();
  return 0;
}
