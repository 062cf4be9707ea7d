// An order-independent fingerprint of the KBO data in a database, so that a generated
// extract (which knows what it wrote) and an imported database (which knows what it holds)
// can be compared without either side sorting or holding its rows.
//
// Per table: the row count and the sum mod 2^64 of a 64-bit row hash (the first 8 bytes of
// SHA-256 over the stored column values, joined by 0x1F). Sums can be added to and
// subtracted from, which is how an update extract predicts the state after it is applied.
// Covers enterprise, establishment, denomination, address, contact, activity and branch, with
// values as the importer stores them (dates ISO); code and extract_history are left out.
#ifndef ONCEONLY_CONNECTORS_KBO_KBO_DIGEST_H_
#define ONCEONLY_CONNECTORS_KBO_KBO_DIGEST_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/sqlite.h"

namespace onceonly {

enum class KboTable {
  kEnterprise,
  kEstablishment,
  kDenomination,
  kAddress,
  kContact,
  kActivity,
  kBranch
};
inline constexpr int kKboTableCount = 7;

struct KboTableInfo {
  const char* name;                      // SQL table, also the CSV file stem
  std::vector<const char*> sql_columns;  // schema order = CSV order
};
// The covered tables, indexed by KboTable.
const std::array<KboTableInfo, kKboTableCount>& KboTables();

struct KboTableDigest {
  int64_t rows = 0;
  uint64_t sum = 0;  // of the row hashes, mod 2^64
};

class KboDigest {
 public:
  // `values` are one row's stored column values in schema order.
  void AddRow(KboTable table, const std::vector<absl::string_view>& values);
  void RemoveRow(KboTable table, const std::vector<absl::string_view>& values);

  const KboTableDigest& table(KboTable table) const { return tables_[Index(table)]; }
  void set_table(KboTable table, const KboTableDigest& digest) { tables_[Index(table)] = digest; }
  int64_t enterprises() const { return table(KboTable::kEnterprise).rows; }

  // 64 hex digits: SHA-256 over every table's name, row count and sum.
  std::string Hex() const;

  bool operator==(const KboDigest& other) const { return Hex() == other.Hex(); }

 private:
  static int Index(KboTable table) { return static_cast<int>(table); }
  uint64_t RowHash(const std::vector<absl::string_view>& values);

  std::array<KboTableDigest, kKboTableCount> tables_{};
  std::string scratch_;  // reused join buffer
};

// The digest of the KBO tables in `db`. FAILED_PRECONDITION naming the database if it holds
// no KBO data (a table is missing).
absl::StatusOr<KboDigest> KboContentDigest(SqliteDb& db);

}  // namespace onceonly

#endif  // ONCEONLY_CONNECTORS_KBO_KBO_DIGEST_H_
