#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "audit/access_log.h"
#include "audit/access_log_store.h"
#include "audit/merkle_tree.h"
#include "common/sqlite.h"
#include "common/status_macros.h"

namespace onceonly {

namespace {

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS access_log (
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
  leaf_hash   BLOB    NOT NULL,   -- RFC 9162 leaf hash of record: SHA-256(0x00 || record)
  PRIMARY KEY (log_id, leaf_index)
) WITHOUT ROWID;
-- Queries page in (time, log, index) order; a WITHOUT ROWID index carries the primary key,
-- so each of these serves its filter in that order without sorting.
CREATE INDEX IF NOT EXISTS access_log_subject ON access_log(subject, time_micros);
CREATE INDEX IF NOT EXISTS access_log_member ON access_log(member, time_micros);
CREATE INDEX IF NOT EXISTS access_log_time ON access_log(time_micros);
CREATE TABLE IF NOT EXISTS access_log_checkpoint (
  log_id      TEXT    NOT NULL,
  tree_size   INTEGER NOT NULL,
  root_hash   BLOB    NOT NULL,
  time_secs   INTEGER NOT NULL,
  signature   BLOB    NOT NULL,   -- Ed25519 over CheckpointSignedText (audit/checkpoint.h)
  PRIMARY KEY (log_id, tree_size)
) WITHOUT ROWID;
)sql";

int64_t ToMicros(const google::protobuf::Timestamp& t) {
  return t.seconds() * 1000000 + t.nanos() / 1000;
}

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
    ASSIGN_OR_RETURN(auto stmt, db_->Prepare("SELECT DISTINCT log_id FROM access_log ORDER BY 1"));
    std::vector<std::string> ids;
    while (true) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      ids.push_back(stmt.ColumnText(0));
    }
    return ids;
  }

  absl::Status Init(bool read_only) {
    if (read_only) return absl::OkStatus();
    RETURN_IF_ERROR(db_->Exec(kSchema));
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

  absl::StatusOr<std::vector<std::string>> AppendBatch(
      const std::vector<v1::AccessRecord>& records) override {
    RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
    std::vector<std::string> leaf_hashes;
    leaf_hashes.reserve(records.size());
    absl::Status status = InsertAll(records, &leaf_hashes);
    if (status.ok()) status = db_->Exec("COMMIT");
    if (!status.ok()) {
      db_->Exec("ROLLBACK").IgnoreError();  // the failure above is what the caller needs
      return status;
    }
    return leaf_hashes;
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
      fn(stmt.ColumnBlob(1));
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

  absl::StatusOr<std::vector<v1::AccessRecord>> Query(const AccessQuery& q) override {
    // Fixed SQL with "? = ''"-style switches: one plan per filter shape, no string building
    // from caller input.
    std::string sql =
        "SELECT record, time_micros, log_id, leaf_index FROM access_log WHERE record IS NOT "
        "NULL AND time_micros >= ? AND time_micros < ?";
    if (!q.log_id.empty()) sql += " AND log_id = ?3";
    if (!q.subject.empty()) sql += " AND subject = ?4";
    if (!q.member.empty()) sql += " AND member = ?5";
    if (!q.purpose.empty()) sql += " AND purpose = ?6";
    if (q.decision != v1::DECISION_UNSPECIFIED) sql += " AND decision = ?7";
    if (q.has_cursor) sql += " AND (time_micros, log_id, leaf_index) > (?8, ?9, ?10)";
    sql += " ORDER BY time_micros, log_id, leaf_index LIMIT ?11";
    ASSIGN_OR_RETURN(auto stmt, db_->Prepare(sql));
    const int64_t from = q.from == absl::InfinitePast() ? INT64_MIN : absl::ToUnixMicros(q.from);
    const int64_t until =
        q.until == absl::InfiniteFuture() ? INT64_MAX : absl::ToUnixMicros(q.until);
    stmt.Bind(1, from).Bind(2, until);
    if (!q.log_id.empty()) stmt.Bind(3, q.log_id);
    if (!q.subject.empty()) stmt.Bind(4, q.subject);
    if (!q.member.empty()) stmt.Bind(5, q.member);
    if (!q.purpose.empty()) stmt.Bind(6, q.purpose);
    if (q.decision != v1::DECISION_UNSPECIFIED) stmt.Bind(7, v1::Decision_Name(q.decision));
    if (q.has_cursor) {
      stmt.Bind(8, q.after_time_micros)
          .Bind(9, q.after_log_id)
          .Bind(10, static_cast<int64_t>(q.after_index));
    }
    stmt.Bind(11, int64_t{q.limit});
    std::vector<v1::AccessRecord> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      v1::AccessRecord& record = out.emplace_back();
      if (!record.ParseFromString(stmt.ColumnText(0))) {
        return absl::DataLossError(absl::StrCat(db_->path(), ": access record ",
                                                stmt.ColumnText(2), "/", stmt.ColumnInt(3),
                                                " is corrupt"));
      }
    }
    return out;
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
    ASSIGN_OR_RETURN(
        auto stmt,
        db_->Prepare("UPDATE access_log SET record = NULL, member = '', purpose = '', "
                     "subject = '', reason = '', decision = '' WHERE (log_id, leaf_index) IN "
                     "(SELECT log_id, leaf_index FROM access_log WHERE time_micros < ? AND "
                     "record IS NOT NULL LIMIT ?)"));
    uint64_t pruned = 0;
    while (true) {
      stmt.Bind(1, absl::ToUnixMicros(before)).Bind(2, int64_t{batch_rows < 1 ? 1 : batch_rows});
      RETURN_IF_ERROR(stmt.Run());
      const int64_t changed = db_->Changes();
      pruned += changed;
      if (changed == 0) return pruned;
    }
  }

 private:
  static constexpr char kCheckpointColumns[] =
      "SELECT log_id, tree_size, root_hash, time_secs, signature FROM access_log_checkpoint";

  absl::Status InsertAll(const std::vector<v1::AccessRecord>& records,
                         std::vector<std::string>* leaf_hashes) {
    for (const v1::AccessRecord& r : records) {
      insert_->Bind(1, r.log_id())
          .Bind(2, static_cast<int64_t>(r.access_id()))
          .Bind(3, ToMicros(r.time()))
          .Bind(4, r.member())
          .Bind(5, r.purpose())
          .Bind(6, r.subject())
          .Bind(7, v1::Decision_Name(r.decision()))
          .Bind(8, r.reason());
      const std::string data = SerializeAccessRecord(r);
      leaf_hashes->push_back(MerkleLeafHash(data));
      insert_->BindBlob(9, data).BindBlob(10, leaf_hashes->back());
      RETURN_IF_ERROR(insert_->Run());
    }
    return absl::OkStatus();
  }

  std::unique_ptr<SqliteDb> db_;
  std::unique_ptr<SqliteStatement> insert_;
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
