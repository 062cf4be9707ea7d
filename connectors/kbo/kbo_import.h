// Imports a KBO/BCE open-data extract (the unzipped directory of CSV files, Cookbook R018)
// into the SQLite database KboStore reads.
//
// A full extract replaces every data table; an update applies all `<table>_delete.csv`
// (rows of the listed entities go), then all `<table>_insert.csv`. code.csv is always
// complete and replaces the code table. Entities the extract does not mention are kept.
//
// The whole import is one transaction: it either commits completely or, on any error, rolls
// back and leaves the database as it was. A full extract for a path that holds no database
// yet is built beside it ("<db>.importing", no journal) and linked into place when complete
// and synced, so each page is written once. Each file is parsed and checked on a second
// thread while this one writes to SQLite. Every row is validated first (column count,
// entity numbers with their mod-97 check, dates); errors name the file, the line and the
// column: "…/activity_insert.csv:12: NaceVersion: …".
#ifndef ONCEONLY_CONNECTORS_KBO_KBO_IMPORT_H_
#define ONCEONLY_CONNECTORS_KBO_KBO_IMPORT_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace onceonly {

struct KboTableCounts {
  int64_t deleted = 0;   // rows removed (all of them for a full extract)
  int64_t inserted = 0;  // rows written
};

struct KboImportSummary {
  int64_t extract_number = 0;
  std::string extract_type;       // "full" or "update"
  std::string snapshot_date;      // ISO "yyyy-mm-dd"
  std::string extract_timestamp;  // ISO "yyyy-mm-ddThh:mm:ss"
  // Keyed by table name: "code", "enterprise", "establishment", "denomination", "address",
  // "contact", "activity", "branch".
  std::map<std::string, KboTableCounts> tables;
  int64_t rejected_rows = 0;  // with KboImportOptions::reject_file
};

struct KboImportOptions {
  // Where rows that fail validation go, one "file:line: column: reason" line each, instead of
  // stopping the import (the rest is applied). Empty: the first bad row stops the import and
  // nothing is applied. A file that is not valid CSV (an unterminated quote) stops it either
  // way.
  std::string reject_file;
};

// Imports the extract in `extract_dir` into `db_path` (created if missing). Extracts must come
// in order: one whose ExtractNumber is not above every one imported before is refused
// (FAILED_PRECONDITION, naming both). Coded columns must hold codes of the extract's code.csv. `progress`, if
// set, receives a line per file (rows, rows/s) and, every few seconds, one with the share of
// the file done and an ETA.
// INVALID_ARGUMENT for a malformed extract (missing meta.csv or data file, bad header, bad
// row); UNAVAILABLE if the database cannot be written. The database is unchanged on error.
absl::StatusOr<KboImportSummary> ImportKboExtract(
    const std::string& extract_dir, const std::string& db_path, const KboImportOptions& options,
    const std::function<void(absl::string_view progress_line)>& progress);
// The same with default options.
absl::StatusOr<KboImportSummary> ImportKboExtract(
    const std::string& extract_dir, const std::string& db_path,
    const std::function<void(absl::string_view progress_line)>& progress);

// "dd-mm-yyyy" -> "yyyy-mm-dd"; INVALID_ARGUMENT saying what is wrong otherwise.
absl::StatusOr<std::string> KboDateToIso(absl::string_view kbo_date);

}  // namespace onceonly

#endif  // ONCEONLY_CONNECTORS_KBO_KBO_IMPORT_H_
