#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
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
  record      BLOB    NOT NULL,   -- deterministic protobuf of onceonly.v1.AccessRecord
  leaf_hash   BLOB    NOT NULL,   -- RFC 9162 leaf hash of record: SHA-256(0x00 || record)
  PRIMARY KEY (log_id, leaf_index)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS access_log_subject ON access_log(subject, time_micros);
CREATE INDEX IF NOT EXISTS access_log_member ON access_log(member, time_micros);
)sql";

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

  absl::StatusOr<std::vector<std::string>> LeafHashes(const std::string& log_id) override {
    ASSIGN_OR_RETURN(auto stmt, db_->Prepare("SELECT leaf_index, leaf_hash FROM access_log "
                                             "WHERE log_id = ? ORDER BY leaf_index"));
    stmt.Bind(1, log_id);
    std::vector<std::string> hashes;
    while (true) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      if (stmt.ColumnInt(0) != static_cast<int64_t>(hashes.size())) {
        return absl::DataLossError(absl::StrCat(db_->path(), ": log ", log_id,
                                                " has no leaf ", hashes.size()));
      }
      hashes.push_back(stmt.ColumnText(1));
    }
    return hashes;
  }

  absl::StatusOr<std::vector<v1::AccessRecord>> Read(const std::string& log_id, uint64_t from,
                                                     int limit) override {
    ASSIGN_OR_RETURN(auto stmt,
                     db_->Prepare("SELECT record FROM access_log WHERE log_id = ? AND "
                                  "leaf_index >= ? ORDER BY leaf_index LIMIT ?"));
    stmt.Bind(1, log_id).Bind(2, static_cast<int64_t>(from)).Bind(3, int64_t{limit});
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

 private:
  absl::Status InsertAll(const std::vector<v1::AccessRecord>& records,
                         std::vector<std::string>* leaf_hashes) {
    for (const v1::AccessRecord& r : records) {
      int64_t micros = r.time().seconds() * 1000000 + r.time().nanos() / 1000;
      insert_->Bind(1, r.log_id())
          .Bind(2, static_cast<int64_t>(r.access_id()))
          .Bind(3, micros)
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
