// The SQLite schema that holds a KBO/BCE open-data snapshot. Written by ImportKboExtract,
// read by KboStore. Dates are ISO "yyyy-mm-dd"; entity numbers are in KBO's dotted form.
#ifndef ONCEONLY_CONNECTORS_KBO_KBO_SCHEMA_H_
#define ONCEONLY_CONNECTORS_KBO_KBO_SCHEMA_H_

#include "absl/status/status.h"
#include "common/sqlite.h"

namespace onceonly {

// Creates the tables (and indexes, and the empty search index of kbo_search.h) that are
// missing; leaves existing data alone.
absl::Status CreateKboSchema(SqliteDb& db);

// The secondary indexes. A full import drops them, bulk-loads, and builds them again, all in
// its transaction.
absl::Status DropKboIndexes(SqliteDb& db);
absl::Status CreateKboIndexes(SqliteDb& db);

}  // namespace onceonly

#endif  // ONCEONLY_CONNECTORS_KBO_KBO_SCHEMA_H_
