// Benchmark (not a test): what a durable access record costs, next to what the disk and a
// bare SQLite table allow on the same machine in the same run, and Merkle proofs at 10 M
// leaves. The targets: >= 100,000 durable records/s at batch 1024 with Merkle hashing
// and storage included; an inclusion proof at 10 M leaves with p99 < 100 us.
//
//   BM_Fsync_{Append,Overwrite}  write(4 KiB) + fdatasync at the end of a file, or over a
//                                block of it: the disk's durable-commit rate
//   BM_SqlitePlain/B             B rows per transaction into a bare rowid table, no index
//                                (WAL, synchronous=FULL): the same bytes as a record's row
//   BM_SqliteAccessLogTable/B    the same rows into the store's own access_log table (schema
//                                made by OpenSqliteAccessLogStore): + its time index
//   BM_StoreAppendBatch/B        AccessLogStore::AppendBatch of B prepared records: the
//                                writer thread's work (binding, insert, span, commit)
//   BM_AccessLogAppend/B         end to end: two producers AppendAll (serialize, hash) and the
//                                writer commits (max_batch B) and extends the tree
//   BM_AccessLogAppend_Checkpointed/B   the same with signed checkpoints (gateway defaults)
//   BM_Prefilled_*/1024          on a log already holding 1 M records (the steady state);
//                                _WithIndexer also runs the query indexer beside the writer
//   BM_Record_*                  per-record CPU of each step outside SQLite
//   BM_InclusionProof_*, BM_ConsistencyProof_PastSize, BM_RootAt_PastSize
//                                MerkleTree of 10 M synthetic leaves (built once, on first use)
//
// The write benchmarks share one record set (realistic AccessRecords, see TheRecords) and
// report records_per_s; a summary with the ratios goes to stderr at the end. Files live in a
// fresh directory under $TMPDIR (default /tmp), which must not be tmpfs (fsync would be free
// there; the benchmark says so). See bench/README.md.

#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "audit/access_log.h"
#include "audit/access_log_store.h"
#include "audit/merkle_tree.h"
#include "bench/latency_collector.h"
#include "common/ed25519.h"
#include "common/enterprise_number.h"
#include "onceonly/v1/audit.pb.h"

namespace onceonly {
namespace {

using Clock = std::chrono::steady_clock;

constexpr char kLogId[] = "gw-bench-1";
constexpr int kDistinctRecords = 4096;
constexpr uint64_t kSeed = 20251201;
constexpr uint64_t kDefaultTreeLeaves = 10000000;
constexpr int kProofQueries = 100000;
constexpr uint64_t kDefaultPrefill = 1000000;
constexpr int kPrefilledBatches = 100;

std::string g_dir;  // the benchmark's temporary directory

template <typename... Args>
void Progress(const absl::FormatSpec<Args...>& format, const Args&... args) {
  std::fprintf(stderr, "[audit_bench] %s\n", absl::StrFormat(format, args...).c_str());
}

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// A /proc/self/status field in kB ("VmRSS", "VmHWM").
int64_t ProcStatusKb(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::string prefix = absl::StrCat(field, ":");
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) return std::strtoll(line.c_str() + prefix.size(), nullptr, 10);
  }
  return -1;
}

// A fresh file name in the benchmark directory; each run writes its own database.
std::string FreshPath(absl::string_view what) {
  static int counter = 0;
  return absl::StrCat(g_dir, "/", what, "-", ++counter, ".db");
}

void RemoveDatabase(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm"}) std::remove((path + suffix).c_str());
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(g_dir, ec)) {
    if (entry.path().string().rfind(path + ".", 0) == 0) std::filesystem::remove(entry, ec);
  }
}

// ---------------------------------------------------------------------------------------
// Records: what the gateway writes for an allowed GetDossier (gateway/dossier_pipeline.cc).
// Record i of a run gets a monotonic time (100,000 records per simulated second) and a
// subject drawn from 1,000,000 enterprise numbers (about the number of active enterprises
// in the KBO), so the secondary indexes see the insert pattern of a busy gateway.

constexpr int64_t kBaseMicros = int64_t{1764600000} * 1000000;
constexpr int kSubjects = 1000000;

int64_t RecordTimeMicros(uint64_t index) { return kBaseMicros + static_cast<int64_t>(index) * 10; }

struct Records {
  std::vector<v1::AccessRecord> protos;  // log_id set; time, subject and access_id per use
  std::vector<std::string> subjects;     // canonical enterprise numbers
  // The protos as the store's row values, for the SQLite baselines (time per use).
  struct Row {
    std::string record, leaf_hash;
  };
  std::vector<Row> rows;
  double mean_record_bytes = 0;

  const std::string& SubjectFor(uint64_t index) const {
    uint64_t z = index + 0x9e3779b97f4a7c15ULL;  // splitmix64: a fixed, well-spread draw
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return subjects[(z ^ (z >> 31)) % subjects.size()];
  }
  // Record `index` of a run: a copy of a template with its own time and subject.
  v1::AccessRecord Make(uint64_t index) const {
    v1::AccessRecord r = protos[index % protos.size()];
    const int64_t micros = RecordTimeMicros(index);
    r.mutable_time()->set_seconds(micros / 1000000);
    r.mutable_time()->set_nanos(static_cast<int32_t>(micros % 1000000) * 1000);
    r.set_subject(SubjectFor(index));
    return r;
  }
  const Row& RowFor(uint64_t index) const { return rows[index % rows.size()]; }
};

const Records& TheRecords() {
  static const Records* records = [] {
    auto* r = new Records;
    std::mt19937_64 rng(kSeed);
    auto uniform = [&rng](int lo, int hi) {
      return std::uniform_int_distribution<int>(lo, hi)(rng);
    };
    r->subjects.reserve(kSubjects);
    for (int i = 0; i < kSubjects; ++i) {
      // A valid enterprise number: 0xxx.xxx.xxx with its mod-97 check digits.
      const long long first_eight = uniform(2000000, 9999999);
      const std::string digits =
          absl::StrFormat("%08d%02d", first_eight, EnterpriseCheckDigits(first_eight));
      r->subjects.push_back(
          absl::StrCat(digits.substr(0, 4), ".", digits.substr(4, 3), ".", digits.substr(7, 3)));
    }
    const std::vector<std::string> members = {
        "brussels-economy", "brussels-environment", "urban-brussels", "brussels-fiscality",
        "actiris",          "hub-brussels",         "perspective",    "brussels-mobility"};
    struct Purpose {
      const char* id;
      const char* legal_basis;
      const char* grant;
    };
    const std::vector<Purpose> purposes = {
        {"public-procurement", "Law of 17 June 2016 on public procurement, art. 68",
         "DEL-2025-014"},
        {"economic-support", "Ordinance of 3 May 2018 on aid to enterprises, art. 12",
         "DEL-2025-021"},
        {"environmental-permit", "Ordinance of 5 June 1997 on environmental permits, art. 10",
         "DEL-2025-033"}};
    const std::vector<std::string> categories = {"company.identity", "company.addresses",
                                                 "company.activities", "permits.environment",
                                                 "tax.good_standing"};
    int64_t total_bytes = 0;
    for (int i = 0; i < kDistinctRecords; ++i) {
      v1::AccessRecord a;
      a.set_log_id(kLogId);
      const std::string& member = members[static_cast<size_t>(uniform(0, 7))];
      const Purpose& purpose = purposes[static_cast<size_t>(uniform(0, 2))];
      a.set_member(member);
      if (uniform(0, 4) == 0) a.set_subsystem(absl::StrCat("app-", uniform(1, 3)));
      a.set_identity(absl::StrCat("spiffe://onceonly.brussels/member/", member,
                                  a.subsystem().empty() ? "" : "/", a.subsystem()));
      a.set_user(absl::StrFormat("u-%08x", static_cast<uint32_t>(rng())));
      a.set_case_ref(absl::StrFormat("CASE-2025-%06d", uniform(0, 999999)));
      a.set_purpose(purpose.id);
      a.set_legal_basis(purpose.legal_basis);
      a.set_grant_id(purpose.grant);
      const int n_categories = uniform(3, 4);
      for (int k = 0; k < n_categories; ++k) {
        a.add_categories_requested(categories[static_cast<size_t>(k)]);
        a.add_categories_released(categories[static_cast<size_t>(k)]);
      }
      a.set_decision(v1::DECISION_ALLOW);
      a.set_reason("ALLOWED");
      a.add_sources("companies:OK");
      if (n_categories > 3) a.add_sources("permits:OK");
      std::string payload(32, '\0');
      for (char& c : payload) c = static_cast<char>(rng());
      a.set_payload_sha256(absl::BytesToHexString(payload));
      a.set_request_id(absl::StrFormat("%08x-%04x-4%03x-a%03x-%012x", static_cast<uint32_t>(rng()),
                                       uniform(0, 0xffff), uniform(0, 0xfff), uniform(0, 0xfff),
                                       rng() & 0xffffffffffffULL));
      a.set_method("/onceonly.v1.DossierService/GetDossier");
      r->protos.push_back(std::move(a));

      v1::AccessRecord stored = r->Make(static_cast<uint64_t>(i));
      stored.set_access_id(static_cast<uint64_t>(i));
      Records::Row row;
      row.record = SerializeAccessRecord(stored);
      row.leaf_hash = MerkleLeafHash(row.record);
      total_bytes += static_cast<int64_t>(row.record.size());
      r->rows.push_back(std::move(row));
    }
    r->mean_record_bytes = static_cast<double>(total_bytes) / kDistinctRecords;
    return r;
  }();
  return *records;
}

// ---------------------------------------------------------------------------------------
// (a) The disk: one durable 4 KiB write.
//   append:    write() at the end of the file, as a growing WAL does: fdatasync must also
//              persist the new size (a filesystem journal commit on ext4);
//   overwrite: pwrite() over a block of a preallocated 64 MiB file, as SQLite reuses its WAL
//              after a checkpoint: the data only. This is SQLite's usual case, and the
//              ceiling of one commit per transaction.

constexpr int64_t kFsyncFileBytes = int64_t{64} << 20;

void RunFsync(benchmark::State& state, bool overwrite) {
  const std::string path = absl::StrCat(g_dir, "/fsync.dat");
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    state.SkipWithError("cannot create the fsync file");
    return;
  }
  std::vector<char> block(4096, 'x');
  if (overwrite) {
    for (int64_t at = 0; at < kFsyncFileBytes; at += static_cast<int64_t>(block.size())) {
      if (write(fd, block.data(), block.size()) != static_cast<ssize_t>(block.size())) break;
    }
    if (fsync(fd) != 0) state.SkipWithError("cannot preallocate the fsync file");
  }
  std::vector<int64_t> samples;
  int64_t offset = 0;
  for (auto _ : state) {
    const auto start = Clock::now();
    const ssize_t n = overwrite ? pwrite(fd, block.data(), block.size(), offset)
                                : write(fd, block.data(), block.size());
    if (n != static_cast<ssize_t>(block.size()) || fdatasync(fd) != 0) {
      state.SkipWithError("write or fdatasync failed");
      break;
    }
    samples.push_back(
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count());
    offset += static_cast<int64_t>(block.size());
    if (offset >= kFsyncFileBytes) {  // keep the file at 64 MiB
      offset = 0;
      if (!overwrite) {
        state.PauseTiming();
        if (ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0) state.SkipWithError("truncate");
        state.ResumeTiming();
      }
    }
  }
  close(fd);
  std::remove(path.c_str());
  state.counters["fsyncs_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  if (!samples.empty()) {
    state.counters["p50_us"] = Percentile(samples, 0.50) / 1000.0;
    state.counters["p99_us"] = Percentile(samples, 0.99) / 1000.0;
  }
}

void BM_Fsync_Append(benchmark::State& state) { RunFsync(state, /*overwrite=*/false); }
void BM_Fsync_Overwrite(benchmark::State& state) { RunFsync(state, /*overwrite=*/true); }
BENCHMARK(BM_Fsync_Append)->UseRealTime();
BENCHMARK(BM_Fsync_Overwrite)->UseRealTime();

// ---------------------------------------------------------------------------------------
// (b) SQLite alone: the record's row, prepared in advance, B rows per transaction.

// Minimal raw-SQLite connection for the baselines; the first error sticks and ends the run.
class RawSqlite {
 public:
  explicit RawSqlite(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db_,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK) {
      Fail("open");
    }
    sqlite3_busy_timeout(db_, 5000);
    // As common/sqlite.cc opens every read-write connection.
    Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;");
  }
  ~RawSqlite() {
    sqlite3_finalize(insert_);
    sqlite3_close_v2(db_);
  }
  RawSqlite(const RawSqlite&) = delete;
  RawSqlite& operator=(const RawSqlite&) = delete;

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

  void Exec(const std::string& sql) {
    if (!ok()) return;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) Fail(sql);
  }
  // (name, CREATE INDEX statement) of each explicit index of `table`.
  void PrepareInsert(const std::string& table) {
    if (!ok()) return;
    const std::string sql = absl::StrCat(
        "INSERT INTO ", table,
        " (log_id, leaf_index, time_micros, record, leaf_hash) VALUES (?, ?, ?, ?, ?)");
    if (sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &insert_, nullptr) !=
        SQLITE_OK) {
      Fail(sql);
    }
  }
  // Row `index` of a run (see Records) into the prepared INSERT.
  void Insert(const Records& records, uint64_t index) {
    if (!ok()) return;
    const Records::Row& row = records.RowFor(index);
    auto text = [this](int i, const std::string& s) {
      sqlite3_bind_text(insert_, i, s.data(), static_cast<int>(s.size()), SQLITE_STATIC);
    };
    static const std::string log_id = kLogId;
    text(1, log_id);
    sqlite3_bind_int64(insert_, 2, static_cast<int64_t>(index));
    sqlite3_bind_int64(insert_, 3, RecordTimeMicros(index));
    sqlite3_bind_blob(insert_, 4, row.record.data(), static_cast<int>(row.record.size()),
                      SQLITE_STATIC);
    sqlite3_bind_blob(insert_, 5, row.leaf_hash.data(), static_cast<int>(row.leaf_hash.size()),
                      SQLITE_STATIC);
    if (sqlite3_step(insert_) != SQLITE_DONE) Fail("insert");
    sqlite3_reset(insert_);
  }

 private:
  void Fail(const std::string& what) {
    error_ = absl::StrCat(what.substr(0, 80), ": ",
                          db_ != nullptr ? sqlite3_errmsg(db_) : "no connection");
  }
  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
  std::string error_;
};

// The store's row (audit/sqlite_access_log_store.cc) without its key, index and spans.
constexpr char kBareTable[] =
    "CREATE TABLE plain (log_id TEXT NOT NULL, leaf_index INTEGER NOT NULL, time_micros "
    "INTEGER NOT NULL, record BLOB, leaf_hash BLOB NOT NULL)";

uint64_t PrefillRows() {
  const char* env = std::getenv("ONCEONLY_BENCH_PREFILL");
  return env != nullptr ? std::strtoull(env, nullptr, 10) : kDefaultPrefill;
}

// Creates the database of a run: the bare table, or the store's own schema (created by
// OpenSqliteAccessLogStore, so it is always the production one) holding `prefill` records
// already. The prefill is not part of any measurement: the bare table's goes in without
// fsync; the store's through AppendBatch in large batches (the production path, so spans
// and rows are as the writer leaves them), then its query indexes are brought up to date,
// as the gateway's indexer would have.
absl::Status CreateDatabase(const std::string& path, bool access_log, uint64_t prefill) {
  const Records& records = TheRecords();
  const auto t0 = Clock::now();
  if (access_log) {
    absl::StatusOr<std::unique_ptr<AccessLogStore>> store = OpenSqliteAccessLogStore(path);
    if (!store.ok()) return store.status();
    constexpr uint64_t kPrefillBatch = 20000;
    std::vector<PreparedRecord> batch;
    for (uint64_t i = 0; i < prefill;) {
      batch.clear();
      for (; i < prefill && batch.size() < kPrefillBatch; ++i) {
        v1::AccessRecord record = records.Make(i);
        record.set_access_id(i);
        batch.push_back(PrepareRecord(record));
      }
      if (absl::Status s = (*store)->AppendBatch(kLogId, batch); !s.ok()) return s;
      if (i % 200000 == 0) Progress("  prefill: %d records (%.1f s)", i, Seconds(t0));
    }
    uint64_t indexed = 0;
    while (true) {
      absl::StatusOr<uint64_t> n = (*store)->IndexPending(200000);
      if (!n.ok()) return n.status();
      if (*n == 0) break;
      indexed += *n;
    }
    if (prefill > 0) {
      Progress("  prefill: %d records, %d indexed, in %.1f s", prefill, indexed, Seconds(t0));
    }
    store->reset();
    RawSqlite db(path);  // start from an empty WAL, as the bare table does
    db.Exec("PRAGMA wal_checkpoint(TRUNCATE)");
    if (!db.ok()) return absl::InternalError(db.error());
    return absl::OkStatus();
  }
  RawSqlite db(path);
  db.Exec(kBareTable);
  if (prefill > 0) {
    db.Exec("PRAGMA synchronous=OFF");
    db.PrepareInsert("plain");
    for (uint64_t i = 0; i < prefill; ++i) {
      if (i % 100000 == 0) db.Exec(i == 0 ? "BEGIN" : "COMMIT; BEGIN");
      db.Insert(records, i);
      if ((i + 1) % 250000 == 0) Progress("  prefill: %d rows (%.1f s)", i + 1, Seconds(t0));
    }
    db.Exec("COMMIT");
    Progress("  prefill: %d rows in %.1f s", prefill, Seconds(t0));
  }
  db.Exec("PRAGMA synchronous=FULL; PRAGMA wal_checkpoint(TRUNCATE)");
  if (!db.ok()) return absl::InternalError(db.error());
  return absl::OkStatus();
}

// B rows per transaction, record indexes from `first`.
void RunRowBatches(benchmark::State& state, RawSqlite& db, uint64_t first) {
  const Records& records = TheRecords();
  const int batch = static_cast<int>(state.range(0));
  uint64_t index = first;
  for (auto _ : state) {
    db.Exec("BEGIN IMMEDIATE");
    for (int i = 0; i < batch; ++i) db.Insert(records, index++);
    db.Exec("COMMIT");
    if (!db.ok()) {
      state.SkipWithError(db.error().c_str());
      break;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(index - first));
  state.counters["records_per_s"] =
      benchmark::Counter(static_cast<double>(index - first), benchmark::Counter::kIsRate);
}

enum class Table { kBare, kAccessLog };

void RunTable(benchmark::State& state, const char* name, Table table, uint64_t prefill) {
  const std::string path = FreshPath("table");
  const bool access_log = table != Table::kBare;
  if (prefill > 0) Progress("%s: %d records first", name, prefill);
  absl::Status created =
      CreateDatabase(path, access_log, prefill);
  if (!created.ok()) {
    state.SkipWithError(created.ToString().c_str());
    RemoveDatabase(path);
    return;
  }
  {
    RawSqlite db(path);
    // As the store's own connection is set up (audit/sqlite_access_log_store.cc).
    if (access_log) db.Exec("PRAGMA cache_size = -65536; PRAGMA wal_autocheckpoint = 16384;");
    db.PrepareInsert(access_log ? "access_log" : "plain");
    RunRowBatches(state, db, prefill);
    // The WAL's high-water mark: how far it grows between checkpoints.
    std::error_code ec;
    const uintmax_t wal_bytes = std::filesystem::file_size(path + "-wal", ec);
    state.counters["wal_mib"] = ec ? 0.0 : static_cast<double>(wal_bytes) / 1048576.0;
  }
  RemoveDatabase(path);
}

void BM_SqlitePlain(benchmark::State& state) { RunTable(state, __func__, Table::kBare, 0); }
void BM_SqliteAccessLogTable(benchmark::State& state) {
  RunTable(state, __func__, Table::kAccessLog, 0);
}

// ---------------------------------------------------------------------------------------
// (c) The real store and the real writer.

void BM_StoreAppendBatch(benchmark::State& state) {
  const Records& records = TheRecords();
  const int batch = static_cast<int>(state.range(0));
  const std::string path = FreshPath("store");
  {
    absl::StatusOr<std::unique_ptr<AccessLogStore>> store = OpenSqliteAccessLogStore(path);
    if (!store.ok()) {
      state.SkipWithError(store.status().ToString().c_str());
      return;
    }
    std::vector<PreparedRecord> batch_records;
    uint64_t index = 0;
    for (auto _ : state) {
      // Callers make and prepare (serialize, hash) their records in AccessLog::Append; the
      // store's part is the write.
      state.PauseTiming();
      batch_records.clear();
      for (int i = 0; i < batch; ++i) {
        v1::AccessRecord record = records.Make(index);
        record.set_access_id(index++);
        batch_records.push_back(PrepareRecord(record));
      }
      state.ResumeTiming();
      absl::Status appended = (*store)->AppendBatch(kLogId, batch_records);
      if (!appended.ok()) {
        state.SkipWithError(appended.ToString().c_str());
        break;
      }
    }
    state.SetItemsProcessed(static_cast<int64_t>(index));
    state.counters["records_per_s"] =
        benchmark::Counter(static_cast<double>(index), benchmark::Counter::kIsRate);
  }
  RemoveDatabase(path);
}

// Counts the writer's callbacks; the producer waits on it to keep a bounded window in flight.
class Completions {
 public:
  void Done(bool ok) {
    absl::MutexLock lock(&mu_);
    ++done_;
    if (!ok) ++failed_;
  }
  // One waiter at a time (the producer).
  void WaitFor(uint64_t at_least) {
    absl::MutexLock lock(&mu_);
    target_ = at_least;
    mu_.Await(absl::Condition(this, &Completions::Reached));
  }
  uint64_t done() {
    absl::MutexLock lock(&mu_);
    return done_;
  }
  uint64_t failed() {
    absl::MutexLock lock(&mu_);
    return failed_;
  }

 private:
  bool Reached() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return done_ >= target_; }

  absl::Mutex mu_;
  uint64_t done_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t failed_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t target_ ABSL_GUARDED_BY(mu_) = 0;
};

// AccessLog::Append from one producer thread that keeps between B and 2B records queued, so
// the writer always finds a full batch: each iteration waits until at most B are in flight,
// then appends B more. The producer builds each record (a copy of a template with its own
// time and subject), as a gateway thread builds one per request.
// The checkpoint key of the checkpointed variant (generated once; checkpoints are signed).
const Ed25519Signer& CheckpointSigner();

// As the gateway configures its log by default (gateway/gateway_config.cc): a signed
// checkpoint every 1,000 records or 1 s.
AccessLogOptions CheckpointOptions(int max_batch) {
  AccessLogOptions options;
  options.max_batch = max_batch;
  options.checkpoint_signer = &CheckpointSigner();
  options.checkpoint_every = 1000;
  options.checkpoint_interval = absl::Seconds(1);
  return options;
}

const Ed25519Signer& CheckpointSigner() {
  static const Ed25519Signer* signer = [] {
    absl::StatusOr<std::unique_ptr<Ed25519Signer>> generated = Ed25519Signer::Generate();
    if (!generated.ok()) {
      std::fprintf(stderr, "cannot generate a checkpoint key: %s\n",
                   generated.status().ToString().c_str());
      std::abort();
    }
    return generated->release();
  }();
  return *signer;
}

// With `indexer`, a second connection runs AccessLogStore::IndexPending every 250 ms, as the
// gateway's maintenance thread does, competing with the writer for the disk and the cores.
void RunAccessLog(benchmark::State& state, const char* name, uint64_t prefill,
                  bool checkpoints = false, bool indexer = false) {
  const Records& records = TheRecords();
  const int batch = static_cast<int>(state.range(0));
  const std::string path = FreshPath("access-log");
  if (prefill > 0) {
    Progress("%s: %d records first", name, prefill);
    absl::Status created = CreateDatabase(path, /*access_log=*/true, prefill);
    if (!created.ok()) {
      state.SkipWithError(created.ToString().c_str());
      RemoveDatabase(path);
      return;
    }
  }
  {
    absl::StatusOr<std::unique_ptr<AccessLogStore>> store = OpenSqliteAccessLogStore(path);
    if (!store.ok()) {
      state.SkipWithError(store.status().ToString().c_str());
      return;
    }
    const auto t0 = Clock::now();
    absl::StatusOr<std::unique_ptr<AccessLog>> log =
        checkpoints ? AccessLog::Create(*std::move(store), kLogId, CheckpointOptions(batch))
                    : AccessLog::Create(*std::move(store), kLogId, batch);
    if (!log.ok()) {
      state.SkipWithError(log.status().ToString().c_str());
      return;
    }
    if (prefill > 0) {
      Progress("  AccessLog::Create over %d records (tree rebuilt): %.2f s", prefill, Seconds(t0));
    }
    absl::Notification stop_indexing;
    std::atomic<uint64_t> indexed{0};
    std::thread index_thread;
    if (indexer) {
      index_thread = std::thread([&] {
        absl::StatusOr<std::unique_ptr<AccessLogStore>> index_store =
            OpenSqliteAccessLogStore(path);
        if (!index_store.ok()) return;
        // As GatewayServer::IndexAccessLog: 10,000 at a time, 50 ms apart, every 250 ms.
        do {
          while (true) {
            absl::StatusOr<uint64_t> n = (*index_store)->IndexPending(10000);
            if (!n.ok() || *n == 0) break;
            indexed += *n;
            if (*n < 10000) break;
            absl::SleepFor(absl::Milliseconds(50));
          }
        } while (!stop_indexing.WaitForNotificationWithTimeout(absl::Milliseconds(250)));
      });
    }
    // Two producer threads (one at batch 1), as the gateway's callers are many: each keeps
    // between B/2 and B of its records queued, appending B/2 at once as B/2 callers arriving
    // together would (one at a time, one thread cannot outpace a writer that takes whatever is
    // queued at each wakeup, and batches stay a handful). Each builds its records (a copy of
    // a template), and AccessLog::AppendAll serializes and hashes them on that thread.
    const int producers = batch >= 2 ? 2 : 1;
    const int burst_size = batch / producers;
    struct Producer {
      Completions completions;
      uint64_t appended = 0;
    };
    std::vector<std::unique_ptr<Producer>> threads;
    for (int k = 0; k < producers; ++k) threads.push_back(std::make_unique<Producer>());
    auto burst = [&](int k) {
      Producer& p = *threads[k];
      const uint64_t window = static_cast<uint64_t>(burst_size);
      p.completions.WaitFor(p.appended > window ? p.appended - window : 0);
      std::vector<v1::AccessRecord> records_burst;
      records_burst.reserve(burst_size);
      for (int i = 0; i < burst_size; ++i) {
        records_burst.push_back(records.Make(prefill + p.appended++ * producers + k));
      }
      Completions* completions = &p.completions;
      (*log)->AppendAll(std::move(records_burst), [completions](absl::StatusOr<uint64_t> id) {
        completions->Done(id.ok());
      });
    };
    std::atomic<bool> stop_producing{false};
    std::thread second;
    if (producers == 2) {
      second = std::thread([&] {
        while (!stop_producing.load()) burst(1);
      });
    }
    for (auto _ : state) burst(0);
    // Read as the timer stops: only what committed inside the timed window counts.
    uint64_t committed = 0;
    for (auto& p : threads) committed += p->completions.done();
    stop_producing = true;
    if (second.joinable()) second.join();
    uint64_t appended = 0, failed = 0;
    for (auto& p : threads) {
      p->completions.WaitFor(p->appended);
      appended += p->appended;
      failed += p->completions.failed();
    }
    state.SetItemsProcessed(static_cast<int64_t>(committed));
    state.counters["records_per_s"] =
        benchmark::Counter(static_cast<double>(committed), benchmark::Counter::kIsRate);
    if (failed > 0) state.SkipWithError(absl::StrCat(failed, " appends failed").c_str());
    if (indexer) {
      stop_indexing.Notify();
      index_thread.join();
      // How many of the appended records the indexer had reached (it keeps up if ~1).
      state.counters["indexed_fraction"] =
          appended > 0 ? static_cast<double>(indexed.load()) / static_cast<double>(appended) : 0;
    }
    if (checkpoints) {  // proof that checkpoints were made: the size the last one covers
      std::optional<v1::Checkpoint> last = (*log)->LatestCheckpoint();
      state.counters["last_checkpoint_size"] = last.has_value() ? last->tree_size() : 0;
    }
    log->reset();
  }
  RemoveDatabase(path);
}

void BM_AccessLogAppend(benchmark::State& state) { RunAccessLog(state, __func__, 0); }
// With signed checkpoints as the gateway makes them: each is signed and stored in its own
// transaction (one more fsync) after the batch that makes one due.
void BM_AccessLogAppend_Checkpointed(benchmark::State& state) {
  RunAccessLog(state, __func__, 0, /*checkpoints=*/true);
}

void WriteArgs(benchmark::internal::Benchmark* b) {
  b->ArgName("batch")->Arg(1)->Arg(64)->Arg(1024)->UseRealTime();
}
BENCHMARK(BM_SqlitePlain)->Apply(WriteArgs);
BENCHMARK(BM_SqliteAccessLogTable)->Apply(WriteArgs);
BENCHMARK(BM_StoreAppendBatch)->Apply(WriteArgs);
BENCHMARK(BM_AccessLogAppend)->Apply(WriteArgs);
BENCHMARK(BM_AccessLogAppend_Checkpointed)->ArgName("batch")->Arg(64)->Arg(1024)->UseRealTime();

// The same at batch 1024 on a log that already holds ONCEONLY_BENCH_PREFILL records
// (default 1,000,000), a fixed number of batches each (one run, one prefill): the steady
// state, once the indexes no longer fit in SQLite's page cache. The tuned variants try the
// changes proposed in bench/README.md on the same table.
void BM_Prefilled_SqlitePlain(benchmark::State& state) {
  RunTable(state, __func__, Table::kBare, PrefillRows());
}
void BM_Prefilled_SqliteAccessLogTable(benchmark::State& state) {
  RunTable(state, __func__, Table::kAccessLog, PrefillRows());
}
void BM_Prefilled_AccessLogAppend(benchmark::State& state) {
  RunAccessLog(state, __func__, PrefillRows());
}
void BM_Prefilled_AccessLogAppend_WithIndexer(benchmark::State& state) {
  RunAccessLog(state, __func__, PrefillRows(), /*checkpoints=*/true, /*indexer=*/true);
}

void PrefilledArgs(benchmark::internal::Benchmark* b) {
  b->ArgName("batch")->Arg(1024)->Iterations(kPrefilledBatches)->UseRealTime();
}
BENCHMARK(BM_Prefilled_SqlitePlain)->Apply(PrefilledArgs);
BENCHMARK(BM_Prefilled_SqliteAccessLogTable)->Apply(PrefilledArgs);
BENCHMARK(BM_Prefilled_AccessLogAppend)->Apply(PrefilledArgs);
BENCHMARK(BM_Prefilled_AccessLogAppend_WithIndexer)->Apply(PrefilledArgs);

// ---------------------------------------------------------------------------------------
// Per-record CPU outside SQLite, one step of the write path each.

void BM_Record_Make(benchmark::State& state) {  // the producer's copy; WriterLoop copies again
  const Records& records = TheRecords();
  uint64_t i = 0;
  for (auto _ : state) {
    v1::AccessRecord r = records.Make(i++);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Record_Make);

void BM_Record_Serialize(benchmark::State& state) {
  const Records& records = TheRecords();
  std::vector<v1::AccessRecord> pool;
  for (uint64_t i = 0; i < 1024; ++i) pool.push_back(records.Make(i));
  size_t i = 0;
  for (auto _ : state) {
    std::string bytes = SerializeAccessRecord(pool[i++ & 1023]);
    benchmark::DoNotOptimize(bytes);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Record_Serialize);

void BM_Record_LeafHash(benchmark::State& state) {
  const Records& records = TheRecords();
  size_t i = 0;
  for (auto _ : state) {
    std::string hash = MerkleLeafHash(records.rows[i++ % records.rows.size()].record);
    benchmark::DoNotOptimize(hash);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Record_LeafHash);

// As AccessLog extends its tree: a 32-byte std::string handed over per record.
void BM_Record_TreeAppend(benchmark::State& state) {
  const Records& records = TheRecords();
  MerkleTree tree;
  size_t i = 0;
  for (auto _ : state) {
    std::string leaf = records.rows[i++ % records.rows.size()].leaf_hash;
    tree.AppendLeafHash(std::move(leaf));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Record_TreeAppend);

// ---------------------------------------------------------------------------------------
// (d) Proofs on a tree of 10 M leaves.

struct TreeFixture {
  MerkleTree tree;
  double build_seconds = 0;
  double rss_mib = 0;  // RSS growth while building
  // (leaf index, tree size) pairs, uniformly random; sizes in [1, n] for past sizes.
  std::vector<std::pair<uint64_t, uint64_t>> at_full, at_past;
};

uint64_t TreeLeaves() {
  const char* env = std::getenv("ONCEONLY_BENCH_TREE_LEAVES");
  return env != nullptr ? std::strtoull(env, nullptr, 10) : kDefaultTreeLeaves;
}

const TreeFixture& TheTree() {
  static const TreeFixture* fixture = [] {
    auto* f = new TreeFixture;
    const uint64_t n = TreeLeaves();
    Progress("building a Merkle tree of %d leaves (leaf i = MerkleLeafHash(i as 8 bytes))", n);
    const int64_t rss_before = ProcStatusKb("VmRSS");
    const auto t0 = Clock::now();
    for (uint64_t i = 0; i < n; ++i) {
      f->tree.AppendLeafHash(
          MerkleLeafHash(absl::string_view(reinterpret_cast<const char*>(&i), sizeof i)));
      if ((i + 1) % 1000000 == 0) {
        Progress("  %d leaves (%.1f s, RSS %d MiB)", i + 1, Seconds(t0),
                 ProcStatusKb("VmRSS") / 1024);
      }
    }
    f->build_seconds = Seconds(t0);
    f->rss_mib = static_cast<double>(ProcStatusKb("VmRSS") - rss_before) / 1024.0;
    Progress("tree of %d leaves built in %.2f s; RSS grew by %.0f MiB (%.1f bytes per leaf)", n,
             f->build_seconds, f->rss_mib, f->rss_mib * 1048576.0 / static_cast<double>(n));
    std::mt19937_64 rng(kSeed);
    for (int q = 0; q < kProofQueries; ++q) {
      f->at_full.emplace_back(std::uniform_int_distribution<uint64_t>(0, n - 1)(rng), n);
      const uint64_t size = std::uniform_int_distribution<uint64_t>(1, n)(rng);
      f->at_past.emplace_back(std::uniform_int_distribution<uint64_t>(0, size - 1)(rng), size);
    }
    return f;
  }();
  return *fixture;
}

// Times `op(first, second)` per call, cycling through `queries`; result destruction included.
template <typename Op>
void RunProofs(benchmark::State& state, const std::vector<std::pair<uint64_t, uint64_t>>& queries,
               Op op) {
  const TreeFixture& f = TheTree();
  static LatencyCollector collector;
  std::vector<int64_t> samples;
  samples.reserve(1 << 20);
  size_t i = 0;
  for (auto _ : state) {
    const auto& [a, b] = queries[i];
    if (++i == queries.size()) i = 0;
    const auto start = Clock::now();
    if (!op(a, b)) {
      state.SkipWithError("a proof failed");
      break;
    }
    samples.push_back(
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count());
  }
  state.SetItemsProcessed(state.iterations());
  collector.Submit(state, samples, [&](std::vector<int64_t>& all) {
    if (!all.empty()) {
      state.counters["p50_us"] = Percentile(all, 0.50) / 1000.0;
      state.counters["p99_us"] = Percentile(all, 0.99) / 1000.0;
      state.counters["p999_us"] = Percentile(all, 0.999) / 1000.0;
      state.counters["max_us"] =
          static_cast<double>(*std::max_element(all.begin(), all.end())) / 1000.0;
    }
    state.counters["leaves"] = static_cast<double>(f.tree.size());
    state.counters["tree_build_s"] = f.build_seconds;
    state.counters["tree_rss_mib"] = f.rss_mib;
  });
}

void BM_InclusionProof_FullSize(benchmark::State& state) {
  const TreeFixture& f = TheTree();
  RunProofs(state, f.at_full, [&f](uint64_t index, uint64_t size) {
    absl::StatusOr<std::vector<std::string>> proof = f.tree.InclusionProof(index, size);
    return proof.ok() && !proof->empty();
  });
}
BENCHMARK(BM_InclusionProof_FullSize);

void BM_InclusionProof_PastSize(benchmark::State& state) {
  const TreeFixture& f = TheTree();
  RunProofs(state, f.at_past, [&f](uint64_t index, uint64_t size) {
    absl::StatusOr<std::vector<std::string>> proof = f.tree.InclusionProof(index, size);
    return proof.ok();
  });
}
BENCHMARK(BM_InclusionProof_PastSize);

// From a random past size (index + 1) to another (the pair's size), as an auditor asks.
void BM_ConsistencyProof_PastSize(benchmark::State& state) {
  const TreeFixture& f = TheTree();
  RunProofs(state, f.at_past, [&f](uint64_t index, uint64_t size) {
    return f.tree.ConsistencyProof(index + 1, size).ok();
  });
}
BENCHMARK(BM_ConsistencyProof_PastSize);

void BM_RootAt_PastSize(benchmark::State& state) {
  const TreeFixture& f = TheTree();
  RunProofs(state, f.at_past, [&f](uint64_t, uint64_t size) { return f.tree.RootAt(size).ok(); });
}
BENCHMARK(BM_RootAt_PastSize);

// ---------------------------------------------------------------------------------------

// Collects records_per_s / fsyncs_per_s of each benchmark's final run for the summary.
class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.error_occurred || run.run_type != Run::RT_Iteration) continue;
      for (const char* counter : {"records_per_s", "fsyncs_per_s"}) {
        auto it = run.counters.find(counter);
        if (it != run.counters.end()) rates_[run.benchmark_name()] = it->second.value;
      }
    }
  }
  // One line per write benchmark: its rate and the ratios to the baselines of this run.
  void PrintSummary() const {
    if (rates_.empty()) return;
    auto rate = [this](const std::string& name) {
      auto it = rates_.find(name);
      return it == rates_.end() ? 0.0 : it->second;
    };
    // The ratio is to the overwrite rate: SQLite rewrites its WAL in place after a checkpoint.
    const double fsyncs = rate("BM_Fsync_Overwrite/real_time");
    std::fprintf(stderr,
                 "\n[summary] fsync baseline: write(4 KiB)+fdatasync per s: %.0f overwriting "
                 "(the x fsync/s below), %.0f appending\n",
                 fsyncs, rate("BM_Fsync_Append/real_time"));
    std::fprintf(stderr, "[summary] %-54s %6s %10s %10s %8s\n", "benchmark", "batch", "records/s",
                 "x fsync/s", "x plain");
    auto line = [&](const std::string& bench, int batch, const std::string& suffix,
                    const std::string& plain_bench) {
      const double r = rate(bench + suffix);
      if (r == 0) return;
      const double plain = rate(plain_bench + suffix);
      std::fprintf(stderr, "[summary] %-54s %6d %10.0f %10.2f %8s\n", bench.c_str(), batch, r,
                   fsyncs > 0 ? r / fsyncs : 0.0,
                   plain > 0 ? absl::StrFormat("%.2f", r / plain).c_str() : "-");
    };
    for (const char* bench : {"BM_SqlitePlain", "BM_SqliteAccessLogTable", "BM_StoreAppendBatch",
                              "BM_AccessLogAppend", "BM_AccessLogAppend_Checkpointed"}) {
      for (int batch : {1, 64, 1024}) {
        line(bench, batch, absl::StrCat("/batch:", batch, "/real_time"), "BM_SqlitePlain");
      }
    }
    for (const char* bench : {"BM_Prefilled_SqlitePlain", "BM_Prefilled_SqliteAccessLogTable",
                              "BM_Prefilled_AccessLogAppend_WithIndexer",
                              "BM_Prefilled_AccessLogAppend"}) {
      line(bench, 1024, absl::StrCat("/batch:1024/iterations:", kPrefilledBatches, "/real_time"),
           "BM_Prefilled_SqlitePlain");
    }
  }

 private:
  std::map<std::string, double> rates_;
};

// Refuses nothing, but says when the directory's filesystem makes fsync free.
void DescribeFilesystem(const std::string& dir) {
  struct statfs fs;
  if (statfs(dir.c_str(), &fs) != 0) return;
  constexpr long kTmpfsMagic = 0x01021994;
  const bool tmpfs = static_cast<long>(fs.f_type) == kTmpfsMagic;
  Progress("files in %s (filesystem type 0x%x%s)", dir, static_cast<unsigned>(fs.f_type),
           tmpfs ? ": TMPFS, fsync costs nothing here and the write figures mean nothing; set "
                   "TMPDIR to a directory on the database's disk"
                 : "");
  benchmark::AddCustomContext("bench_dir", dir);
  benchmark::AddCustomContext("bench_dir_fs_type", absl::StrFormat("0x%x", fs.f_type));
}

}  // namespace
}  // namespace onceonly

int main(int argc, char** argv) {
  using namespace onceonly;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/audit_bench.XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) {
    std::fprintf(stderr, "cannot create a directory from %s\n", pattern.c_str());
    return 1;
  }
  g_dir = pattern;
  DescribeFilesystem(g_dir);
  const Records& records = TheRecords();
  Progress("%d distinct access records, %.0f bytes serialized on average", kDistinctRecords,
           records.mean_record_bytes);
  benchmark::AddCustomContext("record_bytes", absl::StrFormat("%.0f", records.mean_record_bytes));

  SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.PrintSummary();
  benchmark::Shutdown();

  std::fprintf(stderr, "[audit_bench] peak RSS (VmHWM) %lld MiB\n",
               static_cast<long long>(ProcStatusKb("VmHWM") / 1024));
  std::error_code ec;
  if (std::getenv("ONCEONLY_BENCH_KEEP_DIR") == nullptr) std::filesystem::remove_all(g_dir, ec);
  std::fflush(nullptr);
  std::_Exit(0);  // the 10 M-leaf tree needs no teardown
}
