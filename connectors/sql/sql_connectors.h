// RegistryConnectors for the two sample registries kept in SQLite: permits and tax. The
// database is produced by `onceonly registry seed` (sample_seed.h); both connectors may point
// at the same file.
//
// Thread-safe: each connector owns a small pool of read-only connections, each with its
// statements prepared once; concurrent Fetch calls take distinct connections.
#ifndef ONCEONLY_CONNECTORS_SQL_SQL_CONNECTORS_H_
#define ONCEONLY_CONNECTORS_SQL_SQL_CONNECTORS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "connectors/registry_connector.h"
#include "connectors/sql/reader_pool.h"
#include "connectors/sql/sql_registry_store.h"
#include "onceonly/registry/v1/registry.pb.h"

namespace onceonly {

inline constexpr int kDefaultSqlRegistryConnections = 4;

// The permits registry. Fetch fills SubjectRecords.permits with every permit of the holder,
// pending applications first, then newest issue date first; an enterprise with no permits
// gets OK and an empty list.
//
// Errors: INVALID_ARGUMENT if the number is not canonical; DEADLINE_EXCEEDED if the deadline
// has passed before the query starts (or while waiting for a connection); DATA_LOSS naming
// table, key and column if a stored row is invalid; UNAVAILABLE if SQLite cannot read.
class PermitConnector final : public RegistryConnector {
 public:
  // Opens `db_path` read-only. FAILED_PRECONDITION naming the file and telling to run
  // `onceonly registry seed` if the file or the permit table is missing.
  static absl::StatusOr<std::unique_ptr<PermitConnector>> Create(
      const std::string& db_path, int connections = kDefaultSqlRegistryConnections);

  absl::string_view name() const override { return "permits"; }
  absl::StatusOr<registry::v1::SubjectRecords> Fetch(const FetchRequest& request) override;

 private:
  explicit PermitConnector(std::unique_ptr<ReaderPool<PermitReader>> pool)
      : pool_(std::move(pool)) {}

  const std::unique_ptr<ReaderPool<PermitReader>> pool_;
};

// The tax registry. Fetch fills SubjectRecords.tax_status (VAT registration if any, good
// standing, details). NOT_FOUND naming the number if the registry does not know the
// enterprise; other errors as for PermitConnector.
class TaxConnector final : public RegistryConnector {
 public:
  // As PermitConnector::Create, for the tax_status table.
  static absl::StatusOr<std::unique_ptr<TaxConnector>> Create(
      const std::string& db_path, int connections = kDefaultSqlRegistryConnections);

  absl::string_view name() const override { return "tax"; }
  absl::StatusOr<registry::v1::SubjectRecords> Fetch(const FetchRequest& request) override;

 private:
  explicit TaxConnector(std::unique_ptr<ReaderPool<TaxStatusReader>> pool)
      : pool_(std::move(pool)) {}

  const std::unique_ptr<ReaderPool<TaxStatusReader>> pool_;
};

}  // namespace onceonly

#endif  // ONCEONLY_CONNECTORS_SQL_SQL_CONNECTORS_H_
