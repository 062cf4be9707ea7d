#include "tools/bench_load.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/command_line.h"
#include "common/output_file.h"
#include "common/tls.h"
#include "onceonly/registry/v1/registry.grpc.pb.h"
#include "onceonly/v1/dossier.grpc.pb.h"
#include "tools/cli_support.h"

namespace onceonly {
namespace {

constexpr char kLoadUsage[] =
    "onceonly bench load --target HOST:PORT --call dossier|enterprise\n"
    "    (--pki DIR --member ID | --cert F --key F --ca F) [--server-name NAME]\n"
    "    [--concurrency N | --rate CALLS_PER_S] [--duration 10s] [--warmup 2s]\n"
    "    [--connections C] [--number ENTERPRISE]... [--purpose P] [--category C]...\n"
    "    [--numbers-file FILE] [--max-age 60s] [--deadline 5s] [--json FILE] [--label TEXT]\n"
    "    [--plaintext]  (no TLS: --call enterprise against a plaintext test server only)\n"
    "  --call dossier: DossierService.GetDossier at a gateway; enterprise:\n"
    "  CompanyRegistry.GetEnterprise at an onceonly-registry (present the gateway's identity).\n"
    "  Closed loop with --concurrency (default 64), open loop with --rate.\n";

// What one run measures.
struct Outcomes {
  absl::Mutex mu;
  std::vector<int64_t> latencies_ns ABSL_GUARDED_BY(mu);  // successful calls
  std::map<std::string, int64_t> by_code ABSL_GUARDED_BY(mu);
  absl::Time from ABSL_GUARDED_BY(mu) = absl::InfiniteFuture();  // the measured window
  absl::Time to ABSL_GUARDED_BY(mu) = absl::InfiniteFuture();
};

class Load {
 public:
  Load(std::vector<std::shared_ptr<grpc::Channel>> channels, const CommandLine& cl,
       absl::Duration deadline)
      : channels_(std::move(channels)), deadline_(deadline), call_(cl.Get("call", "dossier")) {
    for (auto& channel : channels_) {
      dossier_stubs_.push_back(v1::DossierService::NewStub(channel));
      registry_stubs_.push_back(registry::v1::CompanyRegistry::NewStub(channel));
    }
    numbers_ = cl.GetAll("number");
    if (cl.Has("numbers-file")) {  // one enterprise number per line
      std::ifstream in(cl.Get("numbers-file"));
      for (std::string line; std::getline(in, line);) {
        if (!line.empty()) numbers_.push_back(line);
      }
    }
    if (numbers_.empty()) numbers_.push_back("1029.028.161");
    dossier_.set_purpose(cl.Get("purpose", "public-procurement"));
    std::vector<std::string> categories = cl.GetAll("category");
    if (categories.empty()) categories = {"company.identity"};
    for (const std::string& c : categories) dossier_.add_categories(c);
    if (cl.Has("max-age")) {
      absl::Duration max_age;
      if (absl::ParseDuration(cl.Get("max-age"), &max_age)) {
        const int64_t ns = absl::ToInt64Nanoseconds(max_age);
        dossier_.mutable_max_age()->set_seconds(ns / 1'000'000'000);
        dossier_.mutable_max_age()->set_nanos(static_cast<int32_t>(ns % 1'000'000'000));
      }
    }
  }

  // Starts one call, due at `due`; `then` runs after it is recorded. A dossier with a
  // source that did not answer counts as PARTIAL, not OK: its latency is not a full answer's.
  void Start(absl::Time due, std::function<void()> then) {
    const uint64_t i = next_.fetch_add(1);
    std::shared_ptr<Messages> messages = TakeMessages();
    auto context = std::make_shared<grpc::ClientContext>();
    context->set_deadline(absl::ToChronoTime(absl::Now() + deadline_));
    auto finish = [this, due, context, messages, then = std::move(then)](
                      const grpc::Status& status, bool partial) mutable {
      GiveBack(std::move(messages));
      const int64_t ns = absl::ToInt64Nanoseconds(absl::Now() - due);
      {
        absl::MutexLock lock(&outcomes_.mu);
        // A call counts if it was due inside the window, however late it ends.
        if (due >= outcomes_.from && due < outcomes_.to) {
          ++outcomes_.by_code[status.ok() && partial
                                  ? std::string("PARTIAL")
                                  : absl::StatusCodeToString(
                                        static_cast<absl::StatusCode>(status.error_code()))];
          if (status.ok() && !partial) outcomes_.latencies_ns.push_back(ns);
        }
      }
      then();        // the next call, in a closed loop: counted before this one ends
      --in_flight_;  // last: once all are done, nothing of this object is touched again
    };
    ++in_flight_;
    const size_t c = i % channels_.size();
    const std::string& number = numbers_[i % numbers_.size()];
    Messages& m = *messages;
    if (call_ == "enterprise") {
      m.enterprise_request.set_enterprise_number(number);
      registry_stubs_[c]->async()->GetEnterprise(
          context.get(), &m.enterprise_request, &m.enterprise_response,
          [this, i, &m, finish = std::move(finish)](grpc::Status s) mutable {
            if (s.ok() && i % 64 == 0) SampleAnswerSize(m.enterprise_response.ByteSizeLong());
            finish(s, false);
          });
    } else {
      m.dossier_request.set_enterprise_number(number);
      dossier_stubs_[c]->async()->GetDossier(
          context.get(), &m.dossier_request, &m.dossier_response,
          [this, i, &m, finish = std::move(finish)](grpc::Status s) mutable {
            bool partial = false;
            for (const v1::SourceStatus& source : m.dossier_response.sources()) {
              if (source.code() != 0) partial = true;
            }
            if (s.ok() && i % 64 == 0) SampleAnswerSize(m.dossier_response.ByteSizeLong());
            finish(s, partial);
          });
    }
  }

  // The calls due within [from, to) are measured.
  void SetWindow(absl::Time from, absl::Time to) {
    absl::MutexLock lock(&outcomes_.mu);
    outcomes_.from = from;
    outcomes_.to = to;
  }
  int64_t in_flight() const { return in_flight_.load(); }
  // The mean size of the answers sampled (one call in 64), in bytes; 0 if none was.
  double mean_answer_bytes() const {
    const int64_t n = sampled_answers_.load();
    return n == 0 ? 0 : static_cast<double>(sampled_answer_bytes_.load()) / n;
  }
  Outcomes& outcomes() { return outcomes_; }

 private:
  // The messages of one call, reused by later calls: parsing into a cleared message keeps
  // its allocations, and a load generator should spend its CPU on calls, not on malloc.
  struct Messages {
    registry::v1::GetEnterpriseRequest enterprise_request;
    registry::v1::GetEnterpriseResponse enterprise_response;
    v1::GetDossierRequest dossier_request;
    v1::Dossier dossier_response;
  };
  std::shared_ptr<Messages> TakeMessages() {
    {
      absl::MutexLock lock(&spare_mu_);
      if (!spare_.empty()) {
        std::shared_ptr<Messages> m = std::move(spare_.back());
        spare_.pop_back();
        return m;
      }
    }
    auto m = std::make_shared<Messages>();
    m->dossier_request = dossier_;
    return m;
  }
  void GiveBack(std::shared_ptr<Messages> messages) {
    absl::MutexLock lock(&spare_mu_);
    spare_.push_back(std::move(messages));
  }

  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  std::vector<std::unique_ptr<v1::DossierService::Stub>> dossier_stubs_;
  std::vector<std::unique_ptr<registry::v1::CompanyRegistry::Stub>> registry_stubs_;
  const absl::Duration deadline_;
  const std::string call_;
  std::vector<std::string> numbers_;
  v1::GetDossierRequest dossier_;
  std::atomic<uint64_t> next_{0};
  std::atomic<int64_t> in_flight_{0};
  std::atomic<int64_t> sampled_answers_{0};
  std::atomic<int64_t> sampled_answer_bytes_{0};
  void SampleAnswerSize(size_t bytes) {
    sampled_answers_.fetch_add(1);
    sampled_answer_bytes_.fetch_add(static_cast<int64_t>(bytes));
  }
  Outcomes outcomes_;
  absl::Mutex spare_mu_;
  std::vector<std::shared_ptr<Messages>> spare_ ABSL_GUARDED_BY(spare_mu_);
};

absl::StatusOr<absl::Duration> DurationFlag(const CommandLine& cl, const std::string& flag,
                                            absl::Duration fallback) {
  if (!cl.Has(flag)) return fallback;
  absl::Duration d;
  if (!absl::ParseDuration(cl.Get(flag), &d) || d < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, " takes a duration such as 10s, not \"", cl.Get(flag), "\""));
  }
  return d;
}

double Percentile(const std::vector<int64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  const size_t i = std::min(sorted.size() - 1,
                            static_cast<size_t>(std::ceil(p / 100.0 * sorted.size())) - 1);
  return sorted[i] / 1e6;  // ms
}

}  // namespace

int BenchCommand(const std::vector<std::string>& args) {
  if (args.empty() || args[0] != "load") return Usage(std::string("bench needs: ") + kLoadUsage);
  auto cl = CommandLine::Parse({args.begin() + 1, args.end()},
                               {"target", "call", "pki", "member", "cert", "key", "ca",
                                "server-name", "concurrency", "rate", "duration", "warmup",
                                "connections", "number", "numbers-file", "purpose", "category",
                                "deadline", "json", "label", "max-age"},
                               {"plaintext"});
  if (!cl.ok()) return Usage(absl::StrCat(cl.status().message(), "\n", kLoadUsage));
  if (!cl->Has("target")) return Usage(absl::StrCat("bench load needs --target\n", kLoadUsage));
  const std::string call = cl->Get("call", "dossier");
  if (call != "dossier" && call != "enterprise") {
    return Usage("--call is dossier or enterprise, not \"" + call + "\"");
  }
  if (cl->Has("concurrency") && cl->Has("rate")) {
    return Usage("give --concurrency (closed loop) or --rate (open loop), not both");
  }
  auto duration = DurationFlag(*cl, "duration", absl::Seconds(10));
  auto warmup = DurationFlag(*cl, "warmup", absl::Seconds(2));
  auto deadline = DurationFlag(*cl, "deadline", absl::Seconds(5));
  for (const auto* d : {&duration, &warmup, &deadline}) {
    if (!d->ok()) return Usage(std::string(d->status().message()));
  }
  int concurrency = 64, connections = 1;
  double rate = 0;
  if ((cl->Has("concurrency") &&
       (!absl::SimpleAtoi(cl->Get("concurrency"), &concurrency) || concurrency < 1)) ||
      (cl->Has("connections") &&
       (!absl::SimpleAtoi(cl->Get("connections"), &connections) || connections < 1)) ||
      (cl->Has("rate") && (!absl::SimpleAtod(cl->Get("rate"), &rate) || rate <= 0))) {
    return Usage("--concurrency and --connections take a whole number >= 1, --rate a number > 0");
  }

  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (cl->Has("plaintext")) {
    // Only to compare with h2load, which cannot present a client certificate.
    if (call != "enterprise" || cl->Has("pki") || cl->Has("cert")) {
      return Usage("--plaintext is for --call enterprise against a plaintext test server, "
                   "without --pki or --cert");
    }
    credentials = grpc::InsecureChannelCredentials();
  } else {
    absl::StatusOr<config::v1::TlsFiles> tls = ClientTlsFromFlags(*cl);
    if (!tls.ok()) return Usage(std::string(tls.status().message()));
    auto mtls = MutualTlsChannelCredentials(*tls);
    if (!mtls.ok()) return Fail(mtls.status());
    credentials = *mtls;
  }
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < connections; ++i) {
    grpc::ChannelArguments channel_args;
    channel_args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a connection each
    if (cl->Has("server-name")) channel_args.SetSslTargetNameOverride(cl->Get("server-name"));
    channels.push_back(grpc::CreateCustomChannel(cl->Get("target"), credentials, channel_args));
    if (!channels.back()->WaitForConnected(absl::ToChronoTime(absl::Now() + absl::Seconds(10)))) {
      return Fail(absl::UnavailableError("cannot connect to " + cl->Get("target")));
    }
  }

  Load load(channels, *cl, *deadline);
  const bool open_loop = rate > 0;
  std::cerr << "bench load: " << call << " at " << cl->Get("target") << ", "
            << (open_loop ? absl::StrFormat("open loop at %g calls/s", rate)
                          : absl::StrFormat("closed loop, %d in flight", concurrency))
            << ", " << connections << " connection(s), warm-up " << absl::FormatDuration(*warmup)
            << ", then " << absl::FormatDuration(*duration) << "\n";
  const absl::Time start = absl::Now();
  const absl::Time measure_from = start + *warmup;
  const absl::Time end = measure_from + *duration;
  std::atomic<bool> stop{false};
  load.SetWindow(measure_from, end);
  std::thread recorder([&] {
    absl::SleepFor(*warmup);
    for (absl::Time next = absl::Now() + absl::Seconds(1); next < end;
         next += absl::Seconds(1)) {
      absl::SleepFor(std::min(next, end) - absl::Now());
      absl::MutexLock lock(&load.outcomes().mu);
      std::cerr << absl::StrFormat("bench load: %.0f s, %d calls answered, %d in flight\n",
                                   absl::ToDoubleSeconds(absl::Now() - measure_from),
                                   load.outcomes().latencies_ns.size(), load.in_flight());
    }
    absl::SleepFor(end - absl::Now());
    stop = true;
  });
  // Closed loop: each answer starts the next call. Outlives the loop: calls in flight copy it.
  std::function<void()> again = [&] {
    if (!stop) load.Start(absl::Now(), again);
  };
  if (open_loop) {
    // Calls are due at start + i/rate; the latency of each counts from then.
    const absl::Duration interval = absl::Seconds(1.0 / rate);
    absl::Time due = start;
    while (!stop && due < end) {
      const absl::Time now = absl::Now();
      if (due > now) absl::SleepFor(due - now);
      if (load.in_flight() < 100'000) load.Start(due, [] {});
      due += interval;
    }
  } else {
    for (int i = 0; i < concurrency; ++i) load.Start(absl::Now(), again);
  }
  recorder.join();
  while (load.in_flight() > 0) absl::SleepFor(absl::Milliseconds(10));

  std::vector<int64_t> latencies;
  std::map<std::string, int64_t> by_code;
  {
    absl::MutexLock lock(&load.outcomes().mu);
    latencies = load.outcomes().latencies_ns;
    by_code = load.outcomes().by_code;
  }
  std::sort(latencies.begin(), latencies.end());
  const double seconds = absl::ToDoubleSeconds(*duration);
  const double throughput = latencies.size() / seconds;
  std::vector<std::string> codes;
  for (const auto& [code, n] : by_code) codes.push_back(absl::StrCat("\"", code, "\": ", n));
  const std::string json = absl::StrFormat(
      "{\"label\": \"%s\", \"call\": \"%s\", \"target\": \"%s\", \"mode\": \"%s\", "
      "\"concurrency\": %d, \"rate\": %g, \"connections\": %d, \"duration_s\": %g, "
      "\"ok\": %d, \"throughput_per_s\": %.1f, \"p50_ms\": %.3f, \"p90_ms\": %.3f, "
      "\"p99_ms\": %.3f, \"p999_ms\": %.3f, \"max_ms\": %.3f, \"mean_answer_bytes\": %.1f, "
      "\"codes\": {%s}}",
      absl::StrReplaceAll(cl->Get("label"), {{"\\", "\\\\"}, {"\"", "\\\""}}), call,
      cl->Get("target"), open_loop ? "open" : "closed",
      open_loop ? 0 : concurrency, rate, connections, seconds, latencies.size(), throughput,
      Percentile(latencies, 50), Percentile(latencies, 90), Percentile(latencies, 99),
      Percentile(latencies, 99.9), latencies.empty() ? 0 : latencies.back() / 1e6,
      load.mean_answer_bytes(), absl::StrJoin(codes, ", "));
  std::cout << absl::StrFormat(
      "%s %s: %.0f calls/s (%d OK in %.0f s); latency ms p50 %.3f, p90 %.3f, p99 %.3f, "
      "p99.9 %.3f, max %.3f; status %s\n",
      cl->Get("label").empty() ? "bench load" : cl->Get("label"), call, throughput,
      latencies.size(), seconds, Percentile(latencies, 50), Percentile(latencies, 90),
      Percentile(latencies, 99), Percentile(latencies, 99.9),
      latencies.empty() ? 0 : latencies.back() / 1e6, absl::StrJoin(codes, ", "));
  if (cl->Has("json")) {
    // Appended: one line per run, so runs accumulate in one file.
    if (absl::Status appended = AppendToOutputFile(cl->Get("json"), json + "\n", 0644);
        !appended.ok()) {
      std::cerr << "onceonly: --json: " << appended.message() << "\n";
      return 1;
    }
  }
  return latencies.empty() ? 1 : 0;
}

}  // namespace onceonly
