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
#include "common/sqlite.h"
#include "common/status_macros.h"

namespace onceonly {

namespace {

constexpr char kSchema[] = R"sql(
-- One row per leaf, appended in order. Everything on the commit path appends at the end of a
-- B-tree (the table by seq, the leaf and time indexes), so a batch dirties few pages.
CREATE TABLE IF NOT EXISTS access_log (
  seq         INTEGER PRIMARY KEY,  -- write order in this file: query order and page cursor
  log_id      TEXT    NOT NULL,
  leaf_index  INTEGER NOT NULL,
  time_micros INTEGER NOT NULL,
  member      TEXT    NOT NULL,
  purpose     TEXT    NOT NULL,
  subject     TEXT    NOT NULL,
  decision    TEXT    NOT NULL,
  reason      TEXT    NOT NULL,
  record      BLOB,               -- deterministic protobuf of onceonly.v1.AccessRecord;
                                  -- NULL once retention pruned it
  leaf_hash   BLOB    NOT NULL    -- RFC 9162 leaf hash of record: SHA-256(0x00 || record)
);
CREATE UNIQUE INDEX IF NOT EXISTS access_log_leaf ON access_log(log_id, leaf_index);
CREATE INDEX IF NOT EXISTS access_log_time ON access_log(time_micros);
-- Random-key indexes, filled behind the writer in sorted batches (IndexPending): inline,
-- each record would dirty a page of its own. Rows with seq <= upto_seq are indexed.
CREATE TABLE IF NOT EXISTS access_log_by_subject (
  subject TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (subject, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS access_log_by_member (
  member TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (member, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS access_log_indexed (
  one INTEGER PRIMARY KEY CHECK (one = 0), upto_seq INTEGER NOT NULL);
INSERT OR IGNORE INTO access_log_indexed VALUES (0, 0);
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

v1::Checkpoint CheckpointFromRow(const SqliteStatement& stmt) {
  v1::Checkpoint checkpoint;
  checkpoint.set_log_id(stmt.ColumnText(0));
  checkpoint.set_tree_size(static_cast<uint64_t>(stmt.ColumnInt(1)));
  checkpoint.set_root_hash(stmt.ColumnText(2));
  checkpoint.mutable_time()->set_seconds(stmt.ColumnInt(3));
  checkpoint.set_signature(stmt.ColumnText(4));
  return checkpoint;
}

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
    // One index probe per log (a DISTINCT would read every row of the index).
    ASSIGN_OR_RETURN(auto next, db_->Prepare("SELECT MIN(log_id) FROM access_log WHERE log_id > ?"));
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
    ASSIGN_OR_RETURN(
        auto insert,
        db_->Prepare("INSERT INTO access_log (log_id, leaf_index, time_micros, member, "
                     "purpose, subject, decision, reason, record, leaf_hash) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    insert_ = std::make_unique<SqliteStatement>(std::move(insert));
    return absl::OkStatus();
  }

  absl::StatusOr<uint64_t> Size(const std::string& log_id) override {
    ASSIGN_OR_RETURN(auto stmt, db_->Prepare("SELECT COALESCE(MAX(leaf_index) + 1, 0) FROM "
                                             "access_log WHERE log_id = ?"));
    stmt.Bind(1, log_id);
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    return row ? static_cast<uint64_t>(stmt.ColumnInt(0)) : 0;
  }

  absl::Status AppendBatch(const std::vector<PreparedRecord>& records) override {
    return db_->InTransaction([&] { return InsertAll(records); });
  }

  absl::Status ForEachLeafHash(const std::string& log_id, uint64_t from,
                               const std::function<void(absl::string_view)>& fn) override {
    ASSIGN_OR_RETURN(auto stmt, db_->Prepare("SELECT leaf_index, leaf_hash FROM access_log "
                                             "WHERE log_id = ? AND leaf_index >= ? "
                                             "ORDER BY leaf_index"));
    stmt.Bind(1, log_id).Bind(2, static_cast<int64_t>(from));
    int64_t expected = static_cast<int64_t>(from);
    while (true) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      if (stmt.ColumnInt(0) != expected) {
        return absl::DataLossError(absl::StrCat(db_->path(), ": log ", log_id,
                                                " has no leaf ", expected,
                                                "; run `onceonly audit verify`"));
      }
      const absl::string_view hash = stmt.ColumnBlob(1);
      if (hash.size() != 32) {
        return absl::DataLossError(absl::StrCat(db_->path(), ": log ", log_id, ": the leaf hash "
                                                "of leaf ", expected, " is damaged (",
                                                hash.size(), " bytes, not 32); run `onceonly "
                                                "audit verify`"));
      }
      fn(hash);
      ++expected;
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<v1::AccessRecord>> Read(const std::string& log_id, uint64_t from,
                                                     int limit) override {
    ASSIGN_OR_RETURN(auto stmt,
                     db_->Prepare("SELECT record FROM access_log WHERE log_id = ? AND "
                                  "leaf_index >= ? AND leaf_index < ? AND record IS NOT NULL "
                                  "ORDER BY leaf_index"));
    stmt.Bind(1, log_id)
        .Bind(2, static_cast<int64_t>(from))
        .Bind(3, static_cast<int64_t>(from) + limit);
    std::vector<v1::AccessRecord> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      v1::AccessRecord record;
      if (!record.ParseFromString(stmt.ColumnText(0))) {
        return absl::DataLossError(
            absl::StrCat(db_->path(), ": access record ", from + out.size(), " is corrupt"));
      }
      out.push_back(std::move(record));
    }
    return out;
  }

  absl::StatusOr<std::vector<StoredLeaf>> ReadLeaves(const std::string& log_id, uint64_t from,
                                                     int limit) override {
    ASSIGN_OR_RETURN(auto stmt, db_->Prepare("SELECT leaf_index, time_micros, record, leaf_hash "
                                             "FROM access_log WHERE log_id = ? AND "
                                             "leaf_index >= ? AND leaf_index < ? "
                                             "ORDER BY leaf_index"));
    stmt.Bind(1, log_id)
        .Bind(2, static_cast<int64_t>(from))
        .Bind(3, static_cast<int64_t>(from) + limit);
    std::vector<StoredLeaf> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      StoredLeaf& leaf = out.emplace_back();
      leaf.index = static_cast<uint64_t>(stmt.ColumnInt(0));
      leaf.time = absl::FromUnixMicros(stmt.ColumnInt(1));
      if (!stmt.ColumnIsNull(2)) leaf.record = stmt.ColumnText(2);
      leaf.leaf_hash = stmt.ColumnText(3);
    }
    return out;
  }

  absl::StatusOr<AccessQueryResult> Query(const AccessQuery& q) override {
    // Filters other than the one an index serves apply to the row. Placeholders are fixed
    // (?1..?9), so caller input never becomes SQL.
    std::string where = " AND a.record IS NOT NULL AND a.time_micros >= ?1 AND a.time_micros < ?2";
    if (!q.log_id.empty()) where += " AND a.log_id = ?3";
    if (!q.subject.empty()) where += " AND a.subject = ?4";
    if (!q.member.empty()) where += " AND a.member = ?5";
    if (!q.purpose.empty()) where += " AND a.purpose = ?6";
    if (q.decision != v1::DECISION_UNSPECIFIED) where += " AND a.decision = ?7";
    if (q.data_accesses_only) where += " AND a.purpose <> ''";  // audit calls have none
    const char* index_table = !q.subject.empty() ? "access_log_by_subject"
                              : !q.member.empty() ? "access_log_by_member"
                                                  : nullptr;
    const char* index_key = !q.subject.empty() ? "?4" : "?5";
    AccessQueryResult result;
    auto run = [&](const std::string& sql) -> absl::Status {
      ASSIGN_OR_RETURN(auto stmt, db_->Prepare(sql));
      const int64_t from =
          q.from == absl::InfinitePast() ? INT64_MIN : absl::ToUnixMicros(q.from);
      const int64_t until =
          q.until == absl::InfiniteFuture() ? INT64_MAX : absl::ToUnixMicros(q.until);
      stmt.Bind(1, from).Bind(2, until);
      if (!q.log_id.empty()) stmt.Bind(3, q.log_id);
      if (!q.subject.empty()) stmt.Bind(4, q.subject);
      if (!q.member.empty()) stmt.Bind(5, q.member);
      if (!q.purpose.empty()) stmt.Bind(6, q.purpose);
      if (q.decision != v1::DECISION_UNSPECIFIED) stmt.Bind(7, v1::Decision_Name(q.decision));
      stmt.Bind(8, static_cast<int64_t>(std::max<uint64_t>(q.after_position, result.last_position)));
      stmt.Bind(9, int64_t{q.limit} - static_cast<int64_t>(result.records.size()));
      while (true) {
        ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) break;
        v1::AccessRecord& record = result.records.emplace_back();
        const absl::string_view bytes = stmt.ColumnBlob(1);
        if (!record.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
          return absl::DataLossError(absl::StrCat(db_->path(), ": the access record at seq ",
                                                  stmt.ColumnInt(0), " is corrupt"));
        }
        result.last_position = static_cast<uint64_t>(stmt.ColumnInt(0));
      }
      return absl::OkStatus();
    };
    if (index_table == nullptr) {
      RETURN_IF_ERROR(run(absl::StrCat("SELECT a.seq, a.record FROM access_log a WHERE a.seq > ?8",
                                       where, " ORDER BY a.seq LIMIT ?9")));
      return result;
    }
    // The indexed part, then the tail the indexer has not reached. The watermark is read
    // first: rows indexed meanwhile are still in the tail, so nothing is missed or repeated.
    ASSIGN_OR_RETURN(int64_t indexed, IndexedUpTo());
    RETURN_IF_ERROR(run(absl::StrCat(
        "SELECT a.seq, a.record FROM ", index_table, " i JOIN access_log a ON a.seq = i.seq "
        "WHERE i.", index_table == std::string("access_log_by_subject") ? "subject" : "member",
        " = ", index_key, " AND i.seq > ?8 AND i.seq <= ", indexed, where,
        " ORDER BY i.seq LIMIT ?9")));
    if (static_cast<int>(result.records.size()) < q.limit) {
      result.last_position = std::max<uint64_t>(result.last_position, indexed);
      RETURN_IF_ERROR(run(absl::StrCat("SELECT a.seq, a.record FROM access_log a WHERE "
                                       "a.seq > ?8", where, " ORDER BY a.seq LIMIT ?9")));
    }
    return result;
  }

  absl::StatusOr<uint64_t> IndexPending(int max_records) override {
    absl::StatusOr<uint64_t> indexed;
    RETURN_IF_ERROR(db_->InTransaction([&] {
      indexed = IndexPendingLocked(max_records < 1 ? 1 : max_records);
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
    ASSIGN_OR_RETURN(auto first_young,
                     db_->Prepare("SELECT seq FROM access_log WHERE time_micros >= ? "
                                  "ORDER BY time_micros LIMIT 1"));
    first_young.Bind(1, absl::ToUnixMicros(before));
    ASSIGN_OR_RETURN(bool young, first_young.Step());
    const int64_t bound = young ? first_young.ColumnInt(0) : INT64_MAX;
    first_young.Reset();
    uint64_t pruned = 0;
    while (true) {
      // Short transactions, with a pause between them, so the writer gets its turn.
      absl::StatusOr<int64_t> changed;
      RETURN_IF_ERROR(db_->InTransaction([&] {
        changed = PruneBatch(bound, batch_rows < 1 ? 1 : batch_rows);
        return changed.status();
      }));
      pruned += *changed;
      if (*changed == 0) break;
      absl::SleepFor(absl::Milliseconds(20));
    }
    // Old WAL frames still hold the content: copy back and truncate (best effort: a reader
    // holding an old snapshot defers it to the next prune).
    if (pruned > 0) db_->Exec("PRAGMA wal_checkpoint(TRUNCATE)").IgnoreError();
    return pruned;
  }

 private:
  static constexpr char kCheckpointColumns[] =
      "SELECT log_id, tree_size, root_hash, time_secs, signature FROM access_log_checkpoint";

  absl::StatusOr<int64_t> IndexedUpTo() {
    ASSIGN_OR_RETURN(auto stmt, db_->Prepare("SELECT upto_seq FROM access_log_indexed"));
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    return row ? stmt.ColumnInt(0) : 0;
  }

  // Refuses a database of an earlier layout (before `seq`), rather than failing later on
  // every query with "no such column".
  absl::Status CheckLayout() {
    ASSIGN_OR_RETURN(auto stmt, db_->Prepare(
                                    "SELECT (SELECT COUNT(*) FROM sqlite_master WHERE type = "
                                    "'table' AND name = 'access_log'), (SELECT COUNT(*) FROM "
                                    "pragma_table_info('access_log') WHERE name = 'seq')"));
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (row && stmt.ColumnInt(0) == 0 && read_only_) {
      return absl::NotFoundError(absl::StrCat(db_->path(), " holds no onceonly access log"));
    }
    if (row && stmt.ColumnInt(0) == 1 && stmt.ColumnInt(1) == 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          db_->path(), " holds an access log of an earlier onceonly layout (no seq column); "
          "keep it as it is for the record and point audit.sqlite_path at a new file"));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<uint64_t> IndexPendingLocked(int max_records) {
    ASSIGN_OR_RETURN(int64_t from, IndexedUpTo());
    ASSIGN_OR_RETURN(auto last, db_->Prepare("SELECT COALESCE(MAX(seq), 0) FROM access_log"));
    ASSIGN_OR_RETURN(bool row, last.Step());
    const int64_t newest = row ? last.ColumnInt(0) : 0;
    const int64_t upto = std::min<int64_t>(newest, from + max_records);
    if (upto <= from) return 0;
    // Sorted by key, each index page is written once per batch, not once per record.
    for (const char* column : {"subject", "member"}) {
      ASSIGN_OR_RETURN(auto insert,
                       db_->Prepare(absl::StrCat(
                           "INSERT OR IGNORE INTO access_log_by_", column, " SELECT ", column,
                           ", seq FROM access_log WHERE seq > ?1 AND seq <= ?2 AND record IS "
                           "NOT NULL ORDER BY 1, 2")));
      insert.Bind(1, from).Bind(2, upto);
      RETURN_IF_ERROR(insert.Run());
    }
    ASSIGN_OR_RETURN(auto mark, db_->Prepare("UPDATE access_log_indexed SET upto_seq = ?"));
    mark.Bind(1, upto);
    RETURN_IF_ERROR(mark.Run());
    return static_cast<uint64_t>(upto - from);
  }

  absl::StatusOr<int64_t> PruneBatch(int64_t bound, int batch_rows) {
    ASSIGN_OR_RETURN(auto select, db_->Prepare("SELECT seq, subject, member FROM access_log "
                                               "WHERE seq > (SELECT upto_seq FROM "
                                               "access_log_pruned) AND seq < ? ORDER BY seq "
                                               "LIMIT ?"));
    select.Bind(1, bound).Bind(2, int64_t{batch_rows});
    ASSIGN_OR_RETURN(auto by_subject, db_->Prepare("DELETE FROM access_log_by_subject WHERE "
                                                   "subject = ? AND seq = ?"));
    ASSIGN_OR_RETURN(auto by_member, db_->Prepare("DELETE FROM access_log_by_member WHERE "
                                                  "member = ? AND seq = ?"));
    ASSIGN_OR_RETURN(auto clear, db_->Prepare("UPDATE access_log SET record = NULL, member = '', "
                                              "purpose = '', subject = '', reason = '', "
                                              "decision = '' WHERE seq = ?"));
    // Read the batch first: rows are not changed under a running SELECT.
    struct Row {
      int64_t seq;
      std::string subject, member;
    };
    std::vector<Row> rows;
    while (true) {
      ASSIGN_OR_RETURN(bool row, select.Step());
      if (!row) break;
      rows.push_back(Row{select.ColumnInt(0), select.ColumnText(1), select.ColumnText(2)});
    }
    select.Reset();
    if (rows.empty()) return 0;
    ASSIGN_OR_RETURN(auto mark, db_->Prepare("UPDATE access_log_pruned SET upto_seq = ?"));
    mark.Bind(1, rows.back().seq);
    RETURN_IF_ERROR(mark.Run());
    for (const Row& row : rows) {
      by_subject.Bind(1, row.subject).Bind(2, row.seq);
      RETURN_IF_ERROR(by_subject.Run());
      by_member.Bind(1, row.member).Bind(2, row.seq);
      RETURN_IF_ERROR(by_member.Run());
      clear.Bind(1, row.seq);
      RETURN_IF_ERROR(clear.Run());
    }
    return static_cast<int64_t>(rows.size());
  }

  absl::Status InsertAll(const std::vector<PreparedRecord>& records) {
    for (const PreparedRecord& r : records) {
      insert_->Bind(1, r.log_id)
          .Bind(2, static_cast<int64_t>(r.access_id))
          .Bind(3, r.time_micros)
          .Bind(4, r.member)
          .Bind(5, r.purpose)
          .Bind(6, r.subject)
          .Bind(7, v1::Decision_Name(r.decision))
          .Bind(8, r.reason);
      insert_->BindBlob(9, r.data).BindBlob(10, r.leaf_hash);
      RETURN_IF_ERROR(insert_->Run());
    }
    return absl::OkStatus();
  }

  std::unique_ptr<SqliteDb> db_;
  std::unique_ptr<SqliteStatement> insert_;
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
