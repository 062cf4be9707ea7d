#include "gateway/gateway_server.h"

#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/proto_buffer_reader.h>
#include <grpcpp/support/slice.h>

#include <sys/stat.h>

#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "audit/access_log.h"
#include "common/crl.h"
#include "common/grpc_status.h"
#include "common/json_escape.h"
#include "common/metrics.h"
#include "common/proto_time.h"
#include "common/rich_status.h"
#include "common/status_macros.h"
#include "common/thread_pool.h"
#include "common/tls.h"
#include "connectors/kbo/kbo_connector.h"
#include "connectors/remote/remote_connector.h"
#include "connectors/sql/sql_connectors.h"
#include "gateway/audit_service.h"
#include "gateway/call_context.h"
#include "gateway/admission.h"
#include "gateway/dossier_pipeline.h"
#include "gateway/member_services.h"
#include "gateway/metrics_server.h"
#include "gateway/server_reflection.h"
#include "onceonly/v1/audit.grpc.pb.h"
#include "onceonly/v1/dossier.grpc.pb.h"

namespace onceonly {
namespace {

absl::StatusOr<std::unique_ptr<RegistryConnector>> BuildConnector(
    const config::v1::RegistryConfig& r) {
  switch (r.source_case()) {
    case config::v1::RegistryConfig::kKbo: {
      ASSIGN_OR_RETURN(auto c, KboConnector::Create(r.kbo().sqlite_path()));
      return std::unique_ptr<RegistryConnector>(std::move(c));
    }
    case config::v1::RegistryConfig::kSql:
      if (r.name() == "permits") {
        ASSIGN_OR_RETURN(auto c, PermitConnector::Create(r.sql().sqlite_path()));
        return std::unique_ptr<RegistryConnector>(std::move(c));
      } else {
        ASSIGN_OR_RETURN(auto c, TaxConnector::Create(r.sql().sqlite_path()));
        return std::unique_ptr<RegistryConnector>(std::move(c));
      }
    case config::v1::RegistryConfig::kRemote:
      return CreateRemoteConnector(r.name(), r.remote());
    default:
      return absl::InvalidArgumentError(absl::StrCat("registry ", r.name(), " has no source"));
  }
}


// Calls one connection may hold open. Admission bounds each member's calls; this bounds what
// one connection costs, above any member's own limit (a back office may well multiplex a
// thousand calls on one channel: beyond the limit, its calls would queue in its client).
constexpr int kDefaultMaxConcurrentStreams = 4096;

// The largest answer gRPC sends (the pipeline withholds a dossier above it).
int64_t MaxResponseBytes(const config::v1::GatewayConfig& config) {
  return config.max_response_bytes() > 0 ? config.max_response_bytes() : int64_t{16} << 20;
}

// Limits from the config: unset fields take `fallback`'s.
MemberLimits EffectiveLimits(const config::v1::MemberLimits& limits, const MemberLimits& fallback) {
  MemberLimits out = fallback;
  if (limits.max_concurrent_calls() > 0) {
    out.max_concurrent_calls = static_cast<int>(limits.max_concurrent_calls());
  }
  if (limits.calls_per_second() > 0) out.calls_per_second = limits.calls_per_second();
  if (limits.burst() > 0) out.burst = static_cast<double>(limits.burst());
  return out;
}

// One kind of admission from the config: `limits` over `defaults`, and each override over
// those. An override naming no member of the policy stops the gateway: it would silently
// limit nobody.
absl::StatusOr<KeyedAdmission::Options> AdmissionFor(
    const std::string& field, const config::v1::MemberLimits& limits, MemberLimits defaults,
    const google::protobuf::Map<std::string, config::v1::MemberLimits>& overrides,
    const PolicySnapshot& policy, const std::string& policy_file) {
  KeyedAdmission::Options options;
  options.limits = EffectiveLimits(limits, defaults);
  for (const auto& [member, own] : overrides) {
    if (policy.FindMemberById(member) == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat(
          field, ": the policy (", policy_file, ") has no member \"", member,
          "\"; use a member id from its members list"));
    }
    options.overrides.emplace(member, EffectiveLimits(own, options.limits));
  }
  return options;
}

absl::StatusOr<CallAdmission::Options> AdmissionOptions(const config::v1::GatewayConfig& config,
                                                        const PolicySnapshot& policy) {
  CallAdmission::Options options;
  ASSIGN_OR_RETURN(options.dossier,
                   AdmissionFor("member_limit_overrides", config.member_limits(),
                                MemberLimits{64, 0, 0}, config.member_limit_overrides(), policy,
                                config.policy_file()));
  ASSIGN_OR_RETURN(options.services,
                   AdmissionFor("service_limit_overrides", config.service_limits(),
                                MemberLimits{16, 50, 100}, config.service_limit_overrides(),
                                policy, config.policy_file()));
  options.strangers.limits =
      EffectiveLimits(config.unknown_caller_limits(), MemberLimits{2, 1, 5});
  options.strangers.kind = "caller";
  options.strangers.reason_prefix = "CERTIFICATE";
  // Certificates come from the CA, but their number is not the policy's to bound.
  options.strangers.max_keys = 10000;
  return options;
}

// GetDossier on the callback API: the pipeline finishes the call from a fetch or log thread.
// The method is raw: the pipeline writes the answer's bytes once, for its hash and for the
// wire (gateway/dossier_wire.h), and gRPC sends them as they are.
class DossierServiceImpl final
    : public v1::DossierService::WithRawCallbackMethod_GetDossier<v1::DossierService::Service> {
 public:
  explicit DossierServiceImpl(const ServiceContext& context) : ctx_(context) {}

  grpc::ServerUnaryReactor* GetDossier(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request_bytes,
                                       grpc::ByteBuffer* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    const absl::Time started = absl::Now();
    CallInfo call = ResolveCall(*context, "/onceonly.v1.DossierService/GetDossier",
                                ctx_.trust_domain, ctx_.default_deadline, ctx_.revocations);
    v1::GetDossierRequest request;
    grpc::ByteBuffer request_copy(*request_bytes);  // shares the slices; parsing consumes it
    if (!grpc::GenericDeserialize<grpc::ProtoBufferReader, v1::GetDossierRequest>(
             &request_copy, &request)
             .ok()) {
      const absl::Status unparsable =
          ErrorWithReason(absl::StatusCode::kInvalidArgument, "MALFORMED_REQUEST",
                          "the request is not a valid onceonly.v1.GetDossierRequest");
      LogRpc(call, unparsable, started, "");
      reactor->Finish(ToGrpcStatus(unparsable));
      return reactor;
    }
    // Over its limits, a caller is refused before any work (and nothing is logged as an
    // access: none took place).
    std::shared_ptr<CallAdmission::Ticket> ticket;
    if (ctx_.admission != nullptr) {
      absl::StatusOr<std::unique_ptr<CallAdmission::Ticket>> admitted =
          ctx_.admission->Admit(*ctx_.pipeline.policy(), call, CallKind::kDossier);
      if (!admitted.ok()) {
        LogRpc(call, admitted.status(), started, "");
        reactor->Finish(ToGrpcStatus(admitted.status()));
        return reactor;
      }
      ticket = *std::move(admitted);
    }
    ctx_.pipeline.GetDossier(
        call, request,
        [reactor, response, started, call,
         ticket = std::move(ticket)](absl::StatusOr<DossierAnswer> dossier) mutable {
          absl::Status status = dossier.status();
          std::string access_id;
          if (dossier.ok()) {
            access_id = absl::StrCat(dossier->access_id);
            // The bytes move into the slice; gRPC frees them once sent.
            auto* wire = new std::string(std::move(dossier->wire));
            grpc::Slice bytes(
                wire->data(), wire->size(), [](void* p) { delete static_cast<std::string*>(p); },
                wire);
            *response = grpc::ByteBuffer(&bytes, 1);
          } else {
            access_id = ErrorMetadata(status, "access_id");  // logged denials have one
          }
          LogRpc(call, status, started, access_id);
          ticket.reset();  // before the caller hears back, so that its next call is admitted
          reactor->Finish(ToGrpcStatus(status));
        });
    return reactor;
  }

 private:
  const ServiceContext& ctx_;
};

}  // namespace

// The gRPC surface.
class GatewayServer::Services {
 public:
  Services(ServiceContext context, AccessLog& log, std::unique_ptr<AccessLogStore> audit_reader)
      : context_(std::move(context)),
        dossier_(context_),
        registration_(context_),
        consent_(context_),
        directory_(context_),
        audit_(context_, log, std::move(audit_reader)) {}

  ServiceContext context_;
  DossierServiceImpl dossier_;
  RegistrationServiceImpl registration_;
  ConsentServiceImpl consent_;
  DirectoryServiceImpl directory_;
  AuditServiceImpl audit_;
};

absl::StatusOr<std::unique_ptr<GatewayServer>> GatewayServer::Start(
    const config::v1::GatewayConfig& config, const Clock& clock) {
  std::unique_ptr<GatewayServer> server(new GatewayServer());
  server->config_ = config;
  server->clock_ = &clock;
  ASSIGN_OR_RETURN(auto policy, PolicySnapshot::Load(config.policy_file()));
  std::map<std::string, RegistryEndpoint> registries;
  for (const auto& r : config.registries()) {
    absl::StatusOr<std::unique_ptr<RegistryConnector>> connector = BuildConnector(r);
    if (!connector.ok()) {
      return absl::Status(connector.status().code(),
                          absl::StrCat("registry ", r.name(), ": ", connector.status().message()));
    }
    RegistryEndpoint endpoint;
    endpoint.connector = *std::move(connector);
    // The config loader fills in 2s; a config built in code may not have.
    endpoint.timeout = r.has_timeout() ? absl::Seconds(r.timeout().seconds()) +
                                             absl::Nanoseconds(r.timeout().nanos())
                                       : absl::Seconds(2);
    // A remote fetch mostly waits on the network: more threads than cores keep more reads
    // in flight.
    endpoint.threads = static_cast<int>(
        r.threads() > 0 ? r.threads()
                        : (r.has_remote() ? std::max(64u, config.fetch_threads())
                                          : config.fetch_threads()));
    endpoint.max_queued = static_cast<int>(r.max_queued() > 0 ? r.max_queued() : 1000);
    if (r.has_cache_ttl()) endpoint.cache_ttl = FromProto(r.cache_ttl());
    registries.emplace(r.name(), std::move(endpoint));
  }
  if (!config.tls().crl_file().empty()) {
    RevocationListOptions crl_options;
    if (config.tls().has_crl_stale_grace()) {
      crl_options.stale_grace = FromProto(config.tls().crl_stale_grace());
    }
    ASSIGN_OR_RETURN(
        server->revocations_,
        RevocationList::Open(config.tls().crl_file(), config.tls().ca_file(), clock, crl_options));
  }
  ASSIGN_OR_RETURN(server->authz_store_, AuthzStore::Open(config.authz_store().sqlite_path()));
  ASSIGN_OR_RETURN(server->receipt_signer_, Ed25519Signer::FromPemFile(config.signing_key_file()));
  ASSIGN_OR_RETURN(auto store, OpenSqliteAccessLogStore(config.audit().sqlite_path()));
  AccessLogOptions log_options;
  log_options.max_batch = static_cast<int>(config.audit().max_batch());
  log_options.checkpoint_signer = server->receipt_signer_.get();
  log_options.checkpoint_every = config.audit().checkpoint_every();
  log_options.checkpoint_interval = FromProto(config.audit().checkpoint_interval());
  log_options.clock = &clock;
  if (config.audit().max_queued() > 0) log_options.max_queued = config.audit().max_queued();
  ASSIGN_OR_RETURN(server->access_log_, AccessLog::Create(std::move(store),
                                                          config.instance_name(), log_options));
  // Readers and retention use their own connections: WAL lets them run beside the writer.
  ASSIGN_OR_RETURN(auto audit_reader, OpenSqliteAccessLogStore(config.audit().sqlite_path(),
                                                               StoreAccess::kReadOnly));
  {
    ASSIGN_OR_RETURN(auto maintenance, OpenSqliteAccessLogStore(config.audit().sqlite_path()));
    absl::MutexLock lock(&server->maintenance_mu_);
    server->maintenance_store_ = std::move(maintenance);
  }
  server->fetch_pool_ = std::make_unique<ThreadPool>(static_cast<int>(config.fetch_threads()));
  ASSIGN_OR_RETURN(CallAdmission::Options admission, AdmissionOptions(config, *policy));
  server->admission_ = std::make_unique<CallAdmission>(std::move(admission), clock);
  server->pipeline_ = std::make_unique<DossierPipeline>(
      std::move(policy), std::move(registries), *server->access_log_, *server->authz_store_,
      *server->fetch_pool_, clock,
      config.cache_max_bytes() > 0 ? static_cast<int64_t>(config.cache_max_bytes())
                                   : int64_t{64} << 20,
      MaxResponseBytes(config));
  server->services_ = std::make_unique<Services>(
      ServiceContext{*server->pipeline_, *server->authz_store_, *server->access_log_,
                     *server->receipt_signer_, clock, config.trust_domain(),
                     config.instance_name(), FromProto(config.default_deadline()),
                     server->revocations_.get(), server->admission_.get(),
                     config.authz_store().max_open_registrations() > 0
                         ? static_cast<int>(config.authz_store().max_open_registrations())
                         : 16},
      *server->access_log_, std::move(audit_reader));

  ASSIGN_OR_RETURN(auto credentials, MutualTlsServerCredentials(config.tls()));
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.SetOption(ServerReflectionOption(config.server_reflection()));
  builder.AddListeningPort(config.listen_address(), credentials, &server->port_);
  // Requests are small: a large one is refused (RESOURCE_EXHAUSTED) before it is read whole.
  builder.SetMaxReceiveMessageSize(
      static_cast<int>(config.max_request_bytes() > 0 ? config.max_request_bytes() : 64 << 10));
  builder.SetMaxSendMessageSize(static_cast<int>(MaxResponseBytes(config)));
  // Keepalive: the gateway pings idle connections (keepalive_time) so that NATs and load
  // balancers keep them, and accepts client pings as often as every
  // keepalive_min_client_interval, with or without calls in flight: clients configured at or
  // above that interval are never cut off with GOAWAY "too_many_pings".
  auto millis_or = [](const google::protobuf::Duration& d, int fallback) {
    const int64_t ms = absl::ToInt64Milliseconds(FromProto(d));
    return ms > 0 ? static_cast<int>(ms) : fallback;
  };
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, millis_or(config.keepalive_time(), 60'000));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20'000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             millis_or(config.keepalive_min_client_interval(), 10'000));
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 2);
  // Bounds on what one peer can hold: a handshake that does not complete (slowloris), calls
  // open on one connection, and the memory of them all.
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS,
                             millis_or(config.handshake_timeout(), 10'000));
  builder.AddChannelArgument(
      GRPC_ARG_MAX_CONCURRENT_STREAMS,
      config.max_concurrent_streams() > 0 ? static_cast<int>(config.max_concurrent_streams())
                                          : kDefaultMaxConcurrentStreams);
  grpc::ResourceQuota quota("onceonly-gateway");
  quota.Resize(config.resource_quota_bytes() > 0 ? config.resource_quota_bytes()
                                                 : size_t{1} << 30);
  builder.SetResourceQuota(quota);
  builder.RegisterService(&server->services_->dossier_);
  builder.RegisterService(&server->services_->registration_);
  builder.RegisterService(&server->services_->consent_);
  builder.RegisterService(&server->services_->directory_);
  builder.RegisterService(&server->services_->audit_);
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", config.listen_address(), " (in use?)"));
  }
  if (!config.metrics_listen_address().empty()) {
    ASSIGN_OR_RETURN(server->metrics_,
                     MetricsServer::Start(config.metrics_listen_address(), DefaultMetrics()));
  }
  {
    absl::MutexLock lock(&server->reload_mu_);
    server->policy_version_ = PolicyFileVersion(config.policy_file());
  }
  if (config.policy_poll_interval().seconds() > 0 || config.policy_poll_interval().nanos() > 0) {
    absl::Duration every = absl::Seconds(config.policy_poll_interval().seconds()) +
                           absl::Nanoseconds(config.policy_poll_interval().nanos());
    GatewayServer* raw = server.get();
    server->policy_watcher_ = std::thread([raw, every] {
      std::string last_crl_problem;
      while (!raw->stop_watching_.WaitForNotificationWithTimeout(every)) {
        absl::StatusOr<bool> reloaded = raw->ReloadPolicyIfChanged();
        if (!reloaded.ok() || *reloaded) {
          std::cerr << "{\"event\":\"policy_reload\",\"trigger\":\"file change\",\"result\":\""
                    << JsonEscape(reloaded.ok() ? "ok" : reloaded.status().message()) << "\"}\n";
        }
        // A CRL that cannot be loaded keeps the previous one; say so once per problem.
        if (raw->revocations_ != nullptr) {
          absl::Status crl = raw->revocations_->ReloadIfChanged();
          std::string problem = crl.ok() ? "" : std::string(crl.message());
          if (problem != last_crl_problem) {
            std::cerr << "{\"event\":\"crl_reload\",\"result\":\""
                      << JsonEscape(crl.ok() ? "ok" : problem) << "\"}\n";
            last_crl_problem = problem;
          }
        }
      }
    });
  }
  {
    // Behind the writer: the query indexes every 250 ms, retention every minute.
    GatewayServer* raw = server.get();
    server->audit_maintenance_ = std::thread([raw] {
      absl::Time next_prune = absl::InfinitePast();
      do {
        absl::StatusOr<uint64_t> indexed = raw->IndexAccessLog();
        if (!indexed.ok()) {
          std::cerr << "{\"event\":\"audit_index\",\"result\":\""
                    << JsonEscape(indexed.status().message()) << "\"}\n";
        }
        if (raw->config_.audit().has_retention() && absl::Now() >= next_prune) {
          next_prune = absl::Now() + absl::Minutes(1);
          absl::StatusOr<uint64_t> pruned = raw->PruneExpiredRecords();
          if (!pruned.ok() || *pruned > 0) {
            std::cerr << "{\"event\":\"audit_retention\",\"result\":\""
                      << JsonEscape(pruned.ok() ? absl::StrCat("pruned ", *pruned, " records")
                                                : pruned.status().message())
                      << "\"}\n";
          }
        }
      } while (!raw->stop_watching_.WaitForNotificationWithTimeout(absl::Milliseconds(250)));
    });
  }
  return server;
}

absl::StatusOr<uint64_t> GatewayServer::PruneExpiredRecords() {
  if (!config_.audit().has_retention()) return 0;
  absl::MutexLock lock(&maintenance_mu_);
  return maintenance_store_->Prune(clock_->Now() - FromProto(config_.audit().retention()), 1000);
}

absl::StatusOr<uint64_t> GatewayServer::IndexAccessLog() {
  absl::MutexLock lock(&maintenance_mu_);
  uint64_t total = 0;
  while (true) {
    // Catch up in short transactions with a pause between them. The indexes have a file of
    // their own, so the writer never waits for this; the pauses leave it the CPU.
    constexpr int kBatch = 10000;
    ASSIGN_OR_RETURN(uint64_t indexed, maintenance_store_->IndexPending(kBatch));
    total += indexed;
    if (indexed < static_cast<uint64_t>(kBatch)) return total;
    absl::SleepFor(absl::Milliseconds(50));
  }
}

GatewayServer::~GatewayServer() {
  stop_watching_.Notify();
  if (policy_watcher_.joinable()) policy_watcher_.join();
  if (audit_maintenance_.joinable()) audit_maintenance_.join();
  Shutdown();
  // Drain in order: queued fetches append their records, the log commits them and finishes
  // their calls, and only then may the server object (and the services) go.
  fetch_pool_.reset();
  if (pipeline_ != nullptr) pipeline_->DrainFetches();
  access_log_.reset();
  server_.reset();
  pipeline_.reset();
}

void GatewayServer::Wait() { server_->Wait(); }

int GatewayServer::metrics_port() const { return metrics_ == nullptr ? 0 : metrics_->port(); }

void GatewayServer::Shutdown() {
  if (server_ != nullptr) {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  }
}

std::string GatewayServer::PolicyFileVersion(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return "";
  return absl::StrCat(st.st_ino, ":", st.st_size, ":", st.st_mtim.tv_sec, ".",
                      st.st_mtim.tv_nsec);
}

absl::Status GatewayServer::ReloadPolicy() {
  // One reload at a time, from stat to publication: a slower reload of an older file can
  // never overwrite a newer one (SIGHUP racing the watcher).
  absl::MutexLock lock(&reload_mu_);
  return ReloadPolicyLocked();
}

absl::Status GatewayServer::ReloadPolicyLocked() {
  std::string version = PolicyFileVersion(config_.policy_file());
  absl::StatusOr<std::shared_ptr<const PolicySnapshot>> policy =
      PolicySnapshot::Load(config_.policy_file());
  policy_version_ = version;  // a bad file is reported once, not at every poll
  if (!policy.ok()) {
    return absl::Status(policy.status().code(),
                        absl::StrCat(policy.status().message(),
                                     " (the previous policy stays in force)"));
  }
  pipeline_->SetPolicy(*std::move(policy));
  return absl::OkStatus();
}

absl::StatusOr<bool> GatewayServer::ReloadPolicyIfChanged() {
  absl::MutexLock lock(&reload_mu_);
  if (PolicyFileVersion(config_.policy_file()) == policy_version_) return false;
  RETURN_IF_ERROR(ReloadPolicyLocked());
  return true;
}

absl::Status GatewayServer::ReloadRevocations() {
  if (revocations_ == nullptr) return absl::OkStatus();
  return revocations_->ReloadIfChanged();
}

}  // namespace onceonly
