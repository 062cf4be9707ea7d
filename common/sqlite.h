// Thin RAII wrapper over the SQLite C API: a connection and prepared statements that report
// errors as absl::Status with the database path and the SQLite message.
//
// Not thread-safe: one SqliteDb per thread, or guard it. SQLite itself is built threadsafe.
#ifndef ONCEONLY_COMMON_SQLITE_H_
#define ONCEONLY_COMMON_SQLITE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

struct sqlite3;
struct sqlite3_stmt;

namespace onceonly {

class SqliteStatement;

class SqliteDb {
 public:
  enum class Mode { kReadOnly, kReadWrite, kReadWriteCreate };

  // Opens `path`. Read-write connections use WAL and synchronous=FULL, so a committed
  // transaction survives a crash or power loss. kReadWriteCreate creates a missing database
  // 0600, whatever the umask (its -wal, -shm and -journal files take the same mode). A
  // read-write open of a database that others can read prints one JSON line on stderr per
  // process and path ("event":"database_not_private", see CheckDatabaseIsPrivate) and goes on.
  static absl::StatusOr<std::unique_ptr<SqliteDb>> Open(const std::string& path, Mode mode);
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  // Runs one or more statements that return no rows.
  absl::Status Exec(absl::string_view sql);
  // BEGIN IMMEDIATE, `body`, COMMIT; ROLLBACK if either fails (the first error is returned).
  absl::Status InTransaction(const std::function<absl::Status()>& body);
  absl::StatusOr<SqliteStatement> Prepare(absl::string_view sql);
  int64_t LastInsertRowId() const;
  // Rows changed by the last INSERT, UPDATE or DELETE.
  int64_t Changes() const;
  const std::string& path() const { return path_; }
  sqlite3* raw() { return db_; }

  // An error status carrying the connection's last SQLite message and `what`.
  absl::Status Error(absl::string_view what, int rc) const;

 private:
  SqliteDb(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_;
  std::string path_;
};

// OK if only its owner can read or write the database at `path` and those of its -wal, -shm
// and -journal files that exist; FAILED_PRECONDITION naming the first other one, its mode and
// the chmod that fixes it.
absl::Status CheckDatabaseIsPrivate(const std::string& path);

// A prepared statement. Bind with 1-based indexes, then Step() until it returns false.
class SqliteStatement {
 public:
  SqliteStatement(SqliteStatement&& other) noexcept;
  SqliteStatement& operator=(SqliteStatement&& other) noexcept;
  ~SqliteStatement();

  SqliteStatement& Bind(int index, absl::string_view text);
  SqliteStatement& Bind(int index, int64_t value);
  SqliteStatement& BindBlob(int index, absl::string_view bytes);
  // Binds without copying: `bytes` must stay alive and unchanged until the statement is
  // reset or the parameter rebound (hot loops over caller-owned buffers).
  SqliteStatement& BindBlobUncopied(int index, absl::string_view bytes);
  SqliteStatement& BindTextUncopied(int index, absl::string_view text);
  SqliteStatement& BindNull(int index);

  // True if a row is ready, false when done; an error status otherwise.
  absl::StatusOr<bool> Step();
  // Step() for statements that return no rows, then Reset().
  absl::Status Run();
  // Makes the statement ready to run again; keeps no bindings.
  void Reset();

  std::string ColumnText(int index) const;  // 0-based; "" for NULL
  // The column's bytes, valid until the next Step() or Reset(); empty for NULL.
  absl::string_view ColumnBlob(int index) const;
  int64_t ColumnInt(int index) const;
  bool ColumnIsNull(int index) const;

 private:
  friend class SqliteDb;
  SqliteStatement(SqliteDb* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  SqliteDb* db_;
  sqlite3_stmt* stmt_;
};

// Steps `stmt` to its end, calling `row(stmt)` for each row and stopping at the first error
// (of a step or of `row`); resets it whatever happened, so that it can run again.
template <typename RowFn>
absl::Status ForEachRow(SqliteStatement& stmt, RowFn row) {
  absl::Status status;
  while (true) {
    absl::StatusOr<bool> has_row = stmt.Step();
    if (!has_row.ok()) {
      status = has_row.status();
      break;
    }
    if (!*has_row) break;
    status = row(stmt);
    if (!status.ok()) break;
  }
  stmt.Reset();
  return status;
}

}  // namespace onceonly

#endif  // ONCEONLY_COMMON_SQLITE_H_
