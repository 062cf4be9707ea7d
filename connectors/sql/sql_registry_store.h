// The SQLite layout of the two sample registries (permits, tax) and typed access to it.
//
// One database file may hold both tables, or each registry its own file. Rows are validated
// when read: a stored value outside its domain (unknown kind or status, malformed date,
// negative amount) is DATA_LOSS naming the table, key and column, never a crash or a
// silently defaulted proto field. Rows are also validated before they are written.
//
// Not thread-safe, like the SqliteDb they wrap: one reader per connection, used by one
// thread at a time (sql_connectors.h pools them).
#ifndef ONCEONLY_CONNECTORS_SQL_SQL_REGISTRY_STORE_H_
#define ONCEONLY_CONNECTORS_SQL_SQL_REGISTRY_STORE_H_

#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/sqlite.h"
#include "onceonly/registry/v1/registry.pb.h"

namespace onceonly {

// Table names, for messages and tests.
inline constexpr absl::string_view kPermitTable = "permit";
inline constexpr absl::string_view kTaxStatusTable = "tax_status";

// Creates the `permit` and `tax_status` tables and their indexes if missing.
absl::Status CreateRegistrySchema(SqliteDb& db);

// FAILED_PRECONDITION naming the file and telling to run `onceonly registry seed` if `table`
// is missing from `db` or lacks a column the readers need.
absl::Status CheckRegistryTable(SqliteDb& db, absl::string_view table);

// Writes rows of both registries through statements prepared once. The caller owns the
// transaction (BEGIN/COMMIT on `db`). `db` must outlive the writer.
class SqlRegistryWriter {
 public:
  // Creates the schema if missing and prepares the statements.
  static absl::StatusOr<std::unique_ptr<SqlRegistryWriter>> Create(SqliteDb* db);

  // Empties both tables.
  absl::Status DeleteAll();
  // INVALID_ARGUMENT if the permit has no reference or holder, an unspecified kind or
  // status, a bad environment class, a non-ISO date, or a covered entry with a newline;
  // ALREADY_EXISTS if the reference is taken.
  absl::Status InsertPermit(const registry::v1::Permit& permit);
  // INVALID_ARGUMENT if the number is empty, a date is not ISO or an amount is negative.
  absl::Status InsertTaxStatus(const registry::v1::TaxStatus& tax_status);

 private:
  SqlRegistryWriter(SqliteStatement delete_permits, SqliteStatement delete_tax,
                    SqliteStatement insert_permit, SqliteStatement insert_tax);

  SqliteStatement delete_permits_;
  SqliteStatement delete_tax_;
  SqliteStatement insert_permit_;
  SqliteStatement insert_tax_;
};

// Reads the permits registry. `db` must outlive the reader.
class PermitReader {
 public:
  // FAILED_PRECONDITION (see CheckRegistryTable) if the schema is not there.
  static absl::StatusOr<std::unique_ptr<PermitReader>> Create(SqliteDb* db);

  // Every permit of the holder: pending applications (no issue date yet) first, then by
  // issue date, newest first; ties by reference, descending. Empty if none. DATA_LOSS if a
  // stored row is invalid.
  absl::StatusOr<std::vector<registry::v1::Permit>> ListByHolder(
      absl::string_view holder_enterprise_number);

 private:
  PermitReader(SqliteDb* db, SqliteStatement list) : db_(db), list_(std::move(list)) {}

  SqliteDb* const db_;
  SqliteStatement list_;
};

// Reads the tax registry. `db` must outlive the reader.
class TaxStatusReader {
 public:
  // FAILED_PRECONDITION (see CheckRegistryTable) if the schema is not there.
  static absl::StatusOr<std::unique_ptr<TaxStatusReader>> Create(SqliteDb* db);

  // NOT_FOUND naming the number if the registry has no row for it; DATA_LOSS if the row is
  // invalid.
  absl::StatusOr<registry::v1::TaxStatus> Get(absl::string_view enterprise_number);

 private:
  TaxStatusReader(SqliteDb* db, SqliteStatement get) : db_(db), get_(std::move(get)) {}

  SqliteDb* const db_;
  SqliteStatement get_;
};

}  // namespace onceonly

#endif  // ONCEONLY_CONNECTORS_SQL_SQL_REGISTRY_STORE_H_
