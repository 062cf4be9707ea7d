// The SQLite schema that holds a KBO/BCE open-data snapshot. Written by ImportKboExtract,
// read by KboStore. Dates are ISO "yyyy-mm-dd"; entity numbers are in KBO's dotted form.
#ifndef ONCEONLY_CONNECTORS_KBO_KBO_SCHEMA_H_
#define ONCEONLY_CONNECTORS_KBO_KBO_SCHEMA_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/sqlite.h"

namespace onceonly {

// Creates the tables (and indexes, and the empty search index of kbo_search.h) that are
// missing; leaves existing data alone.
absl::Status CreateKboSchema(SqliteDb& db);

// The secondary indexes. A full import drops them, bulk-loads, and builds them again, all in
// its transaction.
absl::Status DropKboIndexes(SqliteDb& db);
absl::Status CreateKboIndexes(SqliteDb& db);

// One activity.csv row without its entity, as activity_run.activities packs it: fields
// separated by \x1f, each activity ended by \x1e. The fields are code.csv codes.
struct KboActivity {
  absl::string_view group;
  absl::string_view nace_version;
  absl::string_view nace_code;
  absl::string_view classification;
};
// Whether `value` can be packed: it holds neither separator.
bool ActivityFieldEncodable(absl::string_view value);
void EncodeActivity(const KboActivity& activity, std::string* run);
// Calls `fn` for each activity of `run`, in order; DATA_LOSS if `run` is malformed.
absl::Status ForEachActivity(absl::string_view run,
                             const std::function<absl::Status(const KboActivity&)>& fn);
// What `instr(activities, needle)` finds only in runs holding NACE code `nace_code`: a
// version has 4 digits and a code 5 or 7, so between separators they cannot be confused.
std::string ActivityRunNeedle(absl::string_view nace_code);

}  // namespace onceonly

#endif  // ONCEONLY_CONNECTORS_KBO_KBO_SCHEMA_H_
