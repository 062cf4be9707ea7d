#include "gateway/gateway_config.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/yaml_proto.h"

namespace onceonly {
namespace {

bool IsPositive(const google::protobuf::Duration& d) {
  return d.seconds() >= 0 && d.nanos() >= 0 && (d.seconds() > 0 || d.nanos() > 0);
}

using config::v1::GatewayConfig;

std::string Resolve(const std::string& base_dir, const std::string& path) {
  if (path.empty() || path[0] == '/' || base_dir.empty()) return path;
  return absl::StrCat(base_dir, "/", path);
}

void ResolveTls(const std::string& dir, config::v1::TlsFiles* tls) {
  tls->set_cert_file(Resolve(dir, tls->cert_file()));
  tls->set_key_file(Resolve(dir, tls->key_file()));
  tls->set_ca_file(Resolve(dir, tls->ca_file()));
  if (!tls->crl_file().empty()) tls->set_crl_file(Resolve(dir, tls->crl_file()));
}

absl::Status Validate(GatewayConfig& c, const SourceMap& src) {
  if (c.listen_address().empty()) {
    return src.InvalidArgument("listen_address", "required, e.g. \"127.0.0.1:8443\"");
  }
  for (const char* f : {"cert_file", "key_file", "ca_file"}) {
    const auto* field = c.tls().GetDescriptor()->FindFieldByName(f);
    if (c.tls().GetReflection()->GetString(c.tls(), field).empty()) {
      return src.InvalidArgument(absl::StrCat("tls.", f),
                                 "required: the gateway serves mTLS only (see `onceonly pki`)");
    }
  }
  if (c.tls().has_crl_stale_grace()) {
    if (c.tls().crl_file().empty()) {
      return src.InvalidArgument("tls.crl_stale_grace",
                                 "needs tls.crl_file: the grace runs from that CRL's nextUpdate");
    }
    if (c.tls().crl_stale_grace().seconds() < 0 || c.tls().crl_stale_grace().nanos() < 0) {
      return src.InvalidArgument("tls.crl_stale_grace", "must not be negative, e.g. 3600s");
    }
  }
  if (c.policy_file().empty()) return src.InvalidArgument("policy_file", "required");
  if (c.fetch_threads() > 256) {
    return src.InvalidArgument("fetch_threads", "at most 256");
  }
  if (c.has_default_deadline() && !IsPositive(c.default_deadline())) {
    return src.InvalidArgument("default_deadline", "must be positive, e.g. 5s");
  }
  for (const auto& [field, limits] :
       {std::pair<std::string, const config::v1::MemberLimits*>{"member_limits",
                                                                &c.member_limits()},
        {"service_limits", &c.service_limits()},
        {"unknown_caller_limits", &c.unknown_caller_limits()}}) {
    if (limits->calls_per_second() < 0) {
      return src.InvalidArgument(field + ".calls_per_second", "must not be negative");
    }
  }
  for (const auto& [field, overrides] :
       {std::pair<std::string, const google::protobuf::Map<std::string, config::v1::MemberLimits>*>{
            "member_limit_overrides", &c.member_limit_overrides()},
        {"service_limit_overrides", &c.service_limit_overrides()}}) {
    for (const auto& [member, limits] : *overrides) {
      if (member.empty()) return src.InvalidArgument(field, "a key is empty: use member ids");
      if (limits.calls_per_second() < 0) {
        return src.InvalidArgument(absl::StrCat(field, ".", member, ".calls_per_second"),
                                   "must not be negative");
      }
    }
  }
  if (c.has_handshake_timeout() && !IsPositive(c.handshake_timeout())) {
    return src.InvalidArgument("handshake_timeout", "must be positive, e.g. 10s");
  }
  if (c.max_request_bytes() > (64u << 20)) {
    return src.InvalidArgument("max_request_bytes", "at most 67108864 (64 MiB)");
  }
  if (c.max_response_bytes() > (1u << 30)) {
    return src.InvalidArgument("max_response_bytes", "at most 1073741824 (1 GiB)");
  }
  if (c.audit().sqlite_path().empty()) {
    return src.InvalidArgument("audit.sqlite_path", "required: every access is logged");
  }
  for (const auto& [field, d] :
       {std::pair<const char*, const google::protobuf::Duration*>{
            "audit.checkpoint_interval", &c.audit().checkpoint_interval()},
        {"audit.retention", &c.audit().retention()}}) {
    if (d->seconds() < 0 || d->nanos() < 0) {
      return src.InvalidArgument(field, "must not be negative");
    }
  }
  if (c.audit().has_checkpoint_interval() && c.audit().checkpoint_interval().seconds() == 0 &&
      c.audit().checkpoint_interval().nanos() < 1000000) {
    return src.InvalidArgument("audit.checkpoint_interval", "at least 1ms, e.g. 1s");
  }
  if (c.audit().has_retention() && c.audit().retention().seconds() < 3600) {
    return src.InvalidArgument("audit.retention",
                               "at least 3600s (durations are written in seconds, e.g. 31536000s for a year); leave "
                               "it unset to keep records forever");
  }
  if (c.authz_store().sqlite_path().empty()) {
    return src.InvalidArgument("authz_store.sqlite_path",
                               "required: where registrations and consents are kept");
  }
  if (c.signing_key_file().empty()) {
    return src.InvalidArgument("signing_key_file",
                               "required: the Ed25519 key that signs consent receipts "
                               "(onceonly pki init writes checkpoint.key)");
  }
  if (c.policy_poll_interval().seconds() < 0 || c.policy_poll_interval().nanos() < 0) {
    return src.InvalidArgument("policy_poll_interval", "must not be negative (0s: never poll)");
  }
  std::set<std::string> names;
  for (int i = 0; i < c.registries_size(); ++i) {
    const auto& r = c.registries(i);
    std::string at = absl::StrCat("registries[", i, "]");
    if (r.name() != "companies" && r.name() != "permits" && r.name() != "tax") {
      return src.InvalidArgument(at + ".name", absl::StrCat("\"", r.name(),
                                 "\" is not a registry; use companies, permits or tax"));
    }
    if (!names.insert(r.name()).second) {
      return src.InvalidArgument(at + ".name", absl::StrCat("registry ", r.name(), " is configured twice"));
    }
    switch (r.source_case()) {
      case config::v1::RegistryConfig::kKbo:
        if (r.name() != "companies") {
          return src.InvalidArgument(at + ".kbo", "the KBO source serves only companies");
        }
        if (r.kbo().sqlite_path().empty()) return src.InvalidArgument(at + ".kbo.sqlite_path", "required");
        break;
      case config::v1::RegistryConfig::kSql:
        if (r.name() == "companies") {
          return src.InvalidArgument(at + ".sql", "companies are served by kbo or remote");
        }
        if (r.sql().sqlite_path().empty()) return src.InvalidArgument(at + ".sql.sqlite_path", "required");
        break;
      case config::v1::RegistryConfig::kRemote: {
        const config::v1::RemoteSource& remote = r.remote();
        if (remote.address().empty()) return src.InvalidArgument(at + ".remote.address", "required");
        if (remote.max_attempts() > 5) {
          return src.InvalidArgument(at + ".remote.max_attempts", "at most 5 (retries multiply load)");
        }
        if (remote.circuit_failure_threshold() > 1000) {
          return src.InvalidArgument(at + ".remote.circuit_failure_threshold", "at most 1000");
        }
        for (const auto& [field, duration] :
             {std::pair<const char*, const google::protobuf::Duration*>{
                  ".remote.hedge_after", remote.has_hedge_after() ? &remote.hedge_after() : nullptr},
              {".remote.circuit_open_duration",
               remote.has_circuit_open_duration() ? &remote.circuit_open_duration() : nullptr}}) {
          if (duration != nullptr && !IsPositive(*duration)) {
            return src.InvalidArgument(at + field, "must be positive, e.g. 50ms");
          }
        }
        break;
      }
      case config::v1::RegistryConfig::SOURCE_NOT_SET:
        return src.InvalidArgument(at, "set one source: kbo, sql or remote");
    }
    if (r.has_timeout() && !IsPositive(r.timeout())) {
      return src.InvalidArgument(at + ".timeout", "must be positive, e.g. 2s");
    }
    if (r.has_cache_ttl() && !IsPositive(r.cache_ttl())) {
      return src.InvalidArgument(at + ".cache_ttl", "must be positive, e.g. 60s (or unset)");
    }
    if (r.threads() > 256) return src.InvalidArgument(at + ".threads", "at most 256");
    if (r.max_queued() > 100000) return src.InvalidArgument(at + ".max_queued", "at most 100000");
    if (r.has_remote() && !r.remote().tls().crl_file().empty()) {
      return src.InvalidArgument(at + ".remote.tls.crl_file", "not supported by this version yet");
    }
    if (r.has_remote() && r.remote().tls().has_crl_stale_grace()) {
      return src.InvalidArgument(at + ".remote.tls.crl_stale_grace",
                                 "not supported by this version yet");
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<GatewayConfig> FinishGatewayConfig(GatewayConfig c, const std::string& path,
                                                  const SourceMap& src) {
  RETURN_IF_ERROR(Validate(c, src));
  std::string dir;
  size_t slash = path.find_last_of('/');
  if (slash != std::string::npos) dir = path.substr(0, slash);
  if (c.instance_name().empty()) c.set_instance_name("gateway-1");
  if (c.trust_domain().empty()) c.set_trust_domain("onceonly.brussels");
  if (c.audit().max_batch() == 0) c.mutable_audit()->set_max_batch(1024);
  if (c.audit().checkpoint_every() == 0) c.mutable_audit()->set_checkpoint_every(1000);
  if (!c.audit().has_checkpoint_interval()) {
    c.mutable_audit()->mutable_checkpoint_interval()->set_seconds(1);
  }
  if (c.fetch_threads() == 0) {
    c.set_fetch_threads(std::max(4u, 2 * std::thread::hardware_concurrency()));
  }
  if (!c.has_default_deadline()) c.mutable_default_deadline()->set_seconds(5);
  ResolveTls(dir, c.mutable_tls());
  c.set_policy_file(Resolve(dir, c.policy_file()));
  c.mutable_audit()->set_sqlite_path(Resolve(dir, c.audit().sqlite_path()));
  c.mutable_authz_store()->set_sqlite_path(Resolve(dir, c.authz_store().sqlite_path()));
  c.set_signing_key_file(Resolve(dir, c.signing_key_file()));
  if (!c.has_policy_poll_interval()) c.mutable_policy_poll_interval()->set_seconds(2);
  for (auto& r : *c.mutable_registries()) {
    if (!r.has_timeout()) r.mutable_timeout()->set_seconds(2);
    if (r.has_kbo()) r.mutable_kbo()->set_sqlite_path(Resolve(dir, r.kbo().sqlite_path()));
    if (r.has_sql()) r.mutable_sql()->set_sqlite_path(Resolve(dir, r.sql().sqlite_path()));
    if (r.has_remote()) ResolveTls(dir, r.mutable_remote()->mutable_tls());
  }
  return c;
}

absl::StatusOr<GatewayConfig> FinishGatewayConfig(GatewayConfig config,
                                                  const std::string& path) {
  return FinishGatewayConfig(std::move(config), path, SourceMap(path, {}));
}

absl::Status CheckGatewayFiles(const GatewayConfig& c) {
  std::vector<std::pair<std::string, std::string>> readable = {
      {"tls.cert_file", c.tls().cert_file()},
      {"tls.key_file", c.tls().key_file()},
      {"tls.ca_file", c.tls().ca_file()},
      {"policy_file", c.policy_file()},
      {"signing_key_file", c.signing_key_file()},
  };
  if (!c.tls().crl_file().empty()) readable.emplace_back("tls.crl_file", c.tls().crl_file());
  for (int i = 0; i < c.registries_size(); ++i) {
    const auto& r = c.registries(i);
    std::string at = absl::StrCat("registries[", i, "]");
    if (r.has_kbo()) readable.emplace_back(at + ".kbo.sqlite_path", r.kbo().sqlite_path());
    if (r.has_sql()) readable.emplace_back(at + ".sql.sqlite_path", r.sql().sqlite_path());
    if (r.has_remote()) {
      readable.emplace_back(at + ".remote.tls.cert_file", r.remote().tls().cert_file());
      readable.emplace_back(at + ".remote.tls.key_file", r.remote().tls().key_file());
      readable.emplace_back(at + ".remote.tls.ca_file", r.remote().tls().ca_file());
    }
  }
  for (const auto& [field, path] : readable) {
    if (access(path.c_str(), R_OK) != 0) {
      return absl::FailedPreconditionError(
          absl::StrCat(field, ": cannot read ", path, ": ", std::strerror(errno)));
    }
  }
  for (const auto& [field, path] : {std::pair<std::string, std::string>{
                                         "audit.sqlite_path", c.audit().sqlite_path()},
                                     {"authz_store.sqlite_path", c.authz_store().sqlite_path()}}) {
    size_t slash = path.find_last_of('/');
    std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
    if (access(dir.c_str(), W_OK) != 0) {
      return absl::FailedPreconditionError(
          absl::StrCat(field, ": cannot write in ", dir, ": ", std::strerror(errno)));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<GatewayConfig> LoadGatewayConfig(const std::string& path) {
  GatewayConfig config;
  SourceMap src;
  RETURN_IF_ERROR(LoadYamlFile(path, &config, &src));
  return FinishGatewayConfig(std::move(config), path, src);
}

}  // namespace onceonly
