#include "connectors/sql/sql_registry_store.h"

#include <set>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "common/status_macros.h"

namespace onceonly {
namespace {

using registry::v1::Permit;
using registry::v1::PermitKind;
using registry::v1::PermitStatus;
using registry::v1::TaxStatus;

// CHECK constraints mirror the read-side validation, so a writer other than ours cannot
// store what the readers would reject; the readers validate anyway (files get edited).
constexpr absl::string_view kSchema = R"sql(
CREATE TABLE IF NOT EXISTS permit (
  reference TEXT PRIMARY KEY NOT NULL CHECK (reference <> ''),
  kind TEXT NOT NULL CHECK (kind IN ('environment', 'urbanism')),
  environment_class TEXT NOT NULL DEFAULT '',
  holder_enterprise_number TEXT NOT NULL CHECK (holder_enterprise_number <> ''),
  establishment_number TEXT NOT NULL DEFAULT '',
  zipcode TEXT NOT NULL DEFAULT '',
  municipality_nl TEXT NOT NULL DEFAULT '',
  municipality_fr TEXT NOT NULL DEFAULT '',
  street_nl TEXT NOT NULL DEFAULT '',
  street_fr TEXT NOT NULL DEFAULT '',
  house_number TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL
    CHECK (status IN ('applied', 'granted', 'refused', 'expired', 'withdrawn')),
  issue_date TEXT NOT NULL DEFAULT '',
  expiry_date TEXT NOT NULL DEFAULT '',
  covered TEXT NOT NULL DEFAULT '',
  authority TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS permit_by_holder ON permit (holder_enterprise_number);
CREATE TABLE IF NOT EXISTS tax_status (
  enterprise_number TEXT PRIMARY KEY NOT NULL CHECK (enterprise_number <> ''),
  vat_number TEXT NOT NULL DEFAULT '',
  vat_status TEXT NOT NULL DEFAULT '' CHECK (vat_status IN ('', 'active', 'ceased')),
  vat_since TEXT NOT NULL DEFAULT '',
  in_good_standing INTEGER NOT NULL CHECK (in_good_standing IN (0, 1)),
  good_standing_established_on TEXT NOT NULL DEFAULT '',
  overdue_tax_cents INTEGER NOT NULL DEFAULT 0 CHECK (overdue_tax_cents >= 0),
  overdue_social_security_cents INTEGER NOT NULL DEFAULT 0
    CHECK (overdue_social_security_cents >= 0),
  assessed_on TEXT NOT NULL DEFAULT ''
);
)sql";

const std::vector<std::string>& PermitColumns() {
  static const auto* columns = new std::vector<std::string>{"reference",
                                                            "kind",
                                                            "environment_class",
                                                            "holder_enterprise_number",
                                                            "establishment_number",
                                                            "zipcode",
                                                            "municipality_nl",
                                                            "municipality_fr",
                                                            "street_nl",
                                                            "street_fr",
                                                            "house_number",
                                                            "status",
                                                            "issue_date",
                                                            "expiry_date",
                                                            "covered",
                                                            "authority"};
  return *columns;
}

const std::vector<std::string>& TaxColumns() {
  static const auto* columns =
      new std::vector<std::string>{"enterprise_number", "vat_number",
                                   "vat_status",        "vat_since",
                                   "in_good_standing",  "good_standing_established_on",
                                   "overdue_tax_cents", "overdue_social_security_cents",
                                   "assessed_on"};
  return *columns;
}

// Pending applications (no decision date) first, then newest decision first.
constexpr absl::string_view kListPermits =
    "SELECT reference, kind, environment_class, holder_enterprise_number, "
    "establishment_number, zipcode, municipality_nl, municipality_fr, street_nl, street_fr, "
    "house_number, status, issue_date, expiry_date, covered, authority FROM permit "
    "WHERE holder_enterprise_number = ?1 "
    "ORDER BY issue_date = '' DESC, issue_date DESC, reference DESC";

// typeof() lets the reader tell a stored 0 from text that SQLite would coerce to 0.
constexpr absl::string_view kGetTax =
    "SELECT enterprise_number, vat_number, vat_status, vat_since, in_good_standing, "
    "good_standing_established_on, overdue_tax_cents, overdue_social_security_cents, "
    "assessed_on, typeof(in_good_standing), typeof(overdue_tax_cents), "
    "typeof(overdue_social_security_cents) FROM tax_status WHERE enterprise_number = ?1";

constexpr absl::string_view kInsertPermit =
    "INSERT INTO permit (reference, kind, environment_class, holder_enterprise_number, "
    "establishment_number, zipcode, municipality_nl, municipality_fr, street_nl, street_fr, "
    "house_number, status, issue_date, expiry_date, covered, authority) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)";

constexpr absl::string_view kInsertTax =
    "INSERT INTO tax_status (enterprise_number, vat_number, vat_status, vat_since, "
    "in_good_standing, good_standing_established_on, overdue_tax_cents, "
    "overdue_social_security_cents, assessed_on) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";

absl::string_view KindText(PermitKind kind) {
  switch (kind) {
    case registry::v1::PERMIT_KIND_ENVIRONMENT:
      return "environment";
    case registry::v1::PERMIT_KIND_URBANISM:
      return "urbanism";
    default:
      return "";
  }
}

PermitKind KindFromText(absl::string_view text) {
  if (text == "environment") return registry::v1::PERMIT_KIND_ENVIRONMENT;
  if (text == "urbanism") return registry::v1::PERMIT_KIND_URBANISM;
  return registry::v1::PERMIT_KIND_UNSPECIFIED;
}

absl::string_view StatusText(PermitStatus status) {
  switch (status) {
    case registry::v1::PERMIT_STATUS_APPLIED:
      return "applied";
    case registry::v1::PERMIT_STATUS_GRANTED:
      return "granted";
    case registry::v1::PERMIT_STATUS_REFUSED:
      return "refused";
    case registry::v1::PERMIT_STATUS_EXPIRED:
      return "expired";
    case registry::v1::PERMIT_STATUS_WITHDRAWN:
      return "withdrawn";
    default:
      return "";
  }
}

PermitStatus StatusFromText(absl::string_view text) {
  if (text == "applied") return registry::v1::PERMIT_STATUS_APPLIED;
  if (text == "granted") return registry::v1::PERMIT_STATUS_GRANTED;
  if (text == "refused") return registry::v1::PERMIT_STATUS_REFUSED;
  if (text == "expired") return registry::v1::PERMIT_STATUS_EXPIRED;
  if (text == "withdrawn") return registry::v1::PERMIT_STATUS_WITHDRAWN;
  return registry::v1::PERMIT_STATUS_UNSPECIFIED;
}

bool IsEnvironmentClass(absl::string_view text) {
  return text == "1A" || text == "1B" || text == "1C" || text == "1D" || text == "2" || text == "3";
}

// "" or a real calendar date written yyyy-mm-dd.
bool IsIsoDateOrEmpty(absl::string_view text) {
  if (text.empty()) return true;
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(text[i]))) return false;
  }
  absl::CivilDay day;
  return absl::ParseCivilTime(text, &day) && absl::FormatCivilTime(day) == text;
}

bool IsVatNumberOrEmpty(absl::string_view text) {
  if (text.empty()) return true;
  if (text.size() != 12 || text.substr(0, 2) != "BE") return false;
  for (char c : text.substr(2)) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

std::string Quoted(absl::string_view text) { return absl::StrCat("\"", text, "\""); }

absl::Status Corrupt(const SqliteDb& db, absl::string_view table, absl::string_view key,
                     absl::string_view column, absl::string_view problem) {
  return absl::DataLossError(absl::StrCat(db.path(), ": table ", table, ", row ", Quoted(key),
                                          ", column ", column, ": ", problem));
}

absl::Status Invalid(absl::string_view table, absl::string_view key, absl::string_view column,
                     absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("cannot store into table ", table, " row ",
                                                 Quoted(key), ": column ", column, ": ", problem));
}

std::string FixHint(const SqliteDb& db) {
  return absl::StrCat("run `onceonly registry seed` to create the sample registries in ",
                      db.path());
}

absl::Status ValidatePermitForWrite(const Permit& p) {
  const std::string& key = p.reference();
  if (p.reference().empty()) return Invalid(kPermitTable, key, "reference", "empty");
  if (KindText(p.kind()).empty()) {
    return Invalid(kPermitTable, key, "kind", "unspecified or unknown kind");
  }
  if (p.kind() == registry::v1::PERMIT_KIND_ENVIRONMENT &&
      !IsEnvironmentClass(p.environment_class())) {
    return Invalid(
        kPermitTable, key, "environment_class",
        absl::StrCat(Quoted(p.environment_class()), " is not one of 1A, 1B, 1C, 1D, 2, 3"));
  }
  if (p.kind() == registry::v1::PERMIT_KIND_URBANISM && !p.environment_class().empty()) {
    return Invalid(kPermitTable, key, "environment_class", "must be empty for urbanism");
  }
  if (p.holder_enterprise_number().empty()) {
    return Invalid(kPermitTable, key, "holder_enterprise_number", "empty");
  }
  if (StatusText(p.status()).empty()) {
    return Invalid(kPermitTable, key, "status", "unspecified or unknown status");
  }
  if (!IsIsoDateOrEmpty(p.issue_date())) {
    return Invalid(kPermitTable, key, "issue_date", Quoted(p.issue_date()));
  }
  if (!IsIsoDateOrEmpty(p.expiry_date())) {
    return Invalid(kPermitTable, key, "expiry_date", Quoted(p.expiry_date()));
  }
  for (const std::string& entry : p.covered()) {
    if (entry.empty() || entry.find('\n') != std::string::npos) {
      return Invalid(kPermitTable, key, "covered", "entries must be non-empty and hold no newline");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateTaxForWrite(const TaxStatus& t) {
  const std::string& key = t.enterprise_number();
  if (key.empty()) return Invalid(kTaxStatusTable, key, "enterprise_number", "empty");
  if (!IsVatNumberOrEmpty(t.vat().vat_number())) {
    return Invalid(kTaxStatusTable, key, "vat_number", Quoted(t.vat().vat_number()));
  }
  const std::string& vat_status = t.vat().status();
  if (!(vat_status.empty() || vat_status == "active" || vat_status == "ceased")) {
    return Invalid(kTaxStatusTable, key, "vat_status", Quoted(vat_status));
  }
  if (!IsIsoDateOrEmpty(t.vat().since())) {
    return Invalid(kTaxStatusTable, key, "vat_since", Quoted(t.vat().since()));
  }
  if (!IsIsoDateOrEmpty(t.good_standing().established_on())) {
    return Invalid(kTaxStatusTable, key, "good_standing_established_on",
                   Quoted(t.good_standing().established_on()));
  }
  if (!IsIsoDateOrEmpty(t.details().assessed_on())) {
    return Invalid(kTaxStatusTable, key, "assessed_on", Quoted(t.details().assessed_on()));
  }
  if (t.details().overdue_tax_cents() < 0) {
    return Invalid(kTaxStatusTable, key, "overdue_tax_cents", "negative");
  }
  if (t.details().overdue_social_security_cents() < 0) {
    return Invalid(kTaxStatusTable, key, "overdue_social_security_cents", "negative");
  }
  return absl::OkStatus();
}

absl::StatusOr<Permit> PermitFromRow(const SqliteDb& db, const SqliteStatement& row) {
  Permit p;
  p.set_reference(row.ColumnText(0));
  const std::string& key = p.reference();
  std::string kind = row.ColumnText(1);
  p.set_kind(KindFromText(kind));
  if (p.kind() == registry::v1::PERMIT_KIND_UNSPECIFIED) {
    return Corrupt(
        db, kPermitTable, key, "kind",
        absl::StrCat("unknown kind ", Quoted(kind), " (expected environment or urbanism)"));
  }
  p.set_environment_class(row.ColumnText(2));
  if (p.kind() == registry::v1::PERMIT_KIND_ENVIRONMENT &&
      !IsEnvironmentClass(p.environment_class())) {
    return Corrupt(db, kPermitTable, key, "environment_class",
                   absl::StrCat("unknown class ", Quoted(p.environment_class()),
                                " (expected 1A, 1B, 1C, 1D, 2 or 3)"));
  }
  if (p.kind() == registry::v1::PERMIT_KIND_URBANISM && !p.environment_class().empty()) {
    return Corrupt(db, kPermitTable, key, "environment_class",
                   absl::StrCat(Quoted(p.environment_class()), " on an urbanism permit"));
  }
  p.set_holder_enterprise_number(row.ColumnText(3));
  p.set_establishment_number(row.ColumnText(4));
  registry::v1::Address* address = p.mutable_address();
  address->set_zipcode(row.ColumnText(5));
  address->set_municipality_nl(row.ColumnText(6));
  address->set_municipality_fr(row.ColumnText(7));
  address->set_street_nl(row.ColumnText(8));
  address->set_street_fr(row.ColumnText(9));
  address->set_house_number(row.ColumnText(10));
  std::string status = row.ColumnText(11);
  p.set_status(StatusFromText(status));
  if (p.status() == registry::v1::PERMIT_STATUS_UNSPECIFIED) {
    return Corrupt(db, kPermitTable, key, "status",
                   absl::StrCat("unknown status ", Quoted(status),
                                " (expected applied, granted, refused, expired or withdrawn)"));
  }
  p.set_issue_date(row.ColumnText(12));
  if (!IsIsoDateOrEmpty(p.issue_date())) {
    return Corrupt(db, kPermitTable, key, "issue_date",
                   absl::StrCat("not a yyyy-mm-dd date: ", Quoted(p.issue_date())));
  }
  p.set_expiry_date(row.ColumnText(13));
  if (!IsIsoDateOrEmpty(p.expiry_date())) {
    return Corrupt(db, kPermitTable, key, "expiry_date",
                   absl::StrCat("not a yyyy-mm-dd date: ", Quoted(p.expiry_date())));
  }
  for (absl::string_view entry : absl::StrSplit(row.ColumnText(14), '\n', absl::SkipEmpty())) {
    p.add_covered(std::string(entry));
  }
  p.set_authority(row.ColumnText(15));
  return p;
}

absl::StatusOr<TaxStatus> TaxFromRow(const SqliteDb& db, const SqliteStatement& row) {
  TaxStatus t;
  t.set_enterprise_number(row.ColumnText(0));
  const std::string& key = t.enterprise_number();
  std::string vat_number = row.ColumnText(1);
  std::string vat_status = row.ColumnText(2);
  std::string vat_since = row.ColumnText(3);
  if (!IsVatNumberOrEmpty(vat_number)) {
    return Corrupt(db, kTaxStatusTable, key, "vat_number",
                   absl::StrCat("not BE followed by 10 digits: ", Quoted(vat_number)));
  }
  if (!(vat_status.empty() || vat_status == "active" || vat_status == "ceased")) {
    return Corrupt(
        db, kTaxStatusTable, key, "vat_status",
        absl::StrCat("unknown status ", Quoted(vat_status), " (expected active or ceased)"));
  }
  if (!IsIsoDateOrEmpty(vat_since)) {
    return Corrupt(db, kTaxStatusTable, key, "vat_since",
                   absl::StrCat("not a yyyy-mm-dd date: ", Quoted(vat_since)));
  }
  if (!vat_number.empty()) {
    t.mutable_vat()->set_vat_number(std::move(vat_number));
    t.mutable_vat()->set_status(std::move(vat_status));
    t.mutable_vat()->set_since(std::move(vat_since));
  } else if (!vat_status.empty() || !vat_since.empty()) {
    return Corrupt(db, kTaxStatusTable, key, "vat_number",
                   "empty while vat_status or vat_since is set");
  }

  if (row.ColumnText(9) != "integer" || (row.ColumnInt(4) != 0 && row.ColumnInt(4) != 1)) {
    return Corrupt(db, kTaxStatusTable, key, "in_good_standing",
                   absl::StrCat("expected integer 0 or 1, found ", row.ColumnText(9), " ",
                                Quoted(row.ColumnText(4))));
  }
  t.mutable_good_standing()->set_in_good_standing(row.ColumnInt(4) == 1);
  std::string established_on = row.ColumnText(5);
  if (!IsIsoDateOrEmpty(established_on)) {
    return Corrupt(db, kTaxStatusTable, key, "good_standing_established_on",
                   absl::StrCat("not a yyyy-mm-dd date: ", Quoted(established_on)));
  }
  t.mutable_good_standing()->set_established_on(std::move(established_on));

  struct Amount {
    int value_column;
    int type_column;
    absl::string_view name;
  };
  for (const Amount& amount :
       {Amount{6, 10, "overdue_tax_cents"}, Amount{7, 11, "overdue_social_security_cents"}}) {
    if (row.ColumnText(amount.type_column) != "integer" || row.ColumnInt(amount.value_column) < 0) {
      return Corrupt(db, kTaxStatusTable, key, amount.name,
                     absl::StrCat("expected a non-negative integer, found ",
                                  row.ColumnText(amount.type_column), " ",
                                  Quoted(row.ColumnText(amount.value_column))));
    }
  }
  t.mutable_details()->set_overdue_tax_cents(row.ColumnInt(6));
  t.mutable_details()->set_overdue_social_security_cents(row.ColumnInt(7));
  std::string assessed_on = row.ColumnText(8);
  if (!IsIsoDateOrEmpty(assessed_on)) {
    return Corrupt(db, kTaxStatusTable, key, "assessed_on",
                   absl::StrCat("not a yyyy-mm-dd date: ", Quoted(assessed_on)));
  }
  t.mutable_details()->set_assessed_on(std::move(assessed_on));
  return t;
}

// Prepares a reader's statement; a failure there means the schema is not the one expected.
absl::StatusOr<SqliteStatement> PrepareReaderStatement(SqliteDb& db, absl::string_view table,
                                                       absl::string_view sql) {
  absl::StatusOr<SqliteStatement> statement = db.Prepare(sql);
  if (!statement.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat(db.path(), ": table ", table, " cannot be read (",
                     statement.status().message(), "); ", FixHint(db)));
  }
  return statement;
}

}  // namespace

absl::Status CreateRegistrySchema(SqliteDb& db) { return db.Exec(kSchema); }

absl::Status CheckRegistryTable(SqliteDb& db, absl::string_view table) {
  const std::vector<std::string>* expected = nullptr;
  if (table == kPermitTable) {
    expected = &PermitColumns();
  } else if (table == kTaxStatusTable) {
    expected = &TaxColumns();
  } else {
    return absl::InvalidArgumentError(absl::StrCat("no registry table named ", Quoted(table)));
  }
  absl::StatusOr<SqliteStatement> info = db.Prepare("SELECT name FROM pragma_table_info(?1)");
  if (!info.ok()) {
    // A file that is not a database at all ends up here.
    return absl::FailedPreconditionError(absl::StrCat(db.path(),
                                                      " is not a readable registry database (",
                                                      info.status().message(), "); ", FixHint(db)));
  }
  info->Bind(1, table);
  std::set<std::string> present;
  while (true) {
    absl::StatusOr<bool> row = info->Step();
    if (!row.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat(db.path(), " is not a readable registry database (", row.status().message(),
                       "); ", FixHint(db)));
    }
    if (!*row) break;
    present.insert(info->ColumnText(0));
  }
  if (present.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(db.path(), " has no table ", table, "; ", FixHint(db)));
  }
  std::vector<std::string> missing;
  for (const std::string& column : *expected) {
    if (present.count(column) == 0) missing.push_back(column);
  }
  if (!missing.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(db.path(), ": table ", table, " lacks columns ", absl::StrJoin(missing, ", "),
                     "; ", FixHint(db)));
  }
  return absl::OkStatus();
}

SqlRegistryWriter::SqlRegistryWriter(SqliteStatement delete_permits, SqliteStatement delete_tax,
                                     SqliteStatement insert_permit, SqliteStatement insert_tax)
    : delete_permits_(std::move(delete_permits)),
      delete_tax_(std::move(delete_tax)),
      insert_permit_(std::move(insert_permit)),
      insert_tax_(std::move(insert_tax)) {}

absl::StatusOr<std::unique_ptr<SqlRegistryWriter>> SqlRegistryWriter::Create(SqliteDb* db) {
  RETURN_IF_ERROR(CreateRegistrySchema(*db));
  ASSIGN_OR_RETURN(SqliteStatement delete_permits, db->Prepare("DELETE FROM permit"));
  ASSIGN_OR_RETURN(SqliteStatement delete_tax, db->Prepare("DELETE FROM tax_status"));
  ASSIGN_OR_RETURN(SqliteStatement insert_permit, db->Prepare(kInsertPermit));
  ASSIGN_OR_RETURN(SqliteStatement insert_tax, db->Prepare(kInsertTax));
  return std::unique_ptr<SqlRegistryWriter>(
      new SqlRegistryWriter(std::move(delete_permits), std::move(delete_tax),
                            std::move(insert_permit), std::move(insert_tax)));
}

absl::Status SqlRegistryWriter::DeleteAll() {
  RETURN_IF_ERROR(delete_permits_.Run());
  return delete_tax_.Run();
}

absl::Status SqlRegistryWriter::InsertPermit(const Permit& p) {
  RETURN_IF_ERROR(ValidatePermitForWrite(p));
  const registry::v1::Address& a = p.address();
  insert_permit_.Bind(1, p.reference())
      .Bind(2, KindText(p.kind()))
      .Bind(3, p.environment_class())
      .Bind(4, p.holder_enterprise_number())
      .Bind(5, p.establishment_number())
      .Bind(6, a.zipcode())
      .Bind(7, a.municipality_nl())
      .Bind(8, a.municipality_fr())
      .Bind(9, a.street_nl())
      .Bind(10, a.street_fr())
      .Bind(11, a.house_number())
      .Bind(12, StatusText(p.status()))
      .Bind(13, p.issue_date())
      .Bind(14, p.expiry_date())
      .Bind(15, absl::StrJoin(p.covered(), "\n"))
      .Bind(16, p.authority());
  return insert_permit_.Run();
}

absl::Status SqlRegistryWriter::InsertTaxStatus(const TaxStatus& t) {
  RETURN_IF_ERROR(ValidateTaxForWrite(t));
  insert_tax_.Bind(1, t.enterprise_number())
      .Bind(2, t.vat().vat_number())
      .Bind(3, t.vat().status())
      .Bind(4, t.vat().since())
      .Bind(5, int64_t{t.good_standing().in_good_standing() ? 1 : 0})
      .Bind(6, t.good_standing().established_on())
      .Bind(7, int64_t{t.details().overdue_tax_cents()})
      .Bind(8, int64_t{t.details().overdue_social_security_cents()})
      .Bind(9, t.details().assessed_on());
  return insert_tax_.Run();
}

absl::StatusOr<std::unique_ptr<PermitReader>> PermitReader::Create(SqliteDb* db) {
  RETURN_IF_ERROR(CheckRegistryTable(*db, kPermitTable));
  ASSIGN_OR_RETURN(SqliteStatement list, PrepareReaderStatement(*db, kPermitTable, kListPermits));
  return std::unique_ptr<PermitReader>(new PermitReader(db, std::move(list)));
}

absl::StatusOr<std::vector<Permit>> PermitReader::ListByHolder(
    absl::string_view holder_enterprise_number) {
  list_.Bind(1, holder_enterprise_number);
  std::vector<Permit> permits;
  absl::Status status;
  while (true) {
    absl::StatusOr<bool> row = list_.Step();
    if (!row.ok()) {
      status = row.status();
      break;
    }
    if (!*row) break;
    absl::StatusOr<Permit> permit = PermitFromRow(*db_, list_);
    if (!permit.ok()) {
      status = permit.status();
      break;
    }
    permits.push_back(*std::move(permit));
  }
  list_.Reset();
  if (!status.ok()) return status;
  return permits;
}

absl::StatusOr<std::unique_ptr<TaxStatusReader>> TaxStatusReader::Create(SqliteDb* db) {
  RETURN_IF_ERROR(CheckRegistryTable(*db, kTaxStatusTable));
  ASSIGN_OR_RETURN(SqliteStatement get, PrepareReaderStatement(*db, kTaxStatusTable, kGetTax));
  return std::unique_ptr<TaxStatusReader>(new TaxStatusReader(db, std::move(get)));
}

absl::StatusOr<TaxStatus> TaxStatusReader::Get(absl::string_view enterprise_number) {
  get_.Bind(1, enterprise_number);
  absl::StatusOr<bool> row = get_.Step();
  absl::StatusOr<TaxStatus> result;
  if (!row.ok()) {
    result = row.status();
  } else if (!*row) {
    result = absl::NotFoundError(
        absl::StrCat("the tax registry has no record of enterprise ", enterprise_number));
  } else {
    result = TaxFromRow(*db_, get_);
  }
  get_.Reset();
  return result;
}

}  // namespace onceonly
