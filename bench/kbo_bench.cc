// Benchmark (not a test): reads of the companies registry on an imported KBO database, as the
// registry serves them. Run by bench/kbo_bench.sh (`make bench-kbo`) on a full-scale generated
// extract; by hand:
//
//   ONCEONLY_KBO_DB=kbo.db build/bench/kbo_bench
//
//   BM_GetEnterprise       KboStore::GetEnterprise of a random enterprise of the database (all
//                          its records, codes resolved in French); p50/p99/p999 in ms
//   BM_SearchNamePrefix    KboStore::SearchEnterprises, first page (20), for the first 4
//                          letters of a random enterprise's name, as a back office types it
//
// The enterprises and names are drawn once (fixed seed) from the database itself.

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/latency_collector.h"
#include "common/sqlite.h"
#include "connectors/kbo/kbo_store.h"

namespace onceonly {
namespace {

const char* DbPath() {
  const char* path = std::getenv("ONCEONLY_KBO_DB");
  if (path == nullptr) {
    std::fprintf(stderr, "kbo_bench: set ONCEONLY_KBO_DB to an imported KBO database\n");
    std::exit(2);
  }
  return path;
}

KboStore& Store() {
  static KboStore* store = [] {
    absl::StatusOr<std::unique_ptr<KboStore>> opened = KboStore::Open(DbPath());
    if (!opened.ok()) {
      std::fprintf(stderr, "kbo_bench: %s\n", std::string(opened.status().message()).c_str());
      std::exit(1);
    }
    return opened->release();
  }();
  return *store;
}

// 10,000 enterprise numbers of the database, drawn with a fixed seed: every rowid is a
// candidate, so the draw covers the whole file, not its first pages.
const std::vector<std::string>& Numbers() {
  static const std::vector<std::string>* numbers = [] {
    auto* out = new std::vector<std::string>;
    absl::StatusOr<std::unique_ptr<SqliteDb>> db =
        SqliteDb::Open(DbPath(), SqliteDb::Mode::kReadOnly);
    if (!db.ok()) std::exit(1);
    absl::StatusOr<SqliteStatement> max = (*db)->Prepare("SELECT MAX(rowid) FROM enterprise");
    if (!max.ok() || !max->Step().value_or(false)) std::exit(1);
    const int64_t rows = max->ColumnInt(0);
    absl::StatusOr<SqliteStatement> at =
        (*db)->Prepare("SELECT enterprise_number FROM enterprise WHERE rowid >= ? LIMIT 1");
    if (!at.ok() || rows < 1) std::exit(1);
    std::mt19937_64 rng(20261201);
    std::uniform_int_distribution<int64_t> pick(1, rows);
    while (out->size() < 10000) {
      at->Bind(1, pick(rng));
      if (at->Step().value_or(false)) out->push_back(at->ColumnText(0));
      at->Reset();
    }
    std::fprintf(stderr, "[kbo_bench] %zu enterprises drawn from %lld rows of %s\n",
                 out->size(), static_cast<long long>(rows), DbPath());
    return out;
  }();
  return *numbers;
}

// 1,000 name prefixes: the first 4 characters of the first word of a denomination of a random
// enterprise (words shorter than 4 are taken whole).
const std::vector<std::string>& NamePrefixes() {
  static const std::vector<std::string>* prefixes = [] {
    auto* out = new std::vector<std::string>;
    absl::StatusOr<std::unique_ptr<SqliteDb>> db =
        SqliteDb::Open(DbPath(), SqliteDb::Mode::kReadOnly);
    if (!db.ok()) std::exit(1);
    absl::StatusOr<SqliteStatement> name = (*db)->Prepare(
        "SELECT value FROM denomination WHERE entity_number = ? AND value <> '' LIMIT 1");
    if (!name.ok()) std::exit(1);
    for (const std::string& number : Numbers()) {
      if (out->size() == 1000) break;
      name->Bind(1, number);
      if (name->Step().value_or(false)) {
        std::string word = name->ColumnText(0);
        word = word.substr(0, word.find_first_of(" ,.-'\""));
        // Whole UTF-8 characters only: stop before a continuation byte.
        size_t cut = std::min<size_t>(4, word.size());
        while (cut < word.size() && (static_cast<unsigned char>(word[cut]) & 0xC0) == 0x80) ++cut;
        if (!word.empty()) out->push_back(word.substr(0, cut));
      }
      name->Reset();
    }
    return out;
  }();
  return *prefixes;
}

void ReportLatency(benchmark::State& state, std::vector<int64_t>& samples_ns) {
  if (samples_ns.empty()) return;
  // In milliseconds, the unit of the targets (and below the 1,000 where the counters' output
  // switches to "k").
  state.counters["p50_ms"] = Percentile(samples_ns, 0.50) / 1e6;
  state.counters["p99_ms"] = Percentile(samples_ns, 0.99) / 1e6;
  state.counters["p999_ms"] = Percentile(samples_ns, 0.999) / 1e6;
}

void BM_GetEnterprise(benchmark::State& state) {
  const std::vector<std::string>& numbers = Numbers();
  KboStore& store = Store();
  std::vector<int64_t> samples;
  size_t i = 0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<registry::v1::Enterprise> enterprise =
        store.GetEnterprise(numbers[i++ % numbers.size()], "fr");
    samples.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::steady_clock::now() - start)
                          .count());
    if (!enterprise.ok()) {
      state.SkipWithError(std::string(enterprise.status().message()).c_str());
      break;
    }
    benchmark::DoNotOptimize(enterprise);
  }
  ReportLatency(state, samples);
}
BENCHMARK(BM_GetEnterprise)->UseRealTime();

void BM_SearchNamePrefix(benchmark::State& state) {
  const std::vector<std::string>& prefixes = NamePrefixes();
  KboStore& store = Store();
  std::vector<int64_t> samples;
  size_t i = 0;
  int64_t matches = 0;
  for (auto _ : state) {
    registry::v1::SearchEnterprisesRequest request;
    request.set_name(prefixes[i++ % prefixes.size()]);
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<registry::v1::SearchEnterprisesResponse> page =
        store.SearchEnterprises(request);
    samples.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::steady_clock::now() - start)
                          .count());
    if (!page.ok()) {
      state.SkipWithError(std::string(page.status().message()).c_str());
      break;
    }
    matches += page->matches_size();
  }
  ReportLatency(state, samples);
  state.counters["matches_per_page"] =
      samples.empty() ? 0 : static_cast<double>(matches) / static_cast<double>(samples.size());
}
BENCHMARK(BM_SearchNamePrefix)->UseRealTime();

}  // namespace
}  // namespace onceonly

BENCHMARK_MAIN();
