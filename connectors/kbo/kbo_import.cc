#include "connectors/kbo/kbo_import.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/enterprise_number.h"
#include "common/sqlite.h"
#include "common/status_macros.h"
#include "connectors/kbo/csv_reader.h"
#include "connectors/kbo/kbo_schema.h"

namespace onceonly {
namespace {

constexpr int64_t kProgressEvery = 1000000;

// How a CSV column is validated and converted before it is stored.
enum class Kind {
  kText,
  kEnterpriseNumber,     // canonical "0xxx.xxx.xxx" with a valid mod-97 check
  kEstablishmentNumber,  // canonical "2.xxx.xxx.xxx" with a valid mod-97 check
  kEntityNumber,         // an enterprise, establishment unit or branch
  kBranchId,             // KBO's internal branch id: digits and dots
  kDate,                 // "dd-mm-yyyy", stored ISO
  kOptionalDate,         // same, or empty
  kNaceVersion,          // 2003, 2008 or 2025
};

struct Column {
  const char* csv_name;
  Kind kind;
};

struct TableSpec {
  const char* table;
  std::vector<Column> columns;  // CSV order = SQL column order
  std::vector<const char*> sql_columns;
  bool primary_key;        // rows replace rows with the same first column
  Column delete_column;    // the single column of <table>_delete.csv
  const char* delete_key;  // the SQL column it matches
};

const std::vector<TableSpec>& Tables() {
  static const auto* const kTables = new std::vector<TableSpec>{
      {"enterprise",
       {{"EnterpriseNumber", Kind::kEnterpriseNumber},
        {"Status", Kind::kText},
        {"JuridicalSituation", Kind::kText},
        {"TypeOfEnterprise", Kind::kText},
        {"JuridicalForm", Kind::kText},
        {"JuridicalFormCAC", Kind::kText},
        {"StartDate", Kind::kDate}},
       {"enterprise_number", "status", "juridical_situation", "type_of_enterprise",
        "juridical_form", "juridical_form_cac", "start_date"},
       true,
       {"EnterpriseNumber", Kind::kEnterpriseNumber},
       "enterprise_number"},
      {"establishment",
       {{"EstablishmentNumber", Kind::kEstablishmentNumber},
        {"StartDate", Kind::kDate},
        {"EnterpriseNumber", Kind::kEnterpriseNumber}},
       {"establishment_number", "start_date", "enterprise_number"},
       true,
       {"EstablishmentNumber", Kind::kEstablishmentNumber},
       "establishment_number"},
      {"denomination",
       {{"EntityNumber", Kind::kEntityNumber},
        {"Language", Kind::kText},
        {"TypeOfDenomination", Kind::kText},
        {"Denomination", Kind::kText}},
       {"entity_number", "language", "type", "value"},
       false,
       {"EntityNumber", Kind::kEntityNumber},
       "entity_number"},
      {"address",
       {{"EntityNumber", Kind::kEntityNumber},
        {"TypeOfAddress", Kind::kText},
        {"CountryNL", Kind::kText},
        {"CountryFR", Kind::kText},
        {"Zipcode", Kind::kText},
        {"MunicipalityNL", Kind::kText},
        {"MunicipalityFR", Kind::kText},
        {"StreetNL", Kind::kText},
        {"StreetFR", Kind::kText},
        {"HouseNumber", Kind::kText},
        {"Box", Kind::kText},
        {"ExtraAddressInfo", Kind::kText},
        {"DateStrikingOff", Kind::kOptionalDate}},
       {"entity_number", "type", "country_nl", "country_fr", "zipcode", "municipality_nl",
        "municipality_fr", "street_nl", "street_fr", "house_number", "box", "extra_address_info",
        "date_striking_off"},
       false,
       {"EntityNumber", Kind::kEntityNumber},
       "entity_number"},
      {"contact",
       {{"EntityNumber", Kind::kEntityNumber},
        {"EntityContact", Kind::kText},
        {"ContactType", Kind::kText},
        {"Value", Kind::kText}},
       {"entity_number", "entity_contact", "contact_type", "value"},
       false,
       {"EntityNumber", Kind::kEntityNumber},
       "entity_number"},
      {"activity",
       {{"EntityNumber", Kind::kEntityNumber},
        {"ActivityGroup", Kind::kText},
        {"NaceVersion", Kind::kNaceVersion},
        {"NaceCode", Kind::kText},
        {"Classification", Kind::kText}},
       {"entity_number", "activity_group", "nace_version", "nace_code", "classification"},
       false,
       {"EntityNumber", Kind::kEntityNumber},
       "entity_number"},
      {"branch",
       {{"Id", Kind::kBranchId},
        {"StartDate", Kind::kDate},
        {"EnterpriseNumber", Kind::kEnterpriseNumber}},
       {"id", "start_date", "enterprise_number"},
       true,
       {"Id", Kind::kBranchId},
       "id"},
  };
  return *kTables;
}

bool FileExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool AllDigits(absl::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// KBO writes its own numbers canonically; anything else is a corrupt extract.
absl::StatusOr<std::string> CheckCanonical(absl::StatusOr<std::string> canonical,
                                           absl::string_view value) {
  if (!canonical.ok()) return canonical.status();
  if (*canonical != value) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", value, "\" is not in canonical form \"", *canonical, "\""));
  }
  return canonical;
}

absl::StatusOr<std::string> BranchId(absl::string_view value) {
  bool ok = !value.empty() && value.size() <= 20;
  for (char c : value) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c)) && c != '.') ok = false;
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat("branch id \"", value, "\" is not digits and dots"));
  }
  return std::string(value);
}

// Enterprise numbers are "dddd.ddd.ddd" (first digit 0 or 1); establishment unit numbers
// "d.ddd.ddd.ddd" with 2..8; KBO's branch ids, which the child tables also key on, start
// with 9 and carry no check digits.
absl::StatusOr<std::string> EntityNumber(absl::string_view value) {
  if (value.size() == 13 && value[1] == '.') {
    if (value[0] == '9') return BranchId(value);
    return CheckCanonical(CanonicalEstablishmentNumber(value), value);
  }
  return CheckCanonical(CanonicalEnterpriseNumber(value), value);
}

absl::StatusOr<std::string> Convert(Kind kind, absl::string_view value) {
  switch (kind) {
    case Kind::kText:
      return std::string(value);
    case Kind::kEnterpriseNumber:
      return CheckCanonical(CanonicalEnterpriseNumber(value), value);
    case Kind::kEstablishmentNumber:
      return CheckCanonical(CanonicalEstablishmentNumber(value), value);
    case Kind::kEntityNumber:
      return EntityNumber(value);
    case Kind::kBranchId:
      return BranchId(value);
    case Kind::kDate:
      return KboDateToIso(value);
    case Kind::kOptionalDate:
      if (value.empty()) return std::string();
      return KboDateToIso(value);
    case Kind::kNaceVersion:
      if (value == "2003" || value == "2008" || value == "2025") return std::string(value);
      return absl::InvalidArgumentError(
          absl::StrCat("\"", value, "\" is not a NACE version (2003, 2008 or 2025)"));
  }
  return absl::InternalError("unknown column kind");
}

absl::Status AtRow(const CsvReader& reader, absl::string_view column, const absl::Status& status) {
  return absl::InvalidArgumentError(
      absl::StrCat(reader.path(), ":", reader.line(), ": ", column, ": ", status.message()));
}

// Streams one CSV file: checks the header, then hands every row (column count checked) to
// `row`. Reports progress per million rows and at the end.
class FileLoader {
 public:
  explicit FileLoader(const std::function<void(absl::string_view)>& progress)
      : progress_(progress) {}

  absl::StatusOr<int64_t> Load(
      const std::string& path, const std::vector<const char*>& header,
      const std::function<absl::Status(const CsvReader&, const std::vector<std::string>&)>& row) {
    absl::Time start = absl::Now();
    ASSIGN_OR_RETURN(std::unique_ptr<CsvReader> reader, CsvReader::Open(path));
    std::vector<std::string> fields;
    ASSIGN_OR_RETURN(bool has_header, reader->Next(&fields));
    std::vector<std::string> expected(header.begin(), header.end());
    if (!has_header || fields != expected) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ":1: header is \"", has_header ? absl::StrJoin(fields, ",") : "<empty file>",
          "\", expected \"", absl::StrJoin(expected, ","), "\""));
    }
    int64_t rows = 0;
    while (true) {
      ASSIGN_OR_RETURN(bool more, reader->Next(&fields));
      if (!more) break;
      if (fields.size() != expected.size()) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "%s:%d: %s: row has %d columns, the header has %d", path, reader->line(),
            fields.size() < expected.size() ? expected[fields.size()] : "(extra column)",
            fields.size(), expected.size()));
      }
      RETURN_IF_ERROR(row(*reader, fields));
      if (++rows % kProgressEvery == 0) Report(path, rows, start, false);
    }
    Report(path, rows, start, true);
    return rows;
  }

 private:
  void Report(const std::string& path, int64_t rows, absl::Time start, bool done) {
    if (!progress_) return;
    double seconds = absl::ToDoubleSeconds(absl::Now() - start);
    double rate = seconds > 0 ? rows / seconds : 0;
    progress_(absl::StrFormat("%s: %d rows%s in %.2f s (%.0f rows/s)", path, rows,
                              done ? "" : " so far", seconds, rate));
  }

  const std::function<void(absl::string_view)>& progress_;
};

struct Meta {
  std::string extract_type;
  int64_t extract_number = 0;
  std::string snapshot_date;
  std::string extract_timestamp;
};

// "dd-mm-yyyy hh:mm:ss" -> "yyyy-mm-ddThh:mm:ss".
absl::StatusOr<std::string> KboTimestampToIso(absl::string_view value) {
  if (value.size() != 19 || value[10] != ' ' || value[13] != ':' || value[16] != ':') {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", value, "\" is not a timestamp dd-mm-yyyy hh:mm:ss"));
  }
  ASSIGN_OR_RETURN(std::string date, KboDateToIso(value.substr(0, 10)));
  int h = 0, m = 0, s = 0;
  if (!AllDigits(value.substr(11, 2)) || !AllDigits(value.substr(14, 2)) ||
      !AllDigits(value.substr(17, 2)) || !absl::SimpleAtoi(value.substr(11, 2), &h) ||
      !absl::SimpleAtoi(value.substr(14, 2), &m) || !absl::SimpleAtoi(value.substr(17, 2), &s) ||
      h > 23 || m > 59 || s > 60) {
    return absl::InvalidArgumentError(absl::StrCat("\"", value, "\" has an invalid time"));
  }
  return absl::StrCat(date, "T", value.substr(11));
}

absl::StatusOr<Meta> ReadMeta(const std::string& extract_dir,
                              const std::function<void(absl::string_view)>& progress) {
  const std::string path = extract_dir + "/meta.csv";
  if (!FileExists(path)) {
    return absl::InvalidArgumentError(
        absl::StrCat(extract_dir,
                     " is not a KBO extract: it has no meta.csv (expected the unzipped "
                     "KboOpenData_<n>_<yyyy>_<mm>_<dd>_Full/Update directory)"));
  }
  Meta meta;
  bool have_type = false, have_number = false, have_snapshot = false, have_timestamp = false;
  FileLoader loader(progress);
  RETURN_IF_ERROR(
      loader
          .Load(path, {"Variable", "Value"},
                [&](const CsvReader& reader, const std::vector<std::string>& f) -> absl::Status {
                  const std::string& name = f[0];
                  const std::string& value = f[1];
                  if (name == "ExtractType") {
                    std::string type = absl::AsciiStrToLower(value);
                    if (type != "full" && type != "update") {
                      return AtRow(reader, name,
                                   absl::InvalidArgumentError(absl::StrCat(
                                       "\"", value, "\" is neither \"full\" nor \"update\"")));
                    }
                    meta.extract_type = type;
                    have_type = true;
                  } else if (name == "ExtractNumber") {
                    if (!AllDigits(value) || !absl::SimpleAtoi(value, &meta.extract_number)) {
                      return AtRow(reader, name,
                                   absl::InvalidArgumentError(
                                       absl::StrCat("\"", value, "\" is not a number")));
                    }
                    have_number = true;
                  } else if (name == "SnapshotDate") {
                    absl::StatusOr<std::string> date = KboDateToIso(value);
                    if (!date.ok()) return AtRow(reader, name, date.status());
                    meta.snapshot_date = *date;
                    have_snapshot = true;
                  } else if (name == "ExtractTimestamp") {
                    absl::StatusOr<std::string> ts = KboTimestampToIso(value);
                    if (!ts.ok()) return AtRow(reader, name, ts.status());
                    meta.extract_timestamp = *ts;
                    have_timestamp = true;
                  }
                  return absl::OkStatus();
                })
          .status());
  std::vector<std::string> missing;
  if (!have_type) missing.push_back("ExtractType");
  if (!have_number) missing.push_back("ExtractNumber");
  if (!have_snapshot) missing.push_back("SnapshotDate");
  if (!have_timestamp) missing.push_back("ExtractTimestamp");
  if (!missing.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": missing ", absl::StrJoin(missing, ", ")));
  }
  return meta;
}

// Rolls back unless committed.
class Transaction {
 public:
  static absl::StatusOr<std::unique_ptr<Transaction>> Begin(SqliteDb& db) {
    RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
    return std::unique_ptr<Transaction>(new Transaction(db));
  }
  ~Transaction() {
    if (!committed_) db_.Exec("ROLLBACK").IgnoreError();
  }
  absl::Status Commit() {
    RETURN_IF_ERROR(db_.Exec("COMMIT"));
    committed_ = true;
    return absl::OkStatus();
  }

 private:
  explicit Transaction(SqliteDb& db) : db_(db) {}
  SqliteDb& db_;
  bool committed_ = false;
};

class Importer {
 public:
  Importer(SqliteDb& db, std::string dir, const std::function<void(absl::string_view)>& progress)
      : db_(db), dir_(std::move(dir)), loader_(progress) {}

  absl::Status ReplaceCodes(KboTableCounts* counts) {
    RETURN_IF_ERROR(db_.Exec("DELETE FROM code"));
    counts->deleted = sqlite3_changes(db_.raw());
    ASSIGN_OR_RETURN(SqliteStatement insert,
                     db_.Prepare("INSERT OR REPLACE INTO code (category, code, language, "
                                 "description) VALUES (?1, ?2, ?3, ?4)"));
    ASSIGN_OR_RETURN(counts->inserted,
                     loader_.Load(Path("code.csv"), {"Category", "Code", "Language", "Description"},
                                  [&](const CsvReader& reader, const std::vector<std::string>& f) {
                                    for (int i = 0; i < 3; ++i) {
                                      if (f[i].empty()) {
                                        return AtRow(reader,
                                                     i == 0   ? "Category"
                                                     : i == 1 ? "Code"
                                                              : "Language",
                                                     absl::InvalidArgumentError("is empty"));
                                      }
                                    }
                                    insert.Bind(1, f[0]).Bind(2, f[1]).Bind(
                                        3, absl::AsciiStrToLower(f[2]));
                                    insert.Bind(4, f[3]);
                                    return insert.Run();
                                  }));
    return absl::OkStatus();
  }

  absl::Status ClearTable(const TableSpec& spec, KboTableCounts* counts) {
    RETURN_IF_ERROR(db_.Exec(absl::StrCat("DELETE FROM ", spec.table)));
    counts->deleted += sqlite3_changes(db_.raw());
    return absl::OkStatus();
  }

  absl::Status ApplyDeletes(const TableSpec& spec, KboTableCounts* counts) {
    ASSIGN_OR_RETURN(
        SqliteStatement del,
        db_.Prepare(absl::StrCat("DELETE FROM ", spec.table, " WHERE ", spec.delete_key, " = ?1")));
    const Column& column = spec.delete_column;
    ASSIGN_OR_RETURN(int64_t rows,
                     loader_.Load(Path(absl::StrCat(spec.table, "_delete.csv")), {column.csv_name},
                                  [&](const CsvReader& reader, const std::vector<std::string>& f) {
                                    absl::StatusOr<std::string> key = Convert(column.kind, f[0]);
                                    if (!key.ok())
                                      return AtRow(reader, column.csv_name, key.status());
                                    RETURN_IF_ERROR(del.Bind(1, *key).Run());
                                    counts->deleted += sqlite3_changes(db_.raw());
                                    return absl::OkStatus();
                                  }));
    (void)rows;
    return absl::OkStatus();
  }

  absl::Status InsertRows(const TableSpec& spec, const std::string& file, KboTableCounts* counts) {
    std::vector<std::string> placeholders;
    for (size_t i = 1; i <= spec.columns.size(); ++i) placeholders.push_back(absl::StrCat("?", i));
    ASSIGN_OR_RETURN(
        SqliteStatement insert,
        db_.Prepare(absl::StrCat(spec.primary_key ? "INSERT OR REPLACE" : "INSERT", " INTO ",
                                 spec.table, " (", absl::StrJoin(spec.sql_columns, ", "),
                                 ") VALUES (", absl::StrJoin(placeholders, ", "), ")")));
    std::vector<const char*> header;
    for (const Column& c : spec.columns) header.push_back(c.csv_name);
    ASSIGN_OR_RETURN(int64_t rows,
                     loader_.Load(Path(file), header,
                                  [&](const CsvReader& reader, const std::vector<std::string>& f) {
                                    for (size_t i = 0; i < spec.columns.size(); ++i) {
                                      const Column& column = spec.columns[i];
                                      if (column.kind == Kind::kText) {
                                        insert.Bind(static_cast<int>(i + 1), f[i]);
                                        continue;
                                      }
                                      absl::StatusOr<std::string> value =
                                          Convert(column.kind, f[i]);
                                      if (!value.ok())
                                        return AtRow(reader, column.csv_name, value.status());
                                      insert.Bind(static_cast<int>(i + 1), *value);
                                    }
                                    return insert.Run();
                                  }));
    counts->inserted += rows;
    return absl::OkStatus();
  }

  std::string Path(absl::string_view file) const { return absl::StrCat(dir_, "/", file); }

 private:
  SqliteDb& db_;
  const std::string dir_;
  FileLoader loader_;
};

}  // namespace

absl::StatusOr<std::string> KboDateToIso(absl::string_view kbo_date) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", kbo_date, "\" is not a date dd-mm-yyyy: ", why));
  };
  if (kbo_date.size() != 10 || kbo_date[2] != '-' || kbo_date[5] != '-') {
    return bad("wrong format");
  }
  absl::string_view dd = kbo_date.substr(0, 2), mm = kbo_date.substr(3, 2),
                    yyyy = kbo_date.substr(6, 4);
  int day = 0, month = 0, year = 0;
  if (!AllDigits(dd) || !AllDigits(mm) || !AllDigits(yyyy) || !absl::SimpleAtoi(dd, &day) ||
      !absl::SimpleAtoi(mm, &month) || !absl::SimpleAtoi(yyyy, &year)) {
    return bad("not all digits");
  }
  if (month < 1 || month > 12) return bad("month out of range");
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  int days = kDays[month - 1] + (month == 2 && leap ? 1 : 0);
  if (day < 1 || day > days) return bad("day out of range");
  if (year < 1) return bad("year out of range");
  return absl::StrCat(yyyy, "-", mm, "-", dd);
}

absl::StatusOr<KboImportSummary> ImportKboExtract(
    const std::string& extract_dir, const std::string& db_path,
    const std::function<void(absl::string_view progress_line)>& progress) {
  ASSIGN_OR_RETURN(Meta meta, ReadMeta(extract_dir, progress));
  const bool full = meta.extract_type == "full";

  // Every file must be there before the database is touched.
  std::vector<std::string> files = {"code.csv"};
  for (const TableSpec& spec : Tables()) {
    if (full) {
      files.push_back(absl::StrCat(spec.table, ".csv"));
    } else {
      files.push_back(absl::StrCat(spec.table, "_delete.csv"));
      files.push_back(absl::StrCat(spec.table, "_insert.csv"));
    }
  }
  std::vector<std::string> missing;
  for (const std::string& file : files) {
    if (!FileExists(absl::StrCat(extract_dir, "/", file))) missing.push_back(file);
  }
  if (!missing.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        extract_dir, ": ", meta.extract_type, " extract lacks ", absl::StrJoin(missing, ", ")));
  }

  ASSIGN_OR_RETURN(std::unique_ptr<SqliteDb> db,
                   SqliteDb::Open(db_path, SqliteDb::Mode::kReadWriteCreate));
  RETURN_IF_ERROR(db->Exec("PRAGMA cache_size = -131072; PRAGMA temp_store = MEMORY;"));
  ASSIGN_OR_RETURN(std::unique_ptr<Transaction> txn, Transaction::Begin(*db));
  RETURN_IF_ERROR(CreateKboSchema(*db));

  KboImportSummary summary;
  summary.extract_number = meta.extract_number;
  summary.extract_type = meta.extract_type;
  summary.snapshot_date = meta.snapshot_date;
  summary.extract_timestamp = meta.extract_timestamp;

  Importer importer(*db, extract_dir, progress);
  RETURN_IF_ERROR(importer.ReplaceCodes(&summary.tables["code"]));
  if (full) {
    // Bulk-load without the secondary indexes, then build them once.
    RETURN_IF_ERROR(DropKboIndexes(*db));
    for (const TableSpec& spec : Tables()) {
      KboTableCounts* counts = &summary.tables[spec.table];
      RETURN_IF_ERROR(importer.ClearTable(spec, counts));
      RETURN_IF_ERROR(importer.InsertRows(spec, absl::StrCat(spec.table, ".csv"), counts));
    }
    absl::Time start = absl::Now();
    RETURN_IF_ERROR(CreateKboIndexes(*db));
    if (progress) {
      progress(
          absl::StrFormat("indexes built in %.2f s", absl::ToDoubleSeconds(absl::Now() - start)));
    }
  } else {
    for (const TableSpec& spec : Tables()) {
      RETURN_IF_ERROR(importer.ApplyDeletes(spec, &summary.tables[spec.table]));
    }
    for (const TableSpec& spec : Tables()) {
      RETURN_IF_ERROR(importer.InsertRows(spec, absl::StrCat(spec.table, "_insert.csv"),
                                          &summary.tables[spec.table]));
    }
  }

  ASSIGN_OR_RETURN(SqliteStatement history,
                   db->Prepare("INSERT INTO extract_history (extract_number, extract_type, "
                               "snapshot_date, extract_timestamp, imported_at) "
                               "VALUES (?1, ?2, ?3, ?4, ?5)"));
  RETURN_IF_ERROR(
      history.Bind(1, meta.extract_number)
          .Bind(2, meta.extract_type)
          .Bind(3, meta.snapshot_date)
          .Bind(4, meta.extract_timestamp)
          .Bind(5, absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone()))
          .Run());
  absl::Time commit_start = absl::Now();
  RETURN_IF_ERROR(txn->Commit());
  if (progress) {
    progress(absl::StrFormat("extract %d (%s, snapshot %s) committed in %.2f s",
                             meta.extract_number, meta.extract_type, meta.snapshot_date,
                             absl::ToDoubleSeconds(absl::Now() - commit_start)));
  }
  return summary;
}

}  // namespace onceonly
