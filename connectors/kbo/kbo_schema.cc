#include "connectors/kbo/kbo_schema.h"

#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "connectors/kbo/kbo_search.h"

namespace onceonly {
namespace {

constexpr char kTables[] = R"sql(
CREATE TABLE IF NOT EXISTS code (
  category TEXT NOT NULL,
  code TEXT NOT NULL,
  language TEXT NOT NULL,
  description TEXT NOT NULL,
  PRIMARY KEY (category, code, language)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS enterprise (
  enterprise_number TEXT PRIMARY KEY NOT NULL,
  status TEXT NOT NULL,
  juridical_situation TEXT NOT NULL,
  type_of_enterprise TEXT NOT NULL,
  juridical_form TEXT NOT NULL,
  juridical_form_cac TEXT NOT NULL,
  start_date TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS establishment (
  establishment_number TEXT PRIMARY KEY NOT NULL,
  start_date TEXT NOT NULL,
  enterprise_number TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS denomination (
  entity_number TEXT NOT NULL,
  language TEXT NOT NULL,
  type TEXT NOT NULL,
  value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS address (
  entity_number TEXT NOT NULL,
  type TEXT NOT NULL,
  country_nl TEXT NOT NULL,
  country_fr TEXT NOT NULL,
  zipcode TEXT NOT NULL,
  municipality_nl TEXT NOT NULL,
  municipality_fr TEXT NOT NULL,
  street_nl TEXT NOT NULL,
  street_fr TEXT NOT NULL,
  house_number TEXT NOT NULL,
  box TEXT NOT NULL,
  extra_address_info TEXT NOT NULL,
  date_striking_off TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS contact (
  entity_number TEXT NOT NULL,
  entity_contact TEXT NOT NULL,
  contact_type TEXT NOT NULL,
  value TEXT NOT NULL
);
-- One row per run of consecutive activity.csv rows of one entity, its activities packed
-- (EncodeActivity): a full extract has ~19 activities per enterprise, and 36 M rows with
-- their index cost more to load and to read than 3.5 M runs. An entity whose rows are not
-- consecutive in the file has several runs, read in rowid order.
CREATE TABLE IF NOT EXISTS activity_run (
  entity_number TEXT NOT NULL,
  activity_count INTEGER NOT NULL,
  activities TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS branch (
  id TEXT PRIMARY KEY NOT NULL,
  start_date TEXT NOT NULL,
  enterprise_number TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS extract_history (
  extract_number INTEGER NOT NULL,
  extract_type TEXT NOT NULL,
  snapshot_date TEXT NOT NULL,
  extract_timestamp TEXT NOT NULL,
  imported_at TEXT NOT NULL
);
)sql";

constexpr char kCreateIndexes[] = R"sql(
CREATE INDEX IF NOT EXISTS establishment_by_enterprise ON establishment(enterprise_number);
CREATE INDEX IF NOT EXISTS branch_by_enterprise ON branch(enterprise_number);
CREATE INDEX IF NOT EXISTS denomination_by_entity ON denomination(entity_number);
CREATE INDEX IF NOT EXISTS address_by_entity ON address(entity_number);
CREATE INDEX IF NOT EXISTS contact_by_entity ON contact(entity_number);
CREATE INDEX IF NOT EXISTS activity_run_by_entity ON activity_run(entity_number);
)sql";

constexpr char kDropIndexes[] = R"sql(
DROP INDEX IF EXISTS establishment_by_enterprise;
DROP INDEX IF EXISTS branch_by_enterprise;
DROP INDEX IF EXISTS denomination_by_entity;
DROP INDEX IF EXISTS address_by_entity;
DROP INDEX IF EXISTS contact_by_entity;
DROP INDEX IF EXISTS activity_run_by_entity;
)sql";

}  // namespace

absl::Status CreateKboSchema(SqliteDb& db) {
  absl::Status status = db.Exec(kTables);
  if (!status.ok()) return status;
  status = CreateKboSearchIndex(db);
  if (!status.ok()) return status;
  return CreateKboIndexes(db);
}

absl::Status DropKboIndexes(SqliteDb& db) { return db.Exec(kDropIndexes); }

absl::Status CreateKboIndexes(SqliteDb& db) { return db.Exec(kCreateIndexes); }

bool ActivityFieldEncodable(absl::string_view value) {
  return value.find_first_of(absl::string_view("\x1e\x1f", 2)) == absl::string_view::npos;
}

void EncodeActivity(const KboActivity& activity, std::string* run) {
  absl::StrAppend(run, activity.group, "\x1f", activity.nace_version, "\x1f",
                  activity.nace_code, "\x1f", activity.classification, "\x1e");
}

absl::Status ForEachActivity(absl::string_view run,
                             const std::function<absl::Status(const KboActivity&)>& fn) {
  for (absl::string_view record : absl::StrSplit(run, '\x1e', absl::SkipEmpty())) {
    std::vector<absl::string_view> fields = absl::StrSplit(record, '\x1f');
    if (fields.size() != 4) {
      return absl::DataLossError(absl::StrCat("activity_run holds a malformed activity \"",
                                              absl::CHexEscape(record), "\""));
    }
    RETURN_IF_ERROR(fn(KboActivity{fields[0], fields[1], fields[2], fields[3]}));
  }
  return absl::OkStatus();
}

std::string ActivityRunNeedle(absl::string_view nace_code) {
  return absl::StrCat("\x1f", nace_code, "\x1f");
}

}  // namespace onceonly
