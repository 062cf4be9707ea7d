// onceonly: the operator CLI. Each subcommand parses its flags, calls a library, and prints.
#include <grpcpp/client_context.h>

#include <filesystem>
#include <iostream>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "authz/policy.h"
#include "common/command_line.h"
#include "common/grpc_status.h"
#include "common/sqlite.h"
#include "common/status_macros.h"
#include "common/tls.h"
#include "common/yaml_proto.h"
#include "connectors/kbo/kbo_digest.h"
#include "connectors/kbo/kbo_generator.h"
#include "connectors/kbo/kbo_import.h"
#include "connectors/kbo/kbo_store.h"
#include "connectors/sql/sample_seed.h"
#include "gateway/gateway_config.h"
#include "google/protobuf/util/json_util.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "onceonly/v1/dossier.grpc.pb.h"
#include "tools/audit_commands.h"
#include "tools/bench_load.h"
#include "tools/cli_support.h"
#include "tools/dossier_text.h"
#include "tools/member_commands.h"
#include "tools/pki/dev_pki.h"

namespace onceonly {

extern const char kUsage[] = R"(usage: onceonly COMMAND ...

  pki init DIR [--trust-domain TD] [--dns NAME]... [--force]
                          dev CA, CRL, gateway server certificate, checkpoint signing key
  pki issue DIR --member ID [--subsystem NAME]
                          a member client certificate (DIR/members/ID[-NAME].crt)
  pki revoke DIR --member ID [--subsystem NAME]
                          add a member certificate to DIR/crl.pem
  pki issue-server DIR --name NAME [--dns NAME]...
                          a registry server certificate (DIR/servers/NAME.crt)
  kbo import DIR --db FILE [--reject-file FILE]
                          import a KBO open data extract (full or update) into SQLite, in
                          extract order; bad rows stop it (nothing applied) unless
                          --reject-file collects them ("file:line: column: reason")
  kbo generate --enterprises N --out DIR [--seed S] [--codes FILE]
               [--extract-number N] [--snapshot-date YYYY-MM-DD] [--registries FILE]
                          a synthetic full KBO extract in the real format and proportions,
                          with manifest.json (row counts, content digest); same seed, same bytes;
                          and the matching permit and tax registries (default DIR/registries.db,
                          as `registry seed` derives them from the imported extract)
  kbo generate --update-from FULL_DIR --out DIR [--changes K] [--seed S] [--codes FILE]
                          a daily update extract against a generated full one (K enterprises
                          modified, new or struck off; default 10000)
      --codes: the real code.csv (default: $ONCEONLY_KBO_EXTRACT/code.csv, else the extract
      in ../shared/data/kbo/ found at build time)
  kbo digest --db FILE    enterprise count and content digest of an imported KBO database
                          (compare with the generator's manifest.json)
  registry seed --kbo-db FILE --db FILE
                          sample permits and tax data for the enterprises of a KBO database
  config check FILE       validate a gateway config (and its policy) or a policy file
  bench load --target HOST:PORT [--call dossier|enterprise] (--pki DIR --member ID | --cert F
             --key F --ca F) [--concurrency N | --rate R] [--duration 10s] [--json FILE]
                          load generator over mTLS: closed loop (N in flight) or open loop
                          (R calls/s, latency from when each call was due); throughput and
                          p50/p90/p99/p99.9
  dossier get NUMBER --purpose P --category C [--category C]...
              [--gateway HOST:PORT] (--pki DIR --member ID | --cert F --key F --ca F)
              [--language fr|nl|de|en] [--case-ref REF] [--user ID] [--timeout SECONDS] [--json]
                          fetch a dossier over mTLS and print it
  consent grant NUMBER --grantee MEMBER --purpose P --category C... --until RFC3339
                [--from RFC3339] [--receipt-out FILE]      (as the firm portal)
  consent revoke CONSENT_ID --subject NUMBER [--receipt-out FILE]
  consent list NUMBER [--all]
                          (each sends x-onceonly-acting-for: --acting-for NUMBER, by default
                          the firm the command is about)
  consent verify-receipt FILE --public-key PEM
                          check a receipt's Ed25519 signature (key: the gateway's
                          checkpoint.pub) and print what it records
  registration register NUMBER --purpose P --case-ref REF [--until RFC3339]
  registration end REGISTRATION_ID
  registration list [NUMBER] [--all]
  directory allowed       what the calling member may ask for
  directory explain NUMBER --purpose P --category C...
                          why GetDossier would be allowed or denied (nothing fetched)
      gateway commands take [--gateway HOST:PORT] (--pki DIR --member ID | --cert F --key F
      --ca F) [--timeout SECONDS] [--json]
  audit show --db FILE [--log ID] [--access-id N | --last N] [--json]
                          print access records in full (--log: the gateway instance_name,
                          needed only when several gateways share the database)
  audit query (--db FILE | gateway flags) [--subject N] [--by-member M] [--purpose P]
              [--decision ALLOW|DENY] [--from RFC3339] [--until RFC3339] [--limit N] [--json]
              [--log ID]  (every match unless --limit; gateway default localhost:8443)
                          access records as a table (through the gateway: auditors see all,
                          other members their own)
  audit history NUMBER --acting-for NUMBER [gateway flags] [--limit N] [--json]
                          as the firm portal: every access to one firm's data
  audit export (--db FILE | gateway flags) [--log ID] [--out FILE]
                          the log as JSON lines: records, pruned leaves, signed checkpoints
  audit verify (--db FILE [--log ID] | --file EXPORT | gateway flags) --public-key PEM...
               [--trusted-checkpoint FILE]... [--allow-unsigned]
                          recompute every leaf and root, check every checkpoint; names the
                          first entry that does not match (exit 1)
  audit checkpoint [gateway flags] [--out FILE]
                          the latest signed checkpoint, to keep outside the operator's reach
  audit prune --db FILE --older-than DURATION
                          drop the content of old records, keeping their hashes
)";

namespace {


int PkiCommand(const std::vector<std::string>& args) {
  if (args.empty()) return Usage("pki needs init, issue, revoke or issue-server");
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
  if (args[0] == "revoke") {
    auto member = cl->Require("member");
    if (!member.ok()) return Usage("pki revoke DIR --member ID [--subsystem NAME]");
    std::string file = cl->Has("subsystem") ? *member + "-" + cl->Get("subsystem") : *member;
    auto crl = RevokeCertificate(dir, absl::StrCat(dir, "/members/", file, ".crt"), options);
    if (!crl.ok()) return Fail(crl.status());
    std::cout << "revoked members/" << file << ".crt; " << *crl
              << " updated (gateways reload it within their poll interval)\n";
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

// A whole number flag within [min, max]; Usage-worthy message otherwise.
absl::StatusOr<int64_t> IntFlag(const CommandLine& cl, const std::string& flag, int64_t fallback,
                                int64_t min, int64_t max) {
  if (!cl.Has(flag)) return fallback;
  int64_t value = 0;
  if (!absl::SimpleAtoi(cl.Get(flag), &value) || value < min || value > max) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, " takes a whole number from ", min,
                                                   " to ", max, ", not \"", cl.Get(flag), "\""));
  }
  return value;
}

int KboGenerateCommand(const std::vector<std::string>& args) {
  auto cl = CommandLine::Parse({args.begin() + 1, args.end()},
                               {"enterprises", "out", "seed", "update-from", "changes", "codes",
                                "extract-number", "snapshot-date", "registries"});
  if (!cl.ok()) return Usage(std::string(cl.status().message()));
  const bool update = cl->Has("update-from");
  if (!cl->positional().empty() || !cl->Has("out") || update == cl->Has("enterprises")) {
    return Usage(
        "kbo generate needs --enterprises N --out DIR, or --update-from FULL_DIR --out DIR");
  }
  if (!update && cl->Has("changes")) return Usage("--changes goes with --update-from");
  if (update && cl->Has("registries")) return Usage("--registries goes with --enterprises");
  KboGenerateOptions options;
  options.out_dir = cl->Get("out");
  options.update_from = cl->Get("update-from");
  options.code_table = cl->Get("codes", DefaultKboCodeTablePath());
  options.snapshot_date = cl->Get("snapshot-date");
  auto enterprises = IntFlag(*cl, "enterprises", 0, 1, kMaxGeneratedEnterprises);
  auto changes = IntFlag(*cl, "changes", options.changes, 1, kMaxGeneratedChanges);
  auto extract_number = IntFlag(*cl, "extract-number", 0, 1, 999'999'999);
  for (const auto* flag : {&enterprises, &changes, &extract_number}) {
    if (!flag->ok()) return Usage(std::string(flag->status().message()));
  }
  options.enterprises = *enterprises;
  options.changes = *changes;
  options.extract_number = *extract_number;
  if (cl->Has("seed") && !absl::SimpleAtoi(cl->Get("seed"), &options.seed)) {
    return Usage(absl::StrCat("--seed takes a whole number from 0 to 2^64-1, not \"",
                              cl->Get("seed"), "\""));
  }
  // The permit and tax registries of the same enterprises, as `registry seed` derives them
  // from the imported database, written as the enterprises are generated.
  std::unique_ptr<SampleRegistrySeeder> seeder;
  const std::string registries =
      update ? "" : cl->Get("registries", absl::StrCat(options.out_dir, "/registries.db"));
  if (!registries.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(options.out_dir, ec);  // the generator needs it too
    auto begun = SampleRegistrySeeder::Begin(registries);
    if (!begun.ok()) return Fail(begun.status());
    seeder = *std::move(begun);
    options.on_enterprise = [&seeder](const registry::v1::Enterprise& enterprise) {
      return seeder->Add(enterprise);
    };
  }
  auto summary =
      GenerateKboExtract(options, [](absl::string_view line) { std::cerr << line << "\n"; });
  if (!summary.ok()) return Fail(summary.status());
  absl::StatusOr<SeedSummary> seeded;
  if (seeder != nullptr) {
    seeded = seeder->Finish();
    if (!seeded.ok()) return Fail(seeded.status());
  }
  std::cout << "wrote " << summary->extract_type << " extract " << summary->extract_number
            << " (snapshot " << summary->snapshot_date << ") to " << options.out_dir << ": "
            << summary->bytes_written << " bytes\n";
  if (update) {
    std::cout << "  changes: " << summary->modified << " modified, " << summary->added
              << " new, " << summary->struck_off << " struck off\n";
  }
  for (const auto& [file, rows] : summary->file_rows) {
    std::cout << "  " << file << ": " << rows << " rows\n";
  }
  if (seeder != nullptr) {
    std::cout << "  " << registries << ": " << seeded->tax_rows << " tax records, "
              << seeded->permits << " permits (as `registry seed` derives them)\n";
  }
  std::cout << "enterprises " << summary->state.enterprises() << "\n"
            << "digest " << summary->state.Hex() << "\n";
  return 0;
}

int KboDigestCommand(const std::vector<std::string>& args) {
  auto cl = CommandLine::Parse({args.begin() + 1, args.end()}, {"db"});
  if (!cl.ok()) return Usage(std::string(cl.status().message()));
  if (!cl->positional().empty() || !cl->Has("db")) return Usage("kbo digest --db FILE");
  auto db = SqliteDb::Open(cl->Get("db"), SqliteDb::Mode::kReadOnly);
  if (!db.ok()) return Fail(db.status());
  auto digest = KboContentDigest(**db);
  if (!digest.ok()) return Fail(digest.status());
  for (int t = 0; t < kKboTableCount; ++t) {
    std::cout << "  " << KboTables()[t].name << ": "
              << digest->table(static_cast<KboTable>(t)).rows << " rows\n";
  }
  std::cout << "enterprises " << digest->enterprises() << "\n"
            << "digest " << digest->Hex() << "\n";
  return 0;
}

int KboCommand(const std::vector<std::string>& args) {
  if (!args.empty() && args[0] == "generate") return KboGenerateCommand(args);
  if (!args.empty() && args[0] == "digest") return KboDigestCommand(args);
  if (args.empty() || args[0] != "import") {
    return Usage("kbo needs: import DIR --db FILE, generate ..., or digest --db FILE");
  }
  auto cl = CommandLine::Parse({args.begin() + 1, args.end()}, {"db", "reject-file"});
  if (!cl.ok()) return Usage(std::string(cl.status().message()));
  if (cl->positional().size() != 1 || !cl->Has("db")) {
    return Usage("kbo import DIR --db FILE [--reject-file FILE]");
  }
  KboImportOptions options;
  options.reject_file = cl->Get("reject-file");
  auto summary = ImportKboExtract(cl->positional()[0], cl->Get("db"), options,
                                  [](absl::string_view line) { std::cerr << line << "\n"; });
  if (!summary.ok()) return Fail(summary.status());
  std::cout << "imported " << summary->extract_type << " extract " << summary->extract_number
            << " (snapshot " << summary->snapshot_date << ") into " << cl->Get("db") << "\n";
  for (const auto& [table, counts] : summary->tables) {
    std::cout << "  " << table << ": -" << counts.deleted << " +" << counts.inserted << "\n";
  }
  if (!options.reject_file.empty()) {
    std::cout << summary->rejected_rows << " bad rows quarantined in " << options.reject_file
              << (summary->rejected_rows > 0 ? " (not imported)" : "") << "\n";
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
  auto seeder = SampleRegistrySeeder::Begin(cl->Get("db"));
  if (!seeder.ok()) return Fail(seeder.status());
  // Streamed in number order: a national register never sits in memory.
  int64_t seen = 0;
  absl::Time next_report = absl::Now() + absl::Seconds(2);
  absl::Status streamed =
      (*store)->ForEachEnterpriseSummary([&](const registry::v1::Enterprise& enterprise) {
        if (++seen % 4096 == 0 && absl::Now() >= next_report) {
          std::cerr << "registry seed: " << seen << " enterprises\n";
          next_report = absl::Now() + absl::Seconds(2);
        }
        return (*seeder)->Add(enterprise);
      });
  if (!streamed.ok()) return Fail(streamed);
  auto summary = (*seeder)->Finish();
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
  std::set<std::string> flags = kClientFlags;
  flags.insert({"purpose", "category", "language", "case-ref", "user"});
  auto cl = CommandLine::Parse({args.begin() + 1, args.end()}, flags, {"json"});
  if (!cl.ok()) return Usage(std::string(cl.status().message()));
  if (cl->positional().size() != 1) return Usage("dossier get needs one enterprise NUMBER");
  if (!cl->Has("purpose")) return Usage("dossier get needs --purpose");
  auto channel = GatewayChannel(*cl);
  if (!channel.ok()) return Usage(std::string(channel.status().message()));
  v1::GetDossierRequest request;
  request.set_enterprise_number(cl->positional()[0]);
  request.set_purpose(cl->Get("purpose"));
  for (const std::string& c : cl->GetAll("category")) request.add_categories(c);
  request.set_language(cl->Get("language"));
  grpc::ClientContext context;
  if (absl::Status s = PrepareContext(*cl, context); !s.ok()) return Usage(std::string(s.message()));
  v1::Dossier dossier;
  grpc::Status status = v1::DossierService::NewStub(*channel)->GetDossier(&context, request, &dossier);
  if (!status.ok()) return RpcFailed("GetDossier", status);
  std::cout << (cl->Has("json") ? ToJson(dossier) : DossierToText(dossier));
  return 0;
}

}  // namespace
}  // namespace onceonly

int main(int argc, char** argv) {
  using namespace onceonly;
  // As in the servers: Debian's Abseil checks lock order on every Mutex acquisition, which
  // `bench load` would pay for on every call.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "help") {
    std::cout << kUsage;
    return args.empty() ? 2 : 0;
  }
  std::vector<std::string> rest(args.begin() + 1, args.end());
  const std::map<std::string, int (*)(const std::vector<std::string>&)> commands = {
      {"pki", PkiCommand},       {"kbo", KboCommand},         {"registry", RegistryCommand},
      {"config", ConfigCommand}, {"dossier", DossierCommand}, {"audit", AuditCommand},
      {"bench", BenchCommand},
      {"consent", ConsentCommand}, {"registration", RegistrationCommand},
      {"directory", DirectoryCommand},
  };
  auto it = commands.find(args[0]);
  if (it == commands.end()) return Usage("unknown command " + args[0]);
  return it->second(rest);
}
