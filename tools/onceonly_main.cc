// onceonly: the operator CLI. Each subcommand parses its flags, calls a library, and prints.
#include <grpcpp/client_context.h>

#include <iostream>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "audit/access_log.h"
#include "authz/policy.h"
#include "common/command_line.h"
#include "common/grpc_status.h"
#include "common/status_macros.h"
#include "common/tls.h"
#include "common/yaml_proto.h"
#include "connectors/kbo/kbo_import.h"
#include "connectors/kbo/kbo_store.h"
#include "connectors/sql/sample_seed.h"
#include "gateway/gateway_config.h"
#include "google/protobuf/util/json_util.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "onceonly/v1/dossier.grpc.pb.h"
#include "tools/dossier_text.h"
#include "tools/pki/dev_pki.h"

namespace onceonly {
namespace {

constexpr char kUsage[] = R"(usage: onceonly COMMAND ...

  pki init DIR [--trust-domain TD] [--dns NAME]... [--force]
                          dev CA, gateway server certificate, checkpoint signing key
  pki issue DIR --member ID [--subsystem NAME]
                          a member client certificate (DIR/members/ID[-NAME].crt)
  pki issue-server DIR --name NAME [--dns NAME]...
                          a registry server certificate (DIR/servers/NAME.crt)
  kbo import DIR --db FILE
                          import a KBO open data extract (full or update) into SQLite
  registry seed --kbo-db FILE --db FILE
                          sample permits and tax data for the enterprises of a KBO database
  config check FILE       validate a gateway config (and its policy) or a policy file
  dossier get NUMBER --purpose P --category C [--category C]...
              [--gateway HOST:PORT] (--pki DIR --member ID | --cert F --key F --ca F)
              [--language fr|nl|de|en] [--case-ref REF] [--user ID] [--timeout SECONDS] [--json]
                          fetch a dossier over mTLS and print it
  audit show --db FILE [--log ID] [--access-id N | --last N] [--json]
                          print access records (--log: the gateway instance_name, needed
                          only when several gateways share the database)
)";

int Usage(const std::string& problem) {
  std::cerr << "onceonly: " << problem << "\n\n" << kUsage;
  return 2;
}

int Fail(const absl::Status& status) {
  std::cerr << "onceonly: " << status.message() << "\n";
  return 1;
}

std::string ToJson(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  return json;
}

int PkiCommand(const std::vector<std::string>& args) {
  if (args.empty()) return Usage("pki needs init, issue or issue-server");
  auto cl = CommandLine::Parse({args.begin() + 1, args.end()},
                               {"trust-domain", "dns", "member", "subsystem", "name"}, {"force"});
  if (!cl.ok()) return Usage(std::string(cl.status().message()));
  if (cl->positional().size() != 1) return Usage("pki " + args[0] + " needs one DIR");
  const std::string& dir = cl->positional()[0];
  DevPkiOptions options;
  if (cl->Has("trust-domain")) options.trust_domain = cl->Get("trust-domain");
  for (const std::string& dns : cl->GetAll("dns")) options.server_dns_names.push_back(dns);
  if (args[0] == "init") {
    absl::Status s = InitDevPki(dir, options, cl->Has("force"));
    if (!s.ok()) return Fail(s);
    std::cout << "dev PKI in " << dir << ": ca.crt, server.crt/key, checkpoint.key/pub\n";
    return 0;
  }
  if (args[0] == "issue") {
    auto member = cl->Require("member");
    if (!member.ok()) return Usage(std::string(member.status().message()));
    auto path = IssueMemberCertificate(dir, *member, cl->Get("subsystem"), options);
    if (!path.ok()) return Fail(path.status());
    std::cout << "member certificate " << *path << "\n";
    return 0;
  }
  if (args[0] == "issue-server") {
    auto name = cl->Require("name");
    if (!name.ok()) return Usage(std::string(name.status().message()));
    auto path = IssueServerCertificate(dir, *name, options);
    if (!path.ok()) return Fail(path.status());
    std::cout << "server certificate " << *path << "\n";
    return 0;
  }
  return Usage("unknown pki command " + args[0]);
}

int KboCommand(const std::vector<std::string>& args) {
  if (args.empty() || args[0] != "import") return Usage("kbo needs: import DIR --db FILE");
  auto cl = CommandLine::Parse({args.begin() + 1, args.end()}, {"db"});
  if (!cl.ok()) return Usage(std::string(cl.status().message()));
  if (cl->positional().size() != 1 || !cl->Has("db")) return Usage("kbo import DIR --db FILE");
  auto summary = ImportKboExtract(cl->positional()[0], cl->Get("db"),
                                  [](absl::string_view line) { std::cerr << line << "\n"; });
  if (!summary.ok()) return Fail(summary.status());
  std::cout << "imported " << summary->extract_type << " extract " << summary->extract_number
            << " (snapshot " << summary->snapshot_date << ") into " << cl->Get("db") << "\n";
  for (const auto& [table, counts] : summary->tables) {
    std::cout << "  " << table << ": -" << counts.deleted << " +" << counts.inserted << "\n";
  }
  return 0;
}

int RegistryCommand(const std::vector<std::string>& args) {
  if (args.empty() || args[0] != "seed") {
    return Usage("registry needs: seed --kbo-db FILE --db FILE");
  }
  auto cl = CommandLine::Parse({args.begin() + 1, args.end()}, {"kbo-db", "db"});
  if (!cl.ok()) return Usage(std::string(cl.status().message()));
  if (!cl->Has("kbo-db") || !cl->Has("db")) return Usage("registry seed --kbo-db FILE --db FILE");
  auto store = KboStore::Open(cl->Get("kbo-db"));
  if (!store.ok()) return Fail(store.status());
  auto enterprises = (*store)->ListEnterpriseSummaries(10'000'000);
  if (!enterprises.ok()) return Fail(enterprises.status());
  auto summary = SeedSampleRegistries(*enterprises, cl->Get("db"));
  if (!summary.ok()) return Fail(summary.status());
  std::cout << "seeded " << cl->Get("db") << ": " << summary->tax_rows << " tax records, "
            << summary->permits << " permits for " << summary->enterprises << " enterprises\n";
  return 0;
}

int ConfigCommand(const std::vector<std::string>& args) {
  if (args.size() != 2 || args[0] != "check") return Usage("config check FILE");
  const std::string& path = args[1];
  auto text = ReadFileToString(path);
  if (!text.ok()) return Fail(text.status());
  // A policy file has members/purposes/grants; anything else is read as a gateway config.
  bool is_policy = text->find("grants:") != std::string::npos ||
                   text->find("members:") != std::string::npos ||
                   text->find("purposes:") != std::string::npos;
  if (is_policy) {
    auto policy = PolicySnapshot::Load(path);
    if (!policy.ok()) return Fail(policy.status());
    std::cout << path << ": policy OK (" << (*policy)->policy().members_size() << " members, "
              << (*policy)->policy().purposes_size() << " purposes, "
              << (*policy)->policy().grants_size() << " grants)\n";
    return 0;
  }
  auto config = LoadGatewayConfig(path);
  if (!config.ok()) return Fail(config.status());
  if (absl::Status files = CheckGatewayFiles(*config); !files.ok()) {
    return Fail(absl::FailedPreconditionError(absl::StrCat(path, ": ", files.message())));
  }
  auto policy = PolicySnapshot::Load(config->policy_file());
  if (!policy.ok()) return Fail(policy.status());
  std::cout << path << ": gateway config OK (instance " << config->instance_name() << ", "
            << config->registries_size() << " registries; policy " << config->policy_file()
            << " OK)\n";
  return 0;
}

int DossierCommand(const std::vector<std::string>& args) {
  if (args.empty() || args[0] != "get") return Usage("dossier get NUMBER --purpose P ...");
  auto cl = CommandLine::Parse({args.begin() + 1, args.end()},
                               {"purpose", "category", "gateway", "pki", "member", "cert", "key",
                                "ca", "language", "case-ref", "user", "timeout"},
                               {"json"});
  if (!cl.ok()) return Usage(std::string(cl.status().message()));
  if (cl->positional().size() != 1) return Usage("dossier get needs one enterprise NUMBER");
  if (!cl->Has("purpose")) return Usage("dossier get needs --purpose");
  config::v1::TlsFiles tls;
  if (cl->Has("pki")) {
    auto member = cl->Require("member");
    if (!member.ok()) return Usage("--pki needs --member ID (the certificate to present)");
    std::string dir = cl->Get("pki");
    tls.set_cert_file(absl::StrCat(dir, "/members/", *member, ".crt"));
    tls.set_key_file(absl::StrCat(dir, "/members/", *member, ".key"));
    tls.set_ca_file(dir + "/ca.crt");
  }
  if (cl->Has("cert")) tls.set_cert_file(cl->Get("cert"));
  if (cl->Has("key")) tls.set_key_file(cl->Get("key"));
  if (cl->Has("ca")) tls.set_ca_file(cl->Get("ca"));
  if (tls.cert_file().empty() || tls.ca_file().empty()) {
    return Usage("give --pki DIR --member ID, or --cert, --key and --ca");
  }
  std::string address = cl->Get("gateway", "localhost:8443");
  auto channel = CreateMutualTlsChannel(address, tls);
  if (!channel.ok()) return Fail(channel.status());
  auto stub = v1::DossierService::NewStub(*channel);

  v1::GetDossierRequest request;
  request.set_enterprise_number(cl->positional()[0]);
  request.set_purpose(cl->Get("purpose"));
  for (const std::string& c : cl->GetAll("category")) request.add_categories(c);
  request.set_language(cl->Get("language"));
  grpc::ClientContext context;
  double timeout = 10;
  if (cl->Has("timeout") && !absl::SimpleAtod(cl->Get("timeout"), &timeout)) {
    return Usage("--timeout takes seconds, e.g. 2.5");
  }
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::milliseconds(static_cast<int64_t>(timeout * 1000)));
  if (cl->Has("case-ref")) context.AddMetadata("x-onceonly-case-ref", cl->Get("case-ref"));
  if (cl->Has("user")) context.AddMetadata("x-onceonly-user", cl->Get("user"));
  v1::Dossier dossier;
  grpc::Status status = stub->GetDossier(&context, request, &dossier);
  if (!status.ok()) {
    std::cerr << "onceonly: GetDossier failed: " << absl::StatusCodeToString(
                     static_cast<absl::StatusCode>(status.error_code()))
              << ": " << status.error_message() << "\n";
    google::rpc::Status rich;
    if (rich.ParseFromString(status.error_details())) {
      for (const auto& any : rich.details()) {
        google::rpc::ErrorInfo info;
        google::rpc::BadRequest bad;
        if (any.UnpackTo(&info)) {
          std::cerr << "  reason: " << info.reason() << "\n";
          for (const auto& [k, v] : info.metadata()) std::cerr << "  " << k << ": " << v << "\n";
        } else if (any.UnpackTo(&bad)) {
          for (const auto& v : bad.field_violations()) {
            std::cerr << "  field " << v.field() << ": " << v.description() << "\n";
          }
        }
      }
    }
    return 1;
  }
  std::cout << (cl->Has("json") ? ToJson(dossier) : DossierToText(dossier));
  return 0;
}

int AuditCommand(const std::vector<std::string>& args) {
  if (args.empty() || args[0] != "show") return Usage("audit show --db FILE ...");
  auto cl = CommandLine::Parse({args.begin() + 1, args.end()},
                               {"db", "log", "access-id", "last"}, {"json"});
  if (!cl.ok()) return Usage(std::string(cl.status().message()));
  if (!cl->Has("db")) return Usage("audit show needs --db FILE");
  auto store = OpenSqliteAccessLogStore(cl->Get("db"), StoreAccess::kReadOnly);
  if (!store.ok()) return Fail(store.status());
  std::string log_id = cl->Get("log");
  if (log_id.empty()) {
    // One gateway per database is the common case: then its log needs no naming.
    auto ids = (*store)->LogIds();
    if (!ids.ok()) return Fail(ids.status());
    if (ids->empty()) {
      std::cerr << "onceonly: " << cl->Get("db") << " holds no access records\n";
      return 1;
    }
    if (ids->size() > 1) {
      return Usage("the database holds several logs (" + absl::StrJoin(*ids, ", ") +
                   "); choose one with --log ID");
    }
    log_id = (*ids)[0];
  }
  auto size = (*store)->Size(log_id);
  if (!size.ok()) return Fail(size.status());
  uint64_t from = 0;
  int limit = static_cast<int>(*size);
  if (cl->Has("access-id")) {
    if (!absl::SimpleAtoi(cl->Get("access-id"), &from)) return Usage("--access-id takes a number");
    limit = 1;
  } else if (cl->Has("last")) {
    int last = 0;
    if (!absl::SimpleAtoi(cl->Get("last"), &last) || last < 1) return Usage("--last takes N >= 1");
    from = *size > static_cast<uint64_t>(last) ? *size - last : 0;
  }
  auto records = (*store)->Read(log_id, from, limit);
  if (!records.ok()) return Fail(records.status());
  if (records->empty()) {
    std::cerr << "onceonly: no access records in log " << log_id << " from " << from << "\n";
    return 1;
  }
  for (const auto& r : *records) {
    std::cout << (cl->Has("json") ? ToJson(r) : AccessRecordToText(r));
  }
  return 0;
}

}  // namespace
}  // namespace onceonly

int main(int argc, char** argv) {
  using namespace onceonly;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "help") {
    std::cout << kUsage;
    return args.empty() ? 2 : 0;
  }
  std::vector<std::string> rest(args.begin() + 1, args.end());
  const std::map<std::string, int (*)(const std::vector<std::string>&)> commands = {
      {"pki", PkiCommand},       {"kbo", KboCommand},         {"registry", RegistryCommand},
      {"config", ConfigCommand}, {"dossier", DossierCommand}, {"audit", AuditCommand},
  };
  auto it = commands.find(args[0]);
  if (it == commands.end()) return Usage("unknown command " + args[0]);
  return it->second(rest);
}
