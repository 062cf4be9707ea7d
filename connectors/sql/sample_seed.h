// Sample content for the permits and tax registries, derived from real enterprises (e.g. the
// KBO open data) so that demos and tests meet plausible, consistent records.
//
// Deterministic: every value derives from an FNV-1a hash of the enterprise number, and
// enterprises are processed in number order, so the same set of enterprises gives the same
// rows whatever the input order, on any machine. Dates are relative to a fixed reference
// day (kSampleReferenceDay), never to the clock.
#ifndef ONCEONLY_CONNECTORS_SQL_SAMPLE_SEED_H_
#define ONCEONLY_CONNECTORS_SQL_SAMPLE_SEED_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "onceonly/registry/v1/registry.pb.h"

namespace onceonly {

// "Today" for the sample data: granted permits are valid then, expired ones are not.
inline constexpr absl::string_view kSampleReferenceDay = "2025-10-01";

struct SeedSummary {
  int64_t enterprises = 0;  // enterprises read
  int64_t tax_rows = 0;     // tax_status rows written (one per enterprise)
  int64_t permits = 0;      // permit rows written
};

class SqliteDb;
class SqlRegistryWriter;
class ReferenceBook;

// Replaces the content of both registries in `db_path` (created with its schema if missing)
// with sample data for `enterprises`, in one transaction: on error nothing changes.
//
// Each enterprise gets a tax_status row: a VAT number "BE" + its 10 digits (every legal
// person, most natural persons), ~85 % in good standing, the others with positive overdue
// amounts. Enterprises whose registered seat (address type REGO) has a Brussels postcode
// (1000-1210) get 1-3 permits (environmental from Brussels Environment, sometimes urban
// planning from urban.brussels) at that address; others get one ~10 % of the time, at a
// Brussels establishment unit if they have one, else at their seat.
//
// INVALID_ARGUMENT if an enterprise number is not canonical or appears twice; UNAVAILABLE /
// INTERNAL if SQLite fails.
absl::StatusOr<SeedSummary> SeedSampleRegistries(
    const std::vector<registry::v1::Enterprise>& enterprises, const std::string& db_path);

// The same, streamed: enterprises are added one at a time in increasing number order, so a
// national register is seeded in bounded memory. Nothing is visible before Finish(); a
// seeder destroyed unfinished rolls back. Each enterprise needs what
// KboStore::ListEnterpriseSummaries fills: number, type and form codes, start date, addresses.
class SampleRegistrySeeder {
 public:
  static absl::StatusOr<std::unique_ptr<SampleRegistrySeeder>> Begin(const std::string& db_path);
  ~SampleRegistrySeeder();
  // INVALID_ARGUMENT if the number is not canonical or not above the previous one.
  absl::Status Add(const registry::v1::Enterprise& enterprise);
  absl::StatusOr<SeedSummary> Finish();

 private:
  SampleRegistrySeeder(std::unique_ptr<SqliteDb> db, std::unique_ptr<SqlRegistryWriter> writer);
  std::unique_ptr<SqliteDb> db_;
  std::unique_ptr<SqlRegistryWriter> writer_;
  std::unique_ptr<ReferenceBook> references_;
  std::vector<registry::v1::Permit> permits_;
  std::string last_number_;
  SeedSummary summary_;
  bool finished_ = false;
};

}  // namespace onceonly

#endif  // ONCEONLY_CONNECTORS_SQL_SAMPLE_SEED_H_
