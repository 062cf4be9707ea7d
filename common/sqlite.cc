#include "common/sqlite.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/json_escape.h"

namespace onceonly {
namespace {

// Waits for a lock held by another connection: polls every 500 µs for up to 5 s of wall
// time. SQLite's own busy timeout sleeps up to 100 ms between polls, so a writer blocked by a
// short transaction (the access log's indexer) would idle long after the lock was released.
constexpr absl::Duration kBusyPoll = absl::Microseconds(500);
constexpr absl::Duration kBusyTimeout = absl::Seconds(5);

int PollWhileBusy(void*, int attempts) {
  // The handler runs on the thread whose statement is blocked; one wait at a time per thread.
  thread_local absl::Time waiting_since;
  if (attempts == 0) waiting_since = absl::Now();
  if (absl::Now() - waiting_since >= kBusyTimeout) return 0;
  absl::SleepFor(kBusyPoll);
  return 1;
}

// SQLite would create a database 0644 less the umask; it gives the -wal, -shm and -journal
// files the database's own mode, so a database created 0600 keeps all of them private.
absl::Status CreatePrivateDatabaseFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return absl::OkStatus();  // SQLite opens what is there
    return absl::UnavailableError(
        absl::StrCat("cannot create database ", path, ": ", std::strerror(errno)));
  }
  const bool private_mode = ::fchmod(fd, 0600) == 0;  // open() applied the umask
  const int error = errno;
  ::close(fd);
  if (!private_mode) {
    ::unlink(path.c_str());
    return absl::UnavailableError(
        absl::StrCat("cannot set the mode of database ", path, ": ", std::strerror(error)));
  }
  return absl::OkStatus();
}

// Says once per process and database that others can read it (a file made by hand, or by an
// older version). Only said: the operator may share it on purpose, e.g. with an auditors' group.
ABSL_CONST_INIT absl::Mutex warned_mu(absl::kConstInit);

absl::flat_hash_set<std::string>& WarnedDatabases() ABSL_EXCLUSIVE_LOCKS_REQUIRED(warned_mu) {
  static auto* paths = new absl::flat_hash_set<std::string>();  // never destroyed
  return *paths;
}

void WarnIfNotPrivate(const std::string& path) {
  const absl::Status check = CheckDatabaseIsPrivate(path);
  if (check.ok()) return;
  {
    absl::MutexLock lock(&warned_mu);
    if (!WarnedDatabases().insert(path).second) return;
  }
  std::cerr << "{\"event\":\"database_not_private\",\"path\":\"" << JsonEscape(path)
            << "\",\"detail\":\"" << JsonEscape(check.message()) << "\"}\n";
}

}  // namespace

absl::Status CheckDatabaseIsPrivate(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    const std::string file = absl::StrCat(path, suffix);
    struct stat st;
    if (::stat(file.c_str(), &st) != 0) continue;  // a companion that does not exist now
    if ((st.st_mode & 077) != 0) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "%s has mode %04o: others than its owner can read or write the database; run chmod 600 %s "
          "(and on its -wal, -shm and -journal files if present)",
          file, st.st_mode & 07777, path));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<SqliteDb>> SqliteDb::Open(const std::string& path, Mode mode) {
  int flags = SQLITE_OPEN_NOMUTEX;
  switch (mode) {
    case Mode::kReadOnly:
      flags |= SQLITE_OPEN_READONLY;
      break;
    case Mode::kReadWrite:
      flags |= SQLITE_OPEN_READWRITE;
      break;
    case Mode::kReadWriteCreate:
      flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
      if (absl::Status created = CreatePrivateDatabaseFile(path); !created.ok()) return created;
      break;
  }
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    sqlite3_close(raw);
    return absl::UnavailableError(absl::StrCat("cannot open database ", path, ": ", msg));
  }
  std::unique_ptr<SqliteDb> db(new SqliteDb(raw, path));
  sqlite3_busy_handler(raw, PollWhileBusy, nullptr);
  sqlite3_extended_result_codes(raw, 1);
  if (mode != Mode::kReadOnly) {
    absl::Status s = db->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;");
    if (!s.ok()) return s;
    WarnIfNotPrivate(path);
  }
  return db;
}

SqliteDb::~SqliteDb() { sqlite3_close_v2(db_); }

absl::Status SqliteDb::Error(absl::string_view what, int rc) const {
  std::string msg = absl::StrCat(path_, ": ", what, ": ", sqlite3_errmsg(db_), " (",
                                 sqlite3_errstr(rc), ")");
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
      return absl::UnavailableError(msg);
    case SQLITE_CONSTRAINT:
      return absl::AlreadyExistsError(msg);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::DataLossError(msg);
    default:
      return absl::InternalError(msg);
  }
}

absl::Status SqliteDb::InTransaction(const std::function<absl::Status()>& body) {
  if (absl::Status begun = Exec("BEGIN IMMEDIATE"); !begun.ok()) return begun;
  absl::Status status = body();
  if (status.ok()) status = Exec("COMMIT");
  if (!status.ok()) Exec("ROLLBACK").IgnoreError();  // the failure above is what matters
  return status;
}

absl::Status SqliteDb::Exec(absl::string_view sql) {
  std::string copy(sql);
  char* err = nullptr;
  int rc = sqlite3_exec(db_, copy.c_str(), nullptr, nullptr, &err);
  sqlite3_free(err);
  if (rc != SQLITE_OK) return Error(absl::StrCat("exec \"", sql.substr(0, 60), "\""), rc);
  return absl::OkStatus();
}

absl::StatusOr<SqliteStatement> SqliteDb::Prepare(absl::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) return Error(absl::StrCat("prepare \"", sql.substr(0, 60), "\""), rc);
  return SqliteStatement(this, stmt);
}

int64_t SqliteDb::LastInsertRowId() const { return sqlite3_last_insert_rowid(db_); }

int64_t SqliteDb::Changes() const { return sqlite3_changes64(db_); }

SqliteStatement::SqliteStatement(SqliteStatement&& other) noexcept
    : db_(other.db_), stmt_(std::exchange(other.stmt_, nullptr)) {}

SqliteStatement& SqliteStatement::operator=(SqliteStatement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    db_ = other.db_;
    stmt_ = std::exchange(other.stmt_, nullptr);
  }
  return *this;
}

SqliteStatement::~SqliteStatement() { sqlite3_finalize(stmt_); }

SqliteStatement& SqliteStatement::Bind(int index, absl::string_view text) {
  sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  return *this;
}

SqliteStatement& SqliteStatement::Bind(int index, int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}

SqliteStatement& SqliteStatement::BindBlob(int index, absl::string_view bytes) {
  sqlite3_bind_blob(stmt_, index, bytes.data(), static_cast<int>(bytes.size()),
                    SQLITE_TRANSIENT);
  return *this;
}

SqliteStatement& SqliteStatement::BindBlobUncopied(int index, absl::string_view bytes) {
  sqlite3_bind_blob(stmt_, index, bytes.data(), static_cast<int>(bytes.size()), SQLITE_STATIC);
  return *this;
}

SqliteStatement& SqliteStatement::BindTextUncopied(int index, absl::string_view text) {
  sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
  return *this;
}

SqliteStatement& SqliteStatement::BindNull(int index) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}

absl::StatusOr<bool> SqliteStatement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  absl::Status error = db_->Error(absl::StrCat("step \"", sqlite3_sql(stmt_), "\""), rc);
  sqlite3_reset(stmt_);
  return error;
}

absl::Status SqliteStatement::Run() {
  absl::StatusOr<bool> row = Step();
  Reset();
  return row.status();
}

void SqliteStatement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

absl::string_view SqliteStatement::ColumnBlob(int index) const {
  const void* data = sqlite3_column_blob(stmt_, index);
  if (data == nullptr) return {};
  return absl::string_view(static_cast<const char*>(data), sqlite3_column_bytes(stmt_, index));
}

std::string SqliteStatement::ColumnText(int index) const {
  const unsigned char* text = sqlite3_column_text(stmt_, index);
  if (text == nullptr) return "";
  return std::string(reinterpret_cast<const char*>(text), sqlite3_column_bytes(stmt_, index));
}

int64_t SqliteStatement::ColumnInt(int index) const {
  return sqlite3_column_int64(stmt_, index);
}

bool SqliteStatement::ColumnIsNull(int index) const {
  return sqlite3_column_type(stmt_, index) == SQLITE_NULL;
}

}  // namespace onceonly
