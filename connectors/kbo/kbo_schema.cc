#include "connectors/kbo/kbo_schema.h"

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
CREATE TABLE IF NOT EXISTS activity (
  entity_number TEXT NOT NULL,
  activity_group TEXT NOT NULL,
  nace_version TEXT NOT NULL,
  nace_code TEXT NOT NULL,
  classification TEXT NOT NULL
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
-- nace_code too: SearchEnterprises matches NACE codes on this index alone, without reading
-- the activity rows.
CREATE INDEX IF NOT EXISTS activity_by_entity ON activity(entity_number, nace_code);
)sql";

constexpr char kDropIndexes[] = R"sql(
DROP INDEX IF EXISTS establishment_by_enterprise;
DROP INDEX IF EXISTS branch_by_enterprise;
DROP INDEX IF EXISTS denomination_by_entity;
DROP INDEX IF EXISTS address_by_entity;
DROP INDEX IF EXISTS contact_by_entity;
DROP INDEX IF EXISTS activity_by_entity;
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

}  // namespace onceonly
