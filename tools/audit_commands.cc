#include "tools/audit_commands.h"

#include <climits>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "audit/access_log.h"
#include "audit/access_log_store.h"
#include "audit/log_export.h"
#include "audit/log_verifier.h"
#include "common/ed25519.h"
#include "common/enterprise_number.h"
#include "common/grpc_status.h"
#include "common/output_file.h"
#include "common/proto_time.h"
#include "common/rich_status.h"
#include "common/status_macros.h"
#include "common/utf8.h"
#include "common/yaml_proto.h"
#include "google/protobuf/util/json_util.h"
#include "onceonly/v1/audit.grpc.pb.h"
#include "tools/cli_support.h"
#include "tools/dossier_text.h"

namespace onceonly {
namespace {

constexpr int kExportPage = 5000;

absl::StatusOr<CommandLine> Parse(const std::vector<std::string>& args,
                                  std::set<std::string> flags, std::set<std::string> bools = {},
                                  bool gateway = true) {
  if (gateway) flags.insert(kClientFlags.begin(), kClientFlags.end());
  return CommandLine::Parse({args.begin() + 1, args.end()}, flags, bools);
}

// The log of --log, or the only log of the database.
absl::StatusOr<std::string> PickLog(AccessLogStore& store, const CommandLine& cl) {
  auto ids = store.LogIds();
  if (!ids.ok()) return ids.status();
  if (cl.Has("log")) {
    if (std::find(ids->begin(), ids->end(), cl.Get("log")) == ids->end()) {
      return absl::NotFoundError(absl::StrCat(cl.Get("db"), " holds no log \"", cl.Get("log"),
                                              "\"; it holds: ", absl::StrJoin(*ids, ", ")));
    }
    return cl.Get("log");
  }
  if (ids->empty()) {
    return absl::NotFoundError(absl::StrCat(cl.Get("db"), " holds no access records"));
  }
  if (ids->size() > 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the database holds several logs (", absl::StrJoin(*ids, ", "), "); choose one with --log ID"));
  }
  return (*ids)[0];
}

absl::StatusOr<std::unique_ptr<AccessLogStore>> OpenForReading(const CommandLine& cl) {
  return OpenSqliteAccessLogStore(cl.Get("db"), StoreAccess::kReadOnly);
}

std::string JsonLine(const google::protobuf::Message& message) {
  std::string json;
  // Cannot fail for the messages printed here (no Any, no invalid UTF-8 from our own protos).
  (void)google::protobuf::util::MessageToJsonString(message, &json);
  return json;
}

// Calls `page_fn(entries)` for each page of the log, from the database or the gateway.
absl::Status ForEachLogPage(const CommandLine& cl,
                            const std::function<absl::Status(const LogPage&)>& page_fn) {
  if (cl.Has("db")) {
    ASSIGN_OR_RETURN(auto store, OpenForReading(cl));
    ASSIGN_OR_RETURN(std::string log_id, PickLog(*store, cl));
    uint64_t start = 0;
    while (true) {
      ASSIGN_OR_RETURN(LogPage page, ReadLogPage(*store, log_id, start, kExportPage));
      RETURN_IF_ERROR(page_fn(page));
      if (page.end) return absl::OkStatus();
      start = page.next_index;
    }
  }
  ASSIGN_OR_RETURN(auto channel, GatewayChannel(cl));
  auto stub = v1::AuditService::NewStub(channel);
  v1::ExportAccessLogRequest request;
  request.set_log_id(cl.Get("log"));
  request.set_page_size(kExportPage);
  while (true) {
    grpc::ClientContext context;
    RETURN_IF_ERROR(PrepareContext(cl, context));
    v1::ExportAccessLogResponse response;
    grpc::Status status = stub->ExportAccessLog(&context, request, &response);
    if (!status.ok()) return FromGrpcStatus(status);
    LogPage page;
    page.entries.assign(response.entries().begin(), response.entries().end());
    page.next_index = response.next_index();
    page.end = response.end();
    RETURN_IF_ERROR(page_fn(page));
    if (page.end) return absl::OkStatus();
    request.set_start_index(page.next_index);
  }
}

// Fail(), plus the ErrorInfo reason a gateway gave, if any.
int FailWithReason(const absl::Status& status) {
  const std::string reason = ErrorReason(status);
  if (reason.empty()) return Fail(status);
  std::cerr << "onceonly: " << status.message() << "\n  reason: " << reason << "\n";
  return 1;
}

std::string Hex(const std::string& bytes) { return absl::BytesToHexString(bytes); }

std::string Time(const google::protobuf::Timestamp& ts) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", FromProto(ts), absl::UTCTimeZone());
}

// ---- verify ------------------------------------------------------------------------------

int Verify(const std::vector<std::string>& args) {
  auto cl = Parse(args, {"db", "file", "log", "public-key", "trusted-checkpoint"},
                  {"allow-unsigned"});
  if (!cl.ok()) return Usage(std::string(cl.status().message()));
  if (!cl->Has("public-key")) {
    return Usage("audit verify needs --public-key PEM: the gateway's checkpoint.pub, obtained "
                 "out of band");
  }
  // Several keys for a log that spans a key rotation.
  std::vector<std::string> public_keys;
  for (const std::string& path : cl->GetAll("public-key")) {
    auto key = ReadFileToString(path);
    if (!key.ok()) return Fail(key.status());
    // A wrong file must not read as a bad signature, i.e. as tampering.
    if (VerifyEd25519(*key, "", "").code() == absl::StatusCode::kInvalidArgument) {
      return Usage(path + " is not an Ed25519 public key (PEM); give the gateway's "
                          "checkpoint.pub");
    }
    public_keys.push_back(*std::move(key));
  }
  LogVerifier verifier(std::move(public_keys));
  for (const std::string& path : cl->GetAll("trusted-checkpoint")) {
    auto json = ReadFileToString(path);
    if (!json.ok()) return Fail(json.status());
    v1::Checkpoint checkpoint;
    if (!google::protobuf::util::JsonStringToMessage(*json, &checkpoint).ok()) {
      return Fail(absl::InvalidArgumentError(
          absl::StrCat(path, ": not a checkpoint (save one with `onceonly audit checkpoint`)")));
    }
    if (absl::Status s = verifier.Trust(checkpoint); !s.ok()) {
      std::cerr << "onceonly: audit verify FAILED: " << path << ": " << s.message() << "\n";
      return 1;
    }
  }
  auto progress = [](uint64_t done) {
    std::cerr << "  verified " << done << " entries\n";
  };
  absl::Status fed;
  std::string source;
  if (cl->Has("file")) {
    // An export: one LogEntry per line, read as it comes (memory stays flat).
    source = cl->Get("file");
    std::ifstream in(source);
    if (!in) return Fail(absl::NotFoundError("cannot read " + source));
    fed = FeedExportLines(in, source, verifier, progress);
  } else if (cl->Has("db")) {
    // The database itself: each record's exact stored bytes against its stored hash.
    source = cl->Get("db");
    auto store = OpenForReading(*cl);
    if (!store.ok()) return Fail(store.status());
    auto log_id = PickLog(**store, *cl);
    if (!log_id.ok()) return Fail(log_id.status());
    fed = FeedStoredLog(**store, *log_id, verifier, progress);
  } else {
    source = cl->Get("gateway", "localhost:8443");
    uint64_t done = 0;
    fed = ForEachLogPage(*cl, [&](const LogPage& page) {
      for (const v1::LogEntry& entry : page.entries) RETURN_IF_ERROR(verifier.Add(entry));
      if (page.next_index / 100000 > done / 100000) progress(page.next_index);
      done = page.next_index;
      return absl::OkStatus();
    });
  }
  absl::StatusOr<LogVerifyReport> report =
      fed.ok() ? verifier.Finish() : absl::StatusOr<LogVerifyReport>(fed);
  if (report.ok() && !report->latest_checkpoint.has_value() && !cl->Has("allow-unsigned")) {
    // A gateway stores a checkpoint as soon as it starts: none at all means they were removed.
    report = absl::DataLossError(absl::StrCat(
        "no checkpoint of the log itself, so nothing it signed vouches for these ",
        report->leaves, " entries (a gateway signs one at start; were they deleted?); "
        "--allow-unsigned accepts that"));
  }
  if (!report.ok()) {
    std::cerr << "onceonly: audit verify FAILED for " << source << ": "
              << report.status().message() << "\n";
    if (const std::string reason = ErrorReason(report.status()); !reason.empty()) {
      std::cerr << "  reason: " << reason << "\n";
    }
    return 1;
  }
  std::cout << "log " << report->log_id << " verified from " << source << ": "
            << report->leaves << " entries (" << report->records << " records checked, "
            << report->pruned << " pruned, hash only"
            << (report->unreadable.empty()
                    ? std::string()
                    : absl::StrCat(", ", report->unreadable.size(), " unreadable"))
            << "), " << report->checkpoints
            << " checkpoints: signatures valid, roots recomputed\n";
  if (cl->Has("trusted-checkpoint")) {
    std::cout << "the " << cl->GetAll("trusted-checkpoint").size()
              << " trusted checkpoint(s) given match the log\n";
  }
  std::cout << "root at size " << report->leaves << ": " << Hex(report->root) << "\n";
  if (report->latest_checkpoint.has_value()) {
    const uint64_t unsigned_tail = report->leaves - report->latest_checkpoint->tree_size();
    std::cout << "latest checkpoint: size " << report->latest_checkpoint->tree_size()
              << ", signed " << Time(report->latest_checkpoint->time()) << " UTC";
    if (unsigned_tail > 0) {
      std::cout << " (the last " << unsigned_tail
                << (unsigned_tail == 1 ? " entry is" : " entries are") << " not signed yet)";
    }
    std::cout << "\n";
  } else {
    std::cout << "no checkpoint: the entries are consistent, but nothing signed vouches for "
                 "them (--allow-unsigned)\n";
  }
  // Not tampering: the bytes are what the log committed. But what they said is lost, and an
  // auditor must hear of it (exit status 3).
  for (uint64_t entry : report->unreadable) {
    std::cout << "FINDING: entry " << entry
              << " hashes correctly but does not parse: a record an older version let through "
                 "(a string that is not UTF-8); its place in the log is proven, its content "
                 "cannot be read\n";
  }
  if (!report->unreadable.empty()) {
    std::cout << "the log is intact, but " << report->unreadable.size()
              << (report->unreadable.size() == 1 ? " record cannot" : " records cannot")
              << " be read (exit status 3)\n";
    return 3;
  }
  return 0;
}

// ---- export ------------------------------------------------------------------------------

int Export(const std::vector<std::string>& args) {
  auto cl = Parse(args, {"db", "log", "out"});
  if (!cl.ok()) return Usage(std::string(cl.status().message()));
  // Written whole or not at all (OutputFile), so a failed export leaves no file that could be
  // mistaken for a (short) log; never over an existing file. Checked before any work.
  std::unique_ptr<OutputFile> file;
  if (cl->Has("out")) {
    auto created = OutputFile::Create(cl->Get("out"));
    if (!created.ok()) return Fail(created.status());
    file = *std::move(created);
  }
  uint64_t leaves = 0;
  absl::Status s = ForEachLogPage(*cl, [&](const LogPage& page) {
    std::string lines;
    for (const v1::LogEntry& entry : page.entries) absl::StrAppend(&lines, JsonLine(entry), "\n");
    leaves = page.next_index;
    if (file == nullptr) {
      std::cout << lines;
      return std::cout ? absl::OkStatus() : absl::UnavailableError("cannot write the export");
    }
    std::cerr << "  exported " << leaves << " entries\r";
    return file->Write(lines);
  });
  if (s.ok() && file != nullptr) s = file->Commit();
  if (!s.ok()) return FailWithReason(s);
  if (file != nullptr) {
    std::cerr << "\n";
    std::cout << "exported " << leaves << " entries to " << cl->Get("out") << "\n";
  } else {
    std::cout.flush();
  }
  return 0;
}

// ---- query -------------------------------------------------------------------------------

absl::Status TimeFlag(const CommandLine& cl, const std::string& flag, absl::Time* out) {
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, cl.Get(flag), out, &error)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, " takes an RFC 3339 time, e.g. 2026-12-01T00:00:00Z"));
  }
  return absl::OkStatus();
}

void PrintTable(const std::vector<v1::AccessRecord>& records) {
  std::cout << absl::StrFormat("%-8s %-19s %-18s %-20s %-14s %-5s %-22s %s\n", "ID", "TIME (UTC)",
                               "MEMBER", "PURPOSE", "SUBJECT", "DEC", "REASON",
                               "RELEASED / ASKED");
  for (const auto& r : records) {
    std::string what = r.query().empty()
                           ? absl::StrJoin(r.decision() == v1::DECISION_ALLOW
                                               ? r.categories_released()
                                               : r.categories_requested(),
                                           ",")
                           : r.query();
    std::cout << absl::StrFormat(
        "%-8d %-19s %-18s %-20s %-14s %-5s %-22s %s\n", r.access_id(), Time(r.time()),
        r.member().empty() ? "-" : EscapeControls(r.member()),
        EscapeControls(r.purpose().empty() ? r.method().substr(r.method().rfind('/') + 1)
                                           : r.purpose()),
        r.subject().empty() ? "-" : EscapeControls(r.subject()),
        r.decision() == v1::DECISION_ALLOW  ? "ALLOW"
        : r.decision() == v1::DECISION_DENY ? "DENY"
                                            : "?",
        EscapeControls(r.reason()), EscapeControls(what));
  }
}

// Pages through a gateway listing (QueryAccessLog, GetAccessHistory) until `limit` records or
// the last page. `call` sends one request with a fresh context.
template <typename Request, typename Response>
grpc::Status FetchPages(
    Request request, int limit, std::vector<v1::AccessRecord>& records,
    const std::function<grpc::Status(grpc::ClientContext&, const Request&, Response*)>& call) {
  while (static_cast<int>(records.size()) < limit) {
    request.set_page_size(std::min(1000, limit - static_cast<int>(records.size())));
    grpc::ClientContext context;
    Response response;
    grpc::Status status = call(context, request, &response);
    if (!status.ok()) return status;
    records.insert(records.end(), response.records().begin(), response.records().end());
    if (response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
  }
  return grpc::Status::OK;
}

// The records as JSON lines or as a table with a count of `what`.
void PrintRecords(const CommandLine& cl, const std::vector<v1::AccessRecord>& records, int limit,
                  const std::string& what) {
  if (cl.Has("json")) {
    for (const auto& r : records) std::cout << JsonLine(r) << "\n";
    return;
  }
  PrintTable(records);
  std::cout << records.size() << " " << what
            << (static_cast<int>(records.size()) == limit ? " (--limit reached; there may be more)"
                                                           : "")
            << "\n";
}

int Query(const std::vector<std::string>& args) {
  // --by-member, not --member: that flag picks the caller's certificate.
  auto cl = Parse(args, {"db", "log", "subject", "by-member", "purpose", "decision", "from",
                         "until", "limit"},
                  {"json"});
  if (!cl.ok()) return Usage(std::string(cl.status().message()));
  int limit = INT_MAX;  // every match, page by page, unless capped
  if (cl->Has("limit") && (!absl::SimpleAtoi(cl->Get("limit"), &limit) || limit < 1)) {
    return Usage("--limit takes a number >= 1");
  }
  v1::Decision decision = v1::DECISION_UNSPECIFIED;
  if (cl->Has("decision")) {
    const std::string d = cl->Get("decision");
    // As typed, or as the records print it (DECISION_DENY).
    if (d == "ALLOW" || d == "allow" || d == "DECISION_ALLOW") {
      decision = v1::DECISION_ALLOW;
    } else if (d == "DENY" || d == "deny" || d == "DECISION_DENY") {
      decision = v1::DECISION_DENY;
    } else {
      return Usage("--decision takes ALLOW or DENY");
    }
  }
  std::string subject;
  if (cl->Has("subject")) {
    auto canonical = CanonicalEnterpriseNumber(cl->Get("subject"));
    if (!canonical.ok()) return Usage("--subject: " + std::string(canonical.status().message()));
    subject = *canonical;
  }
  absl::Time from = absl::InfinitePast(), until = absl::InfiniteFuture();
  if (cl->Has("from")) {
    if (absl::Status s = TimeFlag(*cl, "from", &from); !s.ok()) return Usage(std::string(s.message()));
  }
  if (cl->Has("until")) {
    if (absl::Status s = TimeFlag(*cl, "until", &until); !s.ok()) return Usage(std::string(s.message()));
  }
  if (from >= until) return Usage("--from must be before --until");
  std::vector<v1::AccessRecord> records;
  if (cl->Has("db")) {
    auto store = OpenForReading(*cl);
    if (!store.ok()) return Fail(store.status());
    AccessQuery query;
    query.log_id = cl->Get("log");
    query.subject = subject;
    query.member = cl->Get("by-member");
    query.purpose = cl->Get("purpose");
    query.decision = decision;
    query.from = from;
    query.until = until;
    while (static_cast<int>(records.size()) < limit) {
      query.limit = std::min(1000, limit - static_cast<int>(records.size()));
      auto found = (*store)->Query(query);
      if (!found.ok()) return Fail(found.status());
      const bool full = static_cast<int>(found->records.size()) == query.limit;
      for (auto& r : found->records) records.push_back(std::move(r));
      if (!full) break;
      query.after_position = found->last_position;
    }
  } else {
    auto channel = GatewayChannel(*cl);
    if (!channel.ok()) return Usage(std::string(channel.status().message()));
    auto stub = v1::AuditService::NewStub(*channel);
    v1::QueryAccessLogRequest request;
    request.set_subject(subject);
    request.set_member(cl->Get("by-member"));
    request.set_purpose(cl->Get("purpose"));
    request.set_decision(decision);
    request.set_log_id(cl->Get("log"));
    if (cl->Has("from")) *request.mutable_from() = ToProto(from);
    if (cl->Has("until")) *request.mutable_until() = ToProto(until);
    if (grpc::ClientContext probe; !PrepareContext(*cl, probe).ok()) {
      return Usage(std::string(PrepareContext(*cl, probe).message()));
    }
    grpc::Status status = FetchPages<v1::QueryAccessLogRequest, v1::QueryAccessLogResponse>(
        request, limit, records,
        [&](grpc::ClientContext& context, const v1::QueryAccessLogRequest& r,
            v1::QueryAccessLogResponse* response) {
          PrepareContext(*cl, context).IgnoreError();  // checked once before the first page
          return stub->QueryAccessLog(&context, r, response);
        });
    if (!status.ok()) return RpcFailed("QueryAccessLog", status);
  }
  PrintRecords(*cl, records, limit, records.size() == 1 ? "record" : "records");
  return 0;
}

int History(const std::vector<std::string>& args) {
  auto cl = Parse(args, {"acting-for", "limit"}, {"json"});
  if (!cl.ok()) return Usage(std::string(cl.status().message()));
  if (cl->positional().size() != 1 || !cl->Has("acting-for")) {
    return Usage("audit history NUMBER --acting-for NUMBER (as the firm portal: the firm whose "
                 "representative is signed in)");
  }
  int limit = INT_MAX;  // the whole history unless capped
  if (cl->Has("limit") && (!absl::SimpleAtoi(cl->Get("limit"), &limit) || limit < 1)) {
    return Usage("--limit takes a number >= 1");
  }
  auto canonical = CanonicalEnterpriseNumber(cl->positional()[0]);
  if (!canonical.ok()) return Usage(std::string(canonical.status().message()));
  auto channel = GatewayChannel(*cl);
  if (!channel.ok()) return Usage(std::string(channel.status().message()));
  auto stub = v1::AuditService::NewStub(*channel);
  v1::GetAccessHistoryRequest request;
  request.set_subject(cl->positional()[0]);
  if (grpc::ClientContext probe; !PrepareContext(*cl, probe).ok()) {
    return Usage(std::string(PrepareContext(*cl, probe).message()));
  }
  std::vector<v1::AccessRecord> records;
  grpc::Status status = FetchPages<v1::GetAccessHistoryRequest, v1::GetAccessHistoryResponse>(
      request, limit, records,
      [&](grpc::ClientContext& context, const v1::GetAccessHistoryRequest& r,
          v1::GetAccessHistoryResponse* response) {
        PrepareContext(*cl, context).IgnoreError();  // checked once before the first page
        // The firm whose representative the portal signed in: said explicitly, so the
        // gateway's check against the subject asked for means something.
        context.AddMetadata("x-onceonly-acting-for", cl->Get("acting-for"));
        return stub->GetAccessHistory(&context, r, response);
      });
  if (!status.ok()) return RpcFailed("GetAccessHistory", status);
  PrintRecords(*cl, records, limit,
               absl::StrCat(records.size() == 1 ? "access" : "accesses", " to ", *canonical,
                            "'s data"));
  return 0;
}

// ---- checkpoint, prune, show ---------------------------------------------------------------

int Checkpoint(const std::vector<std::string>& args) {
  auto cl = Parse(args, {"out", "log"});
  if (!cl.ok()) return Usage(std::string(cl.status().message()));
  if (cl->Has("out")) {
    if (absl::Status free = CheckOutputPathFree(cl->Get("out")); !free.ok()) return Fail(free);
  }
  auto channel = GatewayChannel(*cl);
  if (!channel.ok()) return Usage(std::string(channel.status().message()));
  grpc::ClientContext context;
  if (absl::Status s = PrepareContext(*cl, context); !s.ok()) return Usage(std::string(s.message()));
  v1::GetCheckpointRequest request;
  request.set_log_id(cl->Get("log"));
  v1::GetCheckpointResponse response;
  grpc::Status status =
      v1::AuditService::NewStub(*channel)->GetCheckpoint(&context, request, &response);
  if (!status.ok()) return RpcFailed("GetCheckpoint", status);
  const std::string json = ToJson(response.checkpoint());
  if (!cl->Has("out")) {
    std::cout << json;
    return 0;
  }
  if (absl::Status written = WriteOutputFile(cl->Get("out"), json); !written.ok()) {
    return Fail(written);
  }
  std::cout << "checkpoint of log " << response.checkpoint().log_id() << " at size "
            << response.checkpoint().tree_size() << " saved to " << cl->Get("out")
            << " (verify later with --trusted-checkpoint)\n";
  return 0;
}

int Prune(const std::vector<std::string>& args) {
  auto cl = Parse(args, {"db", "older-than"}, {}, /*gateway=*/false);
  if (!cl.ok()) return Usage(std::string(cl.status().message()));
  absl::Duration age;
  if (!cl->Has("db") || !cl->Has("older-than")) {
    return Usage("audit prune --db FILE --older-than DURATION (at least 1h, e.g. 8760h)");
  }
  if (!absl::ParseDuration(cl->Get("older-than"), &age)) {
    return Usage("--older-than takes a duration such as 8760h or 720h30m, not \"" +
                 cl->Get("older-than") + "\"");
  }
  if (age < absl::Hours(1)) {
    return Usage("--older-than " + cl->Get("older-than") + " is under the 1h minimum");
  }
  // Only an existing access log: opened read-only first, which refuses a missing file and a
  // database that holds none.
  if (auto existing = OpenForReading(*cl); !existing.ok()) return Fail(existing.status());
  auto store = OpenSqliteAccessLogStore(cl->Get("db"));
  if (!store.ok()) return Fail(store.status());
  auto pruned = (*store)->Prune(absl::Now() - age, 1000);
  if (!pruned.ok()) return Fail(pruned.status());
  std::cout << "pruned the content of " << *pruned << " records older than "
            << cl->Get("older-than") << "; their leaf hashes stay, so the log still verifies\n";
  return 0;
}

int Show(const std::vector<std::string>& args) {
  auto cl = Parse(args, {"db", "log", "access-id", "last"}, {"json"}, /*gateway=*/false);
  if (!cl.ok()) return Usage(std::string(cl.status().message()));
  if (!cl->Has("db")) return Usage("audit show needs --db FILE");
  auto store = OpenForReading(*cl);
  if (!store.ok()) return Fail(store.status());
  auto log_id = PickLog(**store, *cl);
  if (!log_id.ok()) return Fail(log_id.status());
  auto size = (*store)->Size(*log_id);
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
  auto records = (*store)->Read(*log_id, from, limit);
  if (!records.ok()) return Fail(records.status());
  if (records->empty()) {
    if (from < *size) {
      std::cerr << "onceonly: record " << from << " of log " << *log_id
                << " was pruned by retention: its leaf hash remains, so the log still verifies, "
                   "but its content is gone\n";
    } else {
      std::cerr << "onceonly: log " << *log_id << " has " << *size << " records; there is no "
                << from << "\n";
    }
    return 1;
  }
  for (const auto& r : *records) {
    std::cout << (cl->Has("json") ? ToJson(r) : AccessRecordToText(r));
  }
  return 0;
}

}  // namespace

int AuditCommand(const std::vector<std::string>& args) {
  const std::map<std::string, int (*)(const std::vector<std::string>&)> commands = {
      {"show", Show},   {"query", Query},           {"export", Export},
      {"verify", Verify}, {"checkpoint", Checkpoint}, {"prune", Prune},
      {"history", History},
  };
  if (args.empty()) {
    return Usage("audit needs show, query, history, export, verify, checkpoint or prune");
  }
  auto it = commands.find(args[0]);
  if (it == commands.end()) return Usage("unknown audit command " + args[0]);
  return it->second(args);
}

}  // namespace onceonly
