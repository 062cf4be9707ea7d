#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "audit/access_log.h"
#include "audit/access_log_store.h"
#include "audit/merkle_tree.h"
#include "common/proto_time.h"
#include "common/sqlite.h"
#include "common/status_macros.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"

namespace onceonly {

namespace {

constexpr char kSchema[] = R"sql(
-- One row per leaf, appended in order, holding only what the tree and the time index need:
-- the record is its protobuf bytes, not copied into columns. The commit path appends at the
-- end of two B-trees (the table by seq, the time index), so a batch dirties few pages.
CREATE TABLE IF NOT EXISTS access_log (
  seq         INTEGER PRIMARY KEY,  -- write order in this file: query order and page cursor
  log_id      TEXT    NOT NULL,
  leaf_index  INTEGER NOT NULL,
  time_micros INTEGER NOT NULL,
  record      BLOB,               -- deterministic protobuf of onceonly.v1.AccessRecord;
                                  -- NULL once retention pruned it
  leaf_hash   BLOB    NOT NULL    -- RFC 9162 leaf hash of record: SHA-256(0x00 || record)
);
CREATE INDEX IF NOT EXISTS access_log_time ON access_log(time_micros);
-- Where each log's leaves are: leaves [first_leaf, first_leaf + leaves) of log_id are the rows
-- seq [first_seq, first_seq + leaves). One row per run of batches nobody else interleaved
-- (usually one per gateway start), extended by each batch; it replaces a (log_id, leaf_index)
-- index on every row.
CREATE TABLE IF NOT EXISTS access_log_span (
  log_id     TEXT    NOT NULL,
  first_leaf INTEGER NOT NULL,
  first_seq  INTEGER NOT NULL,
  leaves     INTEGER NOT NULL,
  PRIMARY KEY (log_id, first_leaf)
) WITHOUT ROWID;
-- This file's identity, for the query index file beside it (kIndexSchema).
CREATE TABLE IF NOT EXISTS access_log_file (
  one INTEGER PRIMARY KEY CHECK (one = 0), id BLOB NOT NULL);
INSERT OR IGNORE INTO access_log_file VALUES (0, randomblob(16));
-- Retention prunes in write order: rows with seq <= upto_seq have lost their content.
CREATE TABLE IF NOT EXISTS access_log_pruned (
  one INTEGER PRIMARY KEY CHECK (one = 0), upto_seq INTEGER NOT NULL);
INSERT OR IGNORE INTO access_log_pruned VALUES (0, 0);
CREATE TABLE IF NOT EXISTS access_log_checkpoint (
  log_id      TEXT    NOT NULL,
  tree_size   INTEGER NOT NULL,
  root_hash   BLOB    NOT NULL,
  time_secs   INTEGER NOT NULL,
  signature   BLOB    NOT NULL,   -- Ed25519 over CheckpointSignedText (audit/checkpoint.h)
  PRIMARY KEY (log_id, tree_size)
) WITHOUT ROWID;
)sql";

// A run of consecutive leaves stored at consecutive seqs.
struct Span {
  int64_t first_leaf = 0;
  int64_t first_seq = 0;
  int64_t leaves = 0;
};

// The query index keys of a stored record (its member and subject fields), read off the wire
// without parsing the rest: the indexer does this for every record. False if the bytes are
// not a valid message.
bool ReadIndexKeys(absl::string_view bytes, std::string* member, std::string* subject) {
  using google::protobuf::internal::WireFormatLite;
  constexpr int kMemberField = v1::AccessRecord::kMemberFieldNumber;
  constexpr int kSubjectField = v1::AccessRecord::kSubjectFieldNumber;
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                                            static_cast<int>(bytes.size()));
  member->clear();
  subject->clear();
  while (true) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0) return in.ConsumedEntireMessage();  // the end, not a zero tag
    const int field = WireFormatLite::GetTagFieldNumber(tag);
    const bool wanted = field == kMemberField || field == kSubjectField;
    if (wanted && WireFormatLite::GetTagWireType(tag) ==
                      WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      if (!WireFormatLite::ReadString(&in, field == kMemberField ? member : subject)) {
        return false;
      }
    } else if (!WireFormatLite::SkipField(&in, tag)) {
      return false;
    }
  }
}

// What Query reads of a row: the record, where it goes on the next page, and where it is in
// its log (for a record that does not parse).
constexpr char kQueryColumns[] =
    "SELECT a.seq, a.record, a.log_id, a.leaf_index, a.time_micros FROM access_log a";

// Whether `record` passes the filters of `q` that SQL could only narrow down.
bool Matches(const AccessQuery& q, const v1::AccessRecord& record) {
  return (q.subject.empty() || record.subject() == q.subject) &&
         (q.member.empty() || record.member() == q.member) &&
         (q.purpose.empty() || record.purpose() == q.purpose) &&
         (q.decision == v1::DECISION_UNSPECIFIED || record.decision() == q.decision) &&
         (!q.data_accesses_only || !record.purpose().empty());  // audit calls have none
}

// The query indexes, in a file of their own beside the log (IndexPath): the indexer writes
// there under that file's lock and into its WAL, so it never holds up the writer's commits.
// Random keys, filled behind the writer in sorted batches (IndexPending): inline, each record
// would dirty a page of its own. Rows of the log with seq <= upto_seq are indexed. The file
// holds nothing the log does not: deleted, it is rebuilt from the start.
constexpr char kIndexSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS access_log_by_subject (
  subject TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (subject, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS access_log_by_member (
  member TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (member, seq)) WITHOUT ROWID;
-- log_file_id: access_log_file.id of the log these indexes describe; an index file left
-- beside another log (the log replaced, restored from a backup) is emptied, not trusted.
CREATE TABLE IF NOT EXISTS access_log_indexed (
  one INTEGER PRIMARY KEY CHECK (one = 0), upto_seq INTEGER NOT NULL, log_file_id BLOB NOT NULL);
INSERT OR IGNORE INTO access_log_indexed VALUES (0, 0, x'');
)sql";

v1::Checkpoint CheckpointFromRow(const SqliteStatement& stmt) {
  v1::Checkpoint checkpoint;
  checkpoint.set_log_id(stmt.ColumnText(0));
  checkpoint.set_tree_size(static_cast<uint64_t>(stmt.ColumnInt(1)));
  checkpoint.set_root_hash(stmt.ColumnText(2));
  checkpoint.mutable_time()->set_seconds(stmt.ColumnInt(3));
  checkpoint.set_signature(stmt.ColumnText(4));
  return checkpoint;
}

}  // namespace

v1::AccessRecord UnreadableRecordMarker(const std::string& log_id, uint64_t access_id,
                                        absl::Time time) {
  v1::AccessRecord marker;
  marker.set_log_id(log_id);
  marker.set_access_id(access_id);
  *marker.mutable_time() = ToProto(time);
  marker.set_reason(std::string(kUnreadableRecordReason));
  return marker;
}

namespace {

class SqliteAccessLogStore : public AccessLogStore {
 public:
  explicit SqliteAccessLogStore(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}
  ~SqliteAccessLogStore() override {
    if (lock_fd_ >= 0) close(lock_fd_);  // releases the flock
  }

  absl::Status ClaimWriter(const std::string& log_id) override {
    // An advisory lock on a file beside the database: the kernel drops it if the process
    // dies, so a crashed gateway never blocks its own restart.
    std::string lock_path = absl::StrCat(db_->path(), ".", log_id, ".writer-lock");
    int fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
      return absl::UnavailableError(absl::StrCat("cannot create ", lock_path, ": ",
                                                 std::strerror(errno)));
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      close(fd);
      return absl::FailedPreconditionError(absl::StrCat(
          "access log \"", log_id, "\" in ", db_->path(),
          " is being written by another process; give each gateway its own instance_name"));
    }
    if (lock_fd_ >= 0) close(lock_fd_);
    lock_fd_ = fd;
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<std::string>> LogIds() override {
    // One probe per log in the span table (a DISTINCT over the rows would read them all).
    ASSIGN_OR_RETURN(auto next, db_->Prepare("SELECT MIN(log_id) FROM access_log_span "
                                             "WHERE log_id > ?"));
    std::vector<std::string> ids;
    std::string after;
    while (true) {
      next.Bind(1, after);
      ASSIGN_OR_RETURN(bool row, next.Step());
      if (!row || next.ColumnIsNull(0)) break;
      after = next.ColumnText(0);
      ids.push_back(after);
      next.Reset();
    }
    return ids;
  }

  absl::Status Init(bool read_only) {
    read_only_ = read_only;
    RETURN_IF_ERROR(CheckLayout());
    if (read_only) return absl::OkStatus();
    RETURN_IF_ERROR(db_->Exec(kSchema));
    // A 64 MiB page cache keeps the B-tree edges hot; checkpointing the WAL every 64 MiB
    // rather than every 4 MiB writes each hot page back once per many commits. Pruned
    // content is overwritten, not just unlinked (secure_delete).
    RETURN_IF_ERROR(db_->Exec("PRAGMA cache_size = -65536; PRAGMA wal_autocheckpoint = 16384; "
                              "PRAGMA secure_delete = ON;"));
    ASSIGN_OR_RETURN(auto insert,
                     db_->Prepare("INSERT INTO access_log (seq, log_id, leaf_index, time_micros, "
                                  "record, leaf_hash) VALUES (?, ?, ?, ?, ?, ?)"));
    ASSIGN_OR_RETURN(auto next_seq,
                     db_->Prepare("SELECT COALESCE(MAX(seq), 0) + 1 FROM access_log"));
    ASSIGN_OR_RETURN(auto extend, db_->Prepare("UPDATE access_log_span SET leaves = leaves + ? "
                                               "WHERE log_id = ? AND first_leaf = ?"));
    ASSIGN_OR_RETURN(auto add_span, db_->Prepare("INSERT INTO access_log_span (log_id, "
                                                 "first_leaf, first_seq, leaves) "
                                                 "VALUES (?, ?, ?, ?)"));
    insert_ = std::make_unique<SqliteStatement>(std::move(insert));
    next_seq_ = std::make_unique<SqliteStatement>(std::move(next_seq));
    extend_span_ = std::make_unique<SqliteStatement>(std::move(extend));
    add_span_ = std::make_unique<SqliteStatement>(std::move(add_span));
    return absl::OkStatus();
  }

  absl::StatusOr<uint64_t> Size(const std::string& log_id) override {
    ASSIGN_OR_RETURN(std::optional<Span> last, LastSpan(log_id));
    return last.has_value() ? static_cast<uint64_t>(last->first_leaf + last->leaves) : 0;
  }

  absl::Status AppendBatch(const std::string& log_id,
                           const std::vector<PreparedRecord>& records) override {
    if (records.empty()) return absl::OkStatus();
    return db_->InTransaction([&] { return InsertAll(log_id, records); });
  }

  absl::Status ForEachLeafHash(const std::string& log_id, uint64_t from,
                               const std::function<void(absl::string_view)>& fn) override {
    ASSIGN_OR_RETURN(std::vector<Span> spans, SpansIn(log_id, from, INT64_MAX));
    int64_t expected = static_cast<int64_t>(from);
    auto missing = [&] {
      return absl::DataLossError(absl::StrCat(db_->path(), ": log ", log_id, " has no leaf ",
                                              expected, "; run `onceonly audit verify`"));
    };
    ASSIGN_OR_RETURN(auto rows, db_->Prepare("SELECT seq, leaf_index, leaf_hash FROM access_log "
                                             "WHERE seq >= ? AND seq < ? ORDER BY seq"));
    for (const Span& span : spans) {
      if (span.first_leaf + span.leaves <= expected) continue;
      if (span.first_leaf > expected) return missing();
      const int64_t first_seq = span.first_seq + (expected - span.first_leaf);
      const int64_t end_leaf = span.first_leaf + span.leaves;
      rows.Bind(1, first_seq).Bind(2, span.first_seq + span.leaves);
      while (true) {
        ASSIGN_OR_RETURN(bool row, rows.Step());
        if (!row) break;
        // A row deleted or moved shows as a seq or leaf index out of step.
        if (rows.ColumnInt(0) != span.first_seq + (expected - span.first_leaf) ||
            rows.ColumnInt(1) != expected) {
          return missing();
        }
        const absl::string_view hash = rows.ColumnBlob(2);
        if (hash.size() != MerkleTree::kHashSize) {
          return absl::DataLossError(absl::StrCat(db_->path(), ": log ", log_id, ": the leaf "
                                                  "hash of leaf ", expected, " is damaged (",
                                                  hash.size(), " bytes, not 32); run "
                                                  "`onceonly audit verify`"));
        }
        fn(hash);
        ++expected;
      }
      rows.Reset();
      if (expected < end_leaf) return missing();
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<v1::AccessRecord>> Read(const std::string& log_id, uint64_t from,
                                                     int limit) override {
    ASSIGN_OR_RETURN(std::vector<StoredLeaf> leaves, ReadLeaves(log_id, from, limit));
    std::vector<v1::AccessRecord> out;
    for (const StoredLeaf& leaf : leaves) {
      if (!leaf.record.has_value()) continue;
      if (!out.emplace_back().ParseFromString(*leaf.record)) {
        out.back() = UnreadableRecordMarker(log_id, leaf.index, leaf.time);
      }
    }
    return out;
  }

  absl::StatusOr<std::vector<StoredLeaf>> ReadLeaves(const std::string& log_id, uint64_t from,
                                                     int limit) override {
    limit = std::max(limit, 0);
    const int64_t begin = static_cast<int64_t>(std::min<uint64_t>(from, INT64_MAX - limit));
    const int64_t end = begin + limit;
    ASSIGN_OR_RETURN(std::vector<Span> spans, SpansIn(log_id, begin, end));
    ASSIGN_OR_RETURN(auto rows, db_->Prepare("SELECT leaf_index, time_micros, record, leaf_hash "
                                             "FROM access_log WHERE seq >= ? AND seq < ? "
                                             "ORDER BY seq"));
    std::vector<StoredLeaf> out;
    for (const Span& span : spans) {
      // The rows at the seqs where leaves [begin, end) belong, whatever they hold now.
      const int64_t lo = std::max(begin, span.first_leaf);
      const int64_t hi = std::min(end, span.first_leaf + span.leaves);
      if (lo >= hi) continue;
      rows.Bind(1, span.first_seq + (lo - span.first_leaf))
          .Bind(2, span.first_seq + (hi - span.first_leaf));
      while (true) {
        ASSIGN_OR_RETURN(bool row, rows.Step());
        if (!row) break;
        StoredLeaf& leaf = out.emplace_back();
        leaf.index = static_cast<uint64_t>(rows.ColumnInt(0));
        leaf.time = absl::FromUnixMicros(rows.ColumnInt(1));
        if (!rows.ColumnIsNull(2)) leaf.record = std::string(rows.ColumnBlob(2));
        leaf.leaf_hash = std::string(rows.ColumnBlob(3));
      }
      rows.Reset();
    }
    return out;
  }

  absl::StatusOr<int64_t> RowsOutsideLogs() override {
    ASSIGN_OR_RETURN(auto stmt, db_->Prepare("SELECT (SELECT COUNT(*) FROM access_log) - "
                                             "(SELECT COALESCE(SUM(leaves), 0) FROM "
                                             "access_log_span)"));
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    return row ? stmt.ColumnInt(0) : 0;
  }

  absl::StatusOr<AccessQueryResult> Query(const AccessQuery& q) override {
    // SQL narrows the rows by what they hold (log, time) and by a byte search for each wanted
    // string in the record's bytes (a protobuf keeps strings verbatim); the parsed record
    // decides. Placeholders are fixed (?1..?8), so caller input never becomes SQL.
    std::string where = " AND a.record IS NOT NULL AND a.time_micros >= ?1 AND a.time_micros < ?2";
    if (!q.log_id.empty()) where += " AND a.log_id = ?3";
    if (!q.subject.empty()) where += " AND instr(a.record, ?4) > 0";
    if (!q.member.empty()) where += " AND instr(a.record, ?5) > 0";
    if (!q.purpose.empty()) where += " AND instr(a.record, ?6) > 0";
    AccessQueryResult result;
    const size_t limit = static_cast<size_t>(std::max(q.limit, 0));
    const int64_t from = q.from == absl::InfinitePast() ? INT64_MIN : absl::ToUnixMicros(q.from);
    const int64_t until =
        q.until == absl::InfiniteFuture() ? INT64_MAX : absl::ToUnixMicros(q.until);
    auto bind_filters = [&](SqliteStatement& stmt) {
      stmt.Bind(1, from).Bind(2, until);
      if (!q.log_id.empty()) stmt.Bind(3, q.log_id);
      if (!q.subject.empty()) stmt.BindBlob(4, q.subject);
      if (!q.member.empty()) stmt.BindBlob(5, q.member);
      if (!q.purpose.empty()) stmt.BindBlob(6, q.purpose);
    };
    // Takes the matching records of `stmt`'s rows (kQueryColumns) until the page is full.
    v1::AccessRecord record;
    auto collect = [&](SqliteStatement& stmt) -> absl::Status {
      while (result.records.size() < limit) {
        ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) break;
        const absl::string_view bytes = stmt.ColumnBlob(1);
        if (!record.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
          // Nothing to match it against but the bytes SQL already searched: it is shown, as
          // a marker, rather than stopping every query that reaches it.
          record = UnreadableRecordMarker(stmt.ColumnText(2),
                                          static_cast<uint64_t>(stmt.ColumnInt(3)),
                                          absl::FromUnixMicros(stmt.ColumnInt(4)));
        } else if (!Matches(q, record)) {
          continue;
        }
        result.records.push_back(std::move(record));
        record.Clear();
        result.last_position = static_cast<uint64_t>(stmt.ColumnInt(0));
      }
      stmt.Reset();
      return absl::OkStatus();
    };
    auto scan_after = [&](uint64_t after) -> absl::Status {
      ASSIGN_OR_RETURN(auto scan, db_->Prepare(absl::StrCat(kQueryColumns, " WHERE a.seq > ?7",
                                                             where, " ORDER BY a.seq")));
      bind_filters(scan);
      scan.Bind(7, static_cast<int64_t>(after));
      return collect(scan);
    };
    if (limit == 0) return result;
    const bool by_subject = !q.subject.empty();
    if (!by_subject && q.member.empty()) {
      RETURN_IF_ERROR(scan_after(q.after_position));
      return result;
    }
    // A subject or member query: the indexed part, then the tail the indexer has not reached.
    // The watermark is read first: rows indexed meanwhile are still in the tail, so nothing is
    // missed or repeated. Index entries only name seqs; the row decides.
    ASSIGN_OR_RETURN(SqliteDb* index, IndexDb());
    int64_t indexed = 0;
    if (index != nullptr) {
      ASSIGN_OR_RETURN(indexed, IndexedUpTo(*index));
    }
    if (static_cast<int64_t>(q.after_position) < indexed) {
      const char* column = by_subject ? "subject" : "member";
      ASSIGN_OR_RETURN(auto candidates,
                       index->Prepare(absl::StrCat("SELECT seq FROM access_log_by_", column,
                                                   " WHERE ", column, " = ? AND seq > ? AND "
                                                   "seq <= ? ORDER BY seq")));
      candidates.Bind(1, by_subject ? q.subject : q.member)
          .Bind(2, static_cast<int64_t>(q.after_position))
          .Bind(3, indexed);
      ASSIGN_OR_RETURN(auto at,
                       db_->Prepare(absl::StrCat(kQueryColumns, " WHERE a.seq = ?7", where)));
      while (result.records.size() < limit) {
        ASSIGN_OR_RETURN(bool row, candidates.Step());
        if (!row) break;
        bind_filters(at);  // Reset (in collect) clears every binding
        at.Bind(7, candidates.ColumnInt(0));
        RETURN_IF_ERROR(collect(at));
      }
    }
    if (result.records.size() < limit) {
      const uint64_t after = std::max<uint64_t>(q.after_position, static_cast<uint64_t>(indexed));
      result.last_position = std::max(result.last_position, after);
      RETURN_IF_ERROR(scan_after(after));
    }
    return result;
  }

  absl::StatusOr<uint64_t> IndexPending(int max_records) override {
    ASSIGN_OR_RETURN(SqliteDb* index, IndexDb());
    if (index == nullptr) return 0;  // read-only, and nobody built the indexes
    absl::StatusOr<uint64_t> indexed;
    RETURN_IF_ERROR(index->InTransaction([&] {
      indexed = IndexPendingLocked(*index, max_records < 1 ? 1 : max_records);
      return indexed.status();
    }));
    return indexed;
  }

  absl::Status AddCheckpoint(const v1::Checkpoint& checkpoint) override {
    ASSIGN_OR_RETURN(auto stmt,
                     db_->Prepare("INSERT OR IGNORE INTO access_log_checkpoint (log_id, "
                                  "tree_size, root_hash, time_secs, signature) "
                                  "VALUES (?, ?, ?, ?, ?)"));
    stmt.Bind(1, checkpoint.log_id())
        .Bind(2, static_cast<int64_t>(checkpoint.tree_size()))
        .BindBlob(3, checkpoint.root_hash())
        .Bind(4, checkpoint.time().seconds())
        .BindBlob(5, checkpoint.signature());
    return stmt.Run();
  }

  absl::StatusOr<std::vector<v1::Checkpoint>> Checkpoints(const std::string& log_id,
                                                          uint64_t min_size,
                                                          uint64_t max_size) override {
    ASSIGN_OR_RETURN(auto stmt, db_->Prepare(absl::StrCat(kCheckpointColumns,
                                                          " WHERE log_id = ? AND tree_size >= ? "
                                                          "AND tree_size <= ? ORDER BY "
                                                          "tree_size")));
    stmt.Bind(1, log_id)
        .Bind(2, static_cast<int64_t>(std::min<uint64_t>(min_size, INT64_MAX)))
        .Bind(3, static_cast<int64_t>(std::min<uint64_t>(max_size, INT64_MAX)));
    std::vector<v1::Checkpoint> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      out.push_back(CheckpointFromRow(stmt));
    }
    return out;
  }

  absl::StatusOr<std::optional<v1::Checkpoint>> LatestCheckpoint(
      const std::string& log_id) override {
    ASSIGN_OR_RETURN(auto stmt, db_->Prepare(absl::StrCat(
                                    kCheckpointColumns,
                                    " WHERE log_id = ? ORDER BY tree_size DESC LIMIT 1")));
    stmt.Bind(1, log_id);
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return std::nullopt;
    return CheckpointFromRow(stmt);
  }

  absl::StatusOr<uint64_t> Prune(absl::Time before, int batch_rows) override {
    // In write order, up to the first record written at or after `before`: the pruned leaves
    // stay a prefix of every log, which is what lets a verifier tell retention from erasure.
    const int64_t bound = absl::ToUnixMicros(before);
    uint64_t pruned = 0;
    while (true) {
      // Short transactions, with a pause between them, so the writer gets its turn.
      ASSIGN_OR_RETURN(PruneProgress batch, PruneBatch(bound, batch_rows < 1 ? 1 : batch_rows));
      pruned += batch.pruned;
      if (batch.reached_young || batch.pruned == 0) break;
      absl::SleepFor(absl::Milliseconds(20));
    }
    // Old WAL frames still hold the content: copy back and truncate (best effort: a reader
    // holding an old snapshot defers it to the next prune).
    if (pruned > 0) {
      db_->Exec("PRAGMA wal_checkpoint(TRUNCATE)").IgnoreError();
      if (index_db_ != nullptr) index_db_->Exec("PRAGMA wal_checkpoint(TRUNCATE)").IgnoreError();
    }
    return pruned;
  }

 private:
  static constexpr char kCheckpointColumns[] =
      "SELECT log_id, tree_size, root_hash, time_secs, signature FROM access_log_checkpoint";

  struct PruneProgress {
    uint64_t pruned = 0;
    bool reached_young = false;  // met a record written at or after the bound
  };

  // <log file>.index: the query indexes (kIndexSchema).
  std::string IndexPath() const { return db_->path() + ".index"; }

  // The index file, opened on first use; nullptr for a read-only store when it does not
  // exist (queries then scan).
  absl::StatusOr<SqliteDb*> IndexDb() {
    if (index_db_ != nullptr) return index_db_.get();
    if (read_only_ && access(IndexPath().c_str(), F_OK) != 0) return nullptr;
    ASSIGN_OR_RETURN(auto log_file, db_->Prepare("SELECT id FROM access_log_file"));
    ASSIGN_OR_RETURN(bool has_id, log_file.Step());
    const std::string log_file_id = has_id ? std::string(log_file.ColumnBlob(0)) : "";
    ASSIGN_OR_RETURN(auto db, SqliteDb::Open(IndexPath(), read_only_
                                                               ? SqliteDb::Mode::kReadOnly
                                                               : SqliteDb::Mode::kReadWriteCreate));
    if (!read_only_) {
      RETURN_IF_ERROR(db->Exec(kIndexSchema));
      RETURN_IF_ERROR(db->Exec("PRAGMA cache_size = -65536; PRAGMA secure_delete = ON;"));
    }
    auto described = db->Prepare("SELECT log_file_id FROM access_log_indexed");
    bool same_log = false;
    if (described.ok()) {
      absl::StatusOr<bool> row = described->Step();
      same_log = row.ok() && *row && described->ColumnBlob(0) == log_file_id;
    }
    if (!same_log) {
      // Indexes of another log, or none yet: start over (a reader scans instead).
      if (read_only_) return nullptr;
      RETURN_IF_ERROR(db->InTransaction([&]() -> absl::Status {
        RETURN_IF_ERROR(db->Exec("DELETE FROM access_log_by_subject; "
                                 "DELETE FROM access_log_by_member"));
        ASSIGN_OR_RETURN(auto reset, db->Prepare("UPDATE access_log_indexed SET upto_seq = 0, "
                                                 "log_file_id = ?"));
        reset.BindBlob(1, log_file_id);
        return reset.Run();
      }));
    }
    index_db_ = std::move(db);
    return index_db_.get();
  }

  static absl::StatusOr<int64_t> IndexedUpTo(SqliteDb& index) {
    ASSIGN_OR_RETURN(auto stmt, index.Prepare("SELECT upto_seq FROM access_log_indexed"));
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    return row ? stmt.ColumnInt(0) : 0;
  }

  absl::StatusOr<std::optional<Span>> LastSpan(const std::string& log_id) {
    if (last_span_ == nullptr) {  // prepared once per connection: the writer asks every batch
      ASSIGN_OR_RETURN(auto stmt, db_->Prepare("SELECT first_leaf, first_seq, leaves FROM "
                                               "access_log_span WHERE log_id = ? ORDER BY "
                                               "first_leaf DESC LIMIT 1"));
      last_span_ = std::make_unique<SqliteStatement>(std::move(stmt));
    }
    last_span_->Bind(1, log_id);
    absl::StatusOr<bool> row = last_span_->Step();
    std::optional<Span> span;
    if (row.ok() && *row) {
      span = Span{last_span_->ColumnInt(0), last_span_->ColumnInt(1), last_span_->ColumnInt(2)};
    }
    last_span_->Reset();
    if (!row.ok()) return row.status();
    return span;
  }

  // The spans of `log_id` holding leaves in [from, to), in leaf order.
  absl::StatusOr<std::vector<Span>> SpansIn(const std::string& log_id, int64_t from,
                                            int64_t to) {
    ASSIGN_OR_RETURN(auto stmt,
                     db_->Prepare("SELECT first_leaf, first_seq, leaves FROM access_log_span "
                                  "WHERE log_id = ?1 AND first_leaf < ?3 AND first_leaf >= "
                                  "COALESCE((SELECT MAX(first_leaf) FROM access_log_span WHERE "
                                  "log_id = ?1 AND first_leaf <= ?2), 0) ORDER BY first_leaf"));
    stmt.Bind(1, log_id).Bind(2, from).Bind(3, to);
    std::vector<Span> spans;
    while (true) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      spans.push_back(Span{stmt.ColumnInt(0), stmt.ColumnInt(1), stmt.ColumnInt(2)});
    }
    return spans;
  }

  // Refuses a database of an earlier layout, rather than failing later on every query with
  // "no such column".
  absl::Status CheckLayout() {
    ASSIGN_OR_RETURN(auto stmt, db_->Prepare(
                                    "SELECT (SELECT COUNT(*) FROM sqlite_master WHERE type = "
                                    "'table' AND name = 'access_log'), (SELECT COUNT(*) FROM "
                                    "sqlite_master WHERE type = 'table' AND name = "
                                    "'access_log_span')"));
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (row && stmt.ColumnInt(0) == 0 && read_only_) {
      return absl::NotFoundError(absl::StrCat(db_->path(), " holds no onceonly access log"));
    }
    if (row && stmt.ColumnInt(0) == 1 && stmt.ColumnInt(1) == 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          db_->path(), " holds an access log of an earlier onceonly layout (no access_log_span "
          "table); keep it as it is for the record and point audit.sqlite_path at a new file"));
    }
    return absl::OkStatus();
  }

  // Inside a transaction of `index`; reads the log outside any transaction of its own.
  absl::StatusOr<uint64_t> IndexPendingLocked(SqliteDb& index, int max_records) {
    ASSIGN_OR_RETURN(int64_t from, IndexedUpTo(index));
    ASSIGN_OR_RETURN(auto last, db_->Prepare("SELECT COALESCE(MAX(seq), 0) FROM access_log"));
    ASSIGN_OR_RETURN(bool row, last.Step());
    const int64_t newest = row ? last.ColumnInt(0) : 0;
    const int64_t upto = std::min<int64_t>(newest, from + max_records);
    if (upto <= from) return 0;
    // The keys are inside the records: read them out, then insert sorted by key, so each index
    // page is written once per batch, not once per record.
    ASSIGN_OR_RETURN(auto rows, db_->Prepare("SELECT seq, record FROM access_log WHERE seq > ? "
                                             "AND seq <= ? AND record IS NOT NULL"));
    rows.Bind(1, from).Bind(2, upto);
    std::vector<std::pair<std::string, int64_t>> by_subject, by_member;
    std::string member, subject;
    while (true) {
      ASSIGN_OR_RETURN(bool more, rows.Step());
      if (!more) break;
      // A record that does not parse is left out of the indexes (queries parse and refuse
      // it; `audit verify` names it) rather than stopping the indexer for good.
      if (!ReadIndexKeys(rows.ColumnBlob(1), &member, &subject)) continue;
      by_subject.emplace_back(subject, rows.ColumnInt(0));
      by_member.emplace_back(member, rows.ColumnInt(0));
    }
    for (auto [column, keys] : {std::pair("subject", &by_subject), std::pair("member", &by_member)}) {
      std::sort(keys->begin(), keys->end());
      ASSIGN_OR_RETURN(auto insert, index.Prepare(absl::StrCat(
                                        "INSERT OR IGNORE INTO access_log_by_", column,
                                        " VALUES (?, ?)")));
      for (const auto& [key, seq] : *keys) {
        insert.Bind(1, key).Bind(2, seq);
        RETURN_IF_ERROR(insert.Run());
      }
    }
    ASSIGN_OR_RETURN(auto mark, index.Prepare("UPDATE access_log_indexed SET upto_seq = ?"));
    mark.Bind(1, upto);
    RETURN_IF_ERROR(mark.Run());
    return static_cast<uint64_t>(upto - from);
  }

  // One batch of Prune, in two files: the index entries go first, then the records (with the
  // watermark). A crash in between leaves records that queries by subject or member no longer
  // find, and the next prune finishes them; never index entries naming pruned content.
  absl::StatusOr<PruneProgress> PruneBatch(int64_t bound_micros, int batch_rows) {
    struct Row {
      int64_t seq;
      std::string subject, member;
      bool keys_known;
    };
    std::vector<Row> rows;
    PruneProgress progress;
    {
      ASSIGN_OR_RETURN(auto select, db_->Prepare("SELECT seq, time_micros, record FROM "
                                                 "access_log WHERE seq > (SELECT upto_seq FROM "
                                                 "access_log_pruned) ORDER BY seq LIMIT ?"));
      select.Bind(1, int64_t{batch_rows});
      while (true) {
        ASSIGN_OR_RETURN(bool row, select.Step());
        if (!row) break;
        if (select.ColumnInt(1) >= bound_micros) {
          progress.reached_young = true;
          break;
        }
        Row& r = rows.emplace_back(Row{select.ColumnInt(0), "", "", true});
        // The index keys are in the record; for one that no longer parses, every index entry
        // of its seq goes (a scan, for a case that should never happen).
        r.keys_known = ReadIndexKeys(select.ColumnBlob(2), &r.member, &r.subject);
      }
    }
    if (rows.empty()) return progress;
    ASSIGN_OR_RETURN(SqliteDb* index, IndexDb());
    if (index != nullptr) {
      RETURN_IF_ERROR(index->InTransaction([&]() -> absl::Status {
        ASSIGN_OR_RETURN(auto by_subject, index->Prepare("DELETE FROM access_log_by_subject "
                                                         "WHERE subject = ? AND seq = ?"));
        ASSIGN_OR_RETURN(auto by_member, index->Prepare("DELETE FROM access_log_by_member "
                                                        "WHERE member = ? AND seq = ?"));
        for (const Row& row : rows) {
          if (!row.keys_known) {
            RETURN_IF_ERROR(index->Exec(absl::StrCat(
                "DELETE FROM access_log_by_subject WHERE seq = ", row.seq,
                "; DELETE FROM access_log_by_member WHERE seq = ", row.seq)));
          }
          by_subject.Bind(1, row.subject).Bind(2, row.seq);
          RETURN_IF_ERROR(by_subject.Run());
          by_member.Bind(1, row.member).Bind(2, row.seq);
          RETURN_IF_ERROR(by_member.Run());
        }
        return absl::OkStatus();
      }));
    }
    RETURN_IF_ERROR(db_->InTransaction([&]() -> absl::Status {
      ASSIGN_OR_RETURN(auto clear,
                       db_->Prepare("UPDATE access_log SET record = NULL WHERE seq = ?"));
      for (const Row& row : rows) {
        clear.Bind(1, row.seq);
        RETURN_IF_ERROR(clear.Run());
      }
      ASSIGN_OR_RETURN(auto mark, db_->Prepare("UPDATE access_log_pruned SET upto_seq = ?1 "
                                               "WHERE upto_seq < ?1"));
      mark.Bind(1, rows.back().seq);
      return mark.Run();
    }));
    progress.pruned = rows.size();
    return progress;
  }

  // Inside the batch's transaction: the rows, then the span that locates them.
  absl::Status InsertAll(const std::string& log_id, const std::vector<PreparedRecord>& records) {
    ASSIGN_OR_RETURN(std::optional<Span> last, LastSpan(log_id));
    const int64_t size = last.has_value() ? last->first_leaf + last->leaves : 0;
    ASSIGN_OR_RETURN(bool row, next_seq_->Step());
    const int64_t first_seq = row ? next_seq_->ColumnInt(0) : 1;
    next_seq_->Reset();
    const int64_t n = static_cast<int64_t>(records.size());
    for (int64_t i = 0; i < n; ++i) {
      const PreparedRecord& r = records[i];
      if (r.access_id != static_cast<uint64_t>(size + i)) {
        return absl::FailedPreconditionError(absl::StrCat(
            "access log ", log_id, " holds ", size, " leaves in ", db_->path(),
            ": a batch cannot put leaf ", r.access_id, " at index ", size + i));
      }
      // The bytes are the caller's and outlive the statement's use of them (Run resets it).
      insert_->Bind(1, first_seq + i)
          .BindTextUncopied(2, log_id)
          .Bind(3, size + i)
          .Bind(4, r.time_micros)
          .BindBlobUncopied(5, r.data)
          .BindBlobUncopied(6, AsView(r.leaf_hash));
      RETURN_IF_ERROR(insert_->Run());
    }
    if (last.has_value() && last->first_seq + last->leaves == first_seq) {
      extend_span_->Bind(1, n).Bind(2, log_id).Bind(3, last->first_leaf);
      return extend_span_->Run();
    }
    add_span_->Bind(1, log_id).Bind(2, size).Bind(3, first_seq).Bind(4, n);
    return add_span_->Run();
  }

  std::unique_ptr<SqliteDb> db_;
  std::unique_ptr<SqliteDb> index_db_;  // IndexDb()
  std::unique_ptr<SqliteStatement> insert_, next_seq_, extend_span_, add_span_, last_span_;
  bool read_only_ = false;
  int lock_fd_ = -1;
};

}  // namespace

absl::StatusOr<std::unique_ptr<AccessLogStore>> OpenSqliteAccessLogStore(
    const std::string& path, StoreAccess access) {
  const bool read_only = access == StoreAccess::kReadOnly;
  ASSIGN_OR_RETURN(auto db, SqliteDb::Open(path, read_only ? SqliteDb::Mode::kReadOnly
                                                           : SqliteDb::Mode::kReadWriteCreate));
  auto store = std::make_unique<SqliteAccessLogStore>(std::move(db));
  RETURN_IF_ERROR(store->Init(read_only));
  return std::unique_ptr<AccessLogStore>(std::move(store));
}

}  // namespace onceonly
