// Benchmark (not a test): reads of the companies registry on an imported KBO database, as the
// registry serves them. Run by bench/kbo_bench.sh (`make bench-kbo`) on a full-scale generated
// extract; by hand:
//
//   ONCEONLY_KBO_DB=kbo.db build/bench/kbo_bench
//
//   BM_GetEnterprise     KboStore::GetEnterprise of a random enterprise of the database (all
//                        its records, codes resolved in French); p50/p99/p999 in µs
//
// The enterprises are drawn once (10,000 of them, fixed seed) from the database itself.

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

void ReportLatency(benchmark::State& state, std::vector<int64_t>& samples_ns) {
  if (samples_ns.empty()) return;
  state.counters["p50_us"] = Percentile(samples_ns, 0.50) / 1000.0;
  state.counters["p99_us"] = Percentile(samples_ns, 0.99) / 1000.0;
  state.counters["p999_us"] = Percentile(samples_ns, 0.999) / 1000.0;
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

}  // namespace
}  // namespace onceonly

BENCHMARK_MAIN();
